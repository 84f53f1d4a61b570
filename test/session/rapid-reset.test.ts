/**
 * Rapid reset: a stream opened and reset within one receive() never produces a 'request' event (no application
 * request to start and abort); resets still count, per session and, through a SharedBudget, per process.
 */
import t from 'tap'
import { SpdySession, SharedBudget, type SessionEvent } from '../../lib/session'
import { FrameDecoder, FrameEncoder, type Frame } from '../../lib/codec'
import { requestHeaderList, responseHeaderList } from '../../lib/session/headers'

for (const V of [2, 3, 3.1] as const) {
  const req = requestHeaderList(V, { method: 'GET', path: '/', authority: 'x' })
  const syn = (id: number, fin = false): Frame => ({ type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin, unidirectional: false, headers: req })
  const rst = (id: number): Frame => ({ type: 'RST_STREAM', streamId: id, status: 5 })
  const make = (opts: Record<string, unknown> = {}): { s: SpdySession, wire: (...f: Frame[]) => Buffer, out: () => Frame[] } => {
    const s = new SpdySession({ role: 'server', version: V, ...opts }, 0)
    const p = new FrameEncoder({ version: V === 2 ? 2 : 3 })
    const d = new FrameDecoder({ version: V === 2 ? 2 : 3 })
    s.takeOutbound()
    const out = (): Frame[] => s.takeOutbound().flatMap((c) => d.push(c)).filter((e): e is Frame => e.type !== 'STREAM_ERROR' && e.type !== 'SESSION_ERROR')
    return { s, wire: (...f) => Buffer.concat(f.map((x) => p.encode(x))), out }
  }
  const of = (evs: SessionEvent[], type: SessionEvent['type']): SessionEvent[] => evs.filter((e) => e.type === type)

  t.test(`spdy/${V}: SYN_STREAM and its RST_STREAM in one read: no request event at all`, async (t) => {
    const { s, wire } = make()
    const evs = s.receive(wire(syn(1), { type: 'DATA', streamId: 1, fin: false, data: Buffer.from('body') }, rst(1), syn(3, true)), 0)
    t.same(evs.map((e) => [e.type, (e as { streamId?: number }).streamId]), [['request', 3]], 'only the stream left open is handed out')
    t.equal(s.streamState(1), null)
    t.equal(s.openStreams, 1)
  })

  t.test(`spdy/${V}: reset in a later read: the request was handed out, then its reset`, async (t) => {
    const { s, wire } = make()
    t.equal(of(s.receive(wire(syn(1)), 0), 'request').length, 1)
    t.same(of(s.receive(wire(rst(1)), 0), 'streamReset'), [{ type: 'streamReset', streamId: 1, status: 5, byPeer: true }])
  })

  t.test(`spdy/${V}: 150 open+reset pairs in one read start no request; 250 get GOAWAY and still none`, async (t) => {
    const a = make()
    const frames: Frame[] = []
    for (let id = 1; id < 300; id += 2) frames.push(syn(id), rst(id))
    t.same(a.s.receive(a.wire(...frames), 0), [])
    t.notOk(a.s.closed)
    const b = make()
    frames.length = 0
    for (let id = 1; id < 500; id += 2) frames.push(syn(id), rst(id))
    frames.push(syn(501, true))
    const evs = b.s.receive(b.wire(...frames), 0)
    t.same(of(evs, 'request'), [], 'no request, not even for the stream after the flood')
    t.ok(b.s.closed)
    t.equal(b.out().filter((f) => f.type === 'GOAWAY').length, 1)
  })

  t.test(`spdy/${V}: process-wide resets per second, through a shared budget`, async (t) => {
    const shared = new SharedBudget()
    const a = make({ shared, maxProcessResetsPerSecond: 10 })
    const b = make({ shared, maxProcessResetsPerSecond: 10 })
    let id = 1
    for (let i = 0; i < 6; i++, id += 2) { a.s.receive(a.wire(syn(id)), 100); a.s.receive(a.wire(rst(id)), 100) }
    t.notOk(a.s.closed)
    let closedAt = -1
    for (let i = 0; i < 6 && closedAt < 0; i++, id += 2) {
      b.s.receive(b.wire(syn(id)), 200)
      if (of(b.s.receive(b.wire(rst(id)), 200), 'closed').length > 0) closedAt = i
    }
    t.equal(closedAt, 4, 'the 11th reset of the second, on the other session, gets GOAWAY at once')
    t.same(b.out().at(-1), { type: 'GOAWAY', lastGoodStreamId: id - 2, status: V === 2 ? 0 : 1 })
    a.s.receive(a.wire(syn(101)), 1200)
    a.s.receive(a.wire(rst(101)), 1200)
    t.notOk(a.s.closed, 'a new second, a new budget')
    const alone = make({ maxProcessResetsPerSecond: 1 })
    alone.s.receive(alone.wire(syn(1), rst(1), syn(3), rst(3)), 0)
    t.notOk(alone.s.closed, 'without a shared budget the process limit is not applied')
  })

  t.test(`spdy/${V}: a client declining pushes does not spend the process budget`, async (t) => {
    const shared = new SharedBudget()
    const { s, wire } = make({ shared, maxProcessResetsPerSecond: 2 })
    s.receive(wire(syn(1)), 0)
    for (let i = 0; i < 5; i++) {
      const pid = s.push(1, responseHeaderList(V, 200, {}))
      t.ok(pid > 0)
      s.receive(wire(rst(pid)), 0)
    }
    t.notOk(s.closed)
    t.equal(shared.resetsThisSecond, 0)
  })
}
