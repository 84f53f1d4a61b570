/**
 * DATA on streams we reset (SPDY/3 sections 2.2.2, 2.4.2, 2.6.8): what the peer had in flight when our RST_STREAM
 * left (at most the stream's window then) is ignored and its session window given back; DATA beyond that, or after
 * the peer's FIN, is for a stream the peer knows is not open: one RST_STREAM INVALID_STREAM per stream, each frame
 * counted against maxWorklessFramesPerWindow, its session window kept, so a flood on dead streams ends in GOAWAY.
 * Frames are made by our encoder and read back by our decoder: behaviour checks, not golden bytes.
 */
import t from 'tap'
import { SpdySession, type SessionEvent, type SessionOptions } from '../../lib/session'
import { FrameDecoder, FrameEncoder, type Frame } from '../../lib/codec'
import { requestHeaderList } from '../../lib/session/headers'
import type { SpdyVersion } from '../../lib/codec/types'

interface Peer { s: SpdySession, send: (...f: Frame[]) => SessionEvent[], out: () => Frame[] }

function peer (version: SpdyVersion, opts: Partial<SessionOptions> = {}): Peer {
  const s = new SpdySession({ role: 'server', version, ...opts }, 0)
  const wire = version === 2 ? 2 : 3
  const enc = new FrameEncoder({ version: wire })
  const dec = new FrameDecoder({ version: wire })
  s.takeOutbound()
  return {
    s,
    send: (...f) => s.receive(Buffer.concat(f.map((x) => enc.encode(x))), 1),
    out: () => s.takeOutbound().flatMap((c) => dec.push(c)).filter((e): e is Frame => e.type !== 'STREAM_ERROR' && e.type !== 'SESSION_ERROR')
  }
}

const post = (version: SpdyVersion, id: number): Frame => ({
  type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false,
  headers: requestHeaderList(version, { method: 'POST', path: '/up', authority: 'x' })
})
const data = (id: number, n: number, fin = false): Frame => ({ type: 'DATA', streamId: id, fin, data: new Uint8Array(n) })
const of = <T extends Frame['type']>(fs: Frame[], type: T): Array<Extract<Frame, { type: T }>> => fs.filter((f): f is Extract<Frame, { type: T }> => f.type === type)

for (const V of [3, 3.1] as const) {
  t.test(`spdy/${V}: after our cancel, the window's worth in flight is ignored; beyond it, one INVALID_STREAM, then GOAWAY`, async (t) => {
    const p = peer(V, { maxWorklessFramesPerWindow: 50 })
    p.send(post(V, 1), data(1, 10_000))
    p.s.reset(1)
    t.same(of(p.out(), 'RST_STREAM'), [{ type: 'RST_STREAM', streamId: 1, status: 5 }], 'CANCEL')
    // The rest of the 64 KiB window was in flight: the race of section 2.4.2, no fault of the peer's.
    const inFlight = 65_536 - 10_000
    const ev = p.send(...Array.from({ length: Math.floor(inFlight / 4096) }, () => data(1, 4096)), data(1, inFlight % 4096))
    t.same(ev.filter((e) => e.type === 'protocolError'), [], 'no error for what was in flight')
    t.same(of(p.out(), 'RST_STREAM'), [], 'no RST_STREAM')
    t.notOk(p.s.closed)

    const beyond = p.send(data(1, 1))
    t.match(beyond.find((e) => e.type === 'protocolError'), { answer: 'RST_STREAM', streamId: 1, status: 2, message: /beyond what was in flight/ })
    t.same(of(p.out(), 'RST_STREAM'), [{ type: 'RST_STREAM', streamId: 1, status: 2 }], 'one RST_STREAM INVALID_STREAM')
    let sent = 1
    while (!p.s.closed && sent < 1000) { p.send(data(1, 1024)); sent++ }
    t.ok(p.s.closed, `the session ended after ${sent} frames beyond the window`)
    t.ok(sent <= 52, 'within the workless budget (50) and the first frame')
    const last = p.out()
    t.same(of(last, 'RST_STREAM'), [], 'no RST_STREAM per frame (no reflection)')
    t.same(of(last, 'GOAWAY'), [{ type: 'GOAWAY', lastGoodStreamId: 1, status: 1 }], 'GOAWAY PROTOCOL_ERROR')
  })
}

