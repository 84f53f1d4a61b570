/**
 * A SPDY stream seen as an http.IncomingMessage, for Fastify: headers, method, url, a socket-like object, and the
 * body as a Readable fed by the session's DATA frames. Reading drives flow control: `onConsumed(n)` fires as the app
 * reads, and the session grants the peer window only then (SPDY/3 section 2.6.8), so a slow route slows its sender.
 */
import { Readable } from 'node:stream'
import type { HttpHeaders } from '../session/headers'
import type { SpdyRequestInfo } from './listener'

export class SpdyIncomingMessage extends Readable {
  readonly method: string
  url: string
  readonly headers: HttpHeaders
  readonly rawHeaders: string[]
  readonly httpVersion = '1.1'
  readonly httpVersionMajor = 1
  readonly httpVersionMinor = 1
  readonly trailers: Record<string, string> = {}
  readonly rawTrailers: string[] = []
  /** Shared by the session's requests: remote/local address, `encrypted` (request.protocol). */
  readonly socket: import('node:events').EventEmitter & Record<string, unknown>
  readonly spdy: SpdyRequestInfo
  complete = false
  aborted = false
  /** Set by the session layer: the app has read `n` body bytes. */
  onConsumed: ((n: number) => void) | null = null

  constructor (init: { method: string, url: string, headers: HttpHeaders, socket: import('node:events').EventEmitter & Record<string, unknown>, spdy: SpdyRequestInfo }) {
    // One SPDY window (64 KB) of buffering: more would only let a fast peer fill our memory.
    super({ highWaterMark: 64 * 1024 })
    this.method = init.method
    this.url = init.url
    this.headers = init.headers
    this.socket = init.socket
    this.spdy = init.spdy
    const raw: string[] = []
    for (const k in init.headers) {
      const v = init.headers[k]
      if (Array.isArray(v)) for (const x of v) raw.push(k, x)
      else raw.push(k, v)
    }
    this.rawHeaders = raw
  }

  get connection (): unknown { return this.socket }

  private pushed = 0
  private reported = 0

  /** A DATA frame's payload. */
  pushData (chunk: Uint8Array): void {
    if (this.aborted || this.complete) return
    this.pushed += chunk.length
    this.push(chunk)
    // In flowing mode Readable hands the chunk to 'data' listeners right inside push(), without read().
    this.report()
  }

  /** Reports what left our buffer for the app since last time: pushed minus still buffered. */
  private report (): void {
    const consumed = this.pushed - this.readableLength
    if (consumed > this.reported && this.onConsumed !== null) {
      this.onConsumed(consumed - this.reported)
      this.reported = consumed
    }
  }

  /** The peer's FIN. */
  pushEnd (): void {
    if (this.aborted || this.complete) return
    this.complete = true
    this.push(null)
  }

  /** The stream was reset or the connection lost before the body ended. */
  abort (): void {
    if (this.complete || this.aborted) {
      if (!this.destroyed) this.destroy()
      return
    }
    this.aborted = true
    this.emit('aborted')
    this.destroy()
  }

  override _read (): void {
    // Data is pushed by the session; flow control happens in read() below, where bytes reach the app.
  }

  override read (size?: number): Buffer {
    const chunk = super.read(size) as Buffer | null
    if (chunk !== null) this.report()
    return chunk as Buffer
  }

  setTimeout (_ms: number, _cb?: () => void): this { return this }
}
