/**
 * Header memory held by open streams is bounded per session (maxSessionHeaderBytes) and, through a SharedBudget,
 * per process (maxProcessHeaderBytes): a new stream over either gets RST_STREAM REFUSED_STREAM before any request
 * event, and the bytes come back when streams close, however they close.
 */
import t from 'tap'
import { SpdySession, SharedBudget, type SessionEvent } from '../../lib/session'
import { FrameDecoder, FrameEncoder, type Frame, type HeaderList } from '../../lib/codec'
import { requestHeaderList, responseHeaderList } from '../../lib/session/headers'

for (const V of [2, 3] as const) {
  // ~60 KB decoded, a few hundred bytes on the wire: the 50 sessions x 100 streams attack used these.
  const fat: HeaderList = [...requestHeaderList(V, { method: 'GET', path: '/', authority: 'x' }), ['x-pad', 'a'.repeat(60_000)]]
  const small = requestHeaderList(V, { method: 'GET', path: '/', authority: 'x' })
  const syn = (id: number, headers: HeaderList): Frame => ({ type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin: true, unidirectional: false, headers })
  const make = (opts: Record<string, unknown>): { s: SpdySession, send: (f: Frame) => SessionEvent[], out: () => Frame[] } => {
    const s = new SpdySession({ role: 'server', version: V, ...opts }, 0)
    const p = new FrameEncoder({ version: V })
    const d = new FrameDecoder({ version: V })
    s.takeOutbound()
    return {
      s,
      send: (f) => s.receive(p.encode(f), 0),
      out: () => s.takeOutbound().flatMap((c) => d.push(c)).filter((e): e is Frame => e.type !== 'STREAM_ERROR' && e.type !== 'SESSION_ERROR')
    }
  }
  const requests = (evs: SessionEvent[]): number => evs.filter((e) => e.type === 'request').length

  t.test(`spdy/${V}: per session: streams past maxSessionHeaderBytes are refused, a closed one makes room`, async (t) => {
    const { s, send, out } = make({ maxSessionHeaderBytes: 200_000 })
    t.same([1, 3, 5, 7].map((id) => requests(send(syn(id, fat)))), [1, 1, 1, 0], 'three 60 KB heads fit, the fourth does not')
    t.same(out().filter((f) => f.type === 'RST_STREAM'), [{ type: 'RST_STREAM', streamId: 7, status: 3 }], 'REFUSED_STREAM')
    t.ok(s.headerBytes > 180_000 && s.headerBytes <= 200_000, `${s.headerBytes} bytes held`)
    t.equal(requests(send(syn(9, small))), 1, 'a small head still fits')
    s.respond(1, responseHeaderList(V, 200, {}), true) // stream 1 ends normally
    send({ type: 'RST_STREAM', streamId: 3, status: 5 }) // stream 3 is reset by the peer
    t.same([11, 13].map((id) => requests(send(syn(id, fat)))), [1, 1], 'both freed their share')
    s.close()
    t.equal(s.headerBytes, 0, 'all released on close')
  })

  t.test(`spdy/${V}: per process: sessions sharing a budget refuse past maxProcessHeaderBytes, and get it back`, async (t) => {
    const shared = new SharedBudget()
    const a = make({ shared, maxProcessHeaderBytes: 200_000 })
    const b = make({ shared, maxProcessHeaderBytes: 200_000 })
    t.same([1, 3].map((id) => requests(a.send(syn(id, fat)))), [1, 1])
    t.same([1, 3].map((id) => requests(b.send(syn(id, fat)))), [1, 0], 'the other session is refused once the total is reached')
    t.same(b.out().filter((f) => f.type === 'RST_STREAM'), [{ type: 'RST_STREAM', streamId: 3, status: 3 }])
    t.equal(shared.headerBytes, a.s.headerBytes + b.s.headerBytes)
    a.s.close('connection closed')
    t.equal(requests(b.send(syn(5, fat))), 1, 'room again once the first session is gone')
    b.s.close()
    t.equal(shared.headerBytes, 0, 'nothing left counted')
  })

  t.test(`spdy/${V}: defaults: 100 browser-sized streams are served`, async (t) => {
    const shared = new SharedBudget()
    const { s, send } = make({ shared })
    let n = 0
    for (let id = 1; id < 200; id += 2) n += requests(send(syn(id, small)))
    t.equal(n, 100)
    t.ok(shared.headerBytes > 0 && shared.headerBytes === s.headerBytes)
  })
}

t.test('client: a push whose head is over the budget is refused', async (t) => {
  const s = new SpdySession({ role: 'client', version: 3, maxSessionHeaderBytes: 100_000 }, 0)
  const p = new FrameEncoder({ version: 3 })
  const id = s.request(requestHeaderList(3, { method: 'GET', path: '/', authority: 'x' }))
  s.takeOutbound()
  const pad: HeaderList = [[':path', '/a'], [':host', 'x'], [':scheme', 'http'], [':status', '200'], [':version', 'HTTP/1.1'], ['x-pad', 'a'.repeat(60_000)]]
  const push = (pid: number): SessionEvent[] => s.receive(p.encode({ type: 'SYN_STREAM', streamId: pid, associatedStreamId: id, priority: 0, slot: 0, fin: false, unidirectional: true, headers: pad }), 0)
  t.equal(push(2).filter((e) => e.type === 'push').length, 1)
  t.equal(push(4).filter((e) => e.type === 'push').length, 0, 'refused')
  const rst = s.takeOutbound().flatMap((c) => new FrameDecoder({ version: 3 }).push(c)).filter((f) => f.type === 'RST_STREAM')
  t.same(rst, [{ type: 'RST_STREAM', streamId: 4, status: 3 }])
})
