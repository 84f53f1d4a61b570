/**
 * The pusher: server push for one SPDY session (SPDY/3 section 3.3). The router puts a push function on each SPDY
 * request (under kPush); the plugin's `reply.push(path)` and the `config.spdy.push` route option call it. A push
 * runs a GET for the path through the app (same routes, hooks and headers a browser's GET would get) and sends the
 * result on a pushed stream.
 */
import type { FastifyInstance } from 'fastify'
import type { SpdySession } from '../session/session'
import type { SpdyVersion } from '../codec/types'
import { pushHeaderList, pushRequestHead, type OutgoingHeaders } from '../session/headers'
import { StreamTable } from '../session/stream-table'
import { RstStatus } from '../errors'
import { dispatch } from './dispatch'
import type { SinkResetStatus, SpdyConnectionInfo, StreamHead, StreamSink } from './contracts'
import type { SpdyServerResponse } from './response'

export const kPush = Symbol('fastify-spdy.push')

/** How one push may be called off once the app has produced the pushed response's status and headers. */
export interface PushOptions {
  /**
   * Called once with the pushed response's status and headers, before anything of the pushed stream is sent:
   * true abandons the push (no SYN_STREAM; the pushed response is then closed as on a peer's reset, so a route
   * still producing its body stops) and the push resolves false. Cache-aware push (lib/cache-aware-push.ts) skips
   * what the browser already has by its ETag.
   */
  skip?: (status: number, headers: Readonly<Record<string, string | string[]>>) => boolean
}

/** Pushes `path` (absolute path, run as a GET through the app); resolves whether the pushed stream was opened. */
export type PushFunction = (path: string, opts?: PushOptions) => Promise<boolean>

/** What the pusher uses of its session's router (lib/server/spdy-handler.ts). */
export interface PushHost {
  readonly session: SpdySession
  readonly version: SpdyVersion
  readonly fastify: FastifyInstance
  readonly connectionInfo: SpdyConnectionInfo
  /** Runs app-facing calls under the connection's crash barrier. */
  run (fn: () => void): void
  scheduleFlush (): void
  /** The client stream is still open: a push can ride on it. */
  isOpen (streamId: number): boolean
}

/**
 * A pushed resource's response: the pushed stream is opened (unidirectional SYN_STREAM carrying the URL and the
 * status, SPDY/3 section 3.3.1) only when the app has produced the status, and nothing at all is sent if the push
 * can no longer happen (associated stream done, peer's concurrency limit, GOAWAY).
 */
class PushSink implements StreamSink {
  id = 0
  res: SpdyServerResponse | null = null
  drain: (() => void) | null = null
  private refused = false
  constructor (private readonly p: Pusher, private readonly assocId: number, private readonly url: { scheme: string, authority: string, path: string },
    private readonly opened: (ok: boolean) => void, private readonly opts?: PushOptions) {}

  // Called from the pushed request's app code: under the connection's crash barrier.

  respond (status: number, headers: OutgoingHeaders, fin: boolean): void {
    if (this.opts?.skip?.(status, headers as Readonly<Record<string, string | string[]>>) === true) {
      // Abandoned with nothing sent: write() and end() drop what the response still produces, and the response is
      // closed as on a peer's reset, so a route still producing its body (a stream piped into it) stops instead of
      // running to its end for nothing. Closed on the next tick: this runs inside the response's own write.
      this.refused = true
      this.opened(false)
      // Under the connection's crash barrier, as every other entry into it: a throw closes this connection only.
      process.nextTick(() => { this.p.host.run(() => this.abandon()) })
      return
    }
    const h = this.p.host
    h.run(() => {
      this.id = h.session.push(this.assocId, pushHeaderList(h.version, this.url, status, headers), { fin })
      if (this.id === 0) this.refused = true
      else this.p.pushes.set(this.id, this)
      h.scheduleFlush()
    })
    this.opened(this.id !== 0)
  }

  write (chunk: Uint8Array, fin: boolean): boolean {
    if (this.refused || this.id === 0) return true // dropped: the peer will never see this stream
    const h = this.p.host
    let ok = true
    h.run(() => {
      ok = h.session.write(this.id, chunk, fin)
      h.scheduleFlush()
    })
    return ok
  }

  end (): void {
    const h = this.p.host
    if (this.id !== 0) h.run(() => { h.session.end(this.id); h.scheduleFlush() })
  }

  reset (status: SinkResetStatus): void {
    const h = this.p.host
    if (this.id !== 0) h.run(() => { h.session.reset(this.id, RstStatus[status]); h.scheduleFlush() })
    else this.opened(false)
  }

  /** A skipped push's response, unless the route has already ended it: closed, nothing sent (peerReset). */
  abandon (): void {
    const res = this.res
    if (res !== null && !res.writableEnded) res.peerReset()
  }

  onDrain (cb: () => void): void {
    if (this.id !== 0 && this.p.pushes.has(this.id)) this.drain = cb
    else cb()
  }
}

export class Pusher {
  /** Open pushed streams, for drain and for the peer's RST (CANCEL when it has the resource). */
  readonly pushes = new StreamTable<PushSink>()
  /** Pushes started per associated stream (bounded by maxPushesPerRequest). */
  private readonly pushCount = new Map<number, number>()

  constructor (readonly host: PushHost, private readonly maxPerRequest: number) {}

  get size (): number { return this.pushes.size }

  /**
   * Pushes with the response of the client stream `from`: the arguments are the PushFunction's. Resolves true
   * once the pushed stream is open, false when the push cannot happen.
   */
  push (from: StreamHead, ...args: Parameters<PushFunction>): Promise<boolean> {
    const [path, opts] = args
    const assocId = from.streamId
    const n = this.pushCount.get(assocId) ?? 0
    const head = pushRequestHead(from.head, path, from.conn.encrypted ? 'https' : from.head.scheme)
    if (n >= this.maxPerRequest || !this.host.isOpen(assocId) || head === null) return Promise.resolve(false)
    this.pushCount.set(assocId, n + 1)
    return new Promise<boolean>((resolve) => {
      let settled = false
      const opened = (ok: boolean): void => { if (!settled) { settled = true; resolve(ok) } }
      const sink = new PushSink(this, assocId, head, opened, opts)
      // One priority below the page's (SPDY/3 section 2.3.3: 0 is the highest, 7 the lowest).
      const pushed: StreamHead = { head, version: from.version, streamId: 0, priority: Math.min(7, from.priority + 1), fin: true, conn: from.conn }
      const { res } = dispatch(this.host.fastify, pushed, sink)
      sink.res = res
      res.once('close', () => {
        opened(false)
        if (sink.id !== 0) this.pushes.delete(sink.id)
      })
    })
  }

  /** The client stream is over: its push budget goes. */
  streamClosed (assocId: number): void { this.pushCount.delete(assocId) }

  /** The peer reset stream `id`: true if it was a pushed one (it declined the resource, SPDY/3 section 3.3.2). */
  peerReset (id: number): boolean {
    const p = this.pushes.get(id)
    if (p === undefined) return false
    this.pushes.delete(id)
    p.res?.peerReset()
    const d = p.drain
    p.drain = null
    d?.()
    return true
  }

  /** Stream `id` has queue room again: true if it was a pushed one waiting for it. */
  drained (id: number): boolean {
    const p = this.pushes.get(id)
    if (p?.drain == null) return false
    const d = p.drain
    p.drain = null
    d()
    return true
  }

  /** The session is gone: every pushed response closes. */
  closeAll (): void {
    for (const p of this.pushes.values()) p.res?.peerReset()
    this.pushes.clear()
  }
}
