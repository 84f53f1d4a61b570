/**
 * An idle session frees its header compression contexts (SessionOptions.compactAfter): when, and that the session
 * goes on in step afterwards. The wire-level equivalence of a compacted context is tested against Node's zlib and
 * spdy-transport in test/codec/zlib-compact.test.ts; here the peer is our client session, never compacting.
 */
import t from 'tap'
import { SpdySession, DEFAULT_COMPACT_AFTER, type SessionEvent } from '../../lib/session/session'
import { requestHeaderList, responseHeaderList, replyStatus } from '../../lib/session/headers'

const V = 3.1 as const
const join = (c: Uint8Array[]): Buffer => Buffer.concat(c)

function pair (compactAfter?: number): { server: SpdySession, client: SpdySession, request: (path: string, now: number) => SessionEvent[] } {
  const server = new SpdySession({ role: 'server', version: V, compactAfter }, 0)
  const client = new SpdySession({ role: 'client', version: V, compactAfter: 0 }, 0)
  client.receive(join(server.takeOutbound()), 0)
  server.receive(join(client.takeOutbound()), 0)
  const request = (path: string, now: number): SessionEvent[] => {
    client.request(requestHeaderList(V, { method: 'GET', path, authority: 'example.com' }, { cookie: `p=${path}` }), { fin: true })
    return server.receive(join(client.takeOutbound()), now)
  }
  return { server, client, request }
}

t.test('no zlib context before the first header block', async (t) => {
  const { server } = pair()
  t.equal(server.zlibLive, false)
  t.equal(server.deadline, 0 + 120_000, 'only the idle timeout is due')
})

t.test('idle session compacts compactAfter ms after the last frame, not while a stream is open', async (t) => {
  const { server, client, request } = pair()
  const evs = request('/a', 1000)
  const req = evs.find((e) => e.type === 'request')
  if (req?.type !== 'request') { t.fail('no request'); return }
  t.equal(server.zlibLive, true)
  t.equal(server.deadline, 120_000 + 1000, 'a stream is open: compaction is not due')
  server.tick(1000 + DEFAULT_COMPACT_AFTER + 500)
  t.equal(server.zlibLive, true, 'nothing freed while the stream is open')
  server.respond(req.streamId, responseHeaderList(V, 200, { 'x-n': '1' }), true)
  t.equal(server.deadline, 120_000 + 1000, 'the reply is queued, not yet taken')
  const reply = client.receive(join(server.takeOutbound()), 2600)
  t.equal(reply.some((e) => e.type === 'response' && replyStatus(V, e.headers) === 200), true)
  t.equal(server.deadline, 1000 + DEFAULT_COMPACT_AFTER, 'idle: compaction is the next deadline (already past)')
  server.tick(2600)
  t.equal(server.zlibLive, false, 'contexts freed')
  t.equal(server.deadline, 120_000 + 1000, 'back to the idle timeout')
  t.equal(server.openStreams, 0)
  t.equal(server.closed, false)
})

t.test('after compaction both directions stay in step with the peer, and compact again when idle', async (t) => {
  const { server, client, request } = pair()
  let now = 1000
  for (let i = 0; i < 12; i++) {
    const evs = request(`/page/${i}`, now)
    const req = evs.find((e) => e.type === 'request')
    if (req?.type !== 'request') { t.fail(`request ${i}: ${JSON.stringify(evs)}`); return }
    t.equal(new Map(req.headers).get(':path'), `/page/${i}`)
    t.equal(new Map(req.headers).get('cookie'), `p=/page/${i}`)
    server.respond(req.streamId, responseHeaderList(V, 200, { etag: `"v${i}"` }), true)
    const reply = client.receive(join(server.takeOutbound()), now).find((e) => e.type === 'response')
    if (reply?.type !== 'response') { t.fail(`reply ${i}`); return }
    t.equal(new Map(reply.headers).get('etag'), `"v${i}"`)
    // Every other request comes after an idle gap long enough to compact.
    now += i % 2 === 0 ? DEFAULT_COMPACT_AFTER : 10
    server.tick(now)
    t.equal(server.zlibLive, i % 2 !== 0, `after request ${i}`)
  }
  t.equal(server.closed, false)
})

t.test('compactAfter: 0 keeps the contexts', async (t) => {
  const { server, request } = pair(0)
  const req = request('/x', 0).find((e) => e.type === 'request')
  if (req?.type !== 'request') { t.fail('no request'); return }
  server.respond(req.streamId, responseHeaderList(V, 200, {}), true)
  server.takeOutbound()
  server.tick(60_000)
  t.equal(server.zlibLive, true)
})
