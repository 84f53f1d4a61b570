/**
 * Two budgets on frames that cost the server work and buy the peer nothing:
 * - maxWorklessFramesPerWindow: WINDOW_UPDATE, PING, SETTINGS, NOOP/unknown and empty DATA frames beyond a flat
 *   allowance plus 2 per DATA frame we sent end the session with GOAWAY PROTOCOL_ERROR; a download's own
 *   WINDOW_UPDATEs never do.
 * - maxHeaderRefusalsPerWindow: streams refused for header memory (a zlib bomb: 60 KB blocks in ~100 bytes) end the
 *   session after that many; a client whose heads fit the budget (big cookies included) is never refused nor cut.
 * Frames are made by our encoder and read back by our decoder: these are behaviour checks, not golden bytes.
 */
import t from 'tap'
import { SpdySession, SharedBudget, type SessionEvent, type SessionOptions } from '../../lib/session'
import { FrameDecoder, FrameEncoder, type Frame, type HeaderList } from '../../lib/codec'
import { requestHeaderList, responseHeaderList } from '../../lib/session/headers'

interface Peer { s: SpdySession, send: (...f: Frame[]) => SessionEvent[], out: () => Frame[] }

function peer (opts: Partial<SessionOptions> = {}): Peer {
  const s = new SpdySession({ role: 'server', version: 3.1, ...opts }, 0)
  const enc = new FrameEncoder({ version: 3 })
  const dec = new FrameDecoder({ version: 3 })
  s.takeOutbound()
  return {
    s,
    send: (...f) => s.receive(Buffer.concat(f.map((x) => enc.encode(x))), 1),
    out: () => s.takeOutbound().flatMap((c) => dec.push(c)).filter((e): e is Frame => e.type !== 'STREAM_ERROR' && e.type !== 'SESSION_ERROR')
  }
}

const goaways = (fs: Frame[]): Frame[] => fs.filter((f) => f.type === 'GOAWAY')
const wu = (streamId: number, delta = 1): Frame => ({ type: 'WINDOW_UPDATE', streamId, deltaWindowSize: delta })
const head = (extra: HeaderList = []): HeaderList => [...requestHeaderList(3.1, { method: 'GET', path: '/', authority: 'x' }), ...extra]
const syn = (id: number, headers: HeaderList): Frame => ({ type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin: true, unidirectional: false, headers })

t.test('maxWorklessFramesPerWindow: a session WINDOW_UPDATE flood gets GOAWAY PROTOCOL_ERROR', async (t) => {
  const p = peer({ maxWorklessFramesPerWindow: 100 })
  const ev = p.send(...Array.from({ length: 100 }, () => wu(0)))
  t.notOk(p.s.closed, '100 updates are within the allowance')
  t.equal(ev.filter((e) => e.type === 'protocolError').length, 0)
  p.send(wu(0))
  t.ok(p.s.closed, 'the 101st ends the session')
  t.same(goaways(p.out()), [{ type: 'GOAWAY', lastGoodStreamId: 0, status: 1 }])
})

t.test('maxWorklessFramesPerWindow: the default cuts 4096 1-byte updates in one read (bench/hostile.ts unit)', async (t) => {
  const p = peer()
  const ev = p.send(...Array.from({ length: 4096 }, () => wu(0)))
  t.ok(p.s.closed)
  t.match(ev.find((e) => e.type === 'protocolError'), { answer: 'GOAWAY', message: /doing no work/ })
})

t.test('maxWorklessFramesPerWindow: empty DATA, PING, NOOP-like frames count; the window rolls after 10 s', async (t) => {
  const p = peer({ maxWorklessFramesPerWindow: 30 })
  p.send(syn(1, head()))
  p.send(...Array.from({ length: 10 }, () => ({ type: 'PING', id: 1 }) as Frame))
  p.send(...Array.from({ length: 10 }, () => ({ type: 'DATA', streamId: 1, fin: false, data: new Uint8Array(0) }) as Frame))
  p.send(...Array.from({ length: 10 }, () => wu(1)))
  t.notOk(p.s.closed, '30 within the allowance')
  p.s.receive(new FrameEncoder({ version: 3 }).encode(wu(0)), 10_002) // a new rate window
  t.notOk(p.s.closed, 'counted afresh after 10 s')
  const enc = new FrameEncoder({ version: 3 })
  p.s.receive(Buffer.concat(Array.from({ length: 30 }, () => enc.encode({ type: 'DATA', streamId: 1, fin: false, data: new Uint8Array(0) }))), 10_003)
  t.ok(p.s.closed, 'empty DATA frames past it end the session')
})

