/**
 * lib/client against the plugin (a real Fastify app with fastify-spdy): over TLS with NPN, with ALPN, and over
 * plain TCP, for SPDY/2, 3 and 3.1; the agreed protocol is checked on the server side too (request.spdy), pushed
 * streams arrive with their bodies, request bodies reach the route, many requests share one session, reply and
 * pushed headers named after Object.prototype members are plain fields.
 */
import t from 'tap'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { ClientResponseTooLargeError, connect, type ConnectOptions } from '../../lib/client'
import type { Frame } from '../../lib/codec/types'
import { RstStatus } from '../../lib/errors'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
const ASSETS = ['/asset/a.css', '/asset/b.js', '/asset/c.svg']

async function build (tls: boolean, protocols?: Array<'spdy/3.1' | 'spdy/3' | 'spdy/2'>): Promise<ReturnType<typeof Fastify>> {
  const app = Fastify()
  await app.register(spdy, { tls: tls ? { cert, key } : false, port: 0, ...(protocols !== undefined ? { protocols } : {}) })
  app.get('/', { config: { spdy: { push: ASSETS } } }, async (req) => ({ spdy: req.spdy?.version ?? null, host: req.headers.host }))
  app.get('/asset/:name', async (req) => `body of ${(req.params as { name: string }).name}`)
  app.post('/echo', async (req, reply) => { reply.header('x-len', String((req.body as string).length)); return req.body })
  app.get('/big', async () => 'z'.repeat(400_000))
  app.get('/missing-on-purpose', async (_req, reply) => reply.code(404).send('nope'))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

t.test('TLS listener', async (t) => {
  const app = await build(true)
  t.teardown(() => app.close())
  const port = app.spdy.port!

  for (const negotiation of ['npn', 'alpn', 'both'] as const) {
    for (const version of [2, 3, 3.1] as const) {
      t.test(`${negotiation} spdy/${version}`, async (t) => {
        const client = await connect({ host: '127.0.0.1', port, tls: true, ca: cert, servername: 'localhost', negotiation, version })
        t.teardown(() => client.close())
        t.equal(client.negotiated, `spdy/${version}`)
        t.equal(client.negotiatedBy, negotiation === 'npn' ? 'npn' : 'alpn')
        const res = await client.request({ path: '/' })
        t.equal(res.status, 200)
        t.same(JSON.parse(res.body.toString()), { spdy: version, host: `localhost:${port}` }, 'the route saw the SPDY version we agreed')
        t.match(res.headers['content-type'], /application\/json/)
        t.same(res.pushes.map((p) => p.path).sort(), ASSETS, 'every declared asset was pushed')
        for (const p of res.pushes) {
          t.equal(p.status, 200, `${p.path} status`)
          t.equal(p.body.toString(), `body of ${p.path.slice(7)}`, `${p.path} body`)
          t.equal(p.url, `https://localhost:${port}${p.path}`)
          t.equal(p.reset, null)
        }
      })
    }
  }

  t.test('default offer picks spdy/3.1; body, 404, big body and 20 concurrent requests on one session', async (t) => {
    const client = await connect({ host: '127.0.0.1', port, tls: true, ca: cert })
    t.teardown(() => client.close())
    t.equal(client.negotiated, 'spdy/3.1')
    t.equal(client.tls?.version, 'TLSv1.2')
    const echo = await client.request({ method: 'POST', path: '/echo', headers: { 'content-type': 'text/plain' }, body: 'p'.repeat(200_000) })
    t.equal(echo.status, 200)
    t.equal(echo.headers['x-len'], '200000')
    t.equal(echo.body.length, 200_000)
    const missing = await client.request({ path: '/missing-on-purpose' })
    t.equal(missing.status, 404)
    t.equal(missing.body.toString(), 'nope')
    const many = await Promise.all(Array.from({ length: 20 }, () => client.request({ path: '/big' })))
    t.ok(many.every((r) => r.status === 200 && r.body.length === 400_000 && r.body.every((b) => b === 0x7a)), 'all 20 bodies complete')
  })
})

t.test('plain SPDY listener: the version comes from the option', async (t) => {
  for (const version of [2, 3, 3.1] as const) {
    t.test(`spdy/${version}`, async (t) => {
      // Plain SPDY/3 and 3.1 look alike on the wire; the listener assumes 3.1 unless told it serves 3 (README).
      const app = await build(false, version === 3 ? ['spdy/3', 'spdy/2'] : undefined)
      t.teardown(() => app.close())
      const port = app.spdy.port!
      const frames: Array<[string, Frame['type']]> = []
      const opts: ConnectOptions = { host: '127.0.0.1', port, tls: false, version, onFrame: (d, f) => frames.push([d, f.type]) }
      const client = await connect(opts)
      t.equal(client.negotiated, `spdy/${version}`)
      t.equal(client.negotiatedBy, null)
      const res = await client.request({ path: '/' })
      t.equal(res.status, 200)
      t.same(JSON.parse(res.body.toString()).spdy, version)
      t.same(res.pushes.map((p) => [p.path, p.body.toString()]).sort(), ASSETS.map((a) => [a, `body of ${a.slice(7)}`]))
      t.ok(res.pushes.every((p) => p.url.startsWith(`http://127.0.0.1:${port}/asset/`)), 'pushed URLs carry our authority')
      // 4 MB on one session: beyond the 3.1 session window (1 MiB) and the stream windows, so updates must flow.
      const big = await Promise.all(Array.from({ length: 10 }, () => client.request({ path: '/big' })))
      t.ok(big.every((r) => r.body.length === 400_000), '10 x 400 KB complete')
      await client.close()
      t.ok(frames.some(([d, f]) => d === 'out' && f === 'SYN_STREAM'), 'onFrame saw our SYN_STREAM')
      t.ok(frames.some(([d, f]) => d === 'in' && f === 'SYN_REPLY'), 'onFrame saw the SYN_REPLY')
      t.equal(frames.filter(([d, f]) => d === 'in' && f === 'SYN_STREAM').length, ASSETS.length, 'onFrame saw one pushed SYN_STREAM per asset')
      t.ok(frames.some(([d, f]) => d === 'out' && f === 'GOAWAY'), 'close() sent GOAWAY')
    })
  }
})

t.test('reply and pushed headers named __proto__, constructor, tostring are fields like any other (plain, v2 and 3.1)', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0 })
  // reply.raw: Fastify's own reply.header() keeps headers in a `{}`, where __proto__ is lost before we see it.
  const fields = (raw: { setHeader: (n: string, v: string) => unknown }, tag: string): void => {
    for (const n of ['__proto__', 'constructor', 'tostring']) raw.setHeader(n, `${tag}-${n}`)
  }
  app.get('/proto', { config: { spdy: { push: ['/proto.css'] } } }, async (_req, reply) => { fields(reply.raw, 'reply'); return 'page' })
  app.get('/proto.css', async (_req, reply) => { fields(reply.raw, 'push'); return 'p{}' })
  app.get('/plain', async () => 'plain')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  // The plain listener serves 3.1 and 2 by default (3 only when told so: README); 3's header blocks are 3.1's.
  for (const version of [2, 3.1] as const) {
    const client = await connect({ host: '127.0.0.1', port: app.spdy.port!, tls: false, version })
    t.teardown(() => client.close())
    const res = await client.request({ path: '/proto' })
    t.ok(res.rawHeaders.some(([n, v]) => n === '__proto__' && v === 'reply-__proto__'), `spdy/${version}: the server sent __proto__ on the wire`)
    t.equal(res.headers.__proto__, 'reply-__proto__', `spdy/${version}: reply __proto__ kept as a field`)
    t.equal(res.headers.constructor, 'reply-constructor')
    t.equal(res.headers.tostring, 'reply-tostring')
    t.ok(Object.keys(res.headers).includes('__proto__'), 'listed among the fields')
    const push = res.pushes.find((p) => p.path === '/proto.css')
    t.equal(push?.body.toString(), 'p{}')
    t.equal(push?.headers.__proto__, 'push-__proto__', `spdy/${version}: pushed stream's __proto__ kept as a field`)
    t.equal(push?.headers.constructor, 'push-constructor')
    const plain = await client.request({ path: '/plain' })
    t.equal(plain.headers.constructor, undefined, 'nothing inherited: no such header, no such field')
    t.equal(plain.headers.__proto__, undefined)
    t.equal(plain.headers.hasOwnProperty, undefined)
  }
})

