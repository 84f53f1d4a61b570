/**
 * One accepted socket: bytes in -> (TLS) -> SPDY session -> Fastify, and back out.
 *
 * The socket pump (the single timer, backpressure, the crash barrier, end -> linger -> destroy) is the shared Driver
 * (lib/server/driver.ts); this class is what the listener adds on top: the handler chain (PROXY stage, TLS or plain
 * detection, SPDY), stats, rate-limited logs, eviction at maxSessions and the handoff of HTTP/1.1 to the app's
 * server. An unexpected throw under the driver's barrier is logged once here, and the session says GOAWAY
 * INTERNAL_ERROR when it still can before the socket closes.
 */
import type net from 'node:net'
import type { ListenerContext, StageHandler, Transport } from './contracts'
import type { SpdyVersion } from '../codec/types'
import { Driver } from './driver'
import { firstHandler } from './proxy-stage'
import { presentPeer } from './proxy-peer'
import { ConnectionLog } from './log-limit'

/** What drives a connection: plain (first-byte sniffing) or TLS (NPN/ALPN decides), behind a PROXY header stage if configured. */
type ConnectionHandler = StageHandler

export interface ConnectionStats {
  remoteAddress: string | null
  remotePort: number | null
  protocol: string | null
  version: SpdyVersion | null
  openStreams: number
  streamsServed: number
  bytesRead: number
  bytesWritten: number
  /** The round trip of the last PING of ours answered (ping()); null before any. */
  rttMs: number | null
  /**
   * Sends a PING whose answer updates this connection's rttMs in later sessions() snapshots. False when the
   * connection has no SPDY session (yet), is closing, or maxOutstandingPings of ours are unanswered.
   */
  ping: () => boolean
  /** Header compression contexts allocated (~60 KB); false once idle past compressionIdleTimeout, or before any. */
  compressionContextsLive: boolean
}

export type { Transport } from './contracts'

export class Connection extends Driver implements Transport {
  private handler: ConnectionHandler | null = null
  /** Rate-limited lines about this peer (lib/server/log-limit.ts); made on the first one. */
  private log: ConnectionLog | null = null
  /** The app's HTTP/1.1 server owns the socket now; we only keep it counted so close() can end it. */
  private handedOff = false
  /** The socket's peer, or the client named by a PROXY protocol header (set by proxy-stage.ts). */
  remoteAddress: string | null
  remotePort: number | null

  /**
   * `start` makes the first handler (default: PROXY stage, TLS or plain detection); `peer` carries the client's
   * address over when a connection is re-made on another socket (lib/server/tls-select.ts, OpenSSL's TLS socket).
   */
  constructor (readonly listener: ListenerContext, socket: net.Socket, start?: (conn: Connection) => ConnectionHandler,
    peer?: { remoteAddress: string | null, remotePort: number | null }) {
    super(socket, { maxUnreadOutputBytes: listener.options.maxUnreadOutputBytes, unreadOutputTimeout: listener.options.unreadOutputTimeout })
    this.remoteAddress = peer !== undefined ? peer.remoteAddress : socket.remoteAddress ?? null
    this.remotePort = peer !== undefined ? peer.remotePort : socket.remotePort ?? null
    const tls = listener.tlsOptions
    // ProtocolHandler or TlsLayer, behind the PROXY protocol stage when options.proxyProtocol applies (proxy-stage.ts).
    this.run(() => {
      this.handler = start !== undefined ? start(this) : firstHandler(this, (next) => { this.handler = next })
    })
    // Plain listener: the first byte decides the protocol, and a peer that never sends it is dropped after
    // handshakeTimeout, the same deadline a TLS peer gets to finish its handshake (the TLS engine keeps its own).
    if (tls === null && start === undefined && !this.crashed) this.schedule(Date.now() + listener.options.handshakeTimeout)
  }

  protected override received (chunk: Buffer): void { this.handler?.receive(chunk) }
  protected override peerEnded (): void { this.handler?.onEnd() }
  protected override timedOut (now: number): void { this.handler?.tick(now) }
  protected override socketError (err: NodeJS.ErrnoException): void {
    // Peers vanish all the time (ECONNRESET, EPIPE): that is a debug-level event, not an error of ours.
    this.listener.fastify.log.debug({ err, remoteAddress: this.remoteAddress }, 'fastify-spdy: socket error')
  }

  protected override unreadOutput (unread: number): void {
    this.listener.fastify.log.debug({ remoteAddress: this.remoteAddress, unread },
      'fastify-spdy: peer read none of our output within unreadOutputTimeout; closing')
  }

