/**
 * A SPDY stream seen as an http.ServerResponse, for Fastify (the subset lib/reply.js, the hooks and the error
 * handler use): the header API, writeHead, and a real stream.Writable whose writes become DATA frames with the
 * session's backpressure, so reply.send(stream) pipes into it and pauses its source while the stream is full.
 *
 * Headers leave lazily, with the first byte or with end(), so a body-less response is one SYN_REPLY with FIN and
 * `res.end(payload)` (Fastify's usual path) is SYN_REPLY + one DATA with FIN. As in Node, headersSent turns true at
 * writeHead(), and setHeader() after it throws ERR_HTTP_HEADERS_SENT.
 *
 * Closing, as Node's ServerResponse does it: no 'error' is ever emitted (destroy(err) records the error for
 * finished()/eos, then 'close'); a peer reset makes the response emit 'close' and drop further writes; the app
 * destroying it before its end resets the stream with INTERNAL_ERROR.
 *
 * Not carried: the reason phrase (the session writes the standard one: SPDY's status is "<code> <phrase>"),
 * 1xx responses (SPDY has one SYN_REPLY per stream: writeEarlyHints/writeContinue only call back), trailers
 * (addTrailers is a no-op; a trailing HEADERS frame could carry them later).
 */
import { Writable } from 'node:stream'
import { STATUS_CODES, validateHeaderName, validateHeaderValue } from 'node:http'
import type { StreamSink } from './contracts'
import type { SpdyIncomingMessage, SpdySocket } from './request'

export type OutgoingHeaderValue = string | number | readonly string[]
export type OutgoingHeaderMap = Record<string, OutgoingHeaderValue | undefined>

const headersSentError = (): Error => Object.assign(new Error('Cannot set headers after they are sent to the client'), { code: 'ERR_HTTP_HEADERS_SENT' })

// The Date header, formatted once per second like Node's http does (toUTCString costs ~1 us).
let dateSecond = -1
let dateValue = ''
function utcDate (): string {
  const now = Date.now()
  const s = Math.floor(now / 1000)
  if (s !== dateSecond) { dateSecond = s; dateValue = new Date(now).toUTCString() }
  return dateValue
}

export class SpdyServerResponse extends Writable {
  statusCode = 200
  statusMessage = ''
  /** Like Node: a Date header is added unless the app set one or turns this off. */
  sendDate = true
  readonly req: SpdyIncomingMessage
  private readonly sink: StreamSink
  private fields: Record<string, OutgoingHeaderValue> = Object.create(null) as Record<string, OutgoingHeaderValue>
  /** Headers frozen by writeHead/first write: what respond() gets. */
  private out: Record<string, string | string[]> | null = null
  private responded = false
  private finSent = false
  /** end(chunk) is writing its last chunk: send it with FIN. */
  private finNext = false
  /** The stream is gone (peer reset, or we reset/cancelled it): nothing more goes to the sink. */
  private gone = false
  private pendingCb: ((err?: Error | null) => void) | null = null
  private drainFn: (() => void) | null = null

  constructor (req: SpdyIncomingMessage, sink: StreamSink) {
    // The session's per-stream queue is the real buffer (its high-water mark answers write()); ours only holds what
    // arrives while we wait for its drain, so keep it to one DATA frame's worth.
    super({ highWaterMark: 16 * 1024, decodeStrings: true })
    this.req = req
    this.sink = sink
    req.res = this
  }

  get headersSent (): boolean { return this.out !== null }
  get socket (): SpdySocket { return this.req.socket }
  get connection (): SpdySocket { return this.req.socket }
  /** Deprecated in Node, still read by some middleware. */
  get finished (): boolean { return this.writableEnded }

  // ---- header API ----

  setHeader (name: string, value: OutgoingHeaderValue): this {
    if (this.out !== null) throw headersSentError()
    validateHeaderName(name)
    validateHeaderValue(name, value as string)
    this.fields[name.toLowerCase()] = value
    return this
  }

  appendHeader (name: string, value: OutgoingHeaderValue): this {
    const key = name.toLowerCase()
    const prev = this.fields[key]
    if (prev === undefined) return this.setHeader(key, value)
    const a = Array.isArray(prev) ? prev as readonly string[] : [String(prev)]
    return this.setHeader(key, a.concat(Array.isArray(value) ? value as readonly string[] : [String(value)]))
  }

  getHeader (name: string): OutgoingHeaderValue | undefined { return this.fields[name.toLowerCase()] }
  getHeaders (): Record<string, OutgoingHeaderValue> { return Object.assign(Object.create(null) as Record<string, OutgoingHeaderValue>, this.fields) }
  getHeaderNames (): string[] { return Object.keys(this.fields) }
  hasHeader (name: string): boolean { return this.fields[name.toLowerCase()] !== undefined }
  removeHeader (name: string): void {
    if (this.out !== null) throw headersSentError()
    delete this.fields[name.toLowerCase()]
  }

