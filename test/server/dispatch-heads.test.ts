/**
 * Request heads over real sockets (plain SPDY and our TLS with ALPN): a head the server cannot accept is answered
 * with RST_STREAM PROTOCOL_ERROR on its stream, the app never sees it, and the session goes on serving.
 */
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { RstStatus } from '../../lib/errors'
import { WirePeer, goodHead } from './dispatch-wire'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })

async function serve (t: Test, withTls: boolean): Promise<{ app: FastifyInstance, port: number, ran: string[] }> {
  const app = Fastify()
  const ran: string[] = []
  await app.register(spdy, { tls: withTls ? { cert, key } : false, port: 0, alternateProtocol: false, protocols: ['spdy/3.1', 'spdy/3', 'spdy/2'] })
  app.all('/*', async (req) => { ran.push(`${req.method} ${req.url}`); return { url: req.url, host: req.host } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, port: app.spdy.port!, ran }
}

for (const withTls of [false, true]) {
  t.test(`SPDY/2 url http://[bad/ is RST_STREAM PROTOCOL_ERROR, the session lives (${withTls ? 'TLS' : 'plain'})`, async (t) => {
    const { port, ran } = await serve(t, withTls)
    const peer = await WirePeer.connect(port, 2, withTls ? cert : undefined)
    t.teardown(() => peer.close())
    const bad = await peer.send(goodHead(2, `127.0.0.1:${port}`, 'http://[bad/'))
    t.same(bad, { kind: 'reset', status: RstStatus.PROTOCOL_ERROR })
    t.same(ran, [], 'the app never saw it')
    // Same session, next stream: an absolute url that is well formed is split into path and host (draft 2).
    const ok = await peer.send(goodHead(2, '', 'http://example.test:81/a?b=1', 'GET', [], ['host']))
    t.match(ok, { kind: 'reply', status: 200 })
    if (ok.kind === 'reply') t.same(JSON.parse(ok.body), { url: '/a?b=1', host: 'example.test:81' })
    t.same(ran, ['GET /a?b=1'])
  })
}
