/**
 * SPDY session <-> Fastify: turns session events into dispatched requests and response calls into session
 * commands, and moves bytes between the session and the transport with backpressure both ways.
 *
 * Flushing is coalesced: responses from many streams call into the session one by one; one flush per tick
 * (process.nextTick) writes what they queued, in priority order, as one burst of socket writes.
 */
import type { Connection, Transport } from './connection'
import { CLOSE_LINGER_MS } from './linger'
import type { SpdyVersion } from '../codec/types'
import type { Handler } from './protocol'
import { SpdySession, type SessionEvent } from '../session/session'
import { StreamTable } from '../session/stream-table'
import { sessionGuards } from '../session/limits'
import { requestHead, responseHeaderList, pushHeaderList, pushRequestHead, type OutgoingHeaders, type RequestHead } from '../session/headers'
import { dispatch, type SpdyStreamHead } from './dispatch'
import { kPush, type PushFunction } from './push'
import type { SinkResetStatus, StreamSink } from './stream-sink'
import type { SpdyIncomingMessage, SpdyConnectionInfo } from './request'
import type { SpdyServerResponse } from './response'
import { GoawayStatus, RstStatus } from '../errors'

/** How long a closing session waits for the peer to read its last frames before the TCP FIN. */
const LINGER_MS = 200

/** DATA bytes taken from the session per flush while the socket keeps up: bounds what sits in socket buffers. */
const FLUSH_BYTES = 256 * 1024

/**
 * Requests dispatched from one burst before the responses produced so far are flushed and the rest wait for the
 * next turn of the event loop (setImmediate). A browser opens a page's streams in one burst (up to
 * MAX_CONCURRENT_STREAMS SYN_STREAMs in one read); answering all of them before writing anything makes the first
 * response wait for the last and leaves the peer idle meanwhile, then the two ends take turns instead of working
 * at the same time. Slices of 32 put the first responses on the wire after 32 dispatches (a few hundred
 * microseconds), at the cost of one more write per slice; 16 cost a write per 16 requests, measurably more server
 * CPU per small GET at 100 streams (bench/RESULTS.md "throughput").
 */
const REQUESTS_PER_SLICE = 32

/**
 * One client-initiated stream: the head handed to dispatch() and the sink its response writes into, in one object
 * (one allocation per request instead of a head, a sink, an entry and their closures).
 */
class ServerStream implements StreamSink, SpdyStreamHead {
  declare req: SpdyIncomingMessage
  declare res: SpdyServerResponse
  drain: (() => void) | null = null
  /** Fastify's requestTimeout for this stream's request (body included), while it is incomplete. */
  requestTimer: NodeJS.Timeout | null = null
  readonly version: SpdyVersion
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly localAddress: string | undefined
  readonly localPort: number | undefined
  readonly encrypted: boolean

  constructor (private readonly h: SpdyHandler, readonly head: RequestHead, readonly streamId: number, readonly priority: number, readonly fin: boolean, conn: SpdyConnectionInfo) {
    this.version = h.version
    this.remoteAddress = conn.remoteAddress
    this.remotePort = conn.remotePort
    this.localAddress = conn.localAddress
    this.localPort = conn.localPort
    this.encrypted = conn.encrypted
  }

  /** dispatch() calls this with the pair before Fastify sees it. */
  prepare (req: SpdyIncomingMessage, res: SpdyServerResponse): void {
    this.req = req
    this.res = res
    const h = this.h
    const id = this.streamId
    h.streams.set(id, this)
    // Only a request with a body is consumed (a SYN_STREAM with FLAG_FIN has none to grant window for).
    if (!this.fin) req.onConsumed = (n: number) => { h.session.consume(id, n); h.scheduleFlush() }
    ;(req as unknown as Record<symbol, PushFunction>)[kPush] = (path) => h.push(id, this.head, path, this.priority)
    // Fastify's timeouts, mapped onto the stream (README "Timeouts"): connectionTimeout is what Node's http.Server
    // applies to a socket with no activity, here to a stream; requestTimeout bounds receiving the whole request.
    if (h.connectionTimeout > 0) req.socket.setTimeout(h.connectionTimeout)
    if (!this.fin && h.requestTimeout > 0) {
      this.requestTimer = setTimeout(() => h.run(() => h.requestTimedOut(this)), h.requestTimeout)
      this.requestTimer.unref()
    }
  }

  /** The request is complete (FIN) or the stream is over: requestTimeout no longer applies. */
  requestDone (): void {
    if (this.requestTimer !== null) { clearTimeout(this.requestTimer); this.requestTimer = null }
  }

