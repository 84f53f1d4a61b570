/**
 * The SPDY session engine, sans-IO (after python-hyper/h2): `receive(bytes, now) -> events`, commands that queue
 * frames, `takeOutbound()` that hands out bytes to write, `tick(now)` for timers. No sockets, no clocks.
 *
 * One engine for both roles. Versions: 2 (no flow control), 3 (per-stream windows), 3.1 (plus the session window
 * on stream 0, SPDY/3.1 section 2.6.8).
 */
import { FrameDecoder } from '../codec/decoder'
import { FrameEncoder } from '../codec/encoder'
import { tableFor } from '../codec/versions'
import { SettingId, type Frame, type HeaderList, type SpdyVersion } from '../codec/types'
import { GoawayStatus, RstStatus, rstStatusName, type GoawayStatusCode, type RstStatusCode } from '../errors'
import { transition, type StreamInput, type StreamState } from './state'
import { DEFAULT_SESSION_LIMITS, RATE_WINDOW_MS, type SessionLimits } from './limits'
import { LIMITS } from '../limits'
import { compactHead, RecentIds, StreamQueue, StreamTable } from './stream-table'
import type { SharedBudget } from './shared'

export interface SessionOptions extends Partial<SessionLimits> {
  role: 'server' | 'client'
  version: SpdyVersion
  /**
   * Milliseconds after the last frame received, with no stream open and nothing queued, at which the header
   * compression contexts are freed (about 60 KB per session, kept down to the ~2-4 KB of their windows' bytes;
   * lib/codec/zlib.ts). 0 keeps them. Rebuilding them costs a few tens of microseconds on the next header block,
   * so the default waits past a page load's burst of requests on a fast link; memory per idle connection is in
   * bench/RESULTS.md ("memory").
   */
  compactAfter?: number
  /**
   * Version 3.1 only. 'on' (default): the session window of SPDY/3.1 section 2.6.8 applies both ways. 'auto': the
   * peer may be plain SPDY/3, which has no session window and never opens one, and nothing on the wire says which
   * before the peer sends a stream-0 WINDOW_UPDATE (3.1 only). Over plain TCP, where no NPN/ALPN named the
   * version, the session starts as 3.1 and falls back to SPDY/3 flow control when the peer proves to be 3 (see
   * probeSessionWindow). spdy-transport's servers guess the same way (their autoSpdy31 option).
   */
  sessionFlowControl?: 'on' | 'auto'
  /**
   * Process-wide accounting shared with the other sessions (lib/session/shared.ts): header memory held and resets
   * per second, checked against maxProcessHeaderBytes and maxProcessResetsPerSecond. Without it those two limits
   * are not applied (a session on its own: tests, the client).
   */
  shared?: SharedBudget
}

/** See SessionOptions.compactAfter; the plugin's compressionIdleTimeout (lib/options.ts says why the number). */
export const DEFAULT_COMPACT_AFTER = LIMITS.compressionIdleTimeout.default

export type SessionEvent =
  /** Server: a peer opened a stream. */
  | { type: 'request', streamId: number, headers: HeaderList, priority: number, fin: boolean }
  /** Client: the SYN_REPLY to one of our streams. */
  | { type: 'response', streamId: number, headers: HeaderList, fin: boolean }
  /** Client: the server pushed a stream associated to one of ours. */
  | { type: 'push', streamId: number, associatedStreamId: number, headers: HeaderList, priority: number, fin: boolean }
  | { type: 'headers', streamId: number, headers: HeaderList, fin: boolean }
  | { type: 'data', streamId: number, data: Uint8Array, fin: boolean }
  /** The stream ended without a reply from us or was reset (by the peer, or by us answering a protocol error). */
  | { type: 'streamReset', streamId: number, status: number, byPeer: boolean }
  /** The stream's outbound queue went under its high-water mark after write() returned false. */
  | { type: 'drain', streamId: number }
  | { type: 'settings', maxConcurrentStreams: number | null, initialWindowSize: number | null }
  | { type: 'pingAck', id: number, rtt: number }
  | { type: 'goaway', lastGoodStreamId: number, status: number }
  /** What we answered a peer's protocol violation with: for a warn log line. */
  | { type: 'protocolError', answer: 'RST_STREAM' | 'GOAWAY', streamId: number, status: number, message: string }
  /** The session is over: flush takeOutbound(), then close the socket. */
  | { type: 'closed', reason: string }

interface Stream {
  id: number
  state: StreamState
  priority: number
  /** Bytes the peer still lets us send (v3); may go negative after a SETTINGS shrink (SPDY/3 section 2.6.8). */
  sendWindow: number
  /**
   * Bytes we still let the peer send. SPDY/2, which has no window, counts down as well: there it says how much of
   * initialWindowSize is left before the unread body pauses reading (bodyHeld).
   */
  recvWindow: number
  /** Bytes the application consumed but we have not yet re-granted with WINDOW_UPDATE. */
  unacked: number
  /**
   * Outbound DATA not yet taken: queue[queueHead..]. Taken from the head by index, not shift(): a route writing
   * many small chunks fills it with one entry per write (64K of them under streamHighWaterMark with 1-byte writes),
   * and V8's shift() copies the whole array once its backing store is in large-object space (~16K entries), so
   * taking them one by one was quadratic (65,000 one-byte writes: 232 ms in takeOutbound, against 2 ms by index).
   */
  queue: Uint8Array[]
  queueHead: number
  queuedBytes: number
  /** FIN is to follow the queued data. */
  finQueued: boolean
  /** reset(..., afterFin): RST_STREAM CANCEL goes right behind our FIN, once that is taken. */
  cancelAtFin: boolean
  /** write() returned false: emit 'drain' when the queue falls under the high-water mark. */
  needDrain: boolean
  /** Slot in ready[priority], -1 when not there. */
  queueSlot: number
  /** Initiated by us (for id parity and accounting). */
  local: boolean
  /** Server: its 'request' event is in the batch receive() is building, not handed to the application yet. */
  undelivered: boolean
  /** HEADERS frames received on it after it opened (maxHeadersFramesPerStream). */
  headersFrames: number
  /** Decoded bytes of the header block that opened it (peer streams), held until it closes. */
  headerBytes: number
  /**
   * Since when its queued DATA waits on a send window of zero or less (streamWindowTimeout): null when not,
   * UNSTAMPED when takeOutbound() (which is not handed the time) found it so and tick() has not stamped it yet.
   */
  stallAt: number | null
  /** When the peer last sent on it, or RESTART_CLOCK after we re-opened its window (requestBodyTimeout). */
  lastRecvAt: number
}

const MAX_WINDOW = 0x7fffffff
/** Stream ids are 31 bits (SPDY/3 section 2.2.1): past this a session can open no more streams of its own. */
const MAX_STREAM_ID = 0x7fffffff
/** DATA frame payload size we send: Chrome and nginx used 8-16 KB frames; large enough to amortise the header. */
const DATA_FRAME_BYTES = 16 * 1024
/**
 * Memory a queued control frame costs beyond its bytes: its Buffer object and backing store. Measured with Node 20:
 * 100,000 12-byte PING replies from our encoder took 106 bytes of JS heap and 16 of array buffers each (152 of RSS).
 */
const CONTROL_FRAME_OVERHEAD = 128
/** Stream.stallAt of a stall takeOutbound() found and tick() has not stamped yet. */
const UNSTAMPED = -1
/** Stream.lastRecvAt after consume() re-opened the window: checkBodies() starts the clock again when it sees it. */
const RESTART_CLOCK = -1
/** Remember this many recently closed stream ids to tell "already closed" from "never opened". */
const RECENT_CLOSED = 256
/** lateData marks: the peer's FIN came after our reset; we answered DATA beyond what was in flight. */
const FIN_SEEN = -2
const ANSWERED = -1

