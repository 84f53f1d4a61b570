/**
 * Deadlines inside the session, driven through `deadline` and tick(now) with a fake clock:
 * - streamWindowTimeout: DATA held on a zero send window that long gets RST_STREAM CANCEL; GOAWAY when every open
 *   stream is stalled;
 * - requestBodyTimeout: a request whose body is open with nothing received that long (while our window lets the
 *   peer send) gets RST_STREAM CANCEL and a 'streamReset' event.
 */
import t from 'tap'
import { SpdySession, type SessionEvent } from '../../lib/session'
import { FrameDecoder, FrameEncoder, type Frame } from '../../lib/codec'
import { requestHeaderList, responseHeaderList } from '../../lib/session/headers'

const T = 60_000

function make (V: 2 | 3 | 3.1, opts: Record<string, unknown> = {}): { s: SpdySession, send: (f: Frame, now: number) => SessionEvent[], out: () => Frame[], syn: (id: number, fin: boolean, now: number) => void } {
  const s = new SpdySession({ role: 'server', version: V, idleTimeout: 0, compactAfter: 0, streamWindowTimeout: T, requestBodyTimeout: T, ...opts }, 0)
  const p = new FrameEncoder({ version: V === 2 ? 2 : 3 })
  const d = new FrameDecoder({ version: V === 2 ? 2 : 3 })
  const req = requestHeaderList(V, { method: 'POST', path: '/', authority: 'x' })
  const out = (): Frame[] => s.takeOutbound().flatMap((c) => d.push(c)).filter((e): e is Frame => e.type !== 'STREAM_ERROR' && e.type !== 'SESSION_ERROR')
  out()
  const send = (f: Frame, now: number): SessionEvent[] => s.receive(p.encode(f), now)
  const syn = (id: number, fin: boolean, now: number): void => { send({ type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin, unidirectional: false, headers: req }, now) }
  return { s, send, out, syn }
}
const resets = (evs: SessionEvent[]): SessionEvent[] => evs.filter((e) => e.type === 'streamReset')
const dataBytes = (fs: Frame[]): number => fs.reduce((n, f) => n + (f.type === 'DATA' ? f.data.length : 0), 0)

