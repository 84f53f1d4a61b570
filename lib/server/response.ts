/**
 * A SPDY stream seen as an http.ServerResponse, for Fastify (the subset lib/reply.js, the hooks and the error
 * handler use) and the code apps pipe into it: the header API, writeHead, and write/end/cork/uncork/destroy whose
 * bytes become DATA frames with the session's backpressure, so reply.send(stream) pipes into it and pauses its
 * source while the stream is full.
 *
 * Like Node's own ServerResponse (an OutgoingMessage), it is a legacy `Stream` (an EventEmitter with pipe), not a
 * stream.Writable: the Writable machinery (its state object, a process.nextTick per end, finish, destroy and close)
 * was the largest allocation per small GET (bench/RESULTS.md, issue 14 method notes). What code relies on is kept:
 * write() returns false while the stream is full and 'drain' follows; write callbacks come in write order; 'finish'
 * (end(cb)'s cb is one of its listeners, as in Node), then 'close' (one tick after end(), never inside it, so a
 * listener added right after end() still hears them); writableEnded, writableFinished, writableLength,
 * writableHighWaterMark, writableNeedDrain, headersSent, finished, destroyed, closed; destroy() before the end resets
 * the stream; stream.finished()/pipeline() treat it as they treat Node's ServerResponse ('finish' then 'close' is
 * success, 'close' alone is ERR_STREAM_PREMATURE_CLOSE).
 *
 * The order is Node 20 and 22's on every Node. Node 24's http calls end(cb)'s callback before 'finish' (so
 * writableFinished is still false right after end()) and ends a body-less request before the response's 'close'
 * (test/server/compat-real.test.ts NODE_20_22). Following the running Node instead would be a choice per release
 * line made once at load (the order cannot be probed without an HTTP exchange), checked live against Node 24's http
 * on a Node 24 machine; until that is done, one order on every supported Node is the one the tests record.
 *
 * Headers leave lazily, with the first byte or with end(), so a body-less response is one SYN_REPLY with FIN and
 * `res.end(payload)` (Fastify's usual path) is SYN_REPLY + one DATA with FIN. As in Node, headersSent turns true at
 * writeHead(), and setHeader() after it throws ERR_HTTP_HEADERS_SENT.
 *
 * Closing: no 'error' is ever emitted (an unhandled one would crash the server; a write after end() or destroy()
 * gets its error through its callback only); destroy(err) keeps err as `errored`; a peer reset makes the response
 * emit 'close' and drop further writes; the app destroying it before its end resets the stream with INTERNAL_ERROR.
 *
 * Not carried: the reason phrase (the session writes the standard one: SPDY's status is "<code> <phrase>"),
 * 1xx responses (SPDY has one SYN_REPLY per stream: writeEarlyHints/writeContinue only call back), trailers
 * (addTrailers is a no-op; a trailing HEADERS frame could carry them later).
 */
import { Stream } from 'node:stream'
import { STATUS_CODES, validateHeaderName, validateHeaderValue } from 'node:http'
import type { StreamSink } from './contracts'
import { HeaderFields } from '../session/headers'
import { compactHead } from '../session/stream-table'
import type { SpdyIncomingMessage, SpdySocket } from './request'

export type OutgoingHeaderValue = string | number | readonly string[]
export type OutgoingHeaderMap = Record<string, OutgoingHeaderValue | undefined>
type WriteCallback = (err?: Error | null) => void

const codeError = (message: string, code: string): Error => Object.assign(new Error(message), { code })
const headersSentError = (): Error => codeError('Cannot set headers after they are sent to the client', 'ERR_HTTP_HEADERS_SENT')
const writeAfterEnd = (): Error => codeError('write after end', 'ERR_STREAM_WRITE_AFTER_END')
const destroyedError = (op: string): Error => codeError(`Cannot call ${op} after a stream was destroyed`, 'ERR_STREAM_DESTROYED')

/**
 * What write() holds back while the session's queue for the stream is over its mark (or while corked) before it
 * answers false: the session's per-stream queue is the real buffer, ours only holds what arrives while we wait
 * for its drain, so one DATA frame's worth.
 */
const HIGH_WATER_MARK = 16 * 1024
/** What a sent slot of `held` keeps until the slots go: not the chunk, which the sink may already have let go. */
const SENT = new Uint8Array(0)

// The Date header, formatted once per second like Node's http does (toUTCString costs ~1 us).
let dateSecond = -1
let dateValue = ''
function utcDate (): string {
  const now = Date.now()
  const s = Math.floor(now / 1000)
  if (s !== dateSecond) { dateSecond = s; dateValue = new Date(now).toUTCString() }
  return dateValue
}

