/**
 * A SPDY stream seen as an http.IncomingMessage, for Fastify: headers, method, url, a socket-like object, and the
 * body as a Readable fed by the session's DATA frames.
 *
 * Flow control: `onConsumed(n)` fires as bytes leave our buffer for the app (read(), 'data', pipe, async
 * iteration), so the session grants the peer window only then (SPDY/3 section 2.6.8) and a slow route slows its
 * sender. What we hold is therefore bounded by the window the session granted, never by the peer's will.
 *
 * Abort semantics follow Node's IncomingMessage (so Fastify's onRequestAbort and request.signal behave as over
 * HTTP): on a peer reset, `aborted` is set and 'aborted' emitted unless the body was complete and fully read, then
 * the stream is destroyed ('close'); an 'error' (ECONNRESET "aborted") is emitted only to someone listening.
 */
import { EventEmitter } from 'node:events'
import { Readable } from 'node:stream'
import type { SpdyConnectionInfo, SpdyRequestInfo, StreamHead } from './contracts'

export type IncomingHeaders = Record<string, string | string[]>

/**
 * `req.socket` / `res.socket`: one per stream (not per session) because Fastify keeps per-request state on the
 * socket (`socket._meta` for onTimeout). It is made on first access only: most requests never look.
 * destroy() resets this stream, the closest SPDY meaning of "drop the connection" for one request.
 */
export class SpdySocket extends EventEmitter {
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly remoteFamily: string | undefined
  readonly localAddress: string | undefined
  readonly localPort: number | undefined
  readonly encrypted: boolean
  destroyed = false
  /** Fastify stores its onTimeout bookkeeping here. */
  _meta: unknown = null
  private readonly owner: SpdyIncomingMessage

  constructor (owner: SpdyIncomingMessage, info: SpdyConnectionInfo) {
    super()
    this.owner = owner
    this.remoteAddress = info.remoteAddress
    this.remotePort = info.remotePort
    this.remoteFamily = info.remoteAddress === undefined ? undefined : info.remoteAddress.includes(':') ? 'IPv6' : 'IPv4'
    this.localAddress = info.localAddress
    this.localPort = info.localPort
    this.encrypted = info.encrypted
  }

  address (): { address: string | undefined, port: number | undefined, family: string | undefined } {
    return { address: this.localAddress, port: this.localPort, family: this.remoteFamily }
  }

  destroy (err?: Error): this {
    this.owner.destroyStream(err)
    return this
  }

  /**
   * An inactivity timeout on this stream (no body byte in, no response write out, for `ms`), as net.Socket's is
   * on a connection; 0 turns it off. On expiry, as Node's http.Server does (socketOnTimeout): 'timeout' on this
   * socket (Fastify's onTimeout hooks listen here), then on the request (while incomplete) and the response; if
   * neither of those two had a listener, the stream is destroyed (reset).
   */
  setTimeout (ms: number, cb?: () => void): this {
    if (cb !== undefined) this.once('timeout', cb)
    this.idleMs = ms > 0 && Number.isFinite(ms) ? ms : 0
    this.touch()
    return this
  }

  // Socket options belong to the session's TCP connection, shared by every stream: nothing to do per stream.
  setNoDelay (_noDelay?: boolean): this { return this }
  setKeepAlive (_enable?: boolean, _delay?: number): this { return this }

  /** Called once the stream is over. */
  closed (): void {
    if (this.destroyed) return
    this.destroyed = true
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
    this.emit('close', false)
  }

  private idleMs = 0
  private timer: NodeJS.Timeout | null = null
  private lastActive = 0

  /** Stream activity: the inactivity timer counts from now. Re-armed lazily (one timer, no clear per chunk). */
  touch (): void {
    if (this.idleMs === 0 || this.destroyed) {
      if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
      return
    }
    this.lastActive = Date.now()
    if (this.timer === null) this.arm(this.idleMs)
  }

  private arm (ms: number): void {
    this.timer = setTimeout(this.expire, ms)
    // Like net.Socket's timeout, it never keeps the process alive by itself.
    this.timer.unref()
  }

  private readonly expire = (): void => {
    this.timer = null
    if (this.destroyed || this.idleMs === 0) return
    const left = this.lastActive + this.idleMs - Date.now()
    if (left > 0) { this.arm(left); return }
    this.emit('timeout')
    const req = this.owner
    const reqHandled = !req.complete && req.emit('timeout', this)
    const res = req.res as unknown as EventEmitter | null
    const resHandled = res !== null && typeof res.emit === 'function' && res.emit('timeout', this)
    if (!reqHandled && !resHandled) this.destroy()
  }
}

