/**
 * A recording StreamSink for the dispatch tests (not a test file: tap runs *.test.ts only). It records every call,
 * and can apply backpressure: with `blocked`, write() returns false until the test calls drain().
 */
import { Readable } from 'node:stream'
import type { SinkResetStatus, SpdyConnectionInfo, StreamHead, StreamSink } from '../../lib/server/contracts'
import { replyHeaders, responseHeaderList } from '../../lib/session/headers'

export type SinkCall =
  | { type: 'respond', status: number, headers: Record<string, string | string[]>, fin: boolean }
  | { type: 'write', bytes: number, fin: boolean }
  | { type: 'end' }
  | { type: 'reset', status: SinkResetStatus }

export class RecordingSink implements StreamSink {
  calls: SinkCall[] = []
  chunks: Buffer[] = []
  bytes = 0
  blocked = false
  /** Bytes queued while blocked and not yet drained (what the session would hold). */
  queued = 0
  maxQueued = 0
  writesWhileBlocked = 0
  private drainCb: (() => void) | null = null
  private doneCb: (() => void) | null = null
  done = false
  keepChunks = true

  respond (status: number, headers: Record<string, string | string[]>, fin: boolean): void {
    this.calls.push({ type: 'respond', status, headers, fin })
    if (fin) this.finish()
  }

  write (chunk: Uint8Array, fin: boolean): boolean {
    this.calls.push({ type: 'write', bytes: chunk.length, fin })
    this.bytes += chunk.length
    if (this.keepChunks) this.chunks.push(Buffer.from(chunk))
    if (this.blocked) {
      if (this.queued > 0) this.writesWhileBlocked++
      this.queued += chunk.length
      if (this.queued > this.maxQueued) this.maxQueued = this.queued
    }
    if (fin) this.finish()
    return !this.blocked || this.queued < 64 * 1024
  }

  end (): void { this.calls.push({ type: 'end' }); this.finish() }
  reset (status: SinkResetStatus): void { this.calls.push({ type: 'reset', status }); this.finish() }
  onDrain (cb: () => void): void {
    if (this.drainCb !== null) throw new Error('onDrain registered twice')
    this.drainCb = cb
  }

  /** The session sent what was queued. */
  drain (): boolean {
    this.queued = 0
    const cb = this.drainCb
    this.drainCb = null
    if (cb === null) return false
    cb()
    return true
  }

  get waitingDrain (): boolean { return this.drainCb !== null }
  get body (): string { return Buffer.concat(this.chunks).toString() }
  get status (): number | undefined { const r = this.calls.find((c) => c.type === 'respond'); return r?.type === 'respond' ? r.status : undefined }
  /** What the response handed to respond(), before the sink's header list filters it. */
  get given (): Record<string, string | string[]> { const r = this.calls.find((c) => c.type === 'respond'); return r?.type === 'respond' ? r.headers : {} }
  /**
   * The headers of the SYN_REPLY the server's sink would send: made by responseHeaderList, as the session layer
   * does, and read back Node style, as a client would (connection-specific headers dropped there, in one place).
   */
  get headers (): Record<string, string | string[]> {
    const r = this.calls.find((c) => c.type === 'respond')
    return r?.type === 'respond' ? replyHeaders(responseHeaderList(3.1, r.status, r.headers)) : {}
  }
  types (): string { return this.calls.map((c) => c.type === 'write' ? `write${c.fin ? '+fin' : ''}` : c.type === 'respond' ? `respond${c.fin ? '+fin' : ''}` : c.type).join(',') }

  /** Resolves once FIN or RST went out. */
  finished (): Promise<void> {
    if (this.done) return Promise.resolve()
    return new Promise((resolve) => { this.doneCb = resolve })
  }

  private finish (): void {
    this.done = true
    const cb = this.doneCb
    this.doneCb = null
    cb?.()
  }
}

let nextId = 1
/**
 * A stream head as the router hands it over; `extra.authority` sets the request's authority, and the connection
 * fields (remoteAddress, encrypted...) the connection's.
 */
export function head (method: string, path: string, headers: Record<string, string | string[]> = {},
  extra: Partial<Omit<StreamHead, 'conn'>> & Partial<SpdyConnectionInfo> & { authority?: string } = {}): StreamHead {
  nextId += 2
  // As lib/session/headers.ts requestHead makes it: the host header is the authority.
  const { authority = 'example.test:8443', remoteAddress = '10.1.2.3', remotePort = 50123, localAddress = '10.9.9.9', localPort = 8443, encrypted = true, ...rest } = extra
  return {
    head: { method, path, authority, scheme: 'https', httpVersion: 'HTTP/1.1', headers: 'host' in headers ? headers : { ...headers, host: authority } },
    version: 3.1,
    streamId: nextId,
    priority: 3,
    conn: { remoteAddress, remotePort, localAddress, localPort, encrypted },
    fin: method === 'GET' || method === 'HEAD',
    ...rest
  }
}

/** A source that counts what was pulled from it, so a test can see the route's producer pause. */
export function counted (total: number, chunk = 16 * 1024): Readable & { produced: number } {
  const block = Buffer.alloc(chunk, 0x61)
  const r = new Readable({
    highWaterMark: chunk,
    read () {
      if (r.produced >= total) { this.push(null); return }
      const n = Math.min(chunk, total - r.produced)
      r.produced += n
      this.push(n === chunk ? block : block.subarray(0, n))
    }
  }) as Readable & { produced: number }
  r.produced = 0
  return r
}
