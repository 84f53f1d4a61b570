/**
 * The stream router of a SPDY session: pumps the session (bytes from the transport in, frames out with
 * backpressure both ways), routes its events to streams, slices bursts of requests, and hands each new stream to
 * the Fastify bridge (dispatch.ts) as a finished head and a sink (ServerStream), wiring the pair it gets back to
 * the stream before the app runs. Server push is the pusher's (push.ts).
 *
 * Flushing is coalesced: responses from many streams call into the session one by one; one flush per tick
 * (process.nextTick) writes what they queued, in priority order, as one burst of socket writes.
 */
import type { FastifyInstance } from 'fastify'
import type { ConnectionContext, Handler, SpdyConnectionInfo, StreamHead, StreamSink, SinkResetStatus, Transport } from './contracts'
import { CLOSE_LINGER_MS } from './linger'
import { HOLD_BODY } from './read-holds'
import type { SpdyVersion } from '../codec/types'
import { SpdySession, type SessionEvent } from '../session/session'
import { StreamTable } from '../session/stream-table'
import { sessionGuards } from '../session/limits'
import { requestHead, responseHeaderList, type OutgoingHeaders } from '../session/headers'
import { exchange, route } from './dispatch'
import { kPush, Pusher, type PushFunction, type PushHost } from './push'
import type { SpdyIncomingMessage } from './request'
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
 * How long a new session's opening frames (SETTINGS, the session WINDOW_UPDATE) may wait for the first answer to go
 * with them. A browser's first request comes with its handshake's last flight (False Start, or the client's Finished
 * on a resumed handshake), and an answer from memory is queued a few ticks later: sent apart, SETTINGS costs a write
 * and a TLS record of its own (29 bytes with AES-GCM, issue 14: a repeat visit's whole download is ~3 KB). Neither
 * frame answers anything the peer waits for (SPDY/3 sections 2.6.4 and 2.6.8: a peer goes on with the defaults
 * until SETTINGS arrive, and no client waits for them), so a short wait costs the peer nothing measurable. The wait
 * ends on the connection's one timer (Transport.schedule), never on a clock read in between: an answer the app makes
 * in the same turn of the event loop as the request (no I/O) always goes with SETTINGS, however slow that turn, and
 * a handler doing real I/O never holds them more than these 5 ms, after which they go alone as before. 5 ms also
 * covers a first request that arrives one loopback or LAN round trip after our Finished (a TLS 1.2 client without
 * False Start, or OpenSSL's socket reporting the handshake before the data read with it).
 */
export const OPENING_HOLD_MS = 5

/**
 * Whether a new session's flush holds back its opening frames, until OPENING_HOLD_MS has passed: only while they are
 * all that is queued (SpdySession.openingOnly: any answer of ours, a PING reply first of all, ends the wait), and
 * while an answer is to be expected soon: the peer has sent no complete frame yet (its first request is still in
 * flight), or a stream of its is open and not yet answered. A peer that sent only SETTINGS or PING, with no request,
 * gets our SETTINGS at once. Pure: test/server/opening-hold.test.ts.
 */
export function holdOpening (openingOnly: boolean, framesDecoded: number, awaitingAnswer: boolean): boolean {
  return openingOnly && (framesDecoded === 0 || awaitingAnswer)
}

/**
 * One client-initiated stream, as the router keeps it: the sink its response writes into, and the request and
 * response the Fastify bridge made for it (wired by SpdyHandler.onRequest before the app runs).
 */
class ServerStream implements StreamSink {
  declare req: SpdyIncomingMessage
  declare res: SpdyServerResponse
  drain: (() => void) | null = null
  /** Fastify's requestTimeout for this stream's request (body included), while it is incomplete. */
  requestTimer: NodeJS.Timeout | null = null
  readonly streamId: number

  constructor (private readonly h: SpdyHandler, readonly head: StreamHead) {
    this.streamId = head.streamId
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
      else this.h.session.reset(this.streamId, RstStatus[status], status === 'CANCEL')
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

export class SpdyHandler implements Handler, PushHost {
  readonly session: SpdySession
  /**
   * Not Map: once a Map's table is in old space, its rehashes keep dead old tables pointing at the streams of that
   * moment, and through them at whole requests, which then get promoted (lib/session/stream-table.ts).
   */
  readonly streams = new StreamTable<ServerStream>()
  private info: SpdyConnectionInfo | null = null
  private flushScheduled = false
  /** Reading is held for SPDY/2 request bodies the app has not read (SpdySession.bodyHeld). */
  private bodyHeld = false
  private waitingWritable = false
  private ended = false
  streamsServed = 0
  rttMs: number | null = null
  /** Fastify's connectionTimeout and requestTimeout (0 = none), applied per stream (wire). */
  readonly connectionTimeout: number
  readonly requestTimeout: number
  get compressionContextsLive (): boolean { return this.session.zlibLive }
  readonly fastify: FastifyInstance
  private readonly pusher: Pusher
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
  /**
   * Until when the session's opening frames may wait for the first answer (holdOpening); null once they went or the
   * wait is over (tick() at this time).
   */
  private openingUntil: number | null
  private readonly deferredFlush = (): void => {
    this.flushScheduled = false
    this.transport.run(() => this.flush())
  }

  /** sessionFlowControl 'auto': plain TCP with both 3 and 3.1 offered, where only the peer's behaviour tells them apart. */
  constructor (private readonly conn: ConnectionContext, private readonly transport: Transport, readonly version: SpdyVersion, private readonly encrypted: boolean,
    sessionFlowControl: 'on' | 'auto' = 'on') {
    const o = conn.listener.options
    this.fastify = conn.listener.fastify
    this.pusher = new Pusher(this, o.maxPushesPerRequest)
    const fc = this.fastify.initialConfig
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
    // Not flushed here: the peer's first bytes are usually handed in right after (the same read, or the same TLS
    // receive for a handshake's last flight), and the opening frames may then wait for the first answer.
    this.openingUntil = Date.now() + OPENING_HOLD_MS
    this.scheduleFlush()
  }

  get openStreams (): number { return this.streams.size }
  /** No stream open, none waiting for dispatch: closing this session interrupts nothing. */
  get idle (): boolean { return this.ended || (this.streams.size === 0 && this.pusher.size === 0 && this.backlog === null) }

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
    const session = this.session
    // What the peer has not read of our answers counts against its answer budget (maxQueuedControlFrames).
    session.transportBacklog(this.transport.unwrittenBytes)
    const before = session.framesDecoded
    const events = session.receive(chunk, Date.now())
    // Part of a frame (issue 14: a client that writes each frame in pieces costs a read per piece): nothing was
    // queued and no deadline came earlier (the idle one moved later; the timer re-arms for it when it fires), so
    // there is nothing to route, write or re-arm.
    if (events.length === 0 && session.framesDecoded === before && !this.ended) return
    this.handle(events)
    // Opening frames only, with no request yet (this chunk was the peer's SETTINGS, say): the same read may still
    // hand in its request, the TLS layer passing each record on by itself (a client that puts SETTINGS and
    // SYN_STREAM in two records of one write). So they go at the end of this turn, or wait with the request.
    if (this.openingUntil !== null && session.openingOnly) this.scheduleFlush()
    else this.flush()
  }

  tick (now: number): void {
    if (this.openingUntil !== null && now >= this.openingUntil) this.openingUntil = null
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
    this.pusher.closeAll()
    for (const s of this.streams.values()) {
      s.req.abort()
      s.res.peerReset()
    }
    this.streams.clear()
    this.session.close('connection closed')
    this.conn.listener.fastify.log.debug({ remoteAddress: this.conn.remoteAddress, served: this.streamsServed }, 'fastify-spdy: session closed')
  }

  ping (): boolean {
    // Called from the app (app.spdy.sessions()[i].ping()), outside any read: flushed here, like shutdown().
    if (this.ended || !this.session.ping(Date.now())) return false
    this.flush()
    return true
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
          } else if (ev.data.length > 0) {
            // The response is over and forgotten, its stream not yet (a CANCEL waiting behind our FIN): nobody
            // reads these bytes, their session window goes back (SPDY/3.1 section 2.6.8).
            this.session.consume(ev.streamId, ev.data.length)
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
          if (this.pusher.peerReset(ev.streamId)) break
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
          if (this.pusher.drained(ev.streamId)) break
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
    const sh: StreamHead = { head, version: this.version, streamId, priority: ev.priority, fin: ev.fin, conn: this.connectionInfo }
    const stream = new ServerStream(this, sh)
    const { req, res } = exchange(sh, stream)
    this.wire(stream, req, res)
    route(this.fastify, req, res, ev.fin)
  }

  /** Ties a stream's request and response to the session; all of it must be in place before the app runs. */
  private wire (stream: ServerStream, req: SpdyIncomingMessage, res: SpdyServerResponse): void {
    stream.req = req
    stream.res = res
    const id = stream.streamId
    this.streams.set(id, stream)
    // Only a request with a body is consumed (a SYN_STREAM with FLAG_FIN has none to grant window for).
    if (!stream.head.fin) req.onConsumed = (n: number) => { this.session.consume(id, n); this.scheduleFlush() }
    const push: PushFunction = (...args) => this.pusher.push(stream.head, ...args)
    ;(req as unknown as Record<symbol, PushFunction>)[kPush] = push
    // Fastify's timeouts, mapped onto the stream (README "Timeouts"): connectionTimeout is what Node's http.Server
    // applies to a socket with no activity, here to a stream; requestTimeout bounds receiving the whole request.
    if (this.connectionTimeout > 0) req.socket.setTimeout(this.connectionTimeout)
    if (!stream.head.fin && this.requestTimeout > 0) {
      stream.requestTimer = setTimeout(() => this.run(() => this.requestTimedOut(stream)), this.requestTimeout)
      stream.requestTimer.unref()
    }
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
    this.pusher.streamClosed(id)
    if (this.ended && this.streams.size === 0) this.scheduleFlush()
  }

  /**
   * The addresses, read once: net.Socket's getters ask the handle each time they miss their cache. The remote end is
   * the Connection's (the client named by a PROXY protocol header, else the socket's peer).
   */
  get connectionInfo (): SpdyConnectionInfo {
    if (this.info === null) {
      const s = this.conn.socket
      this.info = { remoteAddress: this.conn.remoteAddress ?? undefined, remotePort: this.conn.remotePort ?? undefined, localAddress: s.localAddress, localPort: s.localPort, encrypted: this.encrypted }
    }
    return this.info
  }

  isOpen (streamId: number): boolean { return this.streams.has(streamId) }

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
    // After each read and each consume (the app read some body): SPDY/2's only backpressure on a request body.
    const held = this.session.bodyHeld
    if (held !== this.bodyHeld) { this.bodyHeld = held; this.transport.hold(HOLD_BODY, held) }
    if (this.openingUntil !== null) {
      // The opening frames wait for the first answer (OPENING_HOLD_MS); checked only until they have gone.
      const until = this.openingUntil
      if (holdOpening(this.session.openingOnly, this.session.framesDecoded, this.streams.size > 0 || this.backlog !== null)) {
        const d = this.session.deadline
        this.transport.schedule(d === null || d > until ? until : d)
        return
      }
      this.openingUntil = null
    }
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