t.test('maxResponseBytes: past it the request fails and its streams are cancelled; the connection stays usable', async (t) => {
  const app = await build(false)
  t.teardown(() => app.close())
  const frames: Array<[string, Frame]> = []
  const client = await connect({ host: '127.0.0.1', port: app.spdy.port!, tls: false, maxResponseBytes: 100_000, onFrame: (d, f) => frames.push([d, f]) })
  t.teardown(() => client.close())
  // /big is 400 KB: over the connection's limit
  const err = await client.request({ path: '/big' }).then(() => null, (e: unknown) => e)
  t.ok(err instanceof ClientResponseTooLargeError, String(err))
  t.equal((err as ClientResponseTooLargeError).code, 'FST_SPDY_CLIENT_RESPONSE_TOO_LARGE')
  t.equal((err as ClientResponseTooLargeError).limit, 100_000)
  const rst = frames.find(([d, f]) => d === 'out' && f.type === 'RST_STREAM')
  t.ok(rst !== undefined && rst[1].type === 'RST_STREAM' && rst[1].streamId === 1 && rst[1].status === RstStatus.CANCEL, 'RST_STREAM CANCEL for stream 1')
  // a per-request limit overrides the connection's, and the same session serves the next request
  const ok = await client.request({ path: '/big', maxResponseBytes: 400_000 })
  t.equal(ok.body.length, 400_000, 'exactly at the limit is allowed')
  // pushed bodies count: the page (JSON) plus three pushed assets of 14 bytes each
  const page = await client.request({ path: '/' })
  const total = page.body.length + page.pushes.reduce((n, p) => n + p.body.length, 0)
  const err2 = await client.request({ path: '/', maxResponseBytes: total - 1 }).then(() => null, (e: unknown) => e)
  t.ok(err2 instanceof ClientResponseTooLargeError, 'one byte short of page + pushes fails')
  t.equal((await client.request({ path: '/', maxResponseBytes: total })).pushes.length, ASSETS.length, 'exactly page + pushes passes')
  // a limit that would compare false against everything (NaN, negative) is refused, not taken as "no limit"
  for (const bad of [Number.NaN, -1, 1.5, Infinity]) {
    await t.rejects(client.request({ path: '/big', maxResponseBytes: bad }), TypeError, `request maxResponseBytes ${bad}`)
    await t.rejects(connect({ host: '127.0.0.1', port: app.spdy.port!, tls: false, maxResponseBytes: bad }), TypeError, `connect maxResponseBytes ${bad}`)
  }
})