/** The response side, as the request needs it (the two are linked by dispatch). */
export interface ResponseLink {
  readonly writableFinished: boolean
  /** Resets the stream (INTERNAL_ERROR) unless the response is already complete. */
  destroy (err?: Error): unknown
  /** The response is complete but the request body is not and nobody reads it: RST_STREAM CANCEL. */
  cancelUpload (): void
  /** The peer reset the stream: drop further writes, emit 'close'. */
  peerReset (): void
  /** The request's DATA broke its content-length: RST_STREAM PROTOCOL_ERROR, the request is aborted. */
  malformedBody (): void
}

/**
 * One SPDY/3 initial window (64 KiB): the session never lets the peer send more than it granted, and it grants only
 * what was consumed, so this is a soft mark, not the bound. One object for every request (Readable only reads it).
 */
const READABLE_OPTIONS = Object.freeze({ highWaterMark: 64 * 1024 })

const abortedError = (): Error => Object.assign(new Error('aborted'), { code: 'ECONNRESET' })

export class SpdyIncomingMessage extends Readable {
  method: string
  url: string
  readonly headers: IncomingHeaders
  readonly httpVersion = '1.1'
  readonly httpVersionMajor = 1
  readonly httpVersionMinor = 1
  /** SPDY trailers (a HEADERS frame after the body) are not surfaced: always empty (made on first access). */
  get trailers (): Record<string, string> { return this.noTrailers ??= {} }
  get rawTrailers (): string[] { return this.noRawTrailers ??= [] }
  private noTrailers: Record<string, string> | null = null
  private noRawTrailers: string[] | null = null
  /** The peer's FIN arrived: the body is all here (Node: the parser saw the end of the message). */
  complete = false
  /** The peer reset the stream (or the session died) before the request was complete and read. */
  aborted = false
  /** Set by the session layer: the app has taken `bytes` more body bytes; grant that much window. */
  onConsumed: ((bytes: number) => void) | null = null
  /** Set by dispatch. */
  res: ResponseLink | null = null

  private readonly init: StreamHead
  private sock: SpdySocket | null = null
  private info: SpdyRequestInfo | null = null
  private raw: string[] | null = null
  /**
   * The request's content-length (checked to be one decimal number by the session's requestHead), or -1: the DATA
   * must add up to it exactly (RFC 9110 section 8.6; RFC 9113 section 8.1.1 makes a mismatch malformed in HTTP/2,
   * whose framing SPDY's is), or the stream is reset. Without it, Fastify reads the body up to its length and an
   * HTTP/1.1 peer could never send more than it said.
   */
  private readonly declaredLength: number
  /** DATA bytes received, whether or not anyone reads them. */
  private bodyBytes = 0
  /** Bytes pushed in, and bytes already reported through onConsumed. */
  private pushed = 0
  private reported = 0
  /** The app started reading (read(), resume, pipe): Node's `_consuming`. */
  private consuming = false
  /**
   * pushEnd() came before anyone read: push(null) waits for the first _read, or for the response's 'close'
   * (endUnread), whichever comes first (saves the ticks of ending a Readable nobody reads per body-less GET).
   */
  private endPending = false

  constructor (init: StreamHead) {
    super(READABLE_OPTIONS)
    this.init = init
    this.method = init.head.method
    this.url = init.head.path
    this.headers = init.head.headers
    const cl = this.headers['content-length']
    this.declaredLength = typeof cl === 'string' ? Number(cl) : -1
  }

  /** `{ version, streamId, priority }`: what the plugin's `request.spdy` decorator returns. */
  get spdy (): SpdyRequestInfo {
    if (this.info === null) this.info = { version: this.init.version, streamId: this.init.streamId, priority: this.init.priority }
    return this.info
  }

  get socket (): SpdySocket {
    if (this.sock === null) this.sock = new SpdySocket(this, this.init.conn)
    return this.sock
  }

  get connection (): SpdySocket { return this.socket }

