/**
 * Header blocks inflated per session per 10 s are budgeted (maxInflatedHeaderBytesPerWindow), every block counted:
 * HEADERS on an open stream, on streams we reset (dropped unanswered, SPDY/3 section 2.4.2) and on streams the
 * peer closed. A flood gets GOAWAY; the same bytes spread over time do not.
 */
import t from 'tap'
import { SpdySession, type SessionEvent } from '../../lib/session'
import { FrameDecoder, FrameEncoder, type Frame, type HeaderList } from '../../lib/codec'
import { requestHeaderList } from '../../lib/session/headers'

const V = 3
const req = requestHeaderList(V, { method: 'POST', path: '/', authority: 'x' })
/** ~60 KB inflated, a few hundred bytes on the wire: what a compression bomb inside the block limit looks like. */
const big: HeaderList = [['x-pad', 'a'.repeat(60_000)]]
const BUDGET = 1 << 20

function setup (): { s: SpdySession, p: FrameEncoder, send: (f: Frame, now?: number) => SessionEvent[], out: () => Frame[] } {
  // The frame cap per stream (maxHeadersFramesPerStream, last test) is lifted: these cases are about the bytes.
  const s = new SpdySession({ role: 'server', version: V, maxInflatedHeaderBytesPerWindow: BUDGET, maxHeadersFramesPerStream: 1e6 }, 0)
  const p = new FrameEncoder({ version: 3 })
  const d = new FrameDecoder({ version: 3 })
  const out = (): Frame[] => {
    const fs: Frame[] = []
    for (const c of s.takeOutbound()) for (const e of d.push(c)) if (e.type !== 'STREAM_ERROR' && e.type !== 'SESSION_ERROR') fs.push(e)
    return fs
  }
  out()
  return { s, p, send: (f, now = 0) => s.receive(p.encode(f), now), out }
}
const syn = (id: number): Frame => ({ type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: req })
const headers = (id: number): Frame => ({ type: 'HEADERS', streamId: id, fin: false, headers: big })
const closed = (evs: SessionEvent[]): boolean => evs.some((e) => e.type === 'closed')

/** Sends HEADERS until the session closes (at most 100); returns how many were sent. */
function flood (send: (f: Frame, now?: number) => SessionEvent[], id: number, now = (i: number) => 0): number {
  for (let i = 0; i < 100; i++) if (closed(send(headers(id), now(i)))) return i + 1
  return -1
}

t.test('HEADERS flood on an open stream: GOAWAY once the window\'s budget is inflated', async (t) => {
  const { s, send, out } = setup()
  send(syn(1))
  const n = flood(send, 1)
  t.equal(n, Math.floor(BUDGET / 60_000) + 1, `closed at block ${n} (~60 KB each, 1 MiB budget)`)
  t.same(out().at(-1), { type: 'GOAWAY', lastGoodStreamId: 1, status: 1 })
  t.ok(s.closed)
})

t.test('HEADERS on a stream we reset are inflated (zlib must stay in step) and now counted', async (t) => {
  const { s, send, out } = setup()
  send(syn(1))
  s.reset(1)
  out()
  const evs: SessionEvent[] = []
  let n = -1
  for (let i = 0; i < 100 && n < 0; i++) {
    const e = send(headers(1))
    evs.push(...e)
    if (closed(e)) n = i + 1
  }
  t.equal(n, 18, 'cut at the 18th dropped block')
  t.same(evs.filter((e) => e.type === 'headers'), [], 'none of them reached the app')
  t.equal(out().filter((f) => f.type === 'GOAWAY').length, 1)
})

t.test('HEADERS on streams the peer reset count too', async (t) => {
  const { send } = setup()
  send(syn(1))
  send({ type: 'RST_STREAM', streamId: 1, status: 5 })
  t.equal(flood(send, 1), 18)
})

t.test('the same header bytes spread over windows are fine', async (t) => {
  const { s, send } = setup()
  send(syn(1))
  t.equal(flood(send, 1, (i) => i * 1000), -1, '100 blocks of 60 KB at one a second: 10 per window')
  t.notOk(s.closed)
})

t.test('maxHeadersFramesPerStream: small HEADERS frames on one open stream get GOAWAY past the cap, whatever their bytes', async (t) => {
  const s = new SpdySession({ role: 'server', version: V, maxHeadersFramesPerStream: 4 }, 0)
  const p = new FrameEncoder({ version: 3 })
  const d = new FrameDecoder({ version: 3 })
  s.takeOutbound()
  s.receive(p.encode(syn(1)), 0)
  s.receive(p.encode(syn(3)), 0)
  const small = (id: number): Frame => ({ type: 'HEADERS', streamId: id, fin: false, headers: [['x-t', 'v']] })
  // Four on each stream are trailers enough: the session goes on.
  for (let i = 0; i < 4; i++) {
    t.notOk(closed(s.receive(p.encode(small(1)), 0)))
    t.notOk(closed(s.receive(p.encode(small(3)), 0)))
  }
  const evs = s.receive(p.encode(small(1)), 0)
  t.ok(closed(evs), 'the fifth on stream 1 ends the session')
  const frames: Frame[] = []
  for (const c of s.takeOutbound()) for (const e of d.push(c)) if (e.type !== 'STREAM_ERROR' && e.type !== 'SESSION_ERROR') frames.push(e)
  t.same(frames.find((f) => f.type === 'GOAWAY'), { type: 'GOAWAY', lastGoodStreamId: 3, status: 1 }, 'GOAWAY PROTOCOL_ERROR')
})

