/**
 * lib/client against an implementation we did not write: spdy-transport (the engine of the npm `spdy` server, set
 * up as that server set it up, see test/interop/spdy-transport-peer.ts) as the server, over plain TCP for SPDY/2, 3
 * and 3.1, and over Node's TLS with ALPN. A page with two pushed resources and a 300 KB body (beyond the 64 KB
 * windows, so WINDOW_UPDATEs must flow both ways), a POST body echoed back, a reply and a push carrying headers
 * named constructor and tostring.
 */
import t from 'tap'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { connect } from '../../lib/client'
import { stServer, type StStream } from '../interop/spdy-transport-peer'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
const BIG = 'q'.repeat(300_000)

function onStream (stream: StStream): void {
  if (stream.path === '/page') {
    for (const [path, body] of [['/a.css', 'a{}'], ['/b.js', 'b()']]) {
      // As npm spdy's res.push(path, { request, response }) does: a GET push promise on the page's host.
      const push = stream.pushPromise({ path, method: 'GET', status: 200, host: stream.headers.host, headers: { accept: '*/*' }, response: { 'content-type': 'text/plain' } })
      push.on('error', () => {})
      push.end(body)
    }
    stream.respond(200, {})
    stream.end('page')
    stream.resume()
    return
  }
  if (stream.path === '/proto') {
    // Header names that are Object.prototype members (spdy-transport cannot send one named __proto__: it copies
    // headers into a `{}`, which loses it; test/client/client.test.ts has our server send that one).
    const fields = (tag: string): Record<string, string> => ({ constructor: `${tag}-ctor`, tostring: `${tag}-ts` })
    const push = stream.pushPromise({ path: '/p.css', method: 'GET', status: 200, host: stream.headers.host, headers: {}, response: fields('push') })
    push.on('error', () => {})
    push.end('p{}')
    stream.respond(200, fields('reply'))
    stream.end('proto')
    stream.resume()
    return
  }
  if (stream.path === '/big') { stream.respond(200, {}); stream.end(BIG); stream.resume(); return }
  let body = ''
  stream.on('data', (c: Buffer) => { body += c.toString() })
  stream.on('end', () => { stream.respond(200, { 'x-method': stream.method }); stream.end(`echo ${body}`) })
}

async function exercise (t: typeof import('tap').Test.prototype, client: Awaited<ReturnType<typeof connect>>): Promise<void> {
  const page = await client.request({ path: '/page' })
  t.equal(page.status, 200)
  t.equal(page.body.toString(), 'page')
  t.same(page.pushes.map((p) => [p.path, p.status, p.body.toString()]).sort(), [['/a.css', 200, 'a{}'], ['/b.js', 200, 'b()']], 'both pushes with their bodies')
  // Headers named after Object.prototype members are fields like any other, and absent until sent.
  const proto = await client.request({ path: '/proto' })
  t.equal(proto.headers.constructor, 'reply-ctor')
  t.equal(proto.headers.tostring, 'reply-ts')
  t.equal(page.headers.constructor, undefined, 'nothing inherited where the server sent no such header')
  const pushed = proto.pushes.find((p) => p.path === '/p.css')
  t.equal(pushed?.body.toString(), 'p{}')
  t.equal(pushed?.headers.constructor, 'push-ctor', "a pushed stream's too")
  const big = await client.request({ path: '/big' })
  t.equal(big.body.toString(), BIG, '300 KB body intact')
  const echo = await client.request({ method: 'POST', path: '/echo', body: 'x'.repeat(200_000) })
  t.equal(echo.headers['x-method'], 'POST')
  t.equal(echo.body.length, 'echo '.length + 200_000, '200 KB upload went through')
}

for (const version of [2, 3, 3.1] as const) {
  t.test(`plain spdy/${version}`, async (t) => {
    // Plain mode has no NPN: spdy-transport reads 2 or 3 from the first frame (as npm spdy's plain server left it);
    // with autoSpdy31 our stream-0 WINDOW_UPDATE (sent right after SETTINGS) switches it to 3.1.
    const server = await stServer({ connection: { autoSpdy31: version === 3.1 }, onStream })
    t.teardown(server.close)
    const client = await connect({ host: '127.0.0.1', port: server.port, tls: false, version })
    t.teardown(() => client.close())
    await exercise(t, client)
  })
}

t.test('TLS (Node) with ALPN, spdy/3.1 preferred', async (t) => {
  const server = await stServer({ tls: { cert, key, protocols: ['spdy/3.1', 'spdy/3', 'spdy/2', 'http/1.1'] }, onStream })
  t.teardown(server.close)
  const client = await connect({ host: '127.0.0.1', port: server.port, tls: true, ca: cert, negotiation: 'alpn' })
  t.teardown(() => client.close())
  t.equal(client.negotiated, 'spdy/3.1')
  t.equal(client.negotiatedBy, 'alpn')
  await exercise(t, client)
})