export class SpdySession {
  readonly role: 'server' | 'client'
  readonly version: SpdyVersion
  readonly limits: SessionLimits
  /** Highest priority number (lowest urgency) this version can carry. */
  private readonly lowestPriority: number
  private readonly decoder: FrameDecoder
  private readonly encoder: FrameEncoder
  /** Not Map/Set: see lib/session/stream-table.ts for what those cost a long-lived session in V8. */
  private readonly streams = new StreamTable<Stream>()
  /** Streams with queued DATA, by priority (0 highest). */
  private readonly ready: Array<StreamQueue<Stream>> = Array.from({ length: 8 }, () => new StreamQueue<Stream>())
  private readonly control: Uint8Array[] = []
  private controlBytes = 0
  /**
   * Of `control`, the frames the peer's own frames made us queue (PING replies, RST_STREAMs answering its errors or
   * refusing its streams, WINDOW_UPDATEs re-granting what it sent): a peer that sends without reading grows these
   * without bound, so they are capped (maxQueuedControlFrames) and pause reading (wantRead).
   */
  private controlAnswers = 0
  /**
   * Answers takeOutbound() handed out that the transport has not yet written (see transportBacklog): still unread
   * by the peer, so they count against maxQueuedControlFrames as if queued here. Without it a driver that keeps
   * writing answers into a backed-up socket empties the session's queue on every flush, and a flooder that never
   * reads is cut only by the driver's unreadOutputTimeout (issue 11: p99 167 ms against Node's 27 ms).
   */
  private answersUnwritten = 0
  /** Answers taken by takeOutbound() since the transport last reported its backlog: they end at `handedOut`. */
  private answersTaken = 0
  /** Bytes takeOutbound() has handed out, ever: the position in our output stream the transport is measured against. */
  private handedOut = 0
  /**
   * Batches of answers not yet known written, oldest first from `batchHead`: where each ends in the output stream
   * and how many answers it holds. Parallel arrays read from a head index: no tuple per batch, no splice per report.
   */
  private readonly batchEnds: number[] = []
  private readonly batchCounts: number[] = []
  private batchHead = 0
  /** Frames (and frame errors) decoded, ever: a receive() that leaves it unchanged completed nothing. */
  private decoded = 0
  private dataBytes = 0
  /**
   * Of `control`, how many are the session's opening frames (its SETTINGS, and the WINDOW_UPDATE that opens the
   * session window), counted only until takeOutbound() first hands anything out; -1 from then on (openingOnly).
   */
  private openingFrames = 0
  private events: SessionEvent[] = []
  /** Streams whose opening event the current receive() queued (see Stream.undelivered). */
  private readonly undelivered: Stream[] = []
  /** Of those, the ones reset before receive() returned: their events are dropped (rapid reset costs no request). */
  private cancelledUndelivered: number[] = []
  private readonly shared: SharedBudget | null
  /** Decoded header-block bytes held by open peer-initiated streams (maxSessionHeaderBytes). */
  private headerBytesHeld = 0
  /** The latest time handed in (constructor, receive, tick). */
  private now: number
  /** Streams with stallAt set. */
  private stalls = 0
  /** When tick() must next look for request bodies that went silent, or null when no stream waits for one. */
  private bodyCheckAt: number | null = null
  private readonly recentlyClosed = new RecentIds(RECENT_CLOSED)
  /** Streams we reset: the peer's frames already in flight for them are ignored (SPDY/3 section 2.4.2). */
  private readonly recentlyReset = new RecentIds(RECENT_CLOSED)
  /**
   * Of those, the ones reset by reset() (the application cancelled, or a stall timeout), not for a peer's error: the
   * frames it had in flight for them are the normal race of SPDY/3 section 2.4.2, no fault of its. Made on the first
   * cancel: an idle session that never cancelled holds nothing more.
   */
  private recentlyCancelled: RecentIds | null = null
  /**
   * Of the streams we reset, the DATA bytes the peer may still have in flight: the stream's receive window at the
   * reset (SPDY/3 section 2.6.8: it cannot have sent more), or FIN_SEEN / ANSWERED. Made on the first reset; at
   * most RECENT_CLOSED entries, the oldest dropped (its DATA then counts as beyond).
   */
  private lateData: Map<number, number> | null = null
  /** SPDY/2: the peer streams holding initialWindowSize or more of unread body (bodyHeld); made on the first. */
  private bodyFull: Set<number> | null = null

  private nextLocalId: number
  private nextPingId: number
  private lastPeerStreamId = 0
  private peerOpen = 0
  private localOpen = 0
  private peerMaxConcurrent = Infinity
  private peerInitialWindow = 65536
  private sessionSendWindow = 65536
  private sessionRecvWindow = 65536
  private sessionUnacked = 0
  /** Server: session window not granted yet, until the peer opens a stream with a body (openSessionWindow). */
  private sessionWindowOwed = 0
  /**
   * Whether the session window is in force: 'on' for 3.1, 'off' for 2 and 3, 'unknown' in auto mode until the
   * peer proves 3.1 (a stream-0 WINDOW_UPDATE) or 3 (see probeSessionWindow).
   */
  private sessionFlow: 'on' | 'unknown' | 'off'
  /** Auto mode: the PING sent to learn whether the peer read our whole session window without opening it. */
  private sessionProbePing: number | null = null
  private readonly sessionUpdateThreshold: number
  private goawaySent = false
  private goawayReceived = false
  private closedFlag = false
  private readonly pings = new Map<number, number>()
  private invalidFrames = 0
  private rateWindowStart: number
  private settingsInWindow = 0
  private resetsInWindow = 0
  /** HEADERS this rate window for streams we reset for a peer's error, dropped unanswered (maxHeadersFramesPerStream). */
  private droppedHeadersInWindow = 0
  /** Frames this rate window that did no work (maxWorklessFramesPerWindow), and our DATA frames that earn more. */
  private worklessInWindow = 0
  private dataSentInWindow = 0
  /** Streams refused this rate window for header memory (maxHeaderRefusalsPerWindow). */
  private headerRefusalsInWindow = 0
  /** decoder.inflatedBytes when the rate window started: the window's inflated bytes are the difference. */
  private inflatedAtWindowStart = 0
  private lastActivity: number
  private readonly compactAfter: number
  /** When to free idle zlib contexts, or null when they are not live (nothing to free). */
  private compactAt: number | null = null