  /**
   * An unexpected throw: the engines' state can no longer be trusted. Say GOAWAY INTERNAL_ERROR if the session
   * still can, abort the streams the app holds; the driver closes the socket next (end -> linger -> destroy).
   */
  protected override failed (err: unknown): void {
    this.logLine('error', 'internal error', { err, remoteAddress: this.remoteAddress, remotePort: this.remotePort },
      'fastify-spdy: internal error on a connection; closing it')
    const h = this.handler
    this.handler = null
    // Each step is best effort: the layer that threw may throw again, and the socket must be closed regardless.
    if (h !== null) {
      try { h.fail() } catch { /* the GOAWAY could not be produced: the peer sees the TCP close instead */ }
      try { h.onClose() } catch { /* streams are dropped with the connection anyway */ }
    }
    if (this.handedOff) this.socket.destroy()
  }

  /**
   * Plain listener, HTTP/1.x request: the app's own HTTP server takes the socket over, with the bytes already
   * read put back in front (Node's 'connection' event accepts any socket, http.Server docs).
   */
  handOffToHttp (firstChunk: Uint8Array): void {
    this.handedOff = true
    // From here on the app's server tracks this socket (and closes it when idle on fastify.close()); the first-byte
    // deadline is met and the app's server has its own timeouts.
    this.listener.release(this)
    this.detach()
    presentPeer(this, this.socket) // PROXY protocol: the app's server sees the client's address, not the balancer's
    this.socket.unshift(firstChunk)
    this.listener.fastify.server.emit('connection', this.socket)
    this.socket.resume()
  }

  /**
   * A warn or error line about this peer, through the per-connection and per-listener budgets: hostile input must
   * not become a log flood. `kind` names the call site in the summaries of what was suppressed.
   */
  logLine (level: 'warn' | 'error', kind: string, obj: object, msg: string): void {
    const o = this.listener.options
    ;(this.log ??= new ConnectionLog(this.listener.log, o.maxLogLinesPerConnection, this.remoteAddress)).line(level, kind, obj, msg)
  }

  /** Nothing in flight (see Handler.idle), or already closing: the listener may close it to admit another. */
  get idle (): boolean {
    return this.ended || this.crashed || this.handler === null || this.handler.idle
  }

  /**
   * Closed to make room at maxSessions: a SPDY session hears GOAWAY (it has no stream open, SPDY/3 section
   * 2.6.6 lets it retry on a new connection), then the socket goes at once so its slot is free now.
   */
  evict (): void {
    this.listener.fastify.log.debug({ remoteAddress: this.remoteAddress }, 'fastify-spdy: idle connection closed to admit a new one (maxSessions)')
    this.run(() => this.handler?.shutdown())
    this.destroy()
  }

  /** Graceful: GOAWAY, let in-flight streams finish. */
  shutdown (): void {
    if (this.handedOff) return // the app's HTTP server closes its idle keep-alive sockets itself
    if (this.handler === null) { this.destroy(); return }
    this.handler.shutdown()
  }

  stats (): ConnectionStats {
    const h = this.handler
    return {
      remoteAddress: this.remoteAddress,
      remotePort: this.remotePort,
      protocol: h?.protocol ?? null,
      version: h?.version ?? null,
      openStreams: h?.openStreams ?? 0,
      streamsServed: h?.streamsServed ?? 0,
      bytesRead: this.bytesRead,
      bytesWritten: this.socket.bytesWritten,
      rttMs: h?.rttMs ?? null,
      ping: () => this.ping(),
      compressionContextsLive: h?.compressionContextsLive ?? false
    }
  }

  /** sessions()[i].ping(): the app's call enters the connection under its crash barrier, like every other. */
  private ping (): boolean {
    const h = this.handler
    let sent = false
    if (h !== null) this.run(() => { sent = h.ping() })
    return sent
  }

  /** Handed off (HTTP/1.1, OpenSSL): the socket's close is no longer ours to hear, so this peer's log ends here. */
  protected override detached (): void { this.log?.close() }

  protected override closed (): void {
    const h = this.handler
    this.handler = null
    if (h !== null && !this.crashed) {
      // Not through run(): a throw here has no connection left to end, only the log line.
      try { h.onClose() } catch (err) { this.crashed = true; this.logLine('error', 'internal error', { err, remoteAddress: this.remoteAddress }, 'fastify-spdy: internal error closing a connection') }
    }
    this.log?.close()
  }
}