  // The sink is called from app code (Fastify's reply, the app's own streams): a throw in the session below must
  // end this connection through its crash barrier, not surface in the app or, from a stream callback, the process.

  respond (status: number, headers: OutgoingHeaders, fin: boolean): void {
    this.req.activity()
    this.h.run(() => {
      this.h.session.respond(this.streamId, responseHeaderList(this.h.version, status, headers), fin)
      this.h.scheduleFlush()
    })
  }

  write (chunk: Uint8Array, fin: boolean): boolean {
    let ok = true
    this.req.activity()
    this.h.run(() => {
      ok = this.h.session.write(this.streamId, chunk, fin)
      this.h.scheduleFlush()
    })
    return ok
  }

  end (): void {
    this.h.run(() => {
      this.h.session.end(this.streamId)
      this.h.scheduleFlush()
    })
  }

  reset (status: SinkResetStatus): void {
    this.h.run(() => {
      // PROTOCOL_ERROR is the peer's fault (its DATA broke its content-length): counted like a malformed head.
      if (status === 'PROTOCOL_ERROR') this.h.session.refuse(this.streamId, RstStatus.PROTOCOL_ERROR, 'request DATA broke its content-length')
      else this.h.session.reset(this.streamId, RstStatus[status])
      this.h.scheduleFlush()
    })
  }

  onDrain (cb: () => void): void {
    if (this.h.streams.get(this.streamId) === this) this.drain = cb
    else cb()
  }

  /** The response is destroyed (finished, reset or failed): forget the stream. */
  closed (): void {
    this.h.streamClosed(this)
  }
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
  constructor (private readonly h: SpdyHandler, private readonly assocId: number, private readonly url: { scheme: string, authority: string, path: string },
    private readonly opened: (ok: boolean) => void) {}

  // Called from the pushed request's app code, like ServerStream's: under the connection's crash barrier.

  respond (status: number, headers: OutgoingHeaders, fin: boolean): void {
    this.h.run(() => {
      this.id = this.h.session.push(this.assocId, pushHeaderList(this.h.version, this.url, status, headers), { fin })
      if (this.id === 0) this.refused = true
      else this.h.adoptPush(this.id, this)
      this.h.scheduleFlush()
    })
    this.opened(this.id !== 0)
  }

  write (chunk: Uint8Array, fin: boolean): boolean {
    if (this.refused || this.id === 0) return true // dropped: the peer will never see this stream
    let ok = true
    this.h.run(() => {
      ok = this.h.session.write(this.id, chunk, fin)
      this.h.scheduleFlush()
    })
    return ok
  }

  end (): void {
    if (this.id !== 0) this.h.run(() => { this.h.session.end(this.id); this.h.scheduleFlush() })
  }

  reset (status: SinkResetStatus): void {
    if (this.id !== 0) this.h.run(() => { this.h.session.reset(this.id, RstStatus[status]); this.h.scheduleFlush() })
    else this.opened(false)
  }

  onDrain (cb: () => void): void {
    if (this.id !== 0 && this.h.hasPush(this.id)) this.drain = cb
    else cb()
  }
}

export class SpdyHandler implements Handler {
  readonly session: SpdySession
  /**
   * Not Map: once a Map's table is in old space, its rehashes keep dead old tables pointing at the streams of that
   * moment, and through them at whole requests, which then get promoted (lib/session/stream-table.ts).
   */
  readonly streams = new StreamTable<ServerStream>()
  private info: SpdyConnectionInfo | null = null
  /** Pushes started per associated stream (bounded by maxPushesPerRequest). */
  private readonly pushCount = new Map<number, number>()
  private flushScheduled = false
  private waitingWritable = false
  private ended = false
  streamsServed = 0
  rttMs: number | null = null
  /** Fastify's connectionTimeout and requestTimeout (0 = none), applied per stream (ServerStream.prepare). */
  readonly connectionTimeout: number
  readonly requestTimeout: number
  get compressionContextsLive (): boolean { return this.session.zlibLive }
  private readonly pushes = new StreamTable<PushSink>()
  private lingering = false
  /**
   * Session events not handled yet because a burst was cut into slices (REQUESTS_PER_SLICE); while it is non-null,
   * every new event queues behind it so streams see their events in the session's order.
   */
  private backlog: SessionEvent[] | null = null
  private backlogAt = 0
  private readonly resumeBacklog = (): void => {
    this.transport.run(() => {
      const events = this.backlog
      if (events === null) return
      this.backlog = null
      this.handle(events, this.backlogAt)
      this.flush()
    })
  }
  private readonly deferredFlush = (): void => {
    this.flushScheduled = false
    this.transport.run(() => this.flush())
  }

