/**
 * Plain SPDY (tls: false) with the default offer: nothing on the wire tells SPDY/3 from 3.1 (same version number,
 * no NPN), so the listener starts as 3.1 and falls back to SPDY/3 flow control when the peer proves to have no
 * session window (lib/session/session.ts sessionFlowControl 'auto'). Real clients of both kinds must get large
 * downloads and uploads through, and many small responses adding up past the 64 KB initial session window.
 * Peers: spdy-transport (the npm `spdy` agent's engine), which speaks exactly the version it is told; and, in memory, our own
 * client session for the byte-level proof of the fallback.
 */
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../../lib/index'
import { SpdySession, type SessionEvent } from '../../lib/session/session'
import { requestHeaderList, responseHeaderList } from '../../lib/session/headers'
import { StClient } from './spdy-transport-peer'

const BIG = randomBytes(3 * 1024 * 1024)
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

async function app (): Promise<FastifyInstance> {
  const a = Fastify()
  await a.register(spdy, { tls: false, port: 0 }) // default protocols: spdy/3.1, spdy/3, spdy/2
  a.get('/big', async (_req, reply) => reply.type('application/octet-stream').send(BIG))
  a.get('/small/:n', async (req) => 'x'.repeat(4000) + (req.params as { n: string }).n)
  a.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 8 << 20 }, (_req, body, done) => done(null, body))
  a.post('/upload', async (req) => ({ sha: sha(req.body as Buffer), version: req.spdy?.version }))
  await a.listen({ port: 0, host: '127.0.0.1' })
  return a
}

async function request (client: StClient, method: string, path: string, body?: Buffer): Promise<{ status: number, body: Buffer }> {
  const res = await client.request({ method, path, headers: body !== undefined ? { 'content-type': 'application/octet-stream' } : {}, body })
  return { status: res.status, body: res.body }
}

for (const protocol of ['spdy/3', 'spdy/3.1'] as const) {
  t.test(`spdy-transport client speaking ${protocol} against the default offer`, async (t) => {
    const a = await app()
    const port = a.spdy.port!
    const client = await StClient.connect({ port, version: protocol === 'spdy/3' ? 3 : 3.1 })
    t.teardown(async () => { await client.close(); await a.close() })
    const big = await request(client, 'GET', '/big')
    t.equal(big.status, 200)
    t.equal(sha(big.body), sha(BIG), '3 MB download complete (past the 64 KB initial session window)')
    const smalls = await Promise.all(Array.from({ length: 40 }, (_, i) => request(client, 'GET', `/small/${i}`)))
    t.ok(smalls.every((r, i) => r.status === 200 && r.body.toString() === 'x'.repeat(4000) + String(i)), '40 x 4 KB responses on one session')
    const up = await request(client, 'POST', '/upload', BIG)
    t.equal(up.status, 200)
    t.equal(JSON.parse(up.body.toString()).sha, sha(BIG), '3 MB upload complete')
  })
}

/** A server session in auto mode and a peer session joined in memory; returns DATA bytes the peer got per stream. */
function pair (peerVersion: 3 | 3.1, peerOpts: { sessionWindowSize?: number, consume?: boolean } = {}): { server: SpdySession, peer: SpdySession, pump: () => SessionEvent[], got: Map<number, number> } {
  const server = new SpdySession({ role: 'server', version: 3.1, sessionFlowControl: 'auto' }, 0)
  const peer = new SpdySession({ role: 'client', version: peerVersion, ...(peerOpts.sessionWindowSize !== undefined ? { sessionWindowSize: peerOpts.sessionWindowSize } : {}) }, 0)
  const got = new Map<number, number>()
  const pump = (): SessionEvent[] => {
    const serverEvents: SessionEvent[] = []
    for (let i = 0; i < 1000; i++) {
      const toServer = peer.takeOutbound()
      const toPeer = server.takeOutbound()
      if (toServer.length === 0 && toPeer.length === 0) break
      for (const b of toServer) serverEvents.push(...server.receive(b, 0))
      for (const b of toPeer) {
        for (const ev of peer.receive(b, 0)) {
          if (ev.type === 'data') {
            got.set(ev.streamId, (got.get(ev.streamId) ?? 0) + ev.data.length)
            if (peerOpts.consume !== false) peer.consume(ev.streamId, ev.data.length)
          }
        }
      }
    }
    return serverEvents
  }
  return { server, peer, pump, got }
}

t.test('auto mode: a SPDY/3 peer (no session window) gets 40 x 4 KB responses, 160 KB in all', async (t) => {
  const { server, peer, pump, got } = pair(3)
  const ids: number[] = []
  for (let i = 0; i < 40; i++) ids.push(peer.request(requestHeaderList(3, { method: 'GET', path: `/${i}`, authority: 'x' }), { fin: true }))
  const reqs = pump().filter((e): e is Extract<SessionEvent, { type: 'request' }> => e.type === 'request')
  t.equal(reqs.length, 40)
  for (const r of reqs) { server.respond(r.streamId, responseHeaderList(3, 200, {})); server.write(r.streamId, Buffer.alloc(4000), true) }
  pump()
  t.same(ids.map((id) => got.get(id)), ids.map(() => 4000), 'every response complete: the probe PING settled on SPDY/3')
})

t.test('auto mode: a SPDY/3.1 peer keeps the session window in force', async (t) => {
  const { server, peer, pump, got } = pair(3.1)
  // Our 3.1 client opens its session window at once (a stream-0 WINDOW_UPDATE): that settles 3.1.
  const id = peer.request(requestHeaderList(3.1, { method: 'GET', path: '/', authority: 'x' }), { fin: true })
  const [r] = pump().filter((e): e is Extract<SessionEvent, { type: 'request' }> => e.type === 'request')
  server.respond(r.streamId, responseHeaderList(3.1, 200, {}))
  server.write(r.streamId, Buffer.alloc(3 << 20), true)
  pump()
  t.equal(got.get(id), 3 << 20, '3 MB through the session window')
})

t.test('auto mode: once a peer proves 3.1, its session window binds what we send', async (t) => {
  // The peer opens its session window to 128 KB at once (a stream-0 WINDOW_UPDATE: proof of 3.1), has four streams
  // of 64 KB stream windows each, and reads nothing: 3.1 lets 128 KB out in all, SPDY/3 rules would let 256 KB.
  const { server, peer, pump, got } = pair(3.1, { sessionWindowSize: 128 << 10, consume: false })
  for (let i = 0; i < 4; i++) peer.request(requestHeaderList(3.1, { method: 'GET', path: `/${i}`, authority: 'x' }), { fin: true })
  const reqs = pump().filter((e): e is Extract<SessionEvent, { type: 'request' }> => e.type === 'request')
  t.equal(reqs.length, 4)
  for (const r of reqs) { server.respond(r.streamId, responseHeaderList(3.1, 200, {})); server.write(r.streamId, Buffer.alloc(100_000), true) }
  pump()
  const total = [...got.values()].reduce((a, b) => a + b, 0)
  t.equal(total, 128 << 10, 'exactly the session window')
})
