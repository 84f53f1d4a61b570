/**
 * What a session says before any stream (SPDY/3 section 2.6.4 SETTINGS, SPDY/3.1 section 2.6.8 session window): the
 * default stream window (64 KB) is not announced, since the peer assumes it; a server grants its session window
 * only once a stream with a body arrives (a session of GETs never needs it), a client at once. Decoded with our
 * codec; the upload end to end runs against spdy-transport in test/interop.
 */
import t from 'tap'
import { SpdySession } from '../../lib/session'
import { FrameDecoder, FrameEncoder, type Frame } from '../../lib/codec'
import { requestHeaderList } from '../../lib/session/headers'

function harness (role: 'server' | 'client', version: 3 | 3.1, limits: Record<string, number> = {}): { s: SpdySession, out: () => Frame[], send: (f: Frame) => void } {
  const s = new SpdySession({ role, version, ...limits }, 0)
  const peer = new FrameEncoder({ version: 3 })
  const read = new FrameDecoder({ version: 3 })
  const out = (): Frame[] => {
    const frames: Frame[] = []
    for (const c of s.takeOutbound()) for (const e of read.push(c)) if (e.type !== 'STREAM_ERROR' && e.type !== 'SESSION_ERROR') frames.push(e)
    return frames
  }
  return { s, out, send: (f) => { s.receive(peer.encode(f), 0) } }
}

const req = requestHeaderList(3.1, { method: 'POST', path: '/', authority: 'x' })
const syn = (id: number, fin: boolean): Frame => ({ type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin, unidirectional: false, headers: req })
const sessionUpdates = (fs: Frame[]): number[] => fs.flatMap((f) => f.type === 'WINDOW_UPDATE' && f.streamId === 0 ? [f.deltaWindowSize] : [])

t.test('server, SPDY/3.1: SETTINGS without the default window, the session window granted with the first body', async (t) => {
  const h = harness('server', 3.1)
  const first = h.out()
  t.same(first, [{ type: 'SETTINGS', clearSettings: false, entries: [{ id: 4, flags: 0, value: 100 }] }], 'only MAX_CONCURRENT_STREAMS: 64 KB stream windows are the default')
  h.send(syn(1, true))
  t.same(sessionUpdates(h.out()), [], 'a GET (SYN_STREAM with FIN) gets no session WINDOW_UPDATE')
  h.send(syn(3, false))
  t.same(sessionUpdates(h.out()), [(1 << 20) - 65536], 'the first stream with a body opens the session window to 1 MiB')
  h.send(syn(5, false))
  t.same(sessionUpdates(h.out()), [], 'once')
  // Two streams' worth of DATA, past the 64 KB the session window starts with: accepted, no GOAWAY.
  const chunk = new Uint8Array(60_000)
  h.send({ type: 'DATA', streamId: 3, fin: false, data: chunk })
  h.send({ type: 'DATA', streamId: 5, fin: false, data: chunk })
  t.notOk(h.out().some((f) => f.type === 'GOAWAY' || f.type === 'RST_STREAM'), '120 KB across two streams fit the opened session window')
  t.notOk(h.s.closed)
})

t.test('a window other than the default is announced; a client opens its session window at once; SPDY/3 has none', async (t) => {
  const big = harness('server', 3.1, { initialWindowSize: 1 << 20 })
  t.same(big.out()[0], { type: 'SETTINGS', clearSettings: false, entries: [{ id: 4, flags: 0, value: 100 }, { id: 7, flags: 0, value: 1 << 20 }] })
  const client = harness('client', 3.1)
  t.same(sessionUpdates(client.out()), [(1 << 20) - 65536], 'client: responses flow to it, its window opens before any request')
  const v3 = harness('server', 3)
  v3.out()
  v3.send(syn(1, false))
  t.same(sessionUpdates(v3.out()), [], 'SPDY/3: no session window')
})

t.test('openingOnly: true while SETTINGS (and the opening session WINDOW_UPDATE) are all that is queued, until first taken', async (t) => {
  const get = harness('server', 3.1)
  t.ok(get.s.openingOnly, 'a new server session: SETTINGS only')
  get.send(syn(1, true))
  t.ok(get.s.openingOnly, 'a request awaiting its answer adds nothing to the queue')
  get.s.respond(1, [[':status', '200'], [':version', 'HTTP/1.1']], true)
  t.notOk(get.s.openingOnly, 'the answer is queued: SETTINGS may go with it')
  t.same(get.out().map((f) => f.type), ['SETTINGS', 'SYN_REPLY'], 'in one batch, SETTINGS first')
  t.notOk(get.s.openingOnly, 'once taken, never again')

  const upload = harness('server', 3.1)
  upload.send(syn(1, false))
  t.ok(upload.s.openingOnly, 'SETTINGS and the WINDOW_UPDATE opening the session window for a body are both opening frames')
  t.same(upload.out().map((f) => f.type), ['SETTINGS', 'WINDOW_UPDATE'])

  const ping = harness('server', 3.1)
  ping.send({ type: 'PING', id: 1 })
  t.notOk(ping.s.openingOnly, 'a PING answer is queued: nothing waits')
  t.same(ping.out().map((f) => f.type), ['SETTINGS', 'PING'])

  // A PING answer queued before the body stream's WINDOW_UPDATE: the WINDOW_UPDATE is no longer part of an opening.
  const both = harness('server', 3.1)
  both.send({ type: 'PING', id: 1 })
  both.send(syn(1, false))
  t.notOk(both.s.openingOnly)

  const client = harness('client', 3.1)
  t.ok(client.s.openingOnly, 'a client: SETTINGS and its session WINDOW_UPDATE')
  client.s.request(requestHeaderList(3.1, { method: 'GET', path: '/', authority: 'x' }), { fin: true })
  t.notOk(client.s.openingOnly, 'a request queued')

  const data = harness('server', 3)
  data.send(syn(1, true))
  data.out()
  data.send(syn(3, true))
  t.notOk(data.s.openingOnly, 'SPDY/3, after the first batch went: false whatever is queued')
})