  writeHead (statusCode: number, reason?: string | OutgoingHeaderMap | OutgoingHeaderValue[], headers?: OutgoingHeaderMap | OutgoingHeaderValue[]): this {
    if (this.out !== null) throw headersSentError()
    if (typeof reason !== 'string') { headers = reason; reason = undefined }
    statusCode |= 0
    if (statusCode < 100 || statusCode > 999) {
      throw Object.assign(new RangeError(`Invalid status code: ${statusCode}`), { code: 'ERR_HTTP_INVALID_STATUS_CODE' })
    }
    this.statusCode = statusCode
    if (reason !== undefined) this.statusMessage = reason
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) this.appendHeader(String(headers[i]), headers[i + 1])
    } else if (headers !== undefined) {
      const h = headers as OutgoingHeaderMap
      for (const k in h) {
        const v = h[k]
        if (v === undefined) continue
        validateHeaderName(k)
        validateHeaderValue(k, v as string)
        this.fields[k.toLowerCase()] = v
      }
    }
    this.freeze()
    return this
  }

  /** Sends SYN_REPLY now, without waiting for the first byte. */
  flushHeaders (): void {
    if (this.out === null) this.freeze()
    if (!this.responded) this.respond(false)
  }

  /** No-op: SPDY trailers would need a HEADERS frame after the last DATA, which the session does not send. */
  addTrailers (_headers: OutgoingHeaderMap | ReadonlyArray<[string, string]>): void {}
  /** SPDY has no interim responses: only calls back. */
  writeEarlyHints (_hints: Record<string, unknown>, cb?: () => void): void { if (typeof cb === 'function') process.nextTick(cb) }
  writeContinue (cb?: () => void): void { if (typeof cb === 'function') process.nextTick(cb) }
  writeProcessing (): void {}
  /** Timeouts belong to the session (idleTimeout), not to one stream. */
  setTimeout (_ms: number, _cb?: () => void): this { return this }

  // ---- called by the session layer (directly or through req.abort()) ----

  /** The peer reset the stream or the session is gone: 'close', and later writes are dropped. Idempotent. */
  peerReset (): void {
    if (this.gone) return
    this.gone = true
    this.pendingCb = null
    this.req.abort()
    if (!this.destroyed) this.destroy()
  }

  /**
   * The request's DATA broke its content-length (more than declared, or FIN short of it): RST_STREAM
   * PROTOCOL_ERROR, as for a malformed head, and the request is aborted as on a peer reset. Idempotent.
   */
  malformedBody (): void {
    if (this.gone) return
    this.gone = true
    this.pendingCb = null
    this.sink.reset('PROTOCOL_ERROR')
    this.req.abort()
    if (!this.destroyed) this.destroy()
  }

  // ---- called by the request ----

  /** The response is complete, the upload is not and nobody reads it: tell the peer to stop sending. */
  cancelUpload (): void {
    if (this.gone) return
    this.gone = true
    this.sink.reset('CANCEL')
  }

  // ---- Writable ----

  override end (chunk?: unknown, encoding?: unknown, cb?: unknown): this {
    // Only when nothing is queued does super.end() hand this chunk to _write synchronously: then it is the last.
    if (chunk != null && typeof chunk !== 'function' && this.writableLength === 0 && this.writableCorked === 0 && !this.writableEnded && !this.destroyed) this.finNext = true
    ;(Writable.prototype.end as (c: unknown, e: unknown, f: unknown) => unknown).call(this, chunk, encoding, cb)
    this.finNext = false
    return this
  }

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const fin = this.finNext
    this.finNext = false
    if (this.gone) { cb(); return }
    if (this.out === null) this.freeze()
    if (this.noBody()) {
      if (fin) { this.finSent = true; this.respond(true) } else if (!this.responded) this.respond(false)
      cb()
      return
    }
    if (chunk.length === 0) {
      if (fin) { this.finSent = true; if (!this.responded) this.respond(true); else this.sink.end() }
      cb()
      return
    }
    if (!this.responded) this.respond(false)
    if (fin) this.finSent = true
    if (this.sink.write(chunk, fin)) { cb(); return }
    this.pendingCb = cb
    if (this.drainFn === null) this.drainFn = this.drained.bind(this)
    this.sink.onDrain(this.drainFn)
  }

  override _final (cb: (err?: Error | null) => void): void {
    if (!this.gone && !this.finSent) {
      this.finSent = true
      if (this.out === null) this.freeze()
      if (!this.responded) this.respond(true)
      else this.sink.end()
    }
    cb()
    this.req.responseFinished()
  }

  override _destroy (err: Error | null, cb: (err?: Error | null) => void): void {
    const waiting = this.pendingCb !== null
    this.pendingCb = null
    if (!this.writableFinished) {
      // Destroyed before its end (the app failed mid-response, stream.destroy(), a timeout): a truncated body must
      // not look complete, so reset the stream; and the request dies with it, as it would with an HTTP socket.
      if (!this.gone && (!this.finSent || waiting)) { this.gone = true; this.sink.reset('INTERNAL_ERROR') }
      this.req.abort()
    }
    this.req.socketClosed()
    this.sink.closed?.()
    // Like Node's ServerResponse: the error stays readable through finished()/eos (destroy() stored it as
    // `errored`), but no 'error' event: an unhandled one would crash the server.
    cb(null)
  }

  // ---- internals ----

  private drained (): void {
    const cb = this.pendingCb
    this.pendingCb = null
    if (cb !== null) cb()
  }

  /** HEAD and the statuses that never have a body (RFC 7230 section 3.3.3): headers only. */
  private noBody (): boolean {
    const s = this.statusCode
    return this.req.method === 'HEAD' || s === 204 || s === 304 || (s >= 100 && s < 200)
  }

  private freeze (): void {
    const out: Record<string, string | string[]> = {}
    const f = this.fields
    // Connection-specific headers (Fastify's connection: close, a transfer-encoding) stay in: the frame's header
    // list drops them, in one place (lib/session/headers.ts, SPDY/3 section 3.2.2).
    for (const k in f) {
      const v = f[k]
      out[k] = typeof v === 'string' ? v : Array.isArray(v) ? (v as readonly unknown[]).map(String) : String(v)
    }
    if (this.sendDate && out.date === undefined) out.date = utcDate()
    if (this.statusMessage === '') this.statusMessage = STATUS_CODES[this.statusCode] ?? ''
    this.out = out
  }

  private respond (fin: boolean): void {
    this.responded = true
    this.sink.respond(this.statusCode, this.out as Record<string, string | string[]>, fin)
  }
}
