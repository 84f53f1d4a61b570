/**
 * SPDY/2 has no flow control, so a request body the application has not read can only be bounded by reading less:
 * SpdySession.bodyHeld turns true once a peer stream holds initialWindowSize of unread body, and false once the
 * application consume()s some, the peer's FIN arrives, or the stream ends. While it is true the transport stops
 * reading (lib/server/spdy-handler.ts, HOLD_BODY), and no requestBodyTimeout runs: the silence is ours.
 * Frames are made by our encoder and read back by our decoder: behaviour checks, not golden bytes.
 */
import t from 'tap'
import { SpdySession, type SessionEvent, type SessionOptions } from '../../lib/session'
import { FrameEncoder, type Frame } from '../../lib/codec'
import { requestHeaderList } from '../../lib/session/headers'
import type { SpdyVersion } from '../../lib/codec/types'

function peer (version: SpdyVersion, opts: Partial<SessionOptions> = {}): { s: SpdySession, send: (now: number, ...f: Frame[]) => SessionEvent[] } {
  const s = new SpdySession({ role: 'server', version, idleTimeout: 0, compactAfter: 0, ...opts }, 0)
  const enc = new FrameEncoder({ version: version === 2 ? 2 : 3 })
  s.takeOutbound()
  return { s, send: (now, ...f) => s.receive(Buffer.concat(f.map((x) => enc.encode(x))), now) }
}
const post = (version: SpdyVersion, id: number): Frame => ({
  type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false,
  headers: requestHeaderList(version, { method: 'POST', path: '/up', authority: 'x' })
})
const data = (id: number, n: number, fin = false): Frame => ({ type: 'DATA', streamId: id, fin, data: new Uint8Array(n) })

t.test('spdy/2: 64 KiB unread holds reading; the application reading releases it', async (t) => {
  const { s, send } = peer(2)
  send(0, post(2, 1), data(1, 65_535))
  t.notOk(s.bodyHeld, 'one byte short of the window: reading goes on')
  send(0, data(1, 1))
  t.ok(s.bodyHeld, 'a window unread: held')
  send(0, data(1, 100_000))
  t.ok(s.bodyHeld, 'what was already read past it (one socket read) keeps it held')
  s.consume(1, 100_000)
  t.ok(s.bodyHeld, 'still 64 KiB unread')
  s.consume(1, 1)
  t.notOk(s.bodyHeld, 'under a window unread: reading resumes')
})

t.test('spdy/2: the peer\'s FIN, or the stream ending, releases it; another stream\'s body keeps it', async (t) => {
  const { s, send } = peer(2)
  send(0, post(2, 1), data(1, 70_000), post(2, 3), data(3, 70_000))
  t.ok(s.bodyHeld)
  send(0, data(1, 10, true))
  t.ok(s.bodyHeld, 'stream 1 is complete, stream 3 is not')
  s.reset(3)
  t.notOk(s.bodyHeld, 'stream 3 reset: nothing holds')
})

t.test('spdy/2: while held no requestBodyTimeout runs, on any stream; it runs again once released', async (t) => {
  const T = 1000
  const { s, send } = peer(2, { requestBodyTimeout: T })
  send(0, post(2, 1), data(1, 70_000), post(2, 3))
  t.ok(s.bodyHeld)
  const resets = (evs: SessionEvent[]): SessionEvent[] => evs.filter((e) => e.type === 'streamReset')
  t.same(resets(s.tick(10 * T)), [], 'neither the full stream nor the silent one is cut: we stopped reading')
  s.consume(1, 70_000)
  t.notOk(s.bodyHeld)
  t.same(resets(s.tick(11 * T - 1)), [], 'the clocks start again at the release')
  // Stream 3's clock started at the last held check (10 T); stream 1's, re-opened by the read, at the next check.
  const cut = [...resets(s.tick(12 * T)), ...resets(s.tick(13 * T))]
  t.same(cut.map((e) => e.type === 'streamReset' ? e.streamId : 0).sort(), [1, 3], 'then each silent body is cut')
})

for (const V of [3, 3.1] as const) {
  t.test(`spdy/${V}: the window bounds the body; bodyHeld stays false`, async (t) => {
    const { s, send } = peer(V)
    send(0, post(V, 1), data(1, 65_536))
    t.notOk(s.bodyHeld)
  })
}
