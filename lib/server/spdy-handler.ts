/**
 * SPDY session <-> Fastify: turns session events into dispatched requests and response calls into session
 * commands, and moves bytes between the session and the transport with backpressure both ways.
 *
 * Flushing is coalesced: responses from many streams call into the session one by one; one flush per tick
 * (process.nextTick) writes what they queued, in priority order, as one burst of socket writes.
 */
import { EventEmitter } from 'node:events'
import type { Connection, Transport } from './connection'
import type { SpdyVersion } from '../codec/types'
import type { Handler } from './protocol'
import { SpdySession, type SessionEvent } from '../session/session'
import { requestHead, responseHeaderList, type OutgoingHeaders } from '../session/headers'
import { dispatch } from './dispatch'
import type { StreamSink } from './stream-sink'
import type { SpdyIncomingMessage } from './request'
import type { SpdyServerResponse } from './response'
import { RstStatus } from '../errors'

/** DATA bytes taken from the session per flush while the socket keeps up: bounds what sits in socket buffers. */
const FLUSH_BYTES = 256 * 1024

interface StreamEntry {
  req: SpdyIncomingMessage
  res: SpdyServerResponse
  drain: (() => void) | null
}

class Sink implements StreamSink {
  constructor (private readonly h: SpdyHandler, private readonly id: number) {}
  respond (status: number, headers: OutgoingHeaders, fin: boolean): void {
    this.h.session.respond(this.id, responseHeaderList(this.h.version, status, headers), fin)
    this.h.scheduleFlush()
  }

  write (chunk: Uint8Array): boolean {
    const ok = this.h.session.write(this.id, chunk)
    this.h.scheduleFlush()
    return ok
  }

  end (): void {
    this.h.session.end(this.id)
    this.h.scheduleFlush()
  }

  reset (status: 'CANCEL' | 'INTERNAL_ERROR'): void {
    this.h.session.reset(this.id, RstStatus[status])
    this.h.scheduleFlush()
  }

  onDrain (cb: () => void): void {
    const s = this.h.streams.get(this.id)
    if (s !== undefined) s.drain = cb
    else cb()
  }
}

export class SpdyHandler implements Handler {
  readonly session: SpdySession
  readonly streams = new Map<number, StreamEntry>()
  /** What `req.socket` is for every request of this session. */
  private readonly socketInfo: EventEmitter & Record<string, unknown>
  private flushScheduled = false
  private waitingWritable = false
  private ended = false
  streamsServed = 0
  rttMs: number | null = null

  constructor (private readonly conn: Connection, private readonly transport: Transport, readonly version: SpdyVersion, encrypted: boolean) {
    const o = conn.listener.options
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
      idleTimeout: o.idleTimeout
    }, Date.now())
    const s = conn.socket
    this.socketInfo = Object.assign(new EventEmitter(), {
      remoteAddress: s.remoteAddress,
      remotePort: s.remotePort,
      remoteFamily: s.remoteFamily,
      localAddress: s.localAddress,
      localPort: s.localPort,
      encrypted,
      destroyed: false
    }) as unknown as EventEmitter & Record<string, unknown>
    conn.listener.fastify.log.debug({ remoteAddress: conn.remoteAddress, version }, 'fastify-spdy: session open')
    this.flush()
  }

  get openStreams (): number { return this.streams.size }

  receive (chunk: Uint8Array): void {
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
    this.socketInfo.destroyed = true
    for (const [, s] of this.streams) {
      s.req.abort()
      s.res.peerReset()
    }
    this.streams.clear()
    this.session.close('connection closed')
    this.socketInfo.emit('close')
    this.conn.listener.fastify.log.debug({ remoteAddress: this.conn.remoteAddress, served: this.streamsServed }, 'fastify-spdy: session closed')
  }

  shutdown (): void {
    this.session.goaway()
    this.handle(this.session.takeEvents())
    this.flush()
  }

  private handle (events: SessionEvent[]): void {
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]
      switch (ev.type) {
        case 'request': this.onRequest(ev); break
        case 'data': {
          const s = this.streams.get(ev.streamId)
          if (s !== undefined) {
            if (ev.data.length > 0) s.req.pushData(ev.data)
            if (ev.fin) s.req.pushEnd()
          }
          break
        }
        case 'headers':
          if (ev.fin) this.streams.get(ev.streamId)?.req.pushEnd()
          break
        case 'streamReset': {
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
          const s = this.streams.get(ev.streamId)
          const cb = s?.drain
          if (s !== undefined && cb != null) { s.drain = null; cb() }
          break
        }
        case 'pingAck': this.rttMs = ev.rtt; break
        case 'protocolError':
          this.conn.listener.fastify.log.warn({ remoteAddress: this.conn.remoteAddress, answer: ev.answer, streamId: ev.streamId, status: ev.status }, `fastify-spdy: protocol error: ${ev.message}`)
          break
        case 'closed':
          this.ended = true
          break
        default: break
      }
    }
  }

  private onRequest (ev: Extract<SessionEvent, { type: 'request' }>): void {
    const streamId = ev.streamId
    const head = requestHead(this.version, ev.headers)
    if (typeof head === 'string') {
      this.conn.listener.fastify.log.warn({ remoteAddress: this.conn.remoteAddress, streamId }, `fastify-spdy: malformed request: ${head}`)
      this.session.reset(streamId, RstStatus.PROTOCOL_ERROR)
      return
    }
    this.streamsServed++
    const sink = new Sink(this, streamId)
    const { req, res } = dispatch(this.conn.listener.fastify, head, { version: this.version, streamId, priority: ev.priority }, !ev.fin, this.socketInfo, sink)
    const entry: StreamEntry = { req, res, drain: null }
    this.streams.set(streamId, entry)
    req.onConsumed = (n: number) => { this.session.consume(streamId, n); this.scheduleFlush() }
    res.once('close', () => {
      if (this.streams.get(streamId) === entry) this.streams.delete(streamId)
      if (this.ended && this.streams.size === 0) this.scheduleFlush()
    })
  }

  scheduleFlush (): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    process.nextTick(() => { this.flushScheduled = false; this.flush() })
  }

  private flush (): void {
    if (this.transport.congested) {
      if (!this.waitingWritable) {
        this.waitingWritable = true
        this.transport.onWritable(() => { this.waitingWritable = false; this.flush() })
      }
      return
    }
    const out = this.session.takeOutbound(FLUSH_BYTES)
    let sent = 0
    for (let i = 0; i < out.length; i++) sent += out[i].length
    if (out.length > 0) this.transport.sendMany(out)
    // Taking DATA can free queue room ('drain') and finish streams.
    this.handle(this.session.takeEvents())
    if (this.ended) {
      if (this.session.bufferedBytes === 0) this.transport.end()
      return
    }
    // A full budget means more may be sendable: go on next tick (other connections get their turn first). Data
    // held back by flow control waits for the peer's WINDOW_UPDATE, which arrives through receive().
    if (sent >= FLUSH_BYTES && !this.transport.congested) this.scheduleFlush()
    this.transport.schedule(this.session.deadline)
  }
}