t.test('spdy/2 (no flow control): an upload cancelled at speed keeps its session; a dead stream fed on meets GOAWAY by volume', async (t) => {
  const p = peer(2, { maxWorklessFramesPerWindow: 50 })
  p.send(post(2, 1), data(1, 10_000))
  p.s.reset(1)
  t.same(of(p.out(), 'RST_STREAM'), [{ type: 'RST_STREAM', streamId: 1, status: 5 }], 'CANCEL')
  // Draft 2 has no window: a client writing as fast as the link takes it has megabytes in flight when our
  // RST_STREAM reaches it. 3 MiB in 4 KiB frames: 768 frames, far past a per-frame budget of 50.
  const ev = p.send(...Array.from({ length: 768 }, () => data(1, 4096)))
  t.same(ev.filter((e) => e.type === 'protocolError'), [], 'no error for what was in flight')
  t.same(of(p.out(), 'RST_STREAM'), [], 'no INVALID_STREAM: these bytes are no fault of the peer\'s')
  t.notOk(p.s.closed, 'the session stays')
  // Charged one unit per 64 KiB window past the first: 47 of 50 used. Feeding on is cut within the budget.
  let beyond = 3 << 20
  while (!p.s.closed && beyond < 64 << 20) { p.send(data(1, 4096)); beyond += 4096 }
  t.ok(p.s.closed, `GOAWAY after ${beyond} bytes on the dead stream`)
  t.ok(beyond > 50 * 65_536 && beyond <= 52 * 65_536, 'after the budget\'s 50 windows (plus the first) of bytes, not before')
  const last = p.out()
  t.same(of(last, 'RST_STREAM'), [], 'no RST_STREAM per frame (no reflection)')
  // SPDY/2's GOAWAY has no status field.
  t.same(of(last, 'GOAWAY'), [{ type: 'GOAWAY', lastGoodStreamId: 1, status: 0 }], 'GOAWAY')
})

t.test('spdy/2: DATA after the peer\'s FIN on a stream we reset, or on one reset after that FIN, is beyond', async (t) => {
  const p = peer(2)
  p.send(post(2, 1))
  p.s.reset(1)
  p.out()
  t.same(p.send(data(1, 100_000), data(1, 100, true)).filter((e) => e.type === 'protocolError'), [], 'in flight, up to its FIN: fine')
  t.match(p.send(data(1, 100)).find((e) => e.type === 'protocolError'), { answer: 'RST_STREAM', status: 2 }, 'DATA after its FIN: INVALID_STREAM')
  p.send(post(2, 3), data(3, 10, true))
  p.s.reset(3)
  p.out()
  t.match(p.send(data(3, 100)).find((e) => e.type === 'protocolError'), { answer: 'RST_STREAM', status: 2 }, 'reset after the peer\'s FIN: nothing was in flight')
})

t.test('spdy/3.1: DATA after the peer\'s FIN on a stream we reset is beyond, whatever window was left', async (t) => {
  const p = peer(3.1)
  p.send(post(3.1, 1))
  p.s.reset(1)
  p.out()
  t.same(p.send(data(1, 100, true)).filter((e) => e.type === 'protocolError'), [], 'the last DATA with FIN, in flight: fine')
  t.match(p.send(data(1, 100)).find((e) => e.type === 'protocolError'), { answer: 'RST_STREAM', status: 2 }, 'DATA after its FIN: INVALID_STREAM')
})

t.test('spdy/3: the peer resets its stream, then floods DATA on it: one answer each kind, then GOAWAY', async (t) => {
  const p = peer(3, { maxWorklessFramesPerWindow: 20 })
  p.send(post(3, 1), { type: 'RST_STREAM', streamId: 1, status: 5 })
  p.out()
  let sent = 0
  while (!p.s.closed && sent < 1000) { p.send(data(1, 1000)); sent++ }
  t.ok(p.s.closed, `cut after ${sent} frames`)
  t.ok(sent <= 23, 'bounded by the workless budget')
  t.same(of(p.out(), 'RST_STREAM').map((f) => f.status), [9, 2], 'STREAM_ALREADY_CLOSED, then INVALID_STREAM once')
})

t.test('spdy/3.1: many cancelled uploads each with its window in flight never add up to a GOAWAY', async (t) => {
  const p = peer(3.1, { maxWorklessFramesPerWindow: 10 })
  for (let id = 1; id < 400; id += 2) {
    p.send(post(3.1, id))
    p.s.reset(id)
    p.send(...Array.from({ length: 16 }, () => data(id, 4096)))
  }
  t.notOk(p.s.closed, '200 cancels, 64 KiB in flight after each, in 16 frames: not cut')
  const out = p.out()
  t.same(of(out, 'RST_STREAM').filter((f) => f.status !== 5), [], 'nothing but our 200 CANCELs')
  // 12.8 MB went on dead streams, far past any session window: it was given back as it came.
  t.ok(of(out, 'WINDOW_UPDATE').filter((f) => f.streamId === 0).reduce((n, f) => n + f.deltaWindowSize, 0) >= 12_000_000, 'session window given back')
})

t.test('reset(..., afterFin): our queued FIN goes first, the CANCEL right behind it; a plain reset drops the queue', async (t) => {
  for (const afterFin of [true, false]) {
    const p = peer(3.1)
    p.send(post(3.1, 1))
    p.s.respond(1, [[':status', '202'], [':version', 'HTTP/1.1']])
    p.s.write(1, Buffer.from('early'), true)
    p.s.reset(1, 5, afterFin)
    const fs = p.out().filter((f) => f.type !== 'SETTINGS' && f.type !== 'WINDOW_UPDATE')
    t.same(fs.map((f) => f.type === 'DATA' ? `DATA${f.fin ? '+FIN' : ''}` : f.type),
      afterFin ? ['SYN_REPLY', 'DATA+FIN', 'RST_STREAM'] : ['SYN_REPLY', 'RST_STREAM'], `afterFin ${afterFin}`)
  }
})