for (const V of [3, 3.1] as const) {
  t.test(`spdy/${V}: a response stalled on a zero window is reset after streamWindowTimeout; others go on`, async (t) => {
    const { s, send, out, syn } = make(V)
    send({ type: 'SETTINGS', clearSettings: false, entries: [{ id: 7, flags: 0, value: 1000 }] }, 0)
    syn(1, true, 0)
    syn(3, true, 0)
    s.respond(1, responseHeaderList(V, 200, {}))
    s.write(1, Buffer.alloc(5000), true)
    s.respond(3, responseHeaderList(V, 200, {})) // stream 3 open, nothing queued: not stalled
    t.equal(dataBytes(out()), 1000, 'one window sent')
    t.equal(s.deadline, 0, 'a stall found by takeOutbound asks for a tick at once, to be stamped')
    s.tick(10)
    t.equal(s.deadline, 10 + T)
    t.same(resets(s.tick(10 + T - 1)), [], 'not before')
    t.same(resets(s.tick(10 + T)), [{ type: 'streamReset', streamId: 1, status: 5, byPeer: false }], 'reported to the app')
    t.same(out().filter((f) => f.type === 'RST_STREAM'), [{ type: 'RST_STREAM', streamId: 1, status: 5 }], 'RST_STREAM CANCEL')
    t.notOk(s.closed, 'the session goes on')
    t.equal(s.streamState(3), 'half_closed_remote')
  })

  t.test(`spdy/${V}: every open stream stalled: GOAWAY and close`, async (t) => {
    const { s, send, out, syn } = make(V)
    send({ type: 'SETTINGS', clearSettings: false, entries: [{ id: 7, flags: 0, value: 1000 }] }, 0)
    for (const id of [1, 3]) { syn(id, true, 0); s.respond(id, responseHeaderList(V, 200, {})); s.write(id, Buffer.alloc(5000), true) }
    out()
    s.tick(0)
    const evs = s.tick(T)
    t.ok(evs.some((e) => e.type === 'closed'), 'closed')
    t.same(resets(evs).map((e) => (e as { streamId: number }).streamId).sort(), [1, 3], 'both streams reported')
    t.same(out().filter((f) => f.type === 'GOAWAY'), [{ type: 'GOAWAY', lastGoodStreamId: 3, status: 0 }])
  })

  t.test(`spdy/${V}: a WINDOW_UPDATE in time ends the stall`, async (t) => {
    const { s, send, out, syn } = make(V)
    send({ type: 'SETTINGS', clearSettings: false, entries: [{ id: 7, flags: 0, value: 1000 }] }, 0)
    syn(1, true, 0)
    s.respond(1, responseHeaderList(V, 200, {}))
    s.write(1, Buffer.alloc(1500), true)
    out()
    s.tick(0)
    send({ type: 'WINDOW_UPDATE', streamId: 1, deltaWindowSize: 1000 }, T / 2)
    t.equal(dataBytes(out()), 500, 'the rest goes')
    t.equal(s.deadline, null, 'nothing to wait for')
    t.same(resets(s.tick(2 * T)), [])
  })

  t.test(`spdy/${V}: our window closed (the app not reading) stops the body clock`, async (t) => {
    const { s, send, syn } = make(V, { initialWindowSize: 1000 })
    syn(1, false, 0)
    send({ type: 'DATA', streamId: 1, fin: false, data: Buffer.alloc(1000) }, 10)
    t.same(resets(s.tick(10 + 2 * T)), [], 'the peer cannot send: not its fault')
    s.consume(1, 1000) // the app reads at last: WINDOW_UPDATE, the peer may send again
    t.same(resets(s.tick(10 + 3 * T)), [], 'the first check after the window re-opened restarts the clock')
    t.same(resets(s.tick(10 + 4 * T - 1)), [])
    t.equal(resets(s.tick(10 + 4 * T)).length, 1, 'silent a whole timeout after that')
  })

  t.test(`spdy/${V}: an application reading slowly does not cut the peer short`, async (t) => {
    const { s, send, syn } = make(V, { initialWindowSize: 1000 })
    syn(1, false, 0)
    send({ type: 'DATA', streamId: 1, fin: false, data: Buffer.alloc(1000) }, 0)
    t.same(resets(s.tick(T)), [], 'window closed: not the peer\'s fault')
    s.consume(1, 1000) // read just before the next check, long after the last time handed in (T)
    t.same(resets(s.tick(2 * T)), [], 'the peer gets a whole timeout from the window re-opening, not from T')
    send({ type: 'DATA', streamId: 1, fin: true, data: Buffer.alloc(10) }, 2 * T + 5)
    t.same(resets(s.tick(3 * T)), [], 'the body is complete: nothing left to time out')
    t.equal(s.deadline, null)
  })
}

for (const V of [2, 3, 3.1] as const) {
  t.test(`spdy/${V}: a request body that never comes: RST_STREAM CANCEL and streamReset after requestBodyTimeout`, async (t) => {
    const { s, send, out, syn } = make(V)
    syn(1, false, 0) // POST, body to follow
    syn(3, true, 0) // GET: no body to wait for
    t.equal(s.deadline, T)
    send({ type: 'DATA', streamId: 1, fin: false, data: Buffer.from('part') }, 1000)
    t.same(resets(s.tick(T)), [], 'DATA at 1 s restarted the clock')
    t.same(resets(s.tick(1000 + T)), [{ type: 'streamReset', streamId: 1, status: 5, byPeer: false }])
    t.same(out().filter((f) => f.type === 'RST_STREAM'), [{ type: 'RST_STREAM', streamId: 1, status: 5 }])
    t.equal(s.streamState(3), 'half_closed_remote', 'the GET is untouched')
    t.equal(s.deadline, null)
  })

  t.test(`spdy/${V}: timeouts 0 mean none`, async (t) => {
    const { s, syn } = make(V, { requestBodyTimeout: 0, streamWindowTimeout: 0 })
    syn(1, false, 0)
    t.equal(s.deadline, null)
    t.same(resets(s.tick(10 * T)), [])
  })
}