  /** sessionFlowControl 'auto': plain TCP with both 3 and 3.1 offered, where only the peer's behaviour tells them apart. */
  constructor (private readonly conn: Connection, private readonly transport: Transport, readonly version: SpdyVersion, private readonly encrypted: boolean,
    sessionFlowControl: 'on' | 'auto' = 'on') {
    const o = conn.listener.options
    const fc = conn.listener.fastify.initialConfig
    this.connectionTimeout = fc.connectionTimeout ?? 0
    // Fastify validates and keeps requestTimeout (its config schema) but its initialConfig type omits it.
    this.requestTimeout = (fc as { requestTimeout?: number }).requestTimeout ?? 0
    this.session = new SpdySession({
      role: 'server',
      version,
      maxConcurrentStreams: o.maxConcurrentStreams,
      initialWindowSize: o.initialWindowSize,
      maxFrameLength: o.maxFrameLength,
      maxHeaderBlockBytes: o.maxHeaderBlockBytes,
      maxHeaderPairs: o.maxHeaderPairs,
      maxOutstandingPings: o.maxOutstandingPings,
      maxSettingsPerWindow: o.maxSettingsPerWindow,
      maxResetsPerWindow: o.maxResetsPerWindow,
      maxInvalidFrames: o.maxInvalidFrames,
      maxSessionBufferedBytes: o.maxSessionBufferedBytes,
      idleTimeout: o.idleTimeout,
      compactAfter: o.compressionIdleTimeout,
      ...sessionGuards(o),
      sessionFlowControl
    }, Date.now())
    conn.listener.fastify.log.debug({ remoteAddress: conn.remoteAddress, version }, 'fastify-spdy: session open')
    this.flush()
  }

  get openStreams (): number { return this.streams.size }
  /** No stream open, none waiting for dispatch: closing this session interrupts nothing. */
  get idle (): boolean { return this.ended || (this.streams.size === 0 && this.pushes.size === 0 && this.backlog === null) }

  /** Runs app-facing calls under the connection's crash barrier. */
  run (fn: () => void): void { this.transport.run(fn) }

  fail (): void {
    this.backlog = null
    // SPDY/3 section 2.6.6: INTERNAL_ERROR is the GOAWAY status for "we broke". Only control frames go (budget 0).
    this.session.goaway(GoawayStatus.INTERNAL_ERROR)
    const out = this.session.takeOutbound(0)
    if (out.length > 0) this.transport.sendMany(out)
  }

  receive (chunk: Uint8Array): void {
    // What the peer has not read of our answers counts against its answer budget (maxQueuedControlFrames).
    this.session.transportBacklog(this.transport.unwrittenBytes)
    this.handle(this.session.receive(chunk, Date.now()))
    this.flush()
  }

  tick (now: number): void {
    this.handle(this.session.tick(now))
    this.flush()
  }

  onEnd (): void {
    // The peer half-closed TCP: nothing more will arrive. Streams already answering may finish.
    this.session.goaway()
    this.handle(this.session.takeEvents())
    this.flush()
  }

  onClose (): void {
    // Requests still waiting for their slice never reached the app: nothing to abort for them.
    this.backlog = null
    for (const p of this.pushes.values()) p.res?.peerReset()
    this.pushes.clear()
    for (const s of this.streams.values()) {
      s.req.abort()
      s.res.peerReset()
    }
    this.streams.clear()
    this.session.close('connection closed')
    this.conn.listener.fastify.log.debug({ remoteAddress: this.conn.remoteAddress, served: this.streamsServed }, 'fastify-spdy: session closed')
  }

  shutdown (): void {
    this.session.goaway()
    this.handle(this.session.takeEvents())
    this.flush()
  }

