/**
 * Control frames the peer's frames make us queue (PING replies, RST_STREAMs, WINDOW_UPDATEs) count against the
 * session's outbound budget: `wantRead` goes false while they wait unread, past maxQueuedControlFrames the session
 * sends GOAWAY and closes, and their memory counts in maxSessionBufferedBytes for write() backpressure.
 */
import t from 'tap'
import { SpdySession, type SessionEvent } from '../../lib/session'
import { FrameDecoder, FrameEncoder, type Frame } from '../../lib/codec'
import { requestHeaderList, responseHeaderList } from '../../lib/session/headers'

const V = 3.1
const req = requestHeaderList(V, { method: 'GET', path: '/', authority: 'x' })
const peer = (): FrameEncoder => new FrameEncoder({ version: 3 })
const decode = (chunks: Uint8Array[]): Frame[] => {
  const d = new FrameDecoder({ version: 3 })
  const out: Frame[] = []
  for (const c of chunks) for (const e of d.push(c)) if (e.type !== 'STREAM_ERROR' && e.type !== 'SESSION_ERROR') out.push(e)
  return out
}
/** This file is about answers unread; the pings' decode cost has its own budget (test/session/workless-budget.test.ts). */
const LIFTED = 1e9
const closedIn = (evs: SessionEvent[]): boolean => evs.some((e) => e.type === 'closed')

t.test('a ping flood from a peer that never reads: wantRead false at a quarter of the cap, GOAWAY past it', async (t) => {
  const s = new SpdySession({ role: 'server', version: V, maxQueuedControlFrames: 100 }, 0)
  const p = peer()
  s.takeOutbound()
  let pausedAt = -1
  let closedAt = -1
  for (let i = 0; i < 1000 && closedAt < 0; i++) {
    if (closedIn(s.receive(p.encode({ type: 'PING', id: 2 * i + 1 }), i))) closedAt = i
    if (pausedAt < 0 && !s.wantRead) pausedAt = i
  }
  t.equal(pausedAt, 24, 'reading pauses once 25 replies wait unread')
  t.equal(closedAt, 100, 'the 101st unread reply ends the session')
  const frames = decode(s.takeOutbound())
  t.equal(frames.filter((f) => f.type === 'PING').length, 101, 'the 101 replies queued are all that was held')
  t.same(frames.at(-1), { type: 'GOAWAY', lastGoodStreamId: 0, status: 1 }, 'GOAWAY PROTOCOL_ERROR')
  t.equal(s.bufferedBytes, 0)
})

t.test('a peer that reads its replies is never paused nor cut, however many pings it sends', async (t) => {
  const s = new SpdySession({ role: 'server', version: V, maxQueuedControlFrames: 100, maxWorklessFramesPerWindow: LIFTED }, 0)
  const p = peer()
  s.takeOutbound()
  let echoed = 0
  let closed = false
  for (let i = 0; i < 5000; i++) {
    closed = closed || closedIn(s.receive(p.encode({ type: 'PING', id: 2 * i + 1 }), i))
    if (i % 20 === 19) {
      t.ok(s.wantRead, '20 unread replies, under a quarter of the cap: still reading')
      echoed += decode(s.takeOutbound()).length
      t.ok(s.wantRead, 'reading resumes once the replies are taken')
    }
  }
  t.notOk(closed)
  t.equal(echoed, 5000)
})

t.test('RST_STREAM answers count: DATA for streams that are not open, sent without reading', async (t) => {
  const s = new SpdySession({ role: 'server', version: V, maxQueuedControlFrames: 50, maxInvalidFrames: 1e6 }, 0)
  const p = peer()
  s.takeOutbound()
  let closedAt = -1
  for (let i = 0; i < 200 && closedAt < 0; i++) {
    if (closedIn(s.receive(p.encode({ type: 'DATA', streamId: 2 * i + 101, fin: false, data: Buffer.from('x') }), 0))) closedAt = i
  }
  t.equal(closedAt, 50, 'closed at the 51st unread RST_STREAM')
  const frames = decode(s.takeOutbound())
  t.equal(frames.filter((f) => f.type === 'RST_STREAM').length, 51)
  t.equal(frames.at(-1)?.type, 'GOAWAY')
})

t.test('WINDOW_UPDATE answers count: a peer uploading while never reading our re-grants', async (t) => {
  const s = new SpdySession({ role: 'server', version: 3, maxQueuedControlFrames: 20, initialWindowSize: 1024 }, 0)
  const p = peer()
  s.takeOutbound()
  s.receive(p.encode({ type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: req }), 0)
  let closed = false
  let n = 0
  for (; n < 100 && !closed; n++) {
    closed = closedIn(s.receive(p.encode({ type: 'DATA', streamId: 1, fin: false, data: Buffer.alloc(512) }), 0))
    s.consume(1, 512) // the app reads: one WINDOW_UPDATE per half window
    closed = closed || closedIn(s.takeEvents())
  }
  t.ok(closed, 'closed')
  t.equal(n, 21, 'after 21 unread WINDOW_UPDATEs')
  t.equal(decode(s.takeOutbound()).filter((f) => f.type === 'WINDOW_UPDATE').length, 21)
})