function toBuffer (chunk: unknown, encoding: unknown): Buffer | Uint8Array {
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? encoding as BufferEncoding : 'utf8')
  if (chunk instanceof Uint8Array) return chunk
  if (chunk === null) throw Object.assign(new TypeError('May not write null values to stream'), { code: 'ERR_STREAM_NULL_VALUES' })
  throw Object.assign(new TypeError('The "chunk" argument must be of type string or an instance of Buffer or Uint8Array'), { code: 'ERR_INVALID_ARG_TYPE' })
}

/** finish then close, or close alone: run a tick after the fact (see the class comment). */
function emitEnd (res: SpdyServerResponse): void { res['afterEnd']() }
function afterHeldCbs (res: SpdyServerResponse, cbs: WriteCallback[]): void {
  for (let i = 0; i < cbs.length; i++) cbs[i]()
  res['afterFlush']()
}
/** end()'s callbacks, a 'finish' listener as in Node's OutgoingMessage.end (once('finish', cb)): in its order. */
function callEndCbs (this: SpdyServerResponse): void { this['runEndCbs']() }

export class SpdyServerResponse extends Stream {
  statusCode = 200
  statusMessage = ''
  /** Like Node: a Date header is added unless the app set one or turns this off. */
  sendDate = true
  readonly req: SpdyIncomingMessage
  /** As Node's OutgoingMessage: always true (stream.finished() reads a false one as "finished" on 'close'). */
  readonly writable = true
  readonly writableObjectMode = false
  /** end() was called (Node's `finished`, deprecated but still read by middleware). */
  finished = false
  destroyed = false
  /** 'close' was emitted. */
  closed = false
  /** What destroy(err) was given. */
  errored: Error | null = null
  private readonly sink: StreamSink
  private fields = new HeaderFields<OutgoingHeaderValue>()
  /** Headers frozen by writeHead/first write: what respond() gets. */
  private out: Record<string, string | string[]> | null = null
  private responded = false
  /** FIN (or RST) went to the sink: nothing more goes. */
  private finSent = false
  /** The stream is gone (peer reset, or we reset/cancelled it): nothing more goes to the sink. */
  private gone = false
  /** The sink's queue is over its mark: waiting for its onDrain. */
  private waitingDrain = false
  /** write() answered false: 'drain' is owed once everything held is in the sink. */
  private needDrain = false
  private corked = 0
  /**
   * Chunks held while waiting for the sink's drain or while corked (held[heldHead..]), and their bytes. Sent from
   * the head by index, not shift(): a route writing many small chunks while corked or before a drain holds one entry
   * per write, and V8's shift() copies the whole array once it is large (~16K entries), which made sending them
   * quadratic (100,000 one-byte writes while corked: seconds of blocked event loop in uncork()).
   */
  private held: Array<Buffer | Uint8Array> | null = null
  private heldHead = 0
  private heldBytes = 0
  /** Callbacks of held writes (rare: Fastify passes none), called once their chunk is in the sink. */
  private heldCbs: WriteCallback[] | null = null
  private endCbs: WriteCallback[] | null = null
  /** The close tick is scheduled: it emits 'finish' (if the response completed) and 'close'. */
  private ending = false
  private finishEmitted = false
  /** FIN is in the session's queue and it took it (no drain owed): the response is complete. */
  private complete = false
  private drainFn: (() => void) | null = null

  constructor (req: SpdyIncomingMessage, sink: StreamSink) {
    super()
    this.req = req
    this.sink = sink
    req.res = this
  }