  private handle (events: SessionEvent[], from = 0): void {
    if (this.backlog !== null) {
      for (let i = from; i < events.length; i++) this.backlog.push(events[i])
      return
    }
    let requests = 0
    for (let i = from; i < events.length; i++) {
      const ev = events[i]
      switch (ev.type) {
        case 'request':
          if (++requests > REQUESTS_PER_SLICE) {
            this.backlog = events
            this.backlogAt = i
            setImmediate(this.resumeBacklog)
            return
          }
          this.onRequest(ev)
          break
        case 'data': {
          const s = this.streams.get(ev.streamId)
          if (s !== undefined) {
            if (ev.data.length > 0) s.req.pushData(ev.data)
            if (ev.fin) { s.requestDone(); s.req.pushEnd() }
          }
          break
        }
        case 'headers':
          if (ev.fin) {
            const s = this.streams.get(ev.streamId)
            if (s !== undefined) { s.requestDone(); s.req.pushEnd() }
          }
          break
        case 'streamReset': {
          const p = this.pushes.get(ev.streamId)
          if (p !== undefined) {
            // The peer declined the pushed resource (SPDY/3 section 3.3.2): stop producing it.
            this.pushes.delete(ev.streamId)
            p.res?.peerReset()
            const d = p.drain
            p.drain = null
            d?.()
            break
          }
          const s = this.streams.get(ev.streamId)
          if (s !== undefined) {
            this.streams.delete(ev.streamId)
            s.req.abort()
            s.res.peerReset()
            const d = s.drain
            s.drain = null
            d?.()
          }
          break
        }
        case 'drain': {
          const p = this.pushes.get(ev.streamId)
          if (p?.drain != null) { const d = p.drain; p.drain = null; d(); break }
          const s = this.streams.get(ev.streamId)
          const cb = s?.drain
          if (s !== undefined && cb != null) { s.drain = null; cb() }
          break
        }
        case 'pingAck': this.rttMs = ev.rtt; break
        case 'protocolError':
          this.conn.logLine('warn', 'protocol error', { remoteAddress: this.conn.remoteAddress, answer: ev.answer, streamId: ev.streamId, status: ev.status }, `fastify-spdy: protocol error: ${ev.message}`)
          break
        case 'closed':
          if (!this.ended) {
            this.ended = true
            // The linger (lingerThenEnd) starts once our last frames are out; a peer that does not read keeps
            // them in, so this bounds the wait: end (and the connection's destroy deadline) comes regardless.
            const timer = setTimeout(() => this.transport.run(() => this.transport.end()), CLOSE_LINGER_MS)
            timer.unref()
          }
          break
        default: break
      }
    }
  }

  private onRequest (ev: Extract<SessionEvent, { type: 'request' }>): void {
    const streamId = ev.streamId
    const head = requestHead(this.version, ev.headers)
    if (typeof head === 'string') {
      // Logged with the session's protocolError event, and counted toward maxInvalidFrames like a malformed frame.
      this.session.refuse(streamId, RstStatus.PROTOCOL_ERROR, `malformed request: ${head}`)
      return
    }
    this.streamsServed++
    const stream = new ServerStream(this, head, streamId, ev.priority, ev.fin, this.connectionInfo)
    dispatch(this.conn.listener.fastify, stream, stream)
  }

  /**
   * Fastify's requestTimeout passed with the request still incomplete. Node's http.Server answers 408 and closes
   * the connection; a stream is the connection's SPDY equivalent: 408 if nothing was answered yet, then
   * RST_STREAM CANCEL ends the upload (SPDY/3 section 2.4.2), and the app sees the request aborted.
   */
  requestTimedOut (s: ServerStream): void {
    s.requestTimer = null
    if (this.streams.get(s.streamId) !== s || s.req.complete) return
    if (!s.res.headersSent) this.session.respond(s.streamId, responseHeaderList(this.version, 408, {}), true)
    this.session.reset(s.streamId, RstStatus.CANCEL)
    this.scheduleFlush()
  }

  streamClosed (stream: ServerStream): void {
    stream.requestDone()
    const id = stream.streamId
    if (this.streams.get(id) === stream) this.streams.delete(id)
    this.pushCount.delete(id)
    if (this.ended && this.streams.size === 0) this.scheduleFlush()
  }

  /**
   * The addresses, read once: net.Socket's getters ask the handle each time they miss their cache. The remote end is
   * the Connection's (the client named by a PROXY protocol header, else the socket's peer).
   */
  private get connectionInfo (): SpdyConnectionInfo {
    if (this.info === null) {
      const s = this.conn.socket
      this.info = { remoteAddress: this.conn.remoteAddress ?? undefined, remotePort: this.conn.remotePort ?? undefined, localAddress: s.localAddress, localPort: s.localPort, encrypted: this.encrypted }
    }
    return this.info
  }

  private streamHead (head: RequestHead, streamId: number, priority: number, fin: boolean): SpdyStreamHead {
    const c = this.connectionInfo
    return {
      head,
      version: this.version,
      streamId,
      priority,
      remoteAddress: c.remoteAddress,
      remotePort: c.remotePort,
      localAddress: c.localAddress,
      localPort: c.localPort,
      encrypted: this.encrypted,
      fin
    }
  }