  constructor (opts: SessionOptions, now: number) {
    this.role = opts.role
    this.version = opts.version
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...stripUndefined(opts) }
    const wire = opts.version === 2 ? 2 : 3
    this.decoder = new FrameDecoder({ version: wire, maxFrameLength: this.limits.maxFrameLength, maxHeaderBlockBytes: this.limits.maxHeaderBlockBytes, maxHeaderPairs: this.limits.maxHeaderPairs })
    this.encoder = new FrameEncoder({ version: wire })
    this.lowestPriority = tableFor(wire).lowestPriority
    this.nextLocalId = opts.role === 'server' ? 2 : 1
    this.sessionFlow = opts.version !== 3.1 ? 'off' : opts.sessionFlowControl === 'auto' ? 'unknown' : 'on'
    this.nextPingId = opts.role === 'server' ? 2 : 1
    this.rateWindowStart = now
    this.lastActivity = now
    this.now = now
    this.compactAfter = opts.compactAfter ?? DEFAULT_COMPACT_AFTER
    this.shared = opts.shared ?? null
    // Both ends send SETTINGS first (SPDY/3 section 2.6.4: "SETTINGS ... SHOULD be the first frame").
    const entries: Array<{ id: number, flags: number, value: number }> = [{ id: SettingId.MAX_CONCURRENT_STREAMS, flags: 0, value: this.limits.maxConcurrentStreams }]
    // A stream window of 64 KB is what the peer assumes without the setting (SPDY/3 section 2.6.8): sent only
    // when it differs, 8 bytes less on every connection (a repeat visit's page is ~700 bytes down in all).
    if (this.version !== 2 && this.limits.initialWindowSize !== 65536) entries.push({ id: SettingId.INITIAL_WINDOW_SIZE, flags: 0, value: this.limits.initialWindowSize })
    this.queueControl({ type: 'SETTINGS', clearSettings: false, entries })
    this.openingFrames = 1
    const sessionWindow = Math.max(this.limits.sessionWindowSize, this.limits.initialWindowSize)
    this.sessionUpdateThreshold = Math.max(32768, sessionWindow >> 2)
    if (this.version === 3.1 && sessionWindow > 65536) {
      // The session window starts at 64 KB whatever SETTINGS say (SPDY/3.1 section 2.6.8). A client opens it at
      // once (responses flow to it). A server's window only paces uploads: it is opened when the first stream
      // with a body arrives, in the same round trip as that SYN_STREAM's answer, and a session of GETs (a page
      // load) never spends the 16-byte WINDOW_UPDATE.
      this.sessionWindowOwed = sessionWindow - 65536
      if (this.role === 'client') this.openSessionWindow()
    }
  }

  /** Grants the rest of the session receive window (sessionWindowSize), once. */
  private openSessionWindow (): void {
    const delta = this.sessionWindowOwed
    if (delta <= 0) return
    this.sessionWindowOwed = 0
    this.sessionRecvWindow += delta
    this.queueControl({ type: 'WINDOW_UPDATE', streamId: 0, deltaWindowSize: delta })
    // Opening only while nothing else went before it (an answer queued first stays the first non-opening frame).
    if (this.openingFrames === this.control.length - 1) this.openingFrames++
  }

  get closed (): boolean { return this.closedFlag }
  /**
   * Nothing has been handed out yet, and all that is queued is the session's opening frames: SETTINGS (SPDY/3
   * section 2.6.4) and, on 3.1, the WINDOW_UPDATE opening the session window (section 2.6.8). Neither answers
   * anything the peer waits for, so a driver may hold them briefly to send them with the first answer (one write,
   * one TLS record, instead of two); any other frame queued (a PING reply, SYN_REPLY, RST_STREAM, GOAWAY, DATA)
   * makes this false, and so does the first takeOutbound() that returns frames.
   */
  get openingOnly (): boolean {
    return this.openingFrames > 0 && this.openingFrames === this.control.length && !this.anyReady()
  }
  /**
   * Frames decoded so far (malformed ones included). A receive() that leaves it unchanged only buffered part of a
   * frame: it queued nothing, changed no state a flush or deadline depends on (only moved the idle deadline later),
   * so the driver may skip its flush (issue 14).
   */
  get framesDecoded (): number { return this.decoded }
  get openStreams (): number { return this.streams.size }
  /** Highest peer-initiated stream id processed: the last-good-stream-id of our GOAWAY. */
  get lastGoodStreamId (): number { return this.lastPeerStreamId }
  /** A stream's state, or null when it is not open (never opened, or closed and forgotten). */
  streamState (streamId: number): StreamState | null {
    return this.streams.get(streamId)?.state ?? null
  }

  /** Decoded header-block bytes held by this session's open peer streams (see maxSessionHeaderBytes). */
  get headerBytes (): number { return this.headerBytesHeld }

  /** Bytes queued for the peer (control + DATA). */
  get bufferedBytes (): number { return this.controlBytes + this.dataBytes }

  /**
   * What the queue costs in memory: its bytes, plus each control frame's own object (CONTROL_FRAME_OVERHEAD). This
   * is what maxSessionBufferedBytes bounds: a 12-byte PING reply costs about 150 bytes of heap, so counting bytes
   * alone let a ping flood hold 12x its budget (issue 11: 10 connections took the server to 1 GB).
   */
  private get queuedCost (): number {
    return this.controlBytes + this.control.length * CONTROL_FRAME_OVERHEAD + this.dataBytes
  }

  /**
   * SPDY/2 has no flow control: nothing but our reading keeps a peer from sending a request body faster than the
   * application reads it, and the unread bytes wait in us (a 256 MiB upload to a route that did not read it yet was
   * 256 MiB buffered). True while some peer stream holds initialWindowSize or more received and not yet consume()d:
   * the transport then stops reading its socket until the application reads, and TCP's window slows the peer, as
   * Node's HTTP/1.1 server pauses its socket for a full request stream. SPDY/3 and 3.1 bound each stream by its
   * window instead. While held, no stream's requestBodyTimeout runs (recvBlocked): the pause is ours.
   */
  get bodyHeld (): boolean {
    return this.bodyFull !== null && this.bodyFull.size > 0
  }

  /**
   * False while control frames wait to be taken beyond a quarter of maxQueuedControlFrames answers, or beyond
   * maxSessionBufferedBytes of memory: the peer is sending while not reading what we answer. The driver then stops
   * reading its socket until takeOutbound() has emptied the queue (nghttp2_session_want_read; Node's http2 does
   * the same), so the peer is slowed to the pace it reads at instead of filling our memory. Queued DATA does not
   * count here: DATA may be waiting for the peer's WINDOW_UPDATE, which we must read to send it; control frames are
   * never flow-controlled, so any pause this causes ends when the socket drains.
   */
  get wantRead (): boolean {
    if (this.closedFlag) return false
    if (this.control.length === 0 && this.answersUnwritten === 0) return true
    return this.controlAnswers + this.answersUnwritten < Math.ceil(this.limits.maxQueuedControlFrames / 4) &&
      this.controlBytes + this.control.length * CONTROL_FRAME_OVERHEAD < this.limits.maxSessionBufferedBytes
  }

  /** Next time tick() must run, or null. */
  get deadline (): number | null {
    const idle = this.idleDeadline
    // Compaction waits for no open streams and nothing queued; the caller re-reads `deadline` after each flush,
    // so a session that becomes idle later is picked up then (and the timer never spins while streams are open).
    const c = this.compactAt !== null && !this.closedFlag && this.streams.size === 0 && this.bufferedBytes === 0 ? this.compactAt : null
    return minOf(minOf(idle, c), this.closedFlag ? null : minOf(this.stallDeadline(), this.bodyCheckAt))
  }

  /** The earliest stalled stream's deadline; `now` when a stall waits to be stamped by tick(). */
  private stallDeadline (): number | null {
    if (this.stalls === 0 || this.limits.streamWindowTimeout <= 0) return null
    let at: number | null = null
    this.streams.forEach((s) => {
      if (s.stallAt === null) return
      const d = s.stallAt === UNSTAMPED ? this.now : s.stallAt + this.limits.streamWindowTimeout
      if (at === null || d < at) at = d
    })
    return at
  }

  private get idleDeadline (): number | null {
    if (this.closedFlag || this.limits.idleTimeout <= 0) return null
    return this.lastActivity + this.limits.idleTimeout
  }

  /** Header compression contexts are allocated (see compact()). */
  get zlibLive (): boolean { return this.decoder.zlibLive || this.encoder.zlibLive }

  /**
   * Frees both header compression contexts down to their windows' bytes (lib/codec/zlib.ts); they are rebuilt on
   * the next header block in either direction. tick() calls this compactAfter ms after the last frame received
   * once the session is idle; it is safe at any time between frames.
   */
  compact (): void {
    this.decoder.compact()
    this.encoder.compact()
    this.compactAt = null
  }

  // ---- input ----

  receive (bytes: Uint8Array, now: number): SessionEvent[] {
    if (this.closedFlag) return EMPTY_EVENTS
    this.now = now
    this.lastActivity = now
    this.rollRateWindow(now)
    // Every header block the decoder inflates counts, whatever then becomes of its frame (maxInflatedHeaderBytesPerWindow).
    this.decoder.inflateAllowance = this.limits.maxInflatedHeaderBytesPerWindow - (this.decoder.inflatedBytes - this.inflatedAtWindowStart)
    const decoded = this.decoder.push(bytes)
    if (decoded.length === 0) {
      // A piece of a frame (issue 14: clients that write each frame in several segments): only the clock moved, and
      // with it the idle and compaction deadlines, later. Events raised by commands meanwhile still go out.
      if (this.compactAfter > 0 && this.zlibLive) this.compactAt = now + this.compactAfter
      return this.takeEvents()
    }
    this.decoded += decoded.length
    for (const ev of decoded) {
      if (this.closedFlag) break
      switch (ev.type) {
        case 'STREAM_ERROR': this.streamError(ev.error.streamId, ev.error.status, ev.error.message); break
        case 'SESSION_ERROR': this.sessionError(ev.error.status, ev.error.message); break
        default: this.onFrame(ev, now)
      }
    }
    if (this.undelivered.length > 0) this.deliver()
    if (this.compactAfter > 0 && this.zlibLive) this.compactAt = now + this.compactAfter
    return this.takeEvents()
  }

  /**
   * Rapid reset: every frame of one read is decoded and applied before any stream's request is handed out, so a
   * stream opened and reset within the same read never reaches the application (no Fastify request, nothing to
   * abort). Its 'request', 'data', 'headers' and 'streamReset' events are dropped; the reset still counts against
   * maxResetsPerWindow and maxProcessResetsPerSecond.
   */
  private deliver (): void {
    for (const s of this.undelivered) s.undelivered = false
    this.undelivered.length = 0
    if (this.cancelledUndelivered.length === 0) return
    const gone = new Set(this.cancelledUndelivered)
    this.cancelledUndelivered = []
    this.events = this.events.filter((e) => !(gone.has((e as { streamId?: number }).streamId ?? 0) &&
      (e.type === 'request' || e.type === 'data' || e.type === 'headers' || e.type === 'streamReset')))
  }

  tick (now: number): SessionEvent[] {
    this.now = now
    this.rollRateWindow(now)
    if (this.stalls > 0 && !this.closedFlag) this.checkStalls(now)
    if (this.bodyCheckAt !== null && now >= this.bodyCheckAt && !this.closedFlag) this.checkBodies(now)
    if (this.compactAt !== null && now >= this.compactAt && this.streams.size === 0 && this.bufferedBytes === 0) this.compact()
    const deadline = this.idleDeadline
    if (deadline !== null && now >= deadline && !this.closedFlag) {
      if (this.streams.size === 0) {
        this.goaway(GoawayStatus.OK)
        this.close('idle timeout')
      } else {
        // Open streams are the application's business (a long poll is not idle); look again later.
        this.lastActivity = now
      }
    }
    return this.takeEvents()
  }

  /**
   * streamWindowTimeout: a stream whose DATA has waited on a zero send window that long is reset (RST_STREAM
   * CANCEL, and a 'streamReset' so the application stops producing). A peer that never sends WINDOW_UPDATE would
   * otherwise hold the stream, its queued response and the connection forever (issue 11: a SPDY/3 client library
   * stalled a 4 MiB download at 64 KiB for good). If every open stream is stalled, the peer is reading nothing of
   * ours: GOAWAY and close (status OK: not sending WINDOW_UPDATE is slow, not malformed; SPDY/3 section 2.6.8).
   */
  private checkStalls (now: number): void {
    const timeout = this.limits.streamWindowTimeout
    const expired: Stream[] = []
    let stalled = 0
    this.streams.forEach((s) => {
      if (s.stallAt === null) return
      if (!this.windowBlocked(s)) { this.clearStall(s); return }
      stalled++
      if (s.stallAt === UNSTAMPED) s.stallAt = now
      else if (timeout > 0 && now - s.stallAt >= timeout) expired.push(s)
    })
    if (expired.length === 0) return
    if (stalled === this.streams.size) {
      this.goaway(GoawayStatus.OK)
      this.close(`every stream waited ${timeout} ms on a zero flow-control window (streamWindowTimeout)`)
      return
    }
    for (const s of expired) {
      this.events.push({ type: 'protocolError', answer: 'RST_STREAM', streamId: s.id, status: RstStatus.CANCEL, message: `CANCEL: waited ${timeout} ms on a zero flow-control window (streamWindowTimeout)` })
      this.reset(s.id, RstStatus.CANCEL)
    }
  }

  /**
   * requestBodyTimeout: a peer stream whose peer half is open, with nothing received on it that long while our
   * window let the peer send, is reset (RST_STREAM CANCEL) and reported as 'streamReset', so the server aborts the
   * request instead of waiting for a body that does not come (issue 11: 500 POSTs without a body stayed pending).
   * A peer held back by our own window (the application not reading) is not timed out: its clock restarts.
   */
  private checkBodies (now: number): void {
    const timeout = this.limits.requestBodyTimeout
    let next: number | null = null
    const expired: number[] = []
    this.streams.forEach((s) => {
      if (!this.awaitsBody(s)) return
      if (this.recvBlocked(s) || s.lastRecvAt === RESTART_CLOCK) s.lastRecvAt = now
      else if (now - s.lastRecvAt >= timeout) { expired.push(s.id); return }
      next = minOf(next, s.lastRecvAt + timeout)
    })
    this.bodyCheckAt = next
    for (const id of expired) {
      this.events.push({ type: 'protocolError', answer: 'RST_STREAM', streamId: id, status: RstStatus.CANCEL, message: `CANCEL: nothing received for ${timeout} ms on an open request (requestBodyTimeout)` })
      this.reset(id, RstStatus.CANCEL)
    }
  }

  /** Server: a peer stream that may still send us DATA. */
  private awaitsBody (s: Stream): boolean {
    return this.role === 'server' && !s.local && (s.state === 'open' || s.state === 'half_closed_local')
  }

  /** The peer cannot send on s for lack of window (ours to re-open as the application reads). */
  private recvBlocked (s: Stream): boolean {
    if (this.version === 2) return this.bodyHeld
    return s.recvWindow <= 0 || (this.sessionFlow === 'on' && this.sessionRecvWindow <= 0)
  }

  /** s has DATA queued that a window of zero or less holds back. */
  private windowBlocked (s: Stream): boolean {
    if (s.queuedBytes === 0) return false
    return (this.version !== 2 && s.sendWindow <= 0) || (this.sessionFlow !== 'off' && this.sessionSendWindow <= 0)
  }

  private clearStall (s: Stream): void {
    if (s.stallAt === null) return
    s.stallAt = null
    this.stalls--
  }

  /** Events raised by commands (drain, closed) since the last receive/tick. */
  takeEvents (): SessionEvent[] {
    if (this.events.length === 0) return EMPTY_EVENTS
    const e = this.events
    this.events = []
    return e
  }

  private onFrame (f: Frame, now: number): void {
    if (isWorkless(f) && this.workless()) return
    switch (f.type) {
      case 'SYN_STREAM': return this.onSynStream(f)
      case 'SYN_REPLY': {
        if (this.role === 'server') return this.sessionError(GoawayStatus.PROTOCOL_ERROR, 'SYN_REPLY sent to a server')
        const s = this.lookup(f.streamId, 'recv_syn_reply')
        if (s === null) return
        if (!this.step(s, f.fin ? 'recv_syn_reply' : 'recv_syn_reply')) return
        this.events.push({ type: 'response', streamId: s.id, headers: f.headers, fin: f.fin })
        if (f.fin) this.step(s, 'recv_fin')
        return
      }
      case 'HEADERS': {
        const cap = this.limits.maxHeadersFramesPerStream
        if (!this.streams.has(f.streamId) && this.recentlyReset.has(f.streamId)) {
          // Frames in flight when we reset a stream are dropped (SPDY/3 section 2.4.2), but each was inflated. After
          // our cancel they are the race's leftovers, however many streams the app cancels: they cost the workless
          // budget, as any frame doing no work. After our answer to the peer's error (a bad head, a frame on a stream
          // it had closed), a peer that keeps sending HEADERS for the stream is flooding, not catching up.
          if (this.recentlyCancelled?.has(f.streamId) === true) { this.workless(); return }
          if (++this.droppedHeadersInWindow > cap) {
            return this.sessionError(GoawayStatus.PROTOCOL_ERROR, `more than ${cap} HEADERS frames in ${RATE_WINDOW_MS / 1000} s on streams already reset (flood)`)
          }
          return
        }
        const s = this.lookup(f.streamId, f.fin ? 'recv_fin' : 'recv_headers')
        if (s === null) return
        // One or two are a stream's trailers; a peer that keeps sending them only makes us inflate (a HEADERS flood,
        // HTTP/2's CONTINUATION flood, CVE-2024-27316, in SPDY's clothes).
        if (++s.headersFrames > cap) {
          return this.sessionError(GoawayStatus.PROTOCOL_ERROR, `more than ${cap} HEADERS frames on stream ${s.id} (flood)`)
        }
        if (!this.step(s, f.fin ? 'recv_fin' : 'recv_headers')) return
        this.events.push({ type: 'headers', streamId: s.id, headers: f.headers, fin: f.fin })
        return
      }
      case 'DATA': return this.onData(f.streamId, f.data, f.fin)
      case 'RST_STREAM': {
        const s = this.streams.get(f.streamId)
        if (s === undefined) return // SPDY/3 section 2.4.2: RST for an unknown or closed stream is ignored
        this.resetsInWindow++
        this.finish(s, f.status, true)
        if (this.resetsInWindow > this.limits.maxResetsPerWindow) {
          return this.sessionError(GoawayStatus.PROTOCOL_ERROR, `more than ${this.limits.maxResetsPerWindow} streams reset in ${RATE_WINDOW_MS / 1000} s (rapid reset)`)
        }
        // Across sessions: a client declining a push is not rapid reset, a peer cancelling its own streams may be.
        if (!s.local && this.shared !== null && !this.shared.countReset(now, this.limits.maxProcessResetsPerSecond)) {
          this.sessionError(GoawayStatus.PROTOCOL_ERROR, `more than ${this.limits.maxProcessResetsPerSecond} streams reset per second by all peers (rapid reset)`)
        }
        return
      }
      case 'SETTINGS': return this.onSettings(f)
      case 'PING': {
        const ours = (f.id % 2 === 0) === (this.role === 'server')
        if (ours) {
          const sent = this.pings.get(f.id)
          if (f.id === this.sessionProbePing) { this.sessionProbePing = null; this.probeAnswered(); return }
          if (sent !== undefined) {
            this.pings.delete(f.id)
            this.events.push({ type: 'pingAck', id: f.id, rtt: now - sent })
          }
          return
        }
        // Echo the peer's ping (SPDY/3 section 2.6.5). A peer that pings without reading our replies is flooding:
        // queueAnswer() ends the session past maxQueuedControlFrames.
        this.queueAnswer({ type: 'PING', id: f.id })
        return
      }
      case 'GOAWAY': {
        this.goawayReceived = true
        this.events.push({ type: 'goaway', lastGoodStreamId: f.lastGoodStreamId, status: f.status })
        // Our streams above last-good were never processed: they are refused (SPDY/3 section 2.6.6).
        for (const s of this.streams.values()) {
          if (s.local && s.id > f.lastGoodStreamId) this.finish(s, RstStatus.REFUSED_STREAM, true)
        }
        this.maybeClosed()
        return
      }
      case 'WINDOW_UPDATE': return this.onWindowUpdate(f.streamId, f.deltaWindowSize)
      case 'NOOP':
      case 'CREDENTIAL':
      case 'UNKNOWN':
        return
    }
  }

  /**
   * Counts a frame that does no work (maxWorklessFramesPerWindow); true when that ended the session. Our DATA
   * frames raise the allowance: each may be answered by a stream and a session WINDOW_UPDATE.
   */
  private workless (units = 1): boolean {
    if ((this.worklessInWindow += units) <= this.limits.maxWorklessFramesPerWindow + 2 * this.dataSentInWindow) return false
    this.sessionError(GoawayStatus.PROTOCOL_ERROR, `more than ${this.limits.maxWorklessFramesPerWindow} frames doing no work in ${RATE_WINDOW_MS / 1000} s beyond what our DATA earns (WINDOW_UPDATE, PING, SETTINGS or empty DATA flood, or DATA on streams already reset)`)
    return true
  }

  private onSynStream (f: Extract<Frame, { type: 'SYN_STREAM' }>): void {
    const id = f.streamId
    const peerParity = this.role === 'server' ? 1 : 0
    if (id === 0 || id % 2 !== peerParity) {
      return this.sessionError(GoawayStatus.PROTOCOL_ERROR, `SYN_STREAM with stream id ${id} of the wrong parity`)
    }
    if (this.streams.has(id)) return this.streamError(id, RstStatus.STREAM_IN_USE, `SYN_STREAM for open stream ${id}`)
    if (id <= this.lastPeerStreamId) {
      // SPDY/3 section 2.3.2: stream ids must increase.
      return this.sessionError(GoawayStatus.PROTOCOL_ERROR, `SYN_STREAM id ${id} not above ${this.lastPeerStreamId}`)
    }
    if (this.goawaySent) return // SPDY/3 section 2.6.6: after GOAWAY, new streams are ignored
    this.lastPeerStreamId = id
    if (this.role === 'server') {
      if (f.unidirectional || f.associatedStreamId !== 0) {
        return this.streamError(id, RstStatus.PROTOCOL_ERROR, 'clients cannot push streams')
      }
      if (this.peerOpen >= this.limits.maxConcurrentStreams) {
        this.resetsInWindow++
        this.streamError(id, RstStatus.REFUSED_STREAM, `more than ${this.limits.maxConcurrentStreams} concurrent streams`)
        if (this.resetsInWindow > this.limits.maxResetsPerWindow) {
          this.sessionError(GoawayStatus.PROTOCOL_ERROR, 'stream flood: too many refused streams')
        }
        return
      }
      const held = this.holdHeaders(id, f.headers)
      if (held < 0) return
      const s = this.open(id, f.priority, false, f.fin ? 'half_closed_remote' : 'open')
      s.headerBytes = held
      if (!f.fin && this.limits.requestBodyTimeout > 0 && this.bodyCheckAt === null) this.bodyCheckAt = this.now + this.limits.requestBodyTimeout
      if (!f.fin) this.openSessionWindow()
      this.events.push({ type: 'request', streamId: id, headers: f.headers, priority: s.priority, fin: f.fin })
      s.undelivered = true
      this.undelivered.push(s)
      return
    }
    // Client: a server push, unidirectional and associated to one of our open streams (SPDY/3 section 3.3.1).
    // The draft says a push MUST carry FLAG_UNIDIRECTIONAL, but node-spdy (spdy-transport 3) never sets it; the
    // associated-stream id alone makes the intent unambiguous, and we never send on a pushed stream either way, so
    // accept it rather than break interop. A SYN_STREAM without an associated open stream is still an error.
    const assoc = this.streams.get(f.associatedStreamId)
    if (f.associatedStreamId === 0 || assoc === undefined || !assoc.local) {
      return this.streamError(id, RstStatus.PROTOCOL_ERROR, 'server SYN_STREAM not associated to one of our open streams')
    }
    const held = this.holdHeaders(id, f.headers)
    if (held < 0) return
    const s = this.open(id, f.priority, false, f.fin ? 'closed' : 'half_closed_local')
    s.headerBytes = held
    this.events.push({ type: 'push', streamId: id, associatedStreamId: f.associatedStreamId, headers: f.headers, priority: s.priority, fin: f.fin })
    // A push the server resets in the same read is still reported (the client tells its user the push failed):
    // rapid reset is a client's attack on a server, so only server-side requests are dropped (see deliver()).
    if (f.fin) this.finish(s, 0, true, true)
  }

  /**
   * Takes the header memory a new peer stream will hold: its block's decoded size, against maxSessionHeaderBytes
   * and, across sessions, maxProcessHeaderBytes. Over either, the stream is refused (REFUSED_STREAM: the peer may
   * retry it later, SPDY/3 section 2.4.2) and -1 returned. Released when the stream closes (finish()).
   */
  private holdHeaders (id: number, headers: HeaderList): number {
    const n = headerBlockBytes(headers, this.version === 2 ? 2 : 4)
    if (this.headerBytesHeld + n > this.limits.maxSessionHeaderBytes) {
      this.streamError(id, RstStatus.REFUSED_STREAM, `open streams would hold more than ${this.limits.maxSessionHeaderBytes} bytes of headers (maxSessionHeaderBytes)`)
      this.headerRefused('session budget')
      return -1
    }
    if (this.shared !== null && !this.shared.reserveHeaders(n, this.limits.maxProcessHeaderBytes)) {
      this.streamError(id, RstStatus.REFUSED_STREAM, `all sessions' open streams would hold more than ${this.limits.maxProcessHeaderBytes} bytes of headers (maxProcessHeaderBytes)`)
      this.headerRefused('process budget')
      return -1
    }
    this.headerBytesHeld += n
    return n
  }

  /**
   * A stream refused for header memory (holdHeaders): its block was inflated all the same. Past
   * maxHeaderRefusalsPerWindow such refusals the peer keeps sending blocks over the budget (a zlib bomb): GOAWAY.
   * Over its own session's budget, the peer is to blame. Over the process's, only if it holds a large share itself
   * (at least half its own budget): a small client refused because others filled the process is not cut for it.
   */
  private headerRefused (over: 'session budget' | 'process budget'): void {
    if (over === 'process budget' && this.headerBytesHeld * 2 < this.limits.maxSessionHeaderBytes) return
    if (this.closedFlag || ++this.headerRefusalsInWindow <= this.limits.maxHeaderRefusalsPerWindow) return
    this.sessionError(GoawayStatus.PROTOCOL_ERROR, `more than ${this.limits.maxHeaderRefusalsPerWindow} streams refused for header memory in ${RATE_WINDOW_MS / 1000} s (header compression bomb)`)
  }

  private onData (streamId: number, data: Uint8Array, fin: boolean): void {
    const len = data.length
    if (this.version === 3.1) {
      this.sessionRecvWindow -= len
      // Unproven (auto mode), the peer may be SPDY/3, bound by its stream windows only: count, do not enforce.
      if (this.sessionRecvWindow < 0 && this.sessionFlow === 'on') {
        return this.sessionError(GoawayStatus.PROTOCOL_ERROR, 'DATA beyond the session flow-control window')
      }
    }
    const s = this.streams.get(streamId)
    if (s === undefined) {
      if (this.recentlyReset.has(streamId)) return this.dataAfterReset(streamId, len, fin)
      // Bytes for a stream nobody reads still count against the session window: give them back at once.
      this.consumeSession(len)
      if (this.recentlyClosed.has(streamId)) return this.streamError(streamId, RstStatus.STREAM_ALREADY_CLOSED, 'DATA on a closed stream')
      return this.streamError(streamId, RstStatus.INVALID_STREAM, `DATA on stream ${streamId}, which is not open`)
    }
    s.recvWindow -= len
    if (this.version !== 2) {
      if (s.recvWindow < 0) {
        this.consumeSession(len)
        return this.streamError(streamId, RstStatus.FLOW_CONTROL_ERROR, 'DATA beyond the stream flow-control window')
      }
    } else if (fin) {
      // The peer has sent all it will on s: what it left unread is bounded, and holding reading gains nothing.
      this.bodyFull?.delete(streamId)
    } else if (s.recvWindow + s.unacked <= 0 && !s.local) (this.bodyFull ??= new Set()).add(streamId)
    if (!this.step(s, fin ? 'recv_fin' : 'recv_data')) { this.consumeSession(len); return }
    s.lastRecvAt = this.now
    if (len > 0 || fin) this.events.push({ type: 'data', streamId, data, fin })
  }

  /**
   * DATA for a stream we reset. What the peer had in flight when our RST_STREAM left is the race of SPDY/3 section
   * 2.4.2: ignored, its session window given back (SPDY/2, which has no window to bound it: lateDataV2). Past the
   * window the stream had then, or after its FIN, the peer sends on a stream it knows is not open: SPDY/3 section
   * 2.2.2 asks for RST_STREAM INVALID_STREAM, sent once per
   * stream (not per frame: that would make us a reflector), and each such frame costs the workless budget
   * (maxWorklessFramesPerWindow) and keeps its session window, so a flood on dead streams ends in GOAWAY.
   */
  private dataAfterReset (streamId: number, len: number, fin: boolean): void {
    const left = this.lateData?.get(streamId)
    if (left !== undefined && left >= len) {
      this.consumeSession(len)
      // After its FIN the peer has nothing more in flight: what follows is beyond.
      this.lateData!.set(streamId, fin ? FIN_SEEN : left - len)
      return
    }
    if (len === 0 && !fin) return // an empty DATA frame: onFrame counted it already (isWorkless)
    if (this.version === 2 && left !== undefined && left >= 0) return this.lateDataV2(streamId, left, len, fin)
    if (this.workless() || left === ANSWERED) return
    this.noteLateData(streamId, ANSWERED)
    this.streamError(streamId, RstStatus.INVALID_STREAM, `DATA on stream ${streamId} beyond what was in flight when it was reset`)
  }

  /**
   * SPDY/2 DATA past the first window's worth on a stream we reset, before its FIN. Draft 2 has no flow control, so
   * nothing but the link's bandwidth-delay product and the two sockets' buffers bounds what a client uploading at
   * speed had in flight when our RST_STREAM left: megabytes, in hundreds of frames (SPDY/2-era browsers had no window
   * at all). Those bytes are no fault of the peer's, so no INVALID_STREAM for them; they cost us a frame parse each and
   * are dropped. They are charged by volume: one workless unit (maxWorklessFramesPerWindow) per initialWindowSize
   * bytes, not one per frame, so a 64 MiB upload cancelled at loopback speed keeps its session, and a peer feeding a
   * dead stream meets GOAWAY after that many windows' worth in a rate window (64 MiB per 10 s by default).
   */
  private lateDataV2 (streamId: number, left: number, len: number, fin: boolean): void {
    const window = this.limits.initialWindowSize
    const units = Math.ceil((len - left) / window)
    if (this.workless(units)) return
    this.lateData!.set(streamId, fin ? FIN_SEEN : left + units * window - len)
  }

  /** Remembers what DATA the peer may still send on a stream we reset (dataAfterReset). */
  private noteLateData (streamId: number, bytes: number): void {
    const m = this.lateData ??= new Map()
    m.delete(streamId)
    m.set(streamId, bytes)
    if (m.size > RECENT_CLOSED) m.delete(m.keys().next().value as number)
  }

  /**
   * At our reset of s: the window it had (SPDY/2: one default window, what spdy-transport enforces there too, then
   * lateDataV2), or FIN_SEEN when the peer had already sent its FIN (nothing can be in flight).
   */
  private inFlightAtReset (s: Stream): number {
    if (s.state === 'half_closed_remote' || s.state === 'closed') return FIN_SEEN
    return this.version === 2 ? this.limits.initialWindowSize : Math.max(0, s.recvWindow)
  }

  private onSettings (f: Extract<Frame, { type: 'SETTINGS' }>): void {
    if (++this.settingsInWindow > this.limits.maxSettingsPerWindow) {
      return this.sessionError(GoawayStatus.PROTOCOL_ERROR, `more than ${this.limits.maxSettingsPerWindow} SETTINGS frames in ${RATE_WINDOW_MS / 1000} s`)
    }
    let maxConcurrent: number | null = null
    let initialWindow: number | null = null
    for (const e of f.entries) {
      // PERSISTED values are a previous session's, replayed by the client: they never override what this session
      // negotiated; we never ask for persistence (SPDY/3 section 2.6.4).
      if (e.id === SettingId.MAX_CONCURRENT_STREAMS) maxConcurrent = e.value
      else if (e.id === SettingId.INITIAL_WINDOW_SIZE && this.version !== 2) initialWindow = e.value
    }
    if (maxConcurrent !== null) this.peerMaxConcurrent = maxConcurrent
    if (initialWindow !== null) {
      if (initialWindow > MAX_WINDOW) return this.sessionError(GoawayStatus.PROTOCOL_ERROR, 'INITIAL_WINDOW_SIZE above 2^31-1')
      // SPDY/3 section 2.6.8: open streams' windows move by the difference, and may go negative.
      const delta = initialWindow - this.peerInitialWindow
      this.peerInitialWindow = initialWindow
      this.streams.forEach((s) => {
        s.sendWindow += delta
        if (delta > 0 && s.queuedBytes > 0) this.ready[s.priority].add(s)
      })
    }
    this.events.push({ type: 'settings', maxConcurrentStreams: maxConcurrent, initialWindowSize: initialWindow })
  }

  private onWindowUpdate (streamId: number, delta: number): void {
    if (this.version === 2) return
    if (streamId === 0) {
      if (this.version !== 3.1) return // SPDY/3 has no session window: ignore, as Chrome did
      if (this.sessionFlow === 'off') return // judged SPDY/3 already (auto mode): our count of its window is stale
      if (delta === 0 || this.sessionSendWindow + delta > MAX_WINDOW) {
        return this.sessionError(GoawayStatus.PROTOCOL_ERROR, 'invalid session WINDOW_UPDATE')
      }
      // Only a 3.1 peer sends this (SPDY/3.1 section 2.6.8): it settles auto mode.
      this.sessionFlow = 'on'
      this.sessionProbePing = null
      const wasBlocked = this.sessionSendWindow <= 0
      this.sessionSendWindow += delta
      // Only a window that was shut held streams back (takeOutbound dropped them from `ready`): an update to an
      // open window changes nothing sendable, and costs no walk over the streams (a WINDOW_UPDATE flood).
      if (wasBlocked) this.rearm()
      return
    }
    const s = this.streams.get(streamId)
    if (s === undefined) return // for a closed stream: ignored (SPDY/3 section 2.6.8)
    if (delta === 0) return this.streamError(streamId, RstStatus.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0')
    if (s.sendWindow + delta > MAX_WINDOW) {
      return this.streamError(streamId, RstStatus.FLOW_CONTROL_ERROR, 'WINDOW_UPDATE beyond 2^31-1')
    }
    s.sendWindow += delta
    if (s.queuedBytes > 0 || s.finQueued) this.ready[s.priority].add(s)
  }

  // ---- commands ----

  /** Server: SYN_REPLY. */
  respond (streamId: number, headers: HeaderList, fin = false): void {
    const s = this.streams.get(streamId)
    if (s === undefined || this.closedFlag) return
    this.queueControl({ type: 'SYN_REPLY', streamId, fin, headers })
    if (fin) this.step(s, 'send_fin')
  }

  /** Client: opens a stream with SYN_STREAM; returns its id, or 0 when no stream can be opened now. */
  request (headers: HeaderList, opts: { priority?: number, fin?: boolean } = {}): number {
    if (this.closedFlag || this.goawayReceived || this.localOpen >= this.peerMaxConcurrent || this.nextLocalId > MAX_STREAM_ID) return 0
    const id = this.nextLocalId
    this.nextLocalId += 2
    const fin = opts.fin ?? false
    const s = this.open(id, opts.priority ?? 3, true, fin ? 'half_closed_local' : 'open')
    this.queueControl({ type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: s.priority, slot: 0, fin, unidirectional: false, headers })
    return id
  }

  /**
   * Server push: a unidirectional stream associated to an open client stream. Returns its id, or 0 when the
   * peer's MAX_CONCURRENT_STREAMS, a GOAWAY, the associated stream's state or used-up stream ids forbid it.
   */
  push (associatedStreamId: number, headers: HeaderList, opts: { priority?: number, fin?: boolean } = {}): number {
    const assoc = this.streams.get(associatedStreamId)
    if (this.role !== 'server' || assoc === undefined || this.closedFlag || this.goawayReceived || this.goawaySent) return 0
    if (assoc.state === 'half_closed_local' || assoc.state === 'closed') return 0
    if (this.localOpen >= this.peerMaxConcurrent || this.nextLocalId > MAX_STREAM_ID) return 0
    const id = this.nextLocalId
    this.nextLocalId += 2
    const fin = opts.fin ?? false
    // One step below the page it belongs to, so the page's own DATA goes first (open() clamps to the version's range).
    const s = this.open(id, opts.priority ?? assoc.priority + 1, true, fin ? 'closed' : 'half_closed_remote')
    this.queueControl({ type: 'SYN_STREAM', streamId: id, associatedStreamId, priority: s.priority, slot: 0, fin, unidirectional: true, headers })
    if (fin) this.finish(s, 0, false, true)
    return id
  }

  /** Queues DATA. Returns false when the stream (or session) is over its high-water mark: wait for 'drain'. */
  write (streamId: number, data: Uint8Array, fin = false): boolean {
    const s = this.streams.get(streamId)
    if (s === undefined || s.finQueued || this.closedFlag) return false
    const t = transition(s.state, 'send_data')
    if (!('next' in t)) return false
    if (data.length > 0) {
      s.queue.push(data)
      s.queuedBytes += data.length
      this.dataBytes += data.length
    }
    if (fin) s.finQueued = true
    this.ready[s.priority].add(s)
    const ok = s.queuedBytes < this.limits.streamHighWaterMark && this.queuedCost < this.limits.maxSessionBufferedBytes
    if (!ok) s.needDrain = true
    return ok
  }

  end (streamId: number): void {
    this.write(streamId, EMPTY, true)
  }

  /**
   * RST_STREAM `status`; what was queued for the stream is dropped. With `afterFin` (the response is complete, the
   * upload is not and nobody reads it), a FIN still queued goes first and the RST right behind it: the reset
   * would otherwise drop the response's last DATA, and peers (spdy-transport) then lose a response whose head
   * they already had. Our FIN makes the stream half-closed (local), which the RST then closes (SPDY/3 2.3.7).
   */
  reset (streamId: number, status: RstStatusCode = RstStatus.CANCEL, afterFin = false): void {
    const s = this.streams.get(streamId)
    if (s === undefined || this.closedFlag) return
    if (afterFin && s.finQueued) { s.cancelAtFin = true; return }
    this.queueControl({ type: 'RST_STREAM', streamId, status })
    this.recentlyReset.add(streamId)
    ;(this.recentlyCancelled ??= new RecentIds(RECENT_CLOSED)).add(streamId)
    this.noteLateData(streamId, this.inFlightAtReset(s))
    this.finish(s, status, false)
  }

  /**
   * Refuses a peer's stream that the layer above found malformed (e.g. a request head lib/session/headers.ts
   * requestHead refuses): RST_STREAM `status` through the same stream-error path as a malformed frame, so it is
   * reported as a protocolError event carrying `message` and counts toward maxInvalidFrames (a flood of bad heads
   * ends in GOAWAY PROTOCOL_ERROR, SPDY/3 section 2.4.1), which reset() does not. No-op once the stream is gone.
   */
  refuse (streamId: number, status: RstStatusCode, message: string): void {
    if (this.closedFlag || !this.streams.has(streamId)) return
    this.streamError(streamId, status, message)
  }

  /** The application read `bytes` of the stream's DATA: re-grant window (v3) once half of it is used. */
  consume (streamId: number, bytes: number): void {
    // SPDY/2 has no flow control, but spdy-transport (node-spdy) enforces 64 KB stream windows in v2 too and waits
    // for WINDOW_UPDATE. A v2 peer must ignore control types it does not know (SPDY/2 section 2.2.1), so granting
    // window in v2 costs conformant peers nothing and keeps node-spdy uploads moving.
    if (bytes <= 0) return
    this.consumeSession(bytes)
    const s = this.streams.get(streamId)
    if (s === undefined || s.state === 'half_closed_remote' || s.state === 'closed') return
    s.unacked += bytes
    if (this.bodyFull !== null && s.recvWindow + s.unacked > 0) this.bodyFull.delete(streamId)
    // Batching: one WINDOW_UPDATE per half window, not per read (Chrome and nginx do the same).
    if (s.unacked >= this.limits.initialWindowSize / 2) {
      s.recvWindow += s.unacked
      // The peer may send again from here: its body clock restarts at the next check (requestBodyTimeout). Not at
      // `this.now`, the last time handed in, which may be long past when the application reads slowly.
      s.lastRecvAt = RESTART_CLOCK
      this.queueAnswer({ type: 'WINDOW_UPDATE', streamId, deltaWindowSize: s.unacked })
      s.unacked = 0
    }
  }

  private consumeSession (bytes: number): void {
    if (this.version !== 3.1 || bytes <= 0) return
    this.sessionUnacked += bytes
    // One update per quarter of the session window: few frames, and the peer never runs dry waiting for one.
    if (this.sessionUnacked >= this.sessionUpdateThreshold) {
      this.sessionRecvWindow += this.sessionUnacked
      this.queueAnswer({ type: 'WINDOW_UPDATE', streamId: 0, deltaWindowSize: this.sessionUnacked })
      this.sessionUnacked = 0
    }
  }

  /**
   * takeOutbound drops streams blocked on the session window from `ready`: put them back, or a peer whose stream
   * windows never run out (no stream-level WINDOW_UPDATE to re-arm them) stalls the session for good.
   */
  private rearm (): void {
    this.streams.forEach((st) => { if (st.queuedBytes > 0 || st.finQueued) this.ready[st.priority].add(st) })
  }

  /**
   * Auto mode, our sending blocked on the peer's session window: a PING behind the DATA already sent. The peer
   * answers it after reading all of that DATA (TCP keeps order), so by then a whole session window has reached
   * it. The 3.1 peers we know re-open the window before that (spdy-transport on receipt at half the window,
   * Chrome at session start), so an answer with no session WINDOW_UPDATE before it means plain SPDY/3.
   */
  private probeSessionWindow (): void {
    if (this.sessionFlow !== 'unknown' || this.sessionProbePing !== null || this.closedFlag) return
    const id = this.nextPingId
    this.nextPingId = (this.nextPingId + 2) >>> 0
    this.sessionProbePing = id
    this.queueControl({ type: 'PING', id })
  }

  private probeAnswered (): void {
    if (this.sessionFlow !== 'unknown') return
    this.sessionFlow = 'off'
    this.rearm()
  }

  /** Sends our own PING; false when too many are unanswered. */
  ping (now: number): boolean {
    if (this.closedFlag || this.pings.size >= this.limits.maxOutstandingPings) return false
    const id = this.nextPingId
    this.nextPingId = (this.nextPingId + 2) >>> 0
    this.pings.set(id, now)
    this.queueControl({ type: 'PING', id })
    return true
  }

  /** GOAWAY: no new streams; open ones finish, then the session reports 'closed'. */
  goaway (status: GoawayStatusCode = GoawayStatus.OK): void {
    if (this.goawaySent || this.closedFlag) return
    this.goawaySent = true
    this.queueControl({ type: 'GOAWAY', lastGoodStreamId: this.lastPeerStreamId, status })
    this.maybeClosed()
  }

  /** Ends the session now; pending outbound control frames may still be flushed. */
  close (reason = 'closed'): void {
    if (this.closedFlag) return
    this.closedFlag = true
    for (const s of this.streams.values()) this.finish(s, RstStatus.CANCEL, false)
    this.events.push({ type: 'closed', reason })
  }

  // ---- output ----

  /**
   * Frames to write, control frames first, then DATA by priority (0 first), round-robin within a priority, within
   * flow-control windows. `maxBytes` bounds the DATA taken (control frames always go).
   */
  takeOutbound (maxBytes = Infinity): Uint8Array[] {
    // Nothing queued (a read that completed no frame, a flush with no answer ready yet): no array to make (issue 14:
    // a client writing each frame in pieces has the server flush after every piece).
    if (this.control.length === 0 && !this.anyReady()) return NOTHING_OUT
    const out = this.control.splice(0)
    this.openingFrames = -1
    this.controlBytes = 0
    this.answersTaken += this.controlAnswers
    this.controlAnswers = 0
    let budget = maxBytes
    for (let p = 0; p < 8 && budget > 0; p++) {
      const queue = this.ready[p]
      while (queue.size > 0 && budget > 0) {
        let progressed = false
        // Round-robin in queue order; nothing joins the queue during the pass, members may leave (finished).
        const end = queue.end
        for (let i = 0; i < end; i++) {
          const s = queue.at(i)
          if (s === undefined) continue
          const n = this.takeFrame(s, budget, out)
          if (n < 0) { queue.delete(s); continue }
          progressed = true
          budget -= n
          if (budget <= 0) break
        }
        if (!progressed) break
      }
    }
    // A control frame queued while taking DATA (the auto-mode probe PING) goes behind that DATA, in this batch.
    if (this.control.length > 0) {
      for (const b of this.control) out.push(b)
      this.control.length = 0
      this.controlBytes = 0
      this.answersTaken += this.controlAnswers
      this.controlAnswers = 0
    }
    for (let i = 0; i < out.length; i++) this.handedOut += out[i].length
    return out
  }

  /**
   * The driver reports how many bytes its transport (the socket) holds that it has not yet written: after writing
   * what takeOutbound() returned, and before handing in what the peer sent. Answers handed out that sit within that
   * backlog are still unread by the peer and keep counting against maxQueuedControlFrames, so a peer that keeps
   * sending PINGs (or anything else we must answer) without reading is sent GOAWAY after that many answers behind
   * its unread output, however the driver batches writes; nghttp2 counts its outbound queue the same way
   * (CVE-2019-9512, CVE-2019-9515). Answers the transport has written no longer count, so a peer that reads slowly
   * (a long download on a slow link) is never cut by the answers it got long ago. Bytes the transport adds (TLS
   * record overhead) only make the count cautious: they are taken for ours. A driver that never reports leaves
   * the budget to what waits in the session, as before.
   */
  transportBacklog (unwrittenBytes: number): void {
    const ends = this.batchEnds
    if (this.answersTaken > 0) {
      ends.push(this.handedOut)
      this.batchCounts.push(this.answersTaken)
      this.answersUnwritten += this.answersTaken
      this.answersTaken = 0
    }
    let i = this.batchHead
    // Nothing handed out waits to be written (the usual case: a read that completed no frame, a flush of DATA only).
    if (i === ends.length) return
    const written = this.handedOut - Math.max(0, unwrittenBytes)
    while (i < ends.length && ends[i] <= written) this.answersUnwritten -= this.batchCounts[i++]
    if (i === ends.length) {
      ends.length = 0
      this.batchCounts.length = 0
      this.batchHead = 0
    } else if (i >= 64 && 2 * i >= ends.length) {
      // Drop the written half at once: each batch is moved at most once per halving, so reports stay O(1) amortised.
      ends.splice(0, i)
      this.batchCounts.splice(0, i)
      this.batchHead = 0
    } else {
      this.batchHead = i
    }
    // No verdict here (this is no receive: nobody would take the events): the next answer checks the budget.
  }

  private anyReady (): boolean {
    for (let p = 0; p < 8; p++) if (this.ready[p].size > 0) return true
    return false
  }

  /** One DATA frame of stream s into out; returns bytes taken, or -1 when s has nothing sendable now. */
  private takeFrame (s: Stream, budget: number, out: Uint8Array[]): number {
    let allowed = Math.min(DATA_FRAME_BYTES, budget, s.queuedBytes)
    if (this.version !== 2) allowed = Math.min(allowed, s.sendWindow)
    if (this.sessionFlow !== 'off') {
      if (this.sessionSendWindow <= 0 && s.queuedBytes > 0) this.probeSessionWindow()
      allowed = Math.min(allowed, this.sessionSendWindow)
    }
    const finNow = s.finQueued && allowed >= s.queuedBytes
    if (allowed <= 0 && !(finNow && s.queuedBytes === 0)) {
      // Held back by a window: tick() stamps when (takeOutbound is not handed the time; deadline asks for a tick now).
      if (s.stallAt === null && this.windowBlocked(s)) { s.stallAt = UNSTAMPED; this.stalls++ }
      return -1
    }
    if (s.stallAt !== null) this.clearStall(s)
    let payload: Uint8Array
    const q = s.queue
    let h = s.queueHead
    if (allowed === 0) payload = EMPTY
    else if (q[h].length === allowed) { payload = q[h]; q[h++] = EMPTY }
    else if (q[h].length > allowed) {
      payload = q[h].subarray(0, allowed)
      q[h] = q[h].subarray(allowed)
    } else {
      // Coalesce small writes into one frame (one copy of at most a frame's worth).
      const buf = Buffer.allocUnsafe(allowed)
      let o = 0
      while (o < allowed) {
        const head = q[h]
        const n = Math.min(head.length, allowed - o)
        buf.set(n === head.length ? head : head.subarray(0, n), o)
        // A taken slot lets go of its chunk at once; the slots themselves go below.
        if (n === head.length) q[h++] = EMPTY
        else q[h] = head.subarray(n)
        o += n
      }
      payload = buf
    }
    s.queueHead = compactHead(q, h)
    s.queuedBytes -= allowed
    this.dataBytes -= allowed
    if (this.version !== 2) s.sendWindow -= allowed
    if (this.version === 3.1) this.sessionSendWindow -= allowed
    this.dataSentInWindow++
    out.push(this.encoder.encodeDataHeader(s.id, finNow, allowed))
    if (allowed > 0) out.push(payload)
    if (s.needDrain && s.queuedBytes < this.limits.streamHighWaterMark && this.queuedCost < this.limits.maxSessionBufferedBytes) {
      s.needDrain = false
      this.events.push({ type: 'drain', streamId: s.id })
    }
    if (finNow) {
      s.finQueued = false
      this.ready[s.priority].delete(s)
      this.step(s, 'send_fin')
      // Queued while taking DATA, the RST goes behind this FIN (takeOutbound).
      if (s.cancelAtFin) this.reset(s.id, RstStatus.CANCEL)
    }
    return Math.max(allowed, 1)
  }

  // ---- internals ----

  private open (id: number, priority: number, local: boolean, state: StreamState): Stream {
    const s: Stream = {
      id,
      state,
      // 2 bits in v2, 3 in v3 (section 2.6.1 of each): a value past the range would wrap to a high priority on the wire.
      priority: Math.min(this.lowestPriority, Math.max(0, priority)),
      sendWindow: this.peerInitialWindow,
      recvWindow: this.limits.initialWindowSize,
      unacked: 0,
      queue: [],
      queueHead: 0,
      queuedBytes: 0,
      finQueued: false,
      cancelAtFin: false,
      needDrain: false,
      queueSlot: -1,
      local,
      undelivered: false,
      headerBytes: 0,
      headersFrames: 0,
      stallAt: null,
      lastRecvAt: this.now
    }
    this.streams.set(id, s)
    if (local) this.localOpen++
    else this.peerOpen++
    return s
  }

  /** Applies the table; on a protocol answer, resets the stream and returns false. */
  private step (s: Stream, input: StreamInput): boolean {
    const t = transition(s.state, input)
    if ('next' in t) {
      s.state = t.next
      if (t.next === 'closed') this.finish(s, 0, false, true)
      return true
    }
    if ('ignore' in t) return false
    if (input.startsWith('send_')) return false // our own misuse: refuse the command, do not punish the peer
    this.streamError(s.id, t.rst, t.why)
    return false
  }

  private lookup (streamId: number, input: StreamInput): Stream | null {
    const s = this.streams.get(streamId)
    if (s !== undefined) return s
    if (this.recentlyReset.has(streamId)) return null
    if (this.recentlyClosed.has(streamId)) {
      const t = transition('closed', input)
      if ('rst' in t) this.streamError(streamId, t.rst, t.why)
      return null
    }
    this.streamError(streamId, RstStatus.INVALID_STREAM, `frame for stream ${streamId}, which is not open`)
    return null
  }

  /** Removes a stream. status 0 with `clean` = both sides finished normally. */
  private finish (s: Stream, status: number, byPeer: boolean, clean = false): void {
    if (!this.streams.delete(s.id)) return
    this.bodyFull?.delete(s.id)
    s.state = 'closed'
    if (s.local) this.localOpen--
    else this.peerOpen--
    this.dataBytes -= s.queuedBytes
    s.queue.length = 0
    s.queueHead = 0
    s.queuedBytes = 0
    this.ready[s.priority].delete(s)
    this.recentlyClosed.add(s.id)
    if (s.undelivered && !clean) this.cancelledUndelivered.push(s.id)
    this.clearStall(s)
    if (s.headerBytes > 0) {
      this.headerBytesHeld -= s.headerBytes
      this.shared?.releaseHeaders(s.headerBytes)
      s.headerBytes = 0
    }
    if (!clean) this.events.push({ type: 'streamReset', streamId: s.id, status, byPeer })
    this.maybeClosed()
  }

  private streamError (streamId: number, status: RstStatusCode, message: string): void {
    if (streamId === 0) return this.sessionError(GoawayStatus.PROTOCOL_ERROR, message)
    // SPDY/2 stops at FLOW_CONTROL_ERROR (7): answer what it can understand.
    const wireStatus = this.version === 2 && status > 7 ? RstStatus.PROTOCOL_ERROR : status
    this.events.push({ type: 'protocolError', answer: 'RST_STREAM', streamId, status: wireStatus, message: `${rstStatusName(wireStatus)}: ${message}` })
    const s = this.streams.get(streamId)
    this.queueAnswer({ type: 'RST_STREAM', streamId, status: wireStatus })
    this.recentlyReset.add(streamId)
    if (s !== undefined) {
      this.noteLateData(streamId, this.inFlightAtReset(s))
      this.finish(s, wireStatus, false)
    }
    if (++this.invalidFrames > this.limits.maxInvalidFrames) {
      this.sessionError(GoawayStatus.PROTOCOL_ERROR, `more than ${this.limits.maxInvalidFrames} invalid frames`)
    }
  }

  private sessionError (status: GoawayStatusCode, message: string): void {
    if (this.closedFlag) return
    this.events.push({ type: 'protocolError', answer: 'GOAWAY', streamId: 0, status, message })
    if (!this.goawaySent) {
      this.goawaySent = true
      this.queueControl({ type: 'GOAWAY', lastGoodStreamId: this.lastPeerStreamId, status })
    }
    this.close(message)
  }

  private maybeClosed (): void {
    if (!this.closedFlag && (this.goawaySent || this.goawayReceived) && this.streams.size === 0) {
      this.close(this.goawaySent ? 'drained after GOAWAY' : 'peer sent GOAWAY')
    }
  }

  private queueControl (f: Frame): void {
    const b = this.encoder.encode(f)
    this.control.push(b)
    this.controlBytes += b.length
  }

  /**
   * A control frame the peer's frames called for. Past maxQueuedControlFrames of them waiting to be taken, the
   * peer is sending without reading: GOAWAY and close, as nghttp2 does past its max_outbound_ack (CVE-2019-9512,
   * CVE-2019-9515). Whatever the driver does, this bounds what one session queues.
   */
  private queueAnswer (f: Frame): void {
    if (this.closedFlag) return
    this.queueControl(f)
    if (++this.controlAnswers + this.answersUnwritten > this.limits.maxQueuedControlFrames) {
      this.sessionError(GoawayStatus.PROTOCOL_ERROR, `more than ${this.limits.maxQueuedControlFrames} control frames queued or unwritten for a peer that is not reading them (flood)`)
    }
  }

  private rollRateWindow (now: number): void {
    if (now - this.rateWindowStart >= RATE_WINDOW_MS) {
      this.rateWindowStart = now
      this.settingsInWindow = 0
      this.resetsInWindow = 0
      this.droppedHeadersInWindow = 0
      this.worklessInWindow = 0
      this.dataSentInWindow = 0
      this.headerRefusalsInWindow = 0
      this.inflatedAtWindowStart = this.decoder.inflatedBytes
    }
  }
}

const EMPTY = new Uint8Array(0)
const EMPTY_EVENTS: SessionEvent[] = []
/** takeOutbound()'s answer when nothing is queued; frozen, so a caller that would add to it fails loudly. */
const NOTHING_OUT: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[]

/** A header list's decoded block size (SPDY/3 section 2.6.10): a count, then each name and value with its length. */
function headerBlockBytes (headers: HeaderList, lengthBytes: 2 | 4): number {
  let n = lengthBytes
  for (let i = 0; i < headers.length; i++) n += 2 * lengthBytes + headers[i][0].length + headers[i][1].length
  return n
}

/** Frames that cost a decode and move nothing forward (maxWorklessFramesPerWindow). */
function isWorkless (f: Frame): boolean {
  switch (f.type) {
    case 'WINDOW_UPDATE': case 'PING': case 'SETTINGS': case 'NOOP': case 'CREDENTIAL': case 'UNKNOWN': return true
    case 'DATA': return f.data.length === 0 && !f.fin
    default: return false
  }
}

function minOf (a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b)
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  const out: Partial<T> = {}
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] !== undefined) out[k] = o[k]
  return out
}