t.test('queued control frames count in maxSessionBufferedBytes: write() reports backpressure, drain follows', async (t) => {
  const s = new SpdySession({ role: 'server', version: V, maxSessionBufferedBytes: 16384, maxQueuedControlFrames: 1000 }, 0)
  const p = peer()
  s.takeOutbound()
  s.receive(p.encode({ type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, fin: true, unidirectional: false, headers: req }), 0)
  s.respond(1, responseHeaderList(V, 200, {}))
  s.takeOutbound()
  t.ok(s.write(1, Buffer.alloc(100)), 'room at first')
  // 120 unread replies: 1,440 bytes on the wire, ~17 KB in memory.
  for (let i = 0; i < 120; i++) s.receive(p.encode({ type: 'PING', id: 2 * i + 1 }), 0)
  t.ok(s.bufferedBytes < 2000, `${s.bufferedBytes} bytes queued`)
  t.notOk(s.write(1, Buffer.alloc(100)), 'the replies\' memory fills the budget: write() asks to wait')
  t.notOk(s.wantRead, 'and reading pauses')
  s.takeOutbound()
  t.ok(s.takeEvents().some((e) => e.type === 'drain' && e.streamId === 1), 'drain once taken')
  t.ok(s.wantRead)
})

t.test('our own frames (SYN_REPLYs of many streams) are not answers: no flood verdict', async (t) => {
  const s = new SpdySession({ role: 'server', version: V, maxQueuedControlFrames: 16, maxConcurrentStreams: 100 }, 0)
  const p = peer()
  s.takeOutbound()
  for (let id = 1; id < 200; id += 2) s.receive(p.encode({ type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin: true, unidirectional: false, headers: req }), 0)
  for (let id = 1; id < 200; id += 2) s.respond(id, responseHeaderList(V, 200, {}), true)
  t.notOk(s.closed)
  t.ok(s.wantRead)
  t.equal(decode(s.takeOutbound()).filter((f) => f.type === 'SYN_REPLY').length, 100)
})

/** Bytes of `chunks`. */
const size = (chunks: Uint8Array[]): number => chunks.reduce((n, c) => n + c.length, 0)

t.test('answers the transport has not written still count: a driver that writes every reply into a socket the peer never reads', async (t) => {
  // The driver takes the replies after every read (so the session's own queue never holds more than 10) and writes
  // them into a socket that writes nothing: it reports the whole output as unwritten.
  const s = new SpdySession({ role: 'server', version: V, maxQueuedControlFrames: 100 }, 0)
  const p = peer()
  let unwritten = size(s.takeOutbound())
  s.transportBacklog(unwritten)
  let answered = 0
  let closedAt = -1
  for (let read = 0; read < 100 && closedAt < 0; read++) {
    s.transportBacklog(unwritten)
    const pings = Buffer.concat(Array.from({ length: 10 }, (_, i) => p.encode({ type: 'PING', id: 2 * (read * 10 + i) + 1 })))
    if (closedIn(s.receive(pings, read))) closedAt = read
    const out = s.takeOutbound()
    answered += decode(out).filter((f) => f.type === 'PING').length
    unwritten += size(out)
    s.transportBacklog(unwritten)
  }
  t.equal(closedAt, 10, 'the read that brings the 101st reply behind the unwritten ones ends the session')
  t.equal(answered, 101, '101 replies handed out in all, the last batch with the GOAWAY')
})

t.test('answers the transport wrote stop counting, also behind DATA it writes slowly', async (t) => {
  const s = new SpdySession({ role: 'server', version: V, maxQueuedControlFrames: 100, maxWorklessFramesPerWindow: LIFTED }, 0)
  const p = peer()
  s.takeOutbound()
  s.receive(p.encode({ type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, fin: true, unidirectional: false, headers: req }), 0)
  s.respond(1, responseHeaderList(V, 200, {}))
  // A slow reader downloading: the socket always holds some of our output, and the peer pings now and then.
  let handed = size(s.takeOutbound())
  let written = handed
  let closed = false
  for (let i = 0; i < 2000 && !closed; i++) {
    s.write(1, Buffer.alloc(1000))
    s.transportBacklog(handed - written)
    // It reads, so it re-opens the windows for what it got (SPDY/3.1 sections 2.6.8, 2.6.9).
    const grants = [p.encode({ type: 'WINDOW_UPDATE', streamId: 1, deltaWindowSize: 1000 }), p.encode({ type: 'WINDOW_UPDATE', streamId: 0, deltaWindowSize: 1000 })]
    closed = closedIn(s.receive(Buffer.concat([...grants, p.encode({ type: 'PING', id: 2 * i + 1 })]), i))
    handed += size(s.takeOutbound())
    // The socket writes all but the last 3,000 bytes: the latest replies are unwritten, the older ones went out.
    written = Math.max(written, handed - 3000)
    s.transportBacklog(handed - written)
  }
  t.notOk(closed, '2,000 pings answered while the socket never emptied: no flood verdict')
  t.notOk(s.closed)
  // The same reader stops reading: what it does not take keeps counting, and the cap ends the session.
  let i = 2000
  for (; i < 4000 && !closed; i++) {
    s.transportBacklog(handed - written)
    closed = closedIn(s.receive(p.encode({ type: 'PING', id: 2 * i + 1 }), i))
    handed += size(s.takeOutbound())
    s.transportBacklog(handed - written)
  }
  t.ok(closed, 'closed once it stopped reading')
  // 1 to 3 replies still within the last 3,000 unwritten bytes when it stopped, then 100 more.
  t.ok(i - 2000 >= 98 && i - 2000 <= 101, `after ${i - 2000} unread replies (cap 100)`)
})