  /**
   * Pushes `path` with the response of stream `assocId`: runs a GET for it through the app (same routes, hooks
   * and headers a browser's GET would get) and sends the result on a pushed stream. Resolves true once the pushed
   * stream is open, false when the push cannot happen.
   */
  push (assocId: number, parent: RequestHead, path: string, priority: number): Promise<boolean> {
    const n = this.pushCount.get(assocId) ?? 0
    const max = this.conn.listener.options.maxPushesPerRequest
    const head = pushRequestHead(parent, path, this.encrypted ? 'https' : parent.scheme)
    if (n >= max || !this.streams.has(assocId) || head === null) return Promise.resolve(false)
    this.pushCount.set(assocId, n + 1)
    return new Promise<boolean>((resolve) => {
      let settled = false
      const opened = (ok: boolean): void => { if (!settled) { settled = true; resolve(ok) } }
      const sink = new PushSink(this, assocId, head, opened)
      const { res } = dispatch(this.conn.listener.fastify, this.streamHead(head, 0, Math.min(7, priority + 1), true), sink)
      sink.res = res
      res.once('close', () => {
        opened(false)
        if (sink.id !== 0) this.pushes.delete(sink.id)
      })
    })
  }

  /** A pushed stream is open: track it for drain and for the peer's RST (CANCEL when it has the resource). */
  adoptPush (id: number, sink: PushSink): void {
    this.pushes.set(id, sink)
  }

  hasPush (id: number): boolean { return this.pushes.has(id) }

  /**
   * Lingering close: after the session's last frames, give the peer a moment to read them before our FIN.
   * Clients that inflate header blocks asynchronously (node-spdy) otherwise see the TCP end first and drop the
   * final response. The peer closing first, or the linger running out, ends it.
   */
  private lingerThenEnd (): void {
    if (this.lingering) return
    this.lingering = true
    const timer = setTimeout(() => this.transport.run(() => this.transport.end()), LINGER_MS)
    timer.unref()
  }

  private waitWritable (): void {
    if (this.waitingWritable) return
    this.waitingWritable = true
    // Called from the connection's drain handler, itself under the crash barrier.
    this.transport.onWritable(() => { this.waitingWritable = false; this.flush() })
  }

  scheduleFlush (): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    process.nextTick(this.deferredFlush)
  }

  private flush (): void {
    if (this.transport.congested) {
      // Control frames (PING and SETTINGS answers, RST_STREAM, WINDOW_UPDATE) still go to the socket, so that all
      // we owe the peer sits in one place the connection measures: past maxUnreadOutputBytes it stops reading the
      // peer, and a peer that reads none of it is closed (Connection.watchOutput). DATA waits for the drain.
      // The session keeps counting those answers until the socket has written them (transportBacklog), so a peer
      // that floods without reading meets maxQueuedControlFrames and GOAWAY long before unreadOutputTimeout.
      const control = this.session.takeOutbound(0)
      if (control.length > 0) this.transport.sendMany(control)
      this.session.transportBacklog(this.transport.unwrittenBytes)
      // Closed (a flood verdict, say) while the peer reads none of what we sent: our GOAWAY waits behind what it has
      // not read, and lingering only lets it send more (a PING flooder kept flooding 100 MB/s for the 2 s). End now:
      // the connection drops at most LINGER_DISCARD_BYTES more of its input, then destroys the socket.
      if (this.ended) { this.transport.end(); return }
      this.waitWritable()
      return
    }
    const out = this.session.takeOutbound(FLUSH_BYTES)
    let sent = 0
    for (let i = 0; i < out.length; i++) sent += out[i].length
    if (out.length > 0) this.transport.sendMany(out)
    this.session.transportBacklog(this.transport.unwrittenBytes)
    // Taking DATA can free queue room ('drain') and finish streams.
    this.handle(this.session.takeEvents())
    if (this.ended) {
      if (this.session.bufferedBytes === 0) this.lingerThenEnd()
      return
    }
    // A full budget means more may be sendable: go on once the socket drains, or next tick (other connections
    // get their turn first). Data held back by flow control waits for the peer's WINDOW_UPDATE instead.
    if (sent >= FLUSH_BYTES) {
      if (this.transport.congested) this.waitWritable()
      else this.scheduleFlush()
    }
    this.transport.schedule(this.session.deadline)
  }
}
