/**
 * One accepted socket: bytes in -> (TLS) -> SPDY session -> Fastify, and back out.
 *
 * The protocol engines are sans-IO; this class owns the socket, the single timer of the connection (armed at the
 * engines' earliest deadline), socket backpressure, and the mapping of session events onto request/response objects.
 */
import type net from 'node:net'
import type { SpdyListener } from './listener'
import type { SpdyVersion } from '../codec/types'
import { firstHandler, presentPeer, type StageHandler } from './proxy-stage'

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
  /** Bytes for the peer (already framed; encrypted by the connection if TLS is on). */
  send (chunk: Uint8Array): void
  /**
   * Several chunks in one go (one writev for the socket). `written`, if given, is called once the socket has
   * written all of them (the last write's callback: writes complete in order), with an error if it failed.
   */
  sendMany (chunks: Uint8Array[], written?: (err?: Error | null) => void): void
  /** True while the socket's buffer is over its high-water mark: producers should pause. */
  readonly congested: boolean
  /** Ask to be called on socket drain. */
  onWritable (cb: () => void): void
  /** Flush what was sent, then end the socket. */
  end (): void
  destroy (): void
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
  /** The app's HTTP/1.1 server owns the socket now; we only keep it counted so close() can end it. */
  private handedOff = false
  /** The socket's peer, or the client named by a PROXY protocol header (set by proxy-stage.ts). */
  remoteAddress: string | null
  remotePort: number | null
  bytesRead = 0

  constructor (readonly listener: SpdyListener, readonly socket: net.Socket) {
    this.remoteAddress = socket.remoteAddress ?? null
    this.remotePort = socket.remotePort ?? null
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('drain', () => this.onDrain())
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // Peers vanish all the time (ECONNRESET, EPIPE): that is a debug-level event, not an error of ours.
      this.listener.fastify.log.debug({ err, remoteAddress: this.remoteAddress }, 'fastify-spdy: socket error')
    })
    socket.on('end', () => this.handler?.onEnd())
    socket.on('close', () => this.onClose())
    // ProtocolHandler or TlsLayer, behind the PROXY protocol stage when options.proxyProtocol applies (proxy-stage.ts).
    this.handler = firstHandler(this, (next) => { this.handler = next })
  }

  get congested (): boolean {
    return this.socket.writableNeedDrain
  }

  send (chunk: Uint8Array): void {
    if (this.ended || this.socket.destroyed) return
    this.socket.write(chunk)
  }

  sendMany (chunks: Uint8Array[], written?: (err?: Error | null) => void): void {
    if (this.ended || this.socket.destroyed) return
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
  }

  end (): void {
    if (this.ended) return
    this.ended = true
    this.clearTimer()
    this.socket.end()
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
      this.handler?.tick(Date.now())
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
    // From here on the app's server tracks this socket (and closes it when idle on fastify.close()).
    this.listener.connections.delete(this)
    this.socket.removeAllListeners('data')
    this.socket.removeAllListeners('drain')
    this.socket.removeAllListeners('end')
    presentPeer(this, this.socket) // PROXY protocol: the app's server sees the client's address, not the balancer's
    this.socket.pause()
    this.socket.unshift(firstChunk)
    this.listener.fastify.server.emit('connection', this.socket)
    this.socket.resume()
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

  private onData (chunk: Buffer): void {
    this.bytesRead += chunk.length
    this.handler?.receive(chunk)
  }

  private onDrain (): void {
    const waiters = this.writableWaiters
    this.writableWaiters = []
    for (const cb of waiters) cb()
  }

  private clearTimer (): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
  }

  private onClose (): void {
    this.clearTimer()
    this.ended = true
    this.handler?.onClose()
    this.handler = null
  }
}
