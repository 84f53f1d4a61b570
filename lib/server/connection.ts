/**
 * One accepted socket: bytes in -> (TLS) -> SPDY session -> Fastify, and back out.
 *
 * The protocol engines are sans-IO; this class owns the socket, the single timer of the connection (armed at the
 * engines' earliest deadline), socket backpressure, and the mapping of session events onto request/response objects.
 *
 * Every way into a connection (socket data/end/close/drain, the timer, write callbacks, the handlers' deferred
 * continuations) runs under one crash barrier, run(): an unexpected throw anywhere below ends this connection only
 * (GOAWAY INTERNAL_ERROR when the session can still send it, then the socket is closed) and is logged once.
 * Closing is end -> linger -> destroy, always with a deadline: a peer that never reads our FIN nor sends its own
 * does not keep the socket.
 */
import type net from 'node:net'
import type { SpdyListener } from './listener'
import type { SpdyVersion } from '../codec/types'
import { CLOSE_LINGER_MS, LINGER_DISCARD_BYTES } from './linger'
import { firstHandler, type StageHandler } from './proxy-stage'
import { presentPeer } from './proxy-peer'
import { HOLD_OUTPUT } from './read-holds'
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
  rttMs: number | null
  /** Header compression contexts allocated (~60 KB); false once idle past compressionIdleTimeout, or before any. */
  compressionContextsLive: boolean
}

/** A handler consumes decrypted bytes and emits bytes to send; the connection is its transport. */
export interface Transport {
  /**
   * Runs `fn` under the connection's crash barrier: for continuations the caller defers itself (nextTick,
   * setImmediate, timers, callbacks). A throw ends this connection, never the process.
   */
  run (fn: () => void): void
  /** Bytes for the peer (already framed; encrypted by the connection if TLS is on). */
  send (chunk: Uint8Array): void
  /**
   * Several chunks in one go (one writev for the socket). `written`, if given, is called once the socket has
   * written all of them (the last write's callback: writes complete in order), with an error if it failed.
   */
  sendMany (chunks: Uint8Array[], written?: (err?: Error | null) => void): void
  /** True while the socket's buffer is over its high-water mark: producers should pause. */
  readonly congested: boolean
  /** Bytes sent that the socket has not yet written (the session's answer budget counts them: transportBacklog). */
  readonly unwrittenBytes: number
  /** Ask to be called on socket drain. */
  onWritable (cb: () => void): void
  /** Flush what was sent, then end the socket. */
  end (): void
  destroy (): void
  /** Pause (on) or resume reading the socket for `reason` (HOLD_*); reading goes on when no reason is left. */
  hold (reason: number, on: boolean): void
  /** Rearm the connection's timer: the handler wants tick() at `deadline` (ms since epoch), or never (null). */
  schedule (deadline: number | null): void
}

/** Flushes up to this size are copied into one buffer before the socket write (see sendMany). */
const COALESCE_BYTES = 64 * 1024


export class Connection implements Transport {
  private handler: ConnectionHandler | null = null
  private timer: NodeJS.Timeout | null = null
  private timerAt = 0
  private writableWaiters: Array<() => void> = []
  private ended = false
  /** An unexpected throw ended this connection: nothing calls into its handler any more. */
  private crashed = false
  /** Destroys the socket if the peer has not closed within CLOSE_LINGER_MS of our end(). */
  private lingerTimer: NodeJS.Timeout | null = null
  /**
   * Why reading the socket is paused: OUTPUT (the peer does not read what we owe it) and/or BRIDGE (the app's
   * HTTP/1.1 server has not taken what we decrypted). Reading resumes when no reason is left.
   */
  private readHolds = 0
  /** Checks that a congested socket makes progress (see watchOutput). */
  private stallTimer: NodeJS.Timeout | null = null
  private progressAt = 0
  private queuedAt = 0
  /** Rate-limited lines about this peer (lib/server/log-limit.ts); made on the first one. */
  private log: ConnectionLog | null = null
  /** The app's HTTP/1.1 server owns the socket now; we only keep it counted so close() can end it. */
  private handedOff = false
  /** The socket's peer, or the client named by a PROXY protocol header (set by proxy-stage.ts). */
  remoteAddress: string | null
  remotePort: number | null
  bytesRead = 0
  /** Bytes read and dropped after our end() (see LINGER_DISCARD_BYTES). */
  private discarded = 0

