/**
 * A SPDY stream seen as an http.ServerResponse, for Fastify: the header API, writeHead, and a Writable whose
 * writes become DATA frames with the session's backpressure (a false from the stream means the callback waits for
 * 'drain', so reply.send(stream) pauses its source). Headers go out lazily, with the first byte or with end(), so a
 * body-less response is one SYN_REPLY with FIN.
 */
import { Writable } from 'node:stream'
import { STATUS_CODES } from 'node:http'
import type { OutgoingHeaders } from '../session/headers'
import type { StreamSink } from './stream-sink'
import type { SpdyIncomingMessage } from './request'

type HeaderValue = string | number | string[]

const headersSentError = (): Error => Object.assign(new Error('Cannot set headers after they are sent to the client'), { code: 'ERR_HTTP_HEADERS_SENT' })

export class SpdyServerResponse extends Writable {
  statusCode = 200
  statusMessage = ''
  headersSent = false
  sendDate = false
  readonly req: SpdyIncomingMessage
  private readonly sink: StreamSink
  private readonly head: boolean
  private readonly fields: Record<string, HeaderValue> = Object.create(null)
  /** The peer reset the stream: bytes have nowhere to go. */
  private gone = false

  constructor (req: SpdyIncomingMessage, sink: StreamSink) {
    // The sink does the buffering (the session's per-stream queue); keep Writable's own small.
    super({ highWaterMark: 16 * 1024, decodeStrings: true })
    this.req = req
    this.sink = sink
    this.head = req.method === 'HEAD'
  }

  get socket (): SpdyIncomingMessage['socket'] { return this.req.socket }
  get connection (): SpdyIncomingMessage['socket'] { return this.req.socket }
  get finished (): boolean { return this.writableEnded }

  setHeader (name: string, value: HeaderValue): this {
    if (this.headersSent) throw headersSentError()
    this.fields[name.toLowerCase()] = value
    return this
  }

  appendHeader (name: string, value: HeaderValue): this {
    const key = name.toLowerCase()
    const prev = this.fields[key]
    if (prev === undefined) return this.setHeader(key, value)
    const list = (Array.isArray(prev) ? prev : [String(prev)]).concat(Array.isArray(value) ? value : [String(value)])
    return this.setHeader(key, list)
  }

  getHeader (name: string): HeaderValue | undefined { return this.fields[name.toLowerCase()] }
  getHeaders (): Record<string, HeaderValue> { return { ...this.fields } }
  getHeaderNames (): string[] { return Object.keys(this.fields) }
  hasHeader (name: string): boolean { return this.fields[name.toLowerCase()] !== undefined }
  removeHeader (name: string): void {
    if (this.headersSent) throw headersSentError()
    delete this.fields[name.toLowerCase()]
  }

  writeHead (statusCode: number, reason?: string | OutgoingHeaders | HeaderValue[], headers?: OutgoingHeaders | HeaderValue[]): this {
    if (this.headersSent) throw headersSentError()
    if (typeof reason !== 'string') { headers = reason; reason = undefined }
    this.statusCode = statusCode
    if (reason !== undefined) this.statusMessage = reason
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) this.appendHeader(String(headers[i]), headers[i + 1] as HeaderValue)
    } else if (headers !== undefined) {
      for (const k in headers) {
        const v = headers[k]
        if (v !== undefined) this.fields[k.toLowerCase()] = v
      }
    }
    return this
  }

  flushHeaders (): void { this.sendHeaders(false) }

  /** Trailers need a HEADERS frame after the last DATA; not supported yet, so they are dropped (documented). */
  addTrailers (_headers: OutgoingHeaders): void {}

  setTimeout (_ms: number, _cb?: () => void): this { return this }

  /** Called by the session layer when the peer reset the stream or the connection went away. */
  peerReset (): void {
    this.gone = true
    if (!this.destroyed) this.destroy()
  }

  private sendHeaders (fin: boolean): void {
    if (this.headersSent) return
    this.headersSent = true
    if (this.statusMessage === '') this.statusMessage = STATUS_CODES[this.statusCode] ?? ''
    if (!this.gone) this.sink.respond(this.statusCode, this.fields, fin)
  }

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sendHeaders(false)
    if (this.gone || this.head || chunk.length === 0) { cb(); return }
    if (this.sink.write(chunk)) cb()
    else this.sink.onDrain(() => cb())
  }

  override _writev (chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.sendHeaders(false)
    if (this.gone || this.head) { cb(); return }
    let ok = true
    for (const { chunk } of chunks) if (chunk.length > 0) ok = this.sink.write(chunk)
    if (ok) cb()
    else this.sink.onDrain(() => cb())
  }

  override _final (cb: (err?: Error | null) => void): void {
    if (!this.headersSent) this.sendHeaders(true)
    else if (!this.gone) this.sink.end()
    cb()
  }

  override _destroy (err: Error | null, cb: (err: Error | null) => void): void {
    // Destroyed before the end (the app failed mid-response, or stream.destroy()): tell the peer the stream is
    // broken rather than let a truncated body look complete.
    if (!this.gone && !this.writableFinished) this.sink.reset(err !== null ? 'INTERNAL_ERROR' : 'CANCEL')
    cb(err)
  }
}