  /** Built on demand: Fastify itself never reads it. */
  get rawHeaders (): string[] {
    if (this.raw === null) {
      const raw: string[] = []
      const h = this.headers
      for (const k in h) {
        const v = h[k]
        if (typeof v === 'string') raw.push(k, v)
        else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) raw.push(k, v[i])
      }
      this.raw = raw
    }
    return this.raw
  }

  // ---- called by the session layer ----

  /** A DATA frame's payload. Not copied: the Buffer handed to the app is a view of it. */
  pushData (chunk: Uint8Array): void {
    if (this.complete || chunk.length === 0) return
    this.bodyBytes += chunk.length
    if (this.declaredLength >= 0 && this.bodyBytes > this.declaredLength) { this.malformed(); return }
    if (this.destroyed) {
      // Nobody will read (the app destroyed the request or the response is over): keep the window open so the
      // peer is not stalled; the stream is being reset or finished anyway.
      this.onConsumed?.(chunk.length)
      return
    }
    this.pushed += chunk.length
    this.sock?.touch()
    this.push(chunk)
    // In flowing mode push() hands the chunk to 'data' listeners at once, without read(): report that too.
    this.report()
  }

  /** The peer's FIN: the body is complete. */
  pushEnd (): void {
    if (this.complete) return
    if (this.declaredLength > this.bodyBytes) { this.malformed(); return }
    this.complete = true
    if (this.destroyed) return
    if (this.consuming || this.readableLength > 0) this.push(null)
    else this.endPending = true
  }

  /** The peer reset the stream, or the session is gone. Idempotent; also tells the response. */
  abort (): void {
    if (!this.destroyed) {
      // Node's rule (IncomingMessage._destroy): aborted unless the body was complete and read to its end.
      if (!this.complete || !this.readableEnded) {
        this.aborted = true
        this.emit('aborted')
      }
      this.destroy(this.listenerCount('error') > 0 ? abortedError() : undefined)
    }
    this.res?.peerReset()
  }

  /** More DATA than content-length, or FIN before it: the peer's framing is broken, the request dies. */
  private malformed (): void {
    this.complete = true
    if (this.res !== null) this.res.malformedBody()
    else this.abort()
  }

  // ---- called by the response ----

  /**
   * The response finished. As Node does (`req._dump()`), a body nobody started reading is discarded so the
   * request ends and emits 'close'; an incomplete one is cancelled rather than received for nothing.
   */
  responseFinished (): void {
    // A complete request nobody read ends after the response's 'close' (endUnread), as Node's does.
    if (this.destroyed || this.endPending) return
    if (!this.complete) {
      // Someone still reading (pipe, 'data', async iteration) keeps the upload; Fastify after a body error (413,
      // bad length) has removed its listeners: that rest is cancelled (Fastify says "connection: close" there).
      if (this.listenerCount('data') > 0 || this.listenerCount('readable') > 0) return
      this.res?.cancelUpload()
      this.destroy()
      return
    }
    if (!this.consuming) this.resume()
  }

  /**
   * Called by the response in its 'finish'/'close' tick. A complete request that nobody read (a body-less GET)
   * ends now: 'end' and then 'close' in the ticks that follow, after the response's 'finish' and 'close', which
   * is Node's order (its resOnFinish dumps the request at 'finish', and the request's 'end' comes ticks later).
   * Done directly, without resume()'s flowing machinery (two ticks and the 'resume' event fewer per request).
   */
  endUnread (): void {
    if (!this.endPending || this.destroyed) return
    this.endPending = false
    if (this.listenerCount('readable') === 0 && this.readableFlowing !== true) {
      // read(0) first: _read finds nothing to do and the Readable leaves its `sync` state, so push(null) then
      // emits its 'readable' (which nobody hears: no listener, not flowing) at once instead of a tick later; the
      // second read(0) schedules 'end'. One tick fewer, nothing observable changed.
      super.read(0)
      this.push(null)
      super.read(0)
      return
    }
    this.push(null)
    this.read(0)
  }

  /** `req.socket.destroy()`: reset the stream unless the response is complete. */
  destroyStream (err?: Error): void {
    if (this.res !== null && !this.res.writableFinished) this.res.destroy(err)
    if (!this.destroyed) this.destroy()
  }

  /** The stream is over: a socket object handed out emits 'close'. */
  socketClosed (): void { this.sock?.closed() }

  // ---- Readable ----

  override _read (): void {
    this.consuming = true
    if (this.endPending) {
      this.endPending = false
      this.push(null)
    }
  }

  override read (size?: number): Buffer {
    this.consuming = true
    const chunk = super.read(size) as Buffer | null
    if (chunk !== null) this.report()
    return chunk as Buffer
  }

  override _destroy (err: Error | null, cb: (err?: Error | null) => void): void {
    // Bytes still buffered will never be read: give their window back (the session may still deliver more).
    const left = this.pushed - this.reported
    if (left > 0) { this.reported = this.pushed; this.onConsumed?.(left) }
    // The app destroyed the request with an error before the response ended (e.g. Fastify's rewriteUrl failure):
    // the stream is dead, say so to the peer.
    if (err !== null && !this.aborted && this.res !== null && !this.res.writableFinished) this.res.destroy(err)
    this.sock?.closed()
    // Like Node, an error is emitted only to someone listening: an unhandled one must not crash the server.
    cb(err !== null && this.listenerCount('error') > 0 ? err : null)
  }

  /** As Node's IncomingMessage.setTimeout: `cb` listens for 'timeout' on the request, the timer is the socket's. */
  setTimeout (ms: number, cb?: () => void): this {
    if (cb !== undefined) this.on('timeout', cb)
    this.socket.setTimeout(ms)
    return this
  }

  /** The response wrote something: activity for the inactivity timeout, if one was set. */
  activity (): void { this.sock?.touch() }

  /** Reports what left our buffer for the app since last time: pushed minus still buffered. */
  private report (): void {
    const consumed = this.pushed - this.readableLength
    if (consumed > this.reported) {
      const n = consumed - this.reported
      this.reported = consumed
      this.onConsumed?.(n)
    }
  }
}