  /**
   * `start` makes the first handler (default: PROXY stage, TLS or plain detection); `peer` carries the client's
   * address over when a connection is re-made on another socket (lib/server/tls-select.ts, OpenSSL's TLS socket).
   */
  constructor (readonly listener: SpdyListener, readonly socket: net.Socket, start?: (conn: Connection) => ConnectionHandler,
    peer?: { remoteAddress: string | null, remotePort: number | null }) {
    this.remoteAddress = peer !== undefined ? peer.remoteAddress : socket.remoteAddress ?? null
    this.remotePort = peer !== undefined ? peer.remotePort : socket.remotePort ?? null
    socket.on('data', this.onSocketData)
    socket.on('drain', this.onSocketDrain)
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // Peers vanish all the time (ECONNRESET, EPIPE): that is a debug-level event, not an error of ours.
      this.listener.fastify.log.debug({ err, remoteAddress: this.remoteAddress }, 'fastify-spdy: socket error')
    })
    socket.on('end', this.onSocketEnd)
    socket.on('close', () => this.onClose())
    const tls = listener.tlsOptions
    // ProtocolHandler or TlsLayer, behind the PROXY protocol stage when options.proxyProtocol applies (proxy-stage.ts).
    this.run(() => {
      this.handler = start !== undefined ? start(this) : firstHandler(this, (next) => { this.handler = next })
    })
    // Plain listener: the first byte decides the protocol, and a peer that never sends it is dropped after
    // handshakeTimeout, the same deadline a TLS peer gets to finish its handshake (the TLS engine keeps its own).
    if (tls === null && start === undefined && !this.crashed) this.schedule(Date.now() + listener.options.handshakeTimeout)
  }

  private readonly onSocketDrain = (): void => this.run(this.onDrain)
  private readonly onSocketEnd = (): void => this.run(() => this.handler?.onEnd())
  private readonly onSocketData = (chunk: Buffer): void => {
    if (this.ended) {
      // We sent our FIN: nothing the peer says now can be answered. Dropped, up to LINGER_DISCARD_BYTES.
      this.discarded += chunk.length
      if (this.discarded > LINGER_DISCARD_BYTES) this.socket.destroy()
      return
    }
    this.bytesRead += chunk.length
    const h = this.handler
    if (h === null || this.crashed) return
    try { h.receive(chunk) } catch (err) { this.crash(err); return }
    // What we owe the peer grows with what it sends (PING and SETTINGS answers, responses): if it does not read,
    // stop reading it until the socket drains (issue 11: a PING flood from non-readers took 2.6 GB).
    if (this.socket.writableLength > this.listener.options.maxUnreadOutputBytes) this.hold(HOLD_OUTPUT, true)
  }

  /** The crash barrier (see the file comment): every entry point into the connection goes through here. */
  run (fn: () => void): void {
    if (this.crashed) return
    try { fn() } catch (err) { this.crash(err) }
  }

  /**
   * An unexpected throw: the engines' state can no longer be trusted. Say GOAWAY INTERNAL_ERROR if the session
   * still can, abort the streams the app holds, then close the socket (end -> linger -> destroy).
   */
  private crash (err: unknown): void {
    if (this.crashed) return
    this.crashed = true
    this.logLine('error', 'internal error', { err, remoteAddress: this.remoteAddress, remotePort: this.remotePort },
      'fastify-spdy: internal error on a connection; closing it')
    const h = this.handler
    this.handler = null
    // Each step is best effort: the layer that threw may throw again, and the socket must be closed regardless.
    if (h !== null) {
      try { h.fail() } catch { /* the GOAWAY could not be produced: the peer sees the TCP close instead */ }
      try { h.onClose() } catch { /* streams are dropped with the connection anyway */ }
    }
    if (this.handedOff) { this.socket.destroy(); return }
    this.end()
  }

  get congested (): boolean {
    return this.socket.writableNeedDrain
  }

  get unwrittenBytes (): number { return this.socket.writableLength }

  send (chunk: Uint8Array): void {
    if (this.ended || this.socket.destroyed) return
    this.socket.write(chunk)
  }

  sendMany (chunks: Uint8Array[], done?: (err?: Error | null) => void): void {
    if (this.ended || this.socket.destroyed) return
    // The write callback is an entry point too: under the barrier.
    const written = done === undefined ? undefined : (err?: Error | null) => this.run(() => done(err))
    if (chunks.length === 1) { this.socket.write(chunks[0], written); return }
    let total = 0
    for (let i = 0; i < chunks.length; i++) total += chunks[i].length
    if (total <= COALESCE_BYTES) {
      // Many small frames (SYN_REPLYs, 8-byte DATA headers, short bodies): copying them into one buffer costs less
      // than a socket.write per frame and a writev of as many iovecs.
      this.socket.write(Buffer.concat(chunks, total), written)
      return
    }
    // Bulk DATA: corking turns the frames into one writev without copying the payloads.
    this.socket.cork()
    const last = chunks.length - 1
    for (let i = 0; i < last; i++) this.socket.write(chunks[i])
    this.socket.write(chunks[last], written)
    this.socket.uncork()
  }

  onWritable (cb: () => void): void {
    this.writableWaiters.push(cb)
    this.watchOutput()
  }

  /** Pauses (or resumes) reading the socket for one reason; reading goes on only when no reason is left. */
  hold (reason: number, on: boolean): void {
    const before = this.readHolds
    this.readHolds = on ? before | reason : before & ~reason
    if (this.ended || this.socket.destroyed) return
    if (before === 0 && this.readHolds !== 0) this.socket.pause()
    else if (before !== 0 && this.readHolds === 0) this.socket.resume()
    if (reason === HOLD_OUTPUT && on) this.watchOutput()
  }

  /**
   * While the socket is congested, checks every unreadOutputTimeout that the peer takes some of our output; one
   * that takes nothing for that long is closed: it holds memory and a slot while not reading.
   */
  private watchOutput (): void {
    if (this.stallTimer !== null || this.ended) return
    this.progressAt = this.completedBytes
    this.queuedAt = this.inFlightBytes
    this.stallTimer = setTimeout(this.checkOutput, this.listener.options.unreadOutputTimeout)
    this.stallTimer.unref()
  }

  private readonly checkOutput = (): void => {
    this.stallTimer = null
    if (this.ended || this.socket.destroyed || this.socket.writableLength === 0) return
    // Progress: a write completed, or the one in progress shrank (a single large write completes only at its end).
    if (this.completedBytes > this.progressAt || this.inFlightBytes < this.queuedAt) { this.watchOutput(); return }
    this.listener.fastify.log.debug({ remoteAddress: this.remoteAddress, unread: this.socket.writableLength },
      'fastify-spdy: peer read none of our output within unreadOutputTimeout; closing')
    this.destroy()
  }

  /** Bytes whose writes completed (handed to the kernel). */
  private get completedBytes (): number { return this.socket.bytesWritten - this.socket.writableLength }

  /** Bytes of the write in progress still in libuv's queue (net.Socket's own bufferSize used to add the same). */
  private get inFlightBytes (): number {
    return (this.socket as unknown as { _handle?: { writeQueueSize?: number } | null })._handle?.writeQueueSize ?? 0
  }

  /** Flush, FIN, and destroy if the peer has not closed within CLOSE_LINGER_MS. */
  end (): void {
    if (this.ended) return
    this.ended = true
    this.clearTimer()
    this.socket.end()
    // Keep reading (and dropping) so the peer's FIN is seen even if reading was paused for backpressure.
    this.socket.resume()
    if (this.lingerTimer === null && !this.socket.destroyed) {
      this.lingerTimer = setTimeout(() => { this.lingerTimer = null; this.socket.destroy() }, CLOSE_LINGER_MS)
      this.lingerTimer.unref()
    }
  }

  destroy (): void {
    this.ended = true
    this.clearTimer()
    this.socket.destroy()
  }

  schedule (deadline: number | null): void {
    if (deadline === null) { this.clearTimer(); return }
    if (this.timer !== null && this.timerAt === deadline) return
    this.clearTimer()
    this.timerAt = deadline
    this.timer = setTimeout(() => {
      this.timer = null
      // Node's timers run on libuv's loop clock, which can be a millisecond behind Date.now()'s when the timer
      // fires: a handler comparing `now >= deadline` would then do nothing and never be called again. The timer
      // was armed for `deadline`, so that is the earliest time it stands for.
      this.run(() => this.handler?.tick(Math.max(Date.now(), deadline)))
    }, Math.max(0, deadline - Date.now()))
    // The timer must never keep the process alive on its own: fastify.close() is what ends connections.
    this.timer.unref()
  }

  /**
   * Plain listener, HTTP/1.x request: the app's own HTTP server takes the socket over, with the bytes already
   * read put back in front (Node's 'connection' event accepts any socket, http.Server docs).
   */
  handOffToHttp (firstChunk: Uint8Array): void {
    this.handedOff = true
    this.clearTimer() // the first-byte deadline is met; the app's server has its own timeouts
    // From here on the app's server tracks this socket (and closes it when idle on fastify.close()).
    this.listener.release(this)
    this.socket.off('data', this.onSocketData)
    this.socket.off('drain', this.onSocketDrain)
    this.socket.off('end', this.onSocketEnd)
    presentPeer(this, this.socket) // PROXY protocol: the app's server sees the client's address, not the balancer's
    this.socket.pause()
    this.socket.unshift(firstChunk)
    this.listener.fastify.server.emit('connection', this.socket)
    this.socket.resume()
  }

  /**
   * Another layer takes the socket's bytes from here on (OpenSSL, lib/server/tls-select.ts): our listeners come off
   * and reading pauses; the connection stays counted by the listener until it is released or re-made.
   */
  detach (): net.Socket {
    this.clearTimer()
    this.socket.off('data', this.onSocketData)
    this.socket.off('drain', this.onSocketDrain)
    this.socket.off('end', this.onSocketEnd)
    this.socket.pause()
    return this.socket
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
      compressionContextsLive: h?.compressionContextsLive ?? false
    }
  }

  private readonly onDrain = (): void => {
    const waiters = this.writableWaiters
    this.writableWaiters = []
    for (const cb of waiters) cb()
    if ((this.readHolds & HOLD_OUTPUT) !== 0) this.hold(HOLD_OUTPUT, false)
  }

  private clearTimer (): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
  }

  private onClose (): void {
    this.clearTimer()
    if (this.lingerTimer !== null) { clearTimeout(this.lingerTimer); this.lingerTimer = null }
    if (this.stallTimer !== null) { clearTimeout(this.stallTimer); this.stallTimer = null }
    this.ended = true
    const h = this.handler
    this.handler = null
    if (h !== null && !this.crashed) {
      // Not through run(): a throw here has no connection left to end, only the log line.
      try { h.onClose() } catch (err) { this.crashed = true; this.logLine('error', 'internal error', { err, remoteAddress: this.remoteAddress }, 'fastify-spdy: internal error closing a connection') }
    }
    this.log?.close()
  }
}