t.test('maxHeadersFramesPerStream: HEADERS kept coming for a stream we reset for the peer\'s error get GOAWAY past the cap per 10 s', async (t) => {
  const s = new SpdySession({ role: 'server', version: V, maxHeadersFramesPerStream: 4 }, 0)
  const p = new FrameEncoder({ version: 3 })
  s.takeOutbound()
  s.receive(p.encode(syn(1)), 0)
  s.refuse(1, 1, 'a bad request head') // the layer above refused it: RST_STREAM PROTOCOL_ERROR
  const small: Frame = { type: 'HEADERS', streamId: 1, fin: false, headers: [['x-t', 'v']] }
  for (let i = 0; i < 4; i++) t.notOk(closed(s.receive(p.encode(small), 1000)), `dropped HEADERS ${i + 1} of 4`)
  // A new window starts the count again: four more are still in-flight stragglers as far as we can tell.
  for (let i = 0; i < 4; i++) t.notOk(closed(s.receive(p.encode(small), 11_000)))
  t.ok(closed(s.receive(p.encode(small), 11_000)), 'the fifth in one window ends the session')
})

/** The GOAWAY frames the session queued, read back. */
function goaways (s: SpdySession): Frame[] {
  const d = new FrameDecoder({ version: 3 })
  return s.takeOutbound().flatMap((c) => d.push(c)).filter((f): f is Frame => f.type === 'GOAWAY')
}
const trailers = (id: number, fin: boolean): Frame => ({ type: 'HEADERS', streamId: id, fin, headers: [['x-checksum', 'abc']] })

t.test('the app cancels 200 streams while the peer keeps sending their frames (SPDY/3 2.4.2): no GOAWAY', async (t) => {
  // Default limits: 16 HEADERS per 10 s on streams reset for an error, 1000 frames doing no work.
  const s = new SpdySession({ role: 'server', version: V }, 0)
  const p = new FrameEncoder({ version: 3 })
  s.takeOutbound()
  let dropped = 0
  for (let i = 0; i < 200; i++) {
    const id = 2 * i + 1
    s.receive(p.encode(syn(id)), 0)
    s.reset(id, 5) // the app gives up on the request (RST_STREAM CANCEL)
    // What the peer had sent before our RST_STREAM reached it: a body and its trailers, in two HEADERS frames.
    const evs = s.receive(Buffer.concat([trailers(id, false), { type: 'DATA', streamId: id, fin: false, data: new Uint8Array(100) } as Frame, trailers(id, true)].map((f) => p.encode(f))), 0)
    if (closed(evs)) break
    dropped += 2
  }
  t.equal(dropped, 400, '400 HEADERS frames on cancelled streams dropped')
  t.notOk(s.closed, 'the session is open')
  t.same(goaways(s), [], 'no GOAWAY')
  const evs = s.receive(p.encode(syn(401)), 0)
  t.ok(evs.some((e) => e.type === 'request' && e.streamId === 401), 'and a new request is served')
})

t.test('HEADERS on a stream the app cancelled cost the workless budget: a flood on one still ends in GOAWAY', async (t) => {
  const s = new SpdySession({ role: 'server', version: V, maxWorklessFramesPerWindow: 10 }, 0)
  const p = new FrameEncoder({ version: 3 })
  s.takeOutbound()
  s.receive(p.encode(syn(1)), 0)
  s.reset(1, 5)
  for (let i = 0; i < 10; i++) t.notOk(closed(s.receive(p.encode(trailers(1, false)), 0)), `dropped HEADERS ${i + 1} of 10`)
  t.ok(closed(s.receive(p.encode(trailers(1, false)), 0)), 'the 11th ends the session')
  t.same(goaways(s), [{ type: 'GOAWAY', lastGoodStreamId: 1, status: 1 }], 'GOAWAY PROTOCOL_ERROR')
})

t.test('a peer sending HEADERS on streams it reset itself still meets its limit (maxInvalidFrames)', async (t) => {
  const s = new SpdySession({ role: 'server', version: V }, 0)
  const p = new FrameEncoder({ version: 3 })
  s.takeOutbound()
  let n = -1
  for (let i = 0; i < 150 && n < 0; i++) {
    const id = 2 * i + 1
    s.receive(Buffer.concat([syn(id), { type: 'RST_STREAM', streamId: id, status: 5 } as Frame].map((f) => p.encode(f))), 0)
    if (closed(s.receive(p.encode(trailers(id, true)), 0))) n = i + 1
  }
  t.equal(n, 101, 'GOAWAY at the 101st stream: each HEADERS on a stream it had reset is an invalid frame (maxInvalidFrames 100)')
  t.equal(goaways(s).length, 1)
})
