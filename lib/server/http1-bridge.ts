/**
 * HTTP/1.1 over our own TLS: when NPN/ALPN settles on http/1.1 (or on nothing), the decrypted byte stream is handed
 * to the app's own HTTP server as a connection, so browsers and curl reach the same routes on the SPDY port.
 *
 * Node's http.Server accepts any Duplex through its 'connection' event (documented for http.Server); we only make
 * the Duplex look enough like a TLS socket for what Node and Fastify read from it: `encrypted` (request.protocol is
 * 'https'), remote/local address and port (request.ip), setTimeout/setNoDelay/setKeepAlive (called by http.Server).
 */
import { Duplex } from 'node:stream'
import type { Transport } from './contracts'
import { HOLD_BRIDGE } from './read-holds'

export class Http1Bridge extends Duplex {
  readonly encrypted = true
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly remoteFamily: string | undefined
  readonly localAddress: string | undefined
  readonly localPort: number | undefined
  /** ALPN/NPN result, as tls.TLSSocket exposes it. */
  readonly alpnProtocol: string | false
  private waitingForDrain: (() => void) | null = null
  /** We asked the connection to stop reading the socket: the app's server has not taken what we pushed. */
  private holding = false

  constructor (private readonly transport: Transport, info: { remoteAddress?: string, remotePort?: number,
    remoteFamily?: string, localAddress?: string, localPort?: number, protocol: string | null }) {
    // Node's http.Server pauses the socket while a response is not drained (pipelining, _http_server.js
    // parserOnIncoming); push() then returns false past the readable high-water mark and we stop reading the TLS
    // socket until _read() asks for more: what a peer can make us hold is one socket read beyond it.
    super({ allowHalfOpen: false })
    this.remoteAddress = info.remoteAddress
    this.remotePort = info.remotePort
    this.remoteFamily = info.remoteFamily
    this.localAddress = info.localAddress
    this.localPort = info.localPort
    this.alpnProtocol = info.protocol ?? false
  }

  /** Decrypted bytes from the peer. */
  deliver (chunk: Uint8Array): void {
    this.touch()
    if (!this.push(chunk) && !this.holding) {
      this.holding = true
      this.transport.hold(HOLD_BRIDGE, true)
    }
  }

  /** The peer closed its side (close_notify or TCP FIN). */
  deliverEnd (): void {
    this.push(null)
  }

  override _read (): void {
    // Reads are driven by the socket: the consumer wanting more is the signal to read it again.
    if (this.holding) {
      this.holding = false
      this.transport.hold(HOLD_BRIDGE, false)
    }
  }

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.touch()
    // The app's HTTP server writes from its own callbacks: a throw in our TLS engine ends this connection only.
    this.transport.run(() => this.transport.send(chunk))
    if (this.transport.congested) {
      // Socket backpressure reaches the HTTP response: hold the callback until the socket drains.
      this.waitingForDrain = cb
      this.transport.onWritable(() => {
        const w = this.waitingForDrain
        this.waitingForDrain = null
        w?.()
      })
      return
    }
    cb()
  }

  override _final (cb: (err?: Error | null) => void): void {
    this.transport.run(() => this.transport.end())
    cb()
  }

  override _destroy (err: Error | null, cb: (err: Error | null) => void): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer)
    this.transport.destroy()
    cb(err)
  }

  setTimeout (ms: number, cb?: () => void): this {
    // http.Server arms header/keep-alive timeouts through this: map it onto Node's stream-level idle timer.
    if (cb !== undefined) this.once('timeout', cb)
    this.idleMs = ms
    this.touch()
    return this
  }

  setNoDelay (): this { return this }
  setKeepAlive (): this { return this }
  ref (): this { return this }
  unref (): this { return this }

  private idleTimer: NodeJS.Timeout | null = null
  private idleMs = 0
  /** Like net.Socket's timeout: idle time restarts on every read or write. */
  private touch (): void {
    if (this.idleTimer !== null) { clearTimeout(this.idleTimer); this.idleTimer = null }
    if (this.idleMs <= 0 || this.destroyed) return
    this.idleTimer = setTimeout(() => this.emit('timeout'), this.idleMs)
    this.idleTimer.unref()
  }
}