t.test('maxWorklessFramesPerWindow: a download answered with 2 updates per DATA frame is never cut', async (t) => {
  const p = peer({ maxWorklessFramesPerWindow: 10 })
  p.send(syn(1, head()))
  p.s.respond(1, responseHeaderList(3.1, 200, {}))
  let dataFrames = 0
  for (let round = 0; round < 200; round++) {
    p.s.write(1, Buffer.alloc(16 * 1024))
    const frames = p.out().filter((f) => f.type === 'DATA')
    dataFrames += frames.length
    // What a reading client sends back: a stream and a session update for each frame it read.
    p.send(...frames.flatMap((f) => [wu(1, (f as { data: Uint8Array }).data.length), wu(0, (f as { data: Uint8Array }).data.length)]))
    if (p.s.closed) break
  }
  t.notOk(p.s.closed, `${dataFrames} DATA frames, ${2 * dataFrames} updates back, not cut`)
  t.ok(dataFrames >= 200)
})

t.test('maxHeaderRefusalsPerWindow: a peer that keeps sending 60 KB heads past maxSessionHeaderBytes is cut', async (t) => {
  const p = peer() // defaults: 2 MiB per session, 10 refusals per 10 s
  const bomb = head([['x-bomb', 'a'.repeat(60_000)]])
  let requests = 0
  let id = 1
  for (; id < 400 && !p.s.closed; id += 2) requests += p.send(syn(id, bomb)).filter((e) => e.type === 'request').length
  t.equal(requests, 34, '34 held streams fill the 2 MiB budget')
  const rst = p.out()
  t.equal(rst.filter((f) => f.type === 'RST_STREAM' && f.status === 3).length, 11, 'REFUSED_STREAM for each refused stream')
  t.same(goaways(rst), [{ type: 'GOAWAY', lastGoodStreamId: id - 2, status: 1 }], 'then GOAWAY PROTOCOL_ERROR')
  t.ok(p.s.closed)
})

t.test('maxHeaderRefusalsPerWindow: refusals of a client inside its own budget, process full, do not count', async (t) => {
  const shared = new SharedBudget()
  const hog = peer({ shared, maxProcessHeaderBytes: 1 << 20 })
  const bomb = head([['x-bomb', 'a'.repeat(60_000)]])
  for (let id = 1; id < 40; id += 2) hog.send(syn(id, bomb)) // 17 streams, ~1 MiB: the process budget
  const small = peer({ shared, maxProcessHeaderBytes: 1 << 20 })
  const cookie = head([['cookie', 'c'.repeat(16_000)]])
  let refused = 0
  for (let id = 1; id < 60; id += 2) refused += small.send(syn(id, cookie)).filter((e) => e.type === 'request').length === 0 ? 1 : 0
  t.equal(refused, 29, 'the first fits the room left, the other 29 are refused: the process is full')
  t.notOk(small.s.closed, 'but not cut: it holds nothing itself')
  hog.s.close()
  small.s.close()
})

t.test('maxHeaderRefusalsPerWindow: 100 streams with 16 KB cookies, again and again, are never refused', async (t) => {
  const p = peer({ maxConcurrentStreams: 100 })
  const cookie = head([['cookie', 'c'.repeat(16_000)]])
  let id = 1
  let served = 0
  for (let round = 0; round < 20; round++) {
    const ids: number[] = []
    for (let i = 0; i < 100; i++, id += 2) {
      served += p.send(syn(id, cookie)).filter((e) => e.type === 'request').length
      ids.push(id)
    }
    for (const sid of ids) p.s.respond(sid, responseHeaderList(3.1, 200, {}), true)
  }
  t.equal(served, 2000)
  t.notOk(p.s.closed)
  t.equal(p.out().filter((f) => f.type === 'RST_STREAM' || f.type === 'GOAWAY').length, 0)
})