  get headersSent (): boolean { return this.out !== null }
  get socket (): SpdySocket { return this.req.socket }
  get connection (): SpdySocket { return this.req.socket }
  get writableEnded (): boolean { return this.finished }
  /** Everything is in the session's queue, FIN included (Node: all of it handed to the socket). */
  get writableFinished (): boolean { return this.complete }
  get writableLength (): number { return this.heldBytes }
  get writableHighWaterMark (): number { return HIGH_WATER_MARK }
  get writableCorked (): number { return this.corked }
  get writableNeedDrain (): boolean { return this.needDrain && !this.destroyed && !this.finished }

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
    this.req.abort()
    this.destroy()
  }

  /**
   * The request's DATA broke its content-length (more than declared, or FIN short of it): RST_STREAM
   * PROTOCOL_ERROR, as for a malformed head, and the request is aborted as on a peer reset. Idempotent.
   */
  malformedBody (): void {
    if (this.gone) return
    this.gone = true
    this.sink.reset('PROTOCOL_ERROR')
    this.req.abort()
    this.destroy()
  }

  // ---- called by the request ----

  /** The response is complete, the upload is not and nobody reads it: tell the peer to stop sending. */
  cancelUpload (): void {
    if (this.gone) return
    this.gone = true
    this.sink.reset('CANCEL')
  }

  // ---- the writing side, as OutgoingMessage has it ----

  write (chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
    if (typeof encoding === 'function') { cb = encoding; encoding = undefined }
    const done = typeof cb === 'function' ? cb as WriteCallback : null
    const buf = toBuffer(chunk, encoding)
    if (this.finished || this.destroyed) {
      if (done !== null) process.nextTick(done, this.finished ? writeAfterEnd() : destroyedError('write'))
      return false
    }
    if (this.out === null) this.freeze()
    if (this.noBody()) {
      // As Node: a body on HEAD, 204 or 304 is dropped; the headers still go.
      if (!this.responded) this.respond(false)
      if (done !== null) process.nextTick(done)
      return true
    }
    if (this.waitingDrain || this.corked > 0 || this.held !== null) {
      this.hold(buf, done)
      if (this.waitingDrain || this.heldBytes >= HIGH_WATER_MARK) { this.needDrain = true; return false }
      return true
    }
    if (!this.responded) this.respond(false)
    if (buf.length > 0 && !this.sink.write(buf, false)) {
      // The chunk is in the session's queue, over its mark: its callback and 'drain' wait for the sink's drain.
      if (done !== null) (this.heldCbs ??= []).push(done)
      this.needDrain = true
      this.waitDrain()
      return false
    }
    if (done !== null) process.nextTick(done)
    return true
  }

  end (chunk?: unknown, encoding?: unknown, cb?: unknown): this {
    if (typeof chunk === 'function') { cb = chunk; chunk = null } else if (typeof encoding === 'function') { cb = encoding; encoding = undefined }
    const done = typeof cb === 'function' ? cb as WriteCallback : null
    if (this.finished) {
      if (done !== null) {
        if (chunk != null) process.nextTick(done, writeAfterEnd())
        else if (this.finishEmitted) process.nextTick(done, codeError('Cannot call end after a stream was finished', 'ERR_STREAM_ALREADY_FINISHED'))
        else if (this.closed) process.nextTick(done, this.errored ?? destroyedError('end'))
        else this.addEndCb(done)
      }
      return this
    }
    const buf = chunk != null ? toBuffer(chunk, encoding) : null
    this.finished = true
    if (this.destroyed) {
      if (done !== null) {
        if (this.closed) process.nextTick(done, this.errored ?? destroyedError('end'))
        else this.addEndCb(done)
      }
      return this
    }
    if (done !== null) this.addEndCb(done)
    if (this.out === null) this.freeze()
    // As Node's end(): whatever cork() held goes now.
    this.corked = 0
    if (this.waitingDrain || this.held !== null) {
      if (buf !== null && !this.noBody()) this.hold(buf, null)
      this.flushHeld()
      return this
    }
    this.sendLast(buf)
    return this
  }

  cork (): void { this.corked++ }

  uncork (): void {
    if (this.corked > 0 && --this.corked === 0) this.flushHeld()
  }

  /**
   * As Node's ServerResponse: before the end, the stream is reset (INTERNAL_ERROR: a truncated body must not look
   * complete) and the request dies with it, as it would with an HTTP socket; after it, nothing is lost. 'close'
   * follows a tick later.
   */
  destroy (err?: Error | null): this {
    if (this.destroyed) return this
    this.destroyed = true
    if (err != null) this.errored = err
    this.held = null
    this.heldHead = 0
    this.heldBytes = 0
    if (!this.complete) {
      if (!this.gone) { this.gone = true; this.sink.reset('INTERNAL_ERROR') }
      this.req.abort()
    }
    this.scheduleEnd()
    return this
  }

  // ---- internals ----

  private addEndCb (cb: WriteCallback): void {
    if (this.endCbs === null) {
      this.endCbs = []
      this.once('finish', callEndCbs)
    }
    this.endCbs.push(cb)
  }

  private runEndCbs (): void {
    const cbs = this.endCbs
    this.endCbs = null
    if (cbs !== null) for (let i = 0; i < cbs.length; i++) cbs[i]()
  }

  private hold (buf: Buffer | Uint8Array, done: WriteCallback | null): void {
    if (buf.length > 0) {
      (this.held ??= []).push(buf)
      this.heldBytes += buf.length
    } else this.held ??= []
    if (done !== null) (this.heldCbs ??= []).push(done)
  }

  /** The last bytes, with FIN. */
  private sendLast (buf: Buffer | Uint8Array | null): void {
    if (this.gone) return
    this.finSent = true
    if (buf === null || buf.length === 0 || this.noBody()) {
      if (this.responded) this.sink.end()
      else this.respond(true)
      this.completed()
      return
    }
    if (!this.responded) this.respond(false)
    if (this.sink.write(buf, true)) this.completed()
    else this.waitDrain()
  }

  /** Everything, FIN included, is in the session's queue: 'finish' and 'close' a tick from now. */
  private completed (): void {
    if (this.complete) return
    this.complete = true
    this.req.responseFinished()
    this.scheduleEnd()
  }

  private waitDrain (): void {
    this.waitingDrain = true
    // Bound once per response, and only by one that meets backpressure.
    if (this.drainFn === null) this.drainFn = this.drained.bind(this)
    this.sink.onDrain(this.drainFn)
  }

  private drained (): void {
    this.waitingDrain = false
    // A drain the session had registered before a reset must not revive the response.
    if (this.destroyed || this.gone) return
    this.flushHeld()
  }

  /** Sends what was held, in order, while the sink takes it; then FIN if end() came, else the write callbacks and 'drain'. */
  private flushHeld (): void {
    if (this.corked > 0 || this.waitingDrain || this.gone) return
    const held = this.held
    if (held !== null) {
      // held.length is read on each pass: a sink call may make the app write again, which holds behind the rest.
      let i = this.heldHead
      while (i < held.length) {
        const c = held[i]
        held[i++] = SENT
        this.heldBytes -= c.length
        const fin = this.finished && i === held.length
        if (!this.responded) this.respond(false)
        if (fin) this.finSent = true
        if (!this.sink.write(c, fin)) {
          // held[i..] waits for the drain; the sent slots go by halves (compactHead).
          this.heldHead = compactHead(held, i)
          this.waitDrain()
          return
        }
        // A sink call may end the stream (a crash barrier closing the connection): nothing more goes.
        if (this.gone) {
          if (this.held === held) this.heldHead = i
          return
        }
      }
      this.held = null
      this.heldHead = 0
    }
    const cbs = this.heldCbs
    if (cbs !== null) {
      // The sink may drain inside the write that filled it, before the callbacks write() scheduled for earlier
      // chunks have run: these go a tick later, behind those, so callbacks come in write order as in Node; then
      // FIN or 'drain', as Node emits 'drain' after the write callbacks.
      this.heldCbs = null
      process.nextTick(afterHeldCbs, this, cbs)
      return
    }
    this.afterFlush()
  }

  /** After what was held is in the sink (and its callbacks called): FIN if end() came, else 'drain' if owed. */
  private afterFlush (): void {
    if (this.gone || this.waitingDrain) return
    if (this.finished) {
      if (!this.finSent) this.sendLast(null)
      else this.completed()
      return
    }
    if (this.needDrain) {
      this.needDrain = false
      this.emit('drain')
    }
  }

  private scheduleEnd (): void {
    if (this.ending) return
    this.ending = true
    process.nextTick(emitEnd, this)
  }

  /** The tick after completion or destruction: 'finish' if the response completed, then 'close'. */
  private afterEnd (): void {
    if (this.complete && !this.finishEmitted) {
      this.finishEmitted = true
      // end()'s callbacks are among the 'finish' listeners (addEndCb), in the order they were added, as in Node.
      this.emit('finish')
    }
    // As Node's emitCloseNT: a closed response is destroyed.
    this.destroyed = true
    this.closed = true
    const endCbs = this.endCbs
    const heldCbs = this.heldCbs
    this.endCbs = null
    this.heldCbs = null
    if (endCbs !== null) for (let i = 0; i < endCbs.length; i++) endCbs[i](this.errored ?? destroyedError('end'))
    if (heldCbs !== null) for (let i = 0; i < heldCbs.length; i++) heldCbs[i](destroyedError('write'))
    this.req.socketClosed()
    // The app answered before the body was in and still reads it (Node lets it: the request ends on its own): the
    // stream stays routed to the request until that ends, or its DATA would be dropped and it would never end.
    if (this.req.complete || this.req.destroyed) this.sink.closed?.()
    else this.req.once('close', () => this.sink.closed?.())
    // A complete request nobody read ends now ('end' a tick from now): after our 'finish' and 'close', as in Node.
    if (this.complete) this.req.endUnread()
    this.emit('close')
  }

  /** HEAD and the statuses that never have a body (RFC 7230 section 3.3.3): headers only. */
  private noBody (): boolean {
    const s = this.statusCode
    return this.req.method === 'HEAD' || s === 204 || s === 304 || (s >= 100 && s < 200)
  }

  private freeze (): void {
    // Not `{}`: a field named __proto__ would set its prototype instead of being one.
    const out = new HeaderFields<string | string[]>()
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
