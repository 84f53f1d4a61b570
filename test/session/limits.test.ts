/**
 * Each limit tripped by a misbehaving peer: the answer on the wire (decoded with our codec) and, where the draft
 * allows, a session that still serves well-behaved streams afterwards.
 */
import t from 'tap'
import { SpdySession, type SessionEvent } from '../../lib/session'
import { FrameDecoder, FrameEncoder, type Frame } from '../../lib/codec'
import { requestHeaderList, responseHeaderList } from '../../lib/session/headers'

for (const V of [2, 3, 3.1] as const) {
  const wire = V === 2 ? 2 : 3
  const req = requestHeaderList(V, { method: 'GET', path: '/', authority: 'x' })

  function harness (limits: Record<string, number> = {}): { s: SpdySession, syn: (id: number, fin?: boolean) => SessionEvent[], send: (f: Frame, now?: number) => SessionEvent[], out: () => Frame[], peer: FrameEncoder } {
    const s = new SpdySession({ role: 'server', version: V, ...limits }, 0)
    const peer = new FrameEncoder({ version: wire })
    const read = new FrameDecoder({ version: wire })
    const send = (f: Frame, now = 0): SessionEvent[] => s.receive(peer.encode(f), now)
    const syn = (id: number, fin = true): SessionEvent[] => send({ type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin, unidirectional: false, headers: req })
    const out = (): Frame[] => {
      const frames: Frame[] = []
      for (const c of s.takeOutbound()) for (const e of read.push(c)) if (e.type !== 'STREAM_ERROR' && e.type !== 'SESSION_ERROR') frames.push(e)
      return frames
    }
    out()
    return { s, syn, send, out, peer }
  }
  const types = (fs: Frame[]): string[] => fs.map((f) => f.type)

  t.test(`spdy/${V}: maxConcurrentStreams is advertised and enforced with REFUSED_STREAM`, async (t) => {
    const s = new SpdySession({ role: 'server', version: V, maxConcurrentStreams: 2 }, 0)
    const settings = new FrameDecoder({ version: wire }).push(s.takeOutbound()[0])[0] as Extract<Frame, { type: 'SETTINGS' }>
    t.same(settings.entries.find((e) => e.id === 4)?.value, 2, 'advertised in SETTINGS')
    const h = harness({ maxConcurrentStreams: 2 })
    t.equal(h.syn(1).filter((e) => e.type === 'request').length, 1)
    t.equal(h.syn(3).filter((e) => e.type === 'request').length, 1)
    t.equal(h.syn(5).filter((e) => e.type === 'request').length, 0, 'third stream not dispatched')
    const frames = h.out()
    t.same(frames.filter((f) => f.type === 'RST_STREAM'), [{ type: 'RST_STREAM', streamId: 5, status: 3 }], 'REFUSED_STREAM')
    h.s.respond(1, responseHeaderList(V, 200, {}), true)
    h.out()
    t.equal(h.syn(7).filter((e) => e.type === 'request').length, 1, 'a slot freed: new streams served again')
  })

  t.test(`spdy/${V}: rapid reset (open and cancel at a high rate) gets GOAWAY`, async (t) => {
    const h = harness({ maxResetsPerWindow: 20 })
    let closed = false
    for (let id = 1; id < 200 && !closed; id += 2) {
      h.syn(id, false)
      const ev = h.send({ type: 'RST_STREAM', streamId: id, status: 5 })
      closed = ev.some((e) => e.type === 'closed')
    }
    t.ok(closed, 'session closed')
    const goaway = h.out().find((f) => f.type === 'GOAWAY') as Extract<Frame, { type: 'GOAWAY' }> | undefined
    t.ok(goaway, 'GOAWAY sent')
    if (V !== 2) t.equal(goaway?.status, 1, 'PROTOCOL_ERROR')
  })

  t.test(`spdy/${V}: resets spread over time are fine`, async (t) => {
    const h = harness({ maxResetsPerWindow: 20 })
    let closed = false
    for (let i = 0, id = 1; i < 60; i++, id += 2) {
      const now = i * 1000 // 1 per second: 10 per window
      h.s.receive(h.peer.encode({ type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: req }), now)
      closed = closed || h.send({ type: 'RST_STREAM', streamId: id, status: 5 }, now).some((e) => e.type === 'closed')
    }
    t.notOk(closed)
  })

  t.test(`spdy/${V}: SETTINGS flood gets GOAWAY`, async (t) => {
    const h = harness({ maxSettingsPerWindow: 10 })
    let closed = false
    for (let i = 0; i < 11 && !closed; i++) closed = h.send({ type: 'SETTINGS', clearSettings: false, entries: [{ id: 4, flags: 0, value: 100 }] }).some((e) => e.type === 'closed')
    t.ok(closed)
    t.ok(types(h.out()).includes('GOAWAY'))
  })

  t.test(`spdy/${V}: a ping flood whose answers are not read gets GOAWAY; normal pings are echoed`, async (t) => {
    const h = harness({ maxSessionBufferedBytes: 16 * 1024 })
    h.send({ type: 'PING', id: 1 })
    t.same(h.out().filter((f) => f.type === 'PING'), [{ type: 'PING', id: 1 }], 'echoed')
    let closed = false
    for (let i = 0; i < 5000 && !closed; i++) closed = h.send({ type: 'PING', id: 2 * i + 1 }).some((e) => e.type === 'closed')
    t.ok(closed, 'closed once unread replies pass the buffer limit')
  })

  t.test(`spdy/${V}: our own pings are bounded and measure RTT`, async (t) => {
    const h = harness({ maxOutstandingPings: 2 })
    t.ok(h.s.ping(100))
    t.ok(h.s.ping(100))
    t.notOk(h.s.ping(100), 'third outstanding ping refused')
    const pings = h.out().filter((f): f is Extract<Frame, { type: 'PING' }> => f.type === 'PING')
    t.same(pings.map((p) => p.id % 2), [0, 0], 'server pings are even')
    const ack = h.send({ type: 'PING', id: pings[0].id }, 130).find((e) => e.type === 'pingAck')
    t.same(ack, { type: 'pingAck', id: pings[0].id, rtt: 30 })
  })

  t.test(`spdy/${V}: invalid frames beyond maxInvalidFrames end the session`, async (t) => {
    const h = harness({ maxInvalidFrames: 5 })
    let closed = false
    for (let i = 0; i < 10 && !closed; i++) closed = h.send({ type: 'DATA', streamId: 101 + 2 * i, fin: false, data: Buffer.from('x') }).some((e) => e.type === 'closed')
    t.ok(closed)
    const out = h.out()
    t.equal(out.filter((f) => f.type === 'RST_STREAM' && f.status === 2).length, 6, 'INVALID_STREAM for each until the limit')
    t.ok(types(out).includes('GOAWAY'))
  })

  t.test(`spdy/${V}: streams refused by the layer above (refuse) count toward maxInvalidFrames, reset() does not`, async (t) => {
    const h = harness({ maxInvalidFrames: 5 })
    for (let id = 1; id <= 11; id += 2) { h.syn(id, true); h.s.reset(id, 1) }
    t.notOk(h.s.closed, 'six resets by the app: no GOAWAY')
    const evs: SessionEvent[] = []
    for (let id = 13; id <= 21; id += 2) { evs.push(...h.syn(id, true)); h.s.refuse(id, 1, 'malformed request: test'); evs.push(...h.s.takeEvents()) }
    t.notOk(h.s.closed, 'five refused heads (the limit): the session lives')
    t.same(evs.filter((e) => e.type === 'protocolError').map((e) => [e.streamId, (e as { message: string }).message]),
      [13, 15, 17, 19, 21].map((id) => [id, 'PROTOCOL_ERROR: malformed request: test']), 'each reported as a protocolError event')
    h.syn(23, true)
    h.s.refuse(23, 1, 'malformed request: test')
    t.ok(h.s.closed, 'the sixth ends the session')
    const out = h.out()
    t.same(out.filter((f) => f.type === 'RST_STREAM').map((f) => (f as { streamId: number }).streamId), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23])
    // SPDY/2's GOAWAY carries no status (its 4-byte payload is the last good stream id): it decodes as 0.
    t.same(out.filter((f) => f.type === 'GOAWAY').map((f) => (f as { status: number }).status), [V === 2 ? 0 : 1], 'GOAWAY (PROTOCOL_ERROR where the version has a status)')
    h.s.refuse(25, 1, 'after close')
    t.same(h.out(), [], 'refuse after the end sends nothing')
  })

  t.test(`spdy/${V}: idle timeout closes an idle session with GOAWAY, not a busy one`, async (t) => {
    const h = harness({ idleTimeout: 1000 })
    t.equal(h.s.deadline, 1000)
    h.syn(1, false)
    t.same(h.s.tick(5000).filter((e) => e.type === 'closed'), [], 'open stream: not idle')
    h.s.respond(1, responseHeaderList(V, 200, {}), true)
    h.send({ type: 'DATA', streamId: 1, fin: true, data: Buffer.alloc(0) }, 5000)
    t.ok(h.s.tick(6001).some((e) => e.type === 'closed'), 'idle: closed')
    t.ok(types(h.out()).includes('GOAWAY'))
  })

  t.test(`spdy/${V}: GOAWAY drain: streams below finish, new ones are ignored`, async (t) => {
    const h = harness()
    h.syn(1, false)
    h.s.goaway()
    const goaway = h.out().find((f) => f.type === 'GOAWAY') as Extract<Frame, { type: 'GOAWAY' }>
    t.equal(goaway.lastGoodStreamId, 1)
    t.same(h.syn(3).filter((e) => e.type === 'request'), [], 'stream above last-good ignored')
    h.s.respond(1, responseHeaderList(V, 200, {}), false)
    h.s.write(1, Buffer.from('body'), true)
    h.send({ type: 'DATA', streamId: 1, fin: true, data: Buffer.alloc(0) })
    t.notOk(h.s.closed, 'still draining: the reply is queued')
    const out = h.out()
    t.ok(out.some((f) => f.type === 'DATA' && f.streamId === 1 && f.fin), 'in-flight stream finished')
    t.ok(h.s.closed, 'then closed')
  })

  if (V !== 2) {
    t.test(`spdy/${V}: DATA beyond the window is FLOW_CONTROL_ERROR, and the window is granted as the app reads`, async (t) => {
      const h = harness({ initialWindowSize: 1000 })
      h.syn(1, false)
      h.send({ type: 'DATA', streamId: 1, fin: false, data: Buffer.alloc(600) })
      h.s.consume(1, 600)
      const wu = h.out().filter((f) => f.type === 'WINDOW_UPDATE' && f.streamId === 1)
      t.same(wu, [{ type: 'WINDOW_UPDATE', streamId: 1, deltaWindowSize: 600 }], 'granted after half a window was read')
      h.syn(3, false)
      h.send({ type: 'DATA', streamId: 3, fin: false, data: Buffer.alloc(1001) })
      t.same(h.out().filter((f) => f.type === 'RST_STREAM'), [{ type: 'RST_STREAM', streamId: 3, status: 7 }])
      t.equal(h.s.streamState(1), 'open', 'other streams unaffected')
    })

    t.test(`spdy/${V}: WINDOW_UPDATE overflow past 2^31-1 is FLOW_CONTROL_ERROR`, async (t) => {
      const h = harness()
      h.syn(1, false)
      h.send({ type: 'WINDOW_UPDATE', streamId: 1, deltaWindowSize: 0x7fffffff })
      t.same(h.out().filter((f) => f.type === 'RST_STREAM'), [{ type: 'RST_STREAM', streamId: 1, status: 7 }])
    })

    t.test(`spdy/${V}: outbound DATA respects the peer's window and SETTINGS changes to it`, async (t) => {
      const h = harness()
      h.send({ type: 'SETTINGS', clearSettings: false, entries: [{ id: 7, flags: 0, value: 100 }] })
      h.syn(1, false)
      h.s.respond(1, responseHeaderList(V, 200, {}))
      h.s.write(1, Buffer.alloc(1000), true)
      const sent = () => h.out().filter((f): f is Extract<Frame, { type: 'DATA' }> => f.type === 'DATA').reduce((n, f) => n + f.data.length, 0)
      t.equal(sent(), 100, 'only the window')
      h.send({ type: 'SETTINGS', clearSettings: false, entries: [{ id: 7, flags: 0, value: 50 }] })
      h.send({ type: 'WINDOW_UPDATE', streamId: 1, deltaWindowSize: 30 })
      t.equal(sent(), 0, 'window went negative (-50 + 30): nothing')
      h.send({ type: 'WINDOW_UPDATE', streamId: 1, deltaWindowSize: 920 })
      t.equal(sent(), 900, 'the rest once the window opens')
    })
  }

  t.test(`spdy/${V}: priorities: a small high-priority response is not starved by a large low-priority one`, async (t) => {
    const h = harness({ initialWindowSize: 1 << 20 })
    h.send({ type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: V === 2 ? 3 : 7, slot: 0, fin: true, unidirectional: false, headers: req })
    h.send({ type: 'SYN_STREAM', streamId: 3, associatedStreamId: 0, priority: 0, slot: 0, fin: true, unidirectional: false, headers: req })
    h.out()
    h.s.respond(1, responseHeaderList(V, 200, {}))
    h.s.write(1, Buffer.alloc(60000), true)
    h.s.respond(3, responseHeaderList(V, 200, {}))
    h.s.write(3, Buffer.alloc(100), true)
    const order = h.out().filter((f): f is Extract<Frame, { type: 'DATA' }> => f.type === 'DATA').map((f) => f.streamId)
    t.equal(order[0], 3, 'high priority first though queued last')
  })

  t.test(`spdy/${V}: a push from the lowest-priority stream stays at the lowest priority on the wire`, async (t) => {
    const h = harness()
    const lowest = V === 2 ? 3 : 7
    h.send({ type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: lowest, slot: 0, fin: true, unidirectional: false, headers: req })
    h.send({ type: 'SYN_STREAM', streamId: 3, associatedStreamId: 0, priority: 0, slot: 0, fin: true, unidirectional: false, headers: req })
    h.out()
    const low = h.s.push(1, responseHeaderList(V, 200, {}))
    const high = h.s.push(3, responseHeaderList(V, 200, {}))
    const syns = h.out().filter((f): f is Extract<Frame, { type: 'SYN_STREAM' }> => f.type === 'SYN_STREAM')
    // Priority + 1 would be 4 in v2 (2 bits): it must not wrap to 0, the most urgent.
    t.same(syns.map((f) => [f.streamId, f.priority]), [[low, lowest], [high, 1]], 'one step below its page, clamped to the range')
  })
}
