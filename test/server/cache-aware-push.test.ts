/**
 * Cache-aware push (option cacheAwarePush) over real sockets: the package's client over TLS (SPDY/3.1, NPN), and
 * spdy-transport (an independent SPDY implementation) over plain SPDY/3. A first visit gets every push and a cookie;
 * a repeat visit with that cookie gets none; a changed ETag is pushed again alone; assets without a version are
 * always pushed; a garbage or oversized cookie counts as empty and is replaced.
 */
import t, { type Test } from 'tap'
import { Readable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../../lib/index'
import { connect, type SpdyClient, type SpdyResponse } from '../../lib/client'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { StClient } from '../interop/spdy-transport-peer'
import { decodeCasperCookie, casperHash, encodeCasperCookie, hasValue } from '../../lib/server/casper'

const ASSETS = ['/a.css', '/b.js', '/c.svg']
const { cert, key } = generateSelfSigned({ commonName: 'localhost' })

/** The blog-like app: versioned assets (ETags that a test can change), one without any version, the page. */
async function build (t: Test, opts: { tls: boolean, cacheAwarePush?: unknown, maxPushCookieBytes?: number }): Promise<{ app: FastifyInstance, etags: Map<string, string> }> {
  const etags = new Map(ASSETS.map((p) => [p, `"v1-${p}"`]))
  const app = Fastify()
  await app.register(spdy, {
    tls: opts.tls ? { cert, key } : false,
    port: 0,
    cacheAwarePush: (opts.cacheAwarePush ?? true) as boolean,
    ...(opts.maxPushCookieBytes !== undefined ? { maxPushCookieBytes: opts.maxPushCookieBytes } : {})
  })
  for (const p of ASSETS) {
    app.get(p, async (_req, reply) => { reply.header('etag', etags.get(p)!).header('cache-control', 'public, max-age=3600'); return `body of ${p} ${etags.get(p)!}` })
  }
  app.get('/nover.txt', async () => 'no validator')
  app.get('/page', { config: { spdy: { push: [...ASSETS, '/nover.txt'] } } }, async () => 'page')
  app.get('/manual', async (_req, reply) => `manual ${String(await reply.push('/a.css'))}`)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => { await app.close() })
  return { app, etags }
}

const pathsOf = (res: SpdyResponse): string[] => res.pushes.filter((p) => p.reset === null).map((p) => p.path).sort()

/** name=value from a Set-Cookie header (one or several). */
function cookieFrom (setCookie: string | string[] | undefined, name = 'spdy-casper'): { pair: string, attrs: string } {
  const line = (Array.isArray(setCookie) ? setCookie : setCookie === undefined ? [] : [setCookie]).find((l) => l.startsWith(`${name}=`))
  if (line === undefined) throw new Error(`no ${name} cookie in ${JSON.stringify(setCookie)}`)
  const semi = line.indexOf(';')
  return { pair: line.slice(0, semi), attrs: line.slice(semi) }
}

async function client (t: Test, port: number): Promise<SpdyClient> {
  const c = await connect({ host: '127.0.0.1', port, tls: true, servername: 'localhost', insecure: true, version: 3.1 })
  t.teardown(async () => { await c.close() })
  return c
}

t.test('lib/client over TLS: first visit all, repeat none, changed ETag alone', async (t) => {
  const { app, etags } = await build(t, { tls: true })
  const c = await client(t, app.spdy.port!)
  const first = await c.request({ path: '/page' })
  t.equal(first.status, 200)
  t.same(pathsOf(first), [...ASSETS, '/nover.txt'].sort(), 'first visit: everything pushed')
  const ck = cookieFrom(first.headers['set-cookie'])
  t.match(ck.attrs, /^; Path=\/; Max-Age=86400; HttpOnly; SameSite=Lax; Secure$/, 'documented attributes, Secure over TLS')
  const set = decodeCasperCookie(ck.pair.split('=')[1], 13, 512)
  if (!set.ok) throw new Error(set.reason)
  t.equal(set.values.length, 3, 'the three versioned assets are recorded; the one without a validator is not')
  for (const p of ASSETS) t.ok(hasValue(set.values, casperHash(p, etags.get(p)!, 13)), `${p} recorded with its ETag`)

  const repeat = await c.request({ path: '/page', headers: { cookie: `other=1; ${ck.pair}` } })
  t.equal(repeat.body.toString(), 'page')
  t.same(pathsOf(repeat), ['/nover.txt'], 'repeat visit: only the asset without a version is pushed')
  t.equal(repeat.pushes.length, 1, 'skipped pushes sent nothing at all (no SYN_STREAM)')
  t.equal(repeat.headers['set-cookie'], undefined, 'the set is unchanged: no Set-Cookie')

  etags.set('/b.js', '"v2-/b.js"')
  const changed = await c.request({ path: '/page', headers: { cookie: ck.pair } })
  t.same(pathsOf(changed), ['/b.js', '/nover.txt'], 'a changed ETag is pushed again, alone')
  t.equal(changed.pushes.find((p) => p.path === '/b.js')?.body.toString(), 'body of /b.js "v2-/b.js"')
  const ck3 = cookieFrom(changed.headers['set-cookie'])
  const set3 = decodeCasperCookie(ck3.pair.split('=')[1], 13, 512)
  if (!set3.ok) throw new Error(set3.reason)
  t.ok(hasValue(set3.values, casperHash('/b.js', '"v2-/b.js"', 13)), 'the new version is recorded')
  const again = await c.request({ path: '/page', headers: { cookie: ck3.pair } })
  t.same(pathsOf(again), ['/nover.txt'], 'and then skipped')

  // A handler's reply.push is cache-aware too.
  const manual = await c.request({ path: '/manual', headers: { cookie: ck3.pair } })
  t.equal(manual.body.toString(), 'manual false')
  t.equal(manual.pushes.length, 0)
  const manual2 = await c.request({ path: '/manual' })
  t.equal(manual2.body.toString(), 'manual true')
})

t.test('garbage, oversized and foreign cookies count as empty; the reply carries a sane cookie', async (t) => {
  const { app } = await build(t, { tls: true, maxPushCookieBytes: 64 })
  const c = await client(t, app.spdy.port!)
  const good = cookieFrom((await c.request({ path: '/page' })).headers['set-cookie']).pair
  for (const bad of ['spdy-casper=%%%', 'spdy-casper=', `spdy-casper=${'A'.repeat(10_000)}`, 'spdy-casper=LA4AAQ', 'spdy-casper=IgEAA2o', `spdy-casper=${Buffer.from([0x2c, 0x0c, 0xff, 0xff, 0, 0, 0, 0]).toString('base64url')}`]) {
    const res = await c.request({ path: '/page', headers: { cookie: bad } })
    t.equal(res.status, 200, bad.slice(0, 40))
    t.equal(pathsOf(res).length, 4, 'everything pushed')
    t.equal(cookieFrom(res.headers['set-cookie']).pair, good, 'the cookie a first visit gets')
  }
  t.ok(good.length - 'spdy-casper='.length <= 64)
})

t.test('off by default: no cookie, pushes as before; plain HTTP untouched', async (t) => {
  const { app } = await build(t, { tls: true, cacheAwarePush: false })
  const c = await client(t, app.spdy.port!)
  const res = await c.request({ path: '/page' })
  t.equal(pathsOf(res).length, 4)
  t.equal(res.headers['set-cookie'], undefined)
  const { app: app2 } = await build(t, { tls: true })
  const plain = await app2.inject({ url: '/page' })
  t.equal(plain.headers['set-cookie'], undefined, 'no cookie over plain HTTP (nothing pushed there)')
})

t.test('spdy-transport (independent peer), plain SPDY/3: the cookie round trip', async (t) => {
  const { app } = await build(t, { tls: false, cacheAwarePush: { cookieName: 'cp', maxAge: 600, hashBits: 16 } })
  const st = await StClient.connect({ port: app.spdy.port!, version: 3 })
  t.teardown(async () => { await st.close() })
  const first = await st.request({ path: '/page' })
  t.equal(first.pushes.length, 4)
  const ck = cookieFrom(first.headers['set-cookie'], 'cp')
  t.match(ck.attrs, /^; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax$/, 'no Secure over plain SPDY; maxAge as configured')
  const repeat = await st.request({ path: '/page', headers: { cookie: ck.pair } })
  t.same(repeat.pushes.map((p) => p.path.replace(/^https?:\/\/[^/]+/, '')), ['/nover.txt'])
  t.equal(repeat.headers['set-cookie'], undefined)
  t.equal(repeat.body.toString(), 'page')
})

t.test('versions: Last-Modified stands in for a missing ETag; no-store and non-200 are never skipped', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0, cacheAwarePush: true })
  let lastModified = 'Tue, 01 Jan 2030 00:00:00 GMT'
  app.get('/lm.css', async (_req, reply) => { reply.header('last-modified', lastModified); return 'lm' })
  app.get('/nostore.js', async (_req, reply) => { reply.header('etag', '"n"').header('cache-control', 'private, no-store'); return 'ns' })
  app.get('/gone.svg', async (_req, reply) => { reply.code(404).header('etag', '"g"'); return 'gone' })
  app.get('/page', { config: { spdy: { push: ['/lm.css', '/nostore.js', '/gone.svg'] } } }, async () => 'page')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const st = await StClient.connect({ port: app.spdy.port!, version: 3.1 })
  t.teardown(async () => { await st.close(); await app.close() })
  const paths = (r: { pushes: Array<{ path: string }> }): string[] => r.pushes.map((p) => p.path.replace(/^https?:\/\/[^/]+/, '')).sort()
  const first = await st.request({ path: '/page' })
  t.same(paths(first), ['/gone.svg', '/lm.css', '/nostore.js'])
  const ck = cookieFrom(first.headers['set-cookie'])
  const set = decodeCasperCookie(ck.pair.split('=')[1], 13, 512)
  t.same(set, { ok: true, values: [casperHash('/lm.css', lastModified, 13)] }, 'only the Last-Modified asset is recorded')
  const repeat = await st.request({ path: '/page', headers: { cookie: ck.pair } })
  t.same(paths(repeat), ['/gone.svg', '/nostore.js'], 'the no-store and the 404 responses are pushed again')
  lastModified = 'Wed, 02 Jan 2030 00:00:00 GMT'
  const changed = await st.request({ path: '/page', headers: { cookie: ck.pair } })
  t.same(paths(changed), ['/gone.svg', '/lm.css', '/nostore.js'], 'a new Last-Modified is a new version')
})

t.test('cross-page retention: page B keeps page A\'s entries; a changed ETag on A is pushed again after visiting B', async (t) => {
  const etags = new Map([['/a.css', '"a1"'], ['/b.js', '"b1"'], ['/c.svg', '"c1"']])
  const app = Fastify()
  await app.register(spdy, { tls: { cert, key }, port: 0, cacheAwarePush: true })
  for (const p of etags.keys()) app.get(p, async (_req, reply) => { reply.header('etag', etags.get(p)!); return `body of ${p} ${etags.get(p)!}` })
  app.get('/pa', { config: { spdy: { push: ['/a.css', '/b.js'] } } }, async () => 'page A')
  app.get('/pb', { config: { spdy: { push: ['/c.svg'] } } }, async () => 'page B')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => { await app.close() })
  const c = await client(t, app.spdy.port!)
  const setOf = (pair: string): number[] => { const d = decodeCasperCookie(pair.split('=')[1], 13, 512); if (!d.ok) throw new Error(d.reason); return d.values }
  const has = (pair: string, p: string): boolean => hasValue(setOf(pair), casperHash(p, etags.get(p)!, 13))

  const a1 = await c.request({ path: '/pa' })
  t.same(pathsOf(a1), ['/a.css', '/b.js'], 'A, first visit: its two assets')
  const ck1 = cookieFrom(a1.headers['set-cookie']).pair
  const b1 = await c.request({ path: '/pb', headers: { cookie: ck1 } })
  t.same(pathsOf(b1), ['/c.svg'], 'B with A\'s cookie: B\'s asset only')
  const ck2 = cookieFrom(b1.headers['set-cookie']).pair
  t.ok(has(ck2, '/a.css') && has(ck2, '/b.js') && has(ck2, '/c.svg'), 'B\'s cookie keeps A\'s entries and adds its own')
  t.equal(setOf(ck2).length, 3)
  const a2 = await c.request({ path: '/pa', headers: { cookie: ck2 } })
  t.same(pathsOf(a2), [], 'A again with B\'s cookie: nothing pushed')
  t.equal(a2.headers['set-cookie'], undefined, 'and no Set-Cookie: the set is unchanged')

  etags.set('/a.css', '"a2"')
  const b2 = await c.request({ path: '/pb', headers: { cookie: ck2 } })
  t.same(pathsOf(b2), [], 'B after A\'s asset changed: B\'s own asset is still skipped')
  t.equal(b2.headers['set-cookie'], undefined, 'B does not touch A\'s entries')
  const a3 = await c.request({ path: '/pa', headers: { cookie: ck2 } })
  t.same(pathsOf(a3), ['/a.css'], 'A after visiting B: the changed asset is pushed again, alone')
  t.equal(a3.pushes.find((p) => p.path === '/a.css')?.body.toString(), 'body of /a.css "a2"')
  const ck3 = cookieFrom(a3.headers['set-cookie']).pair
  t.ok(has(ck3, '/a.css') && has(ck3, '/b.js') && has(ck3, '/c.svg'), 'the new version recorded, B\'s entry kept')
  t.same(pathsOf(await c.request({ path: '/pb', headers: { cookie: ck3 } })), [], 'then B: nothing')
  t.same(pathsOf(await c.request({ path: '/pa', headers: { cookie: ck3 } })), [], 'then A: nothing')
})

t.test('a skipped push stops its route: a streamed body is not produced to its end, and nothing is sent', async (t) => {
  const CHUNKS = 64
  let produced = 0
  let closed: () => void = () => {}
  const sourceClosed = new Promise<void>((resolve) => { closed = resolve })
  const app = Fastify()
  await app.register(spdy, { tls: { cert, key }, port: 0, cacheAwarePush: true })
  app.get('/big.bin', async (_req, reply) => {
    // Pulled one 16 KB chunk at a time: how far the route got is how many chunks were asked for.
    const body = new Readable({
      highWaterMark: 1,
      objectMode: false,
      read () {
        if (produced === CHUNKS) { this.push(null); return }
        produced++
        setImmediate(() => this.push(Buffer.alloc(16 << 10, 1)))
      }
    })
    body.once('close', () => closed())
    return reply.header('etag', '"big"').type('application/octet-stream').send(body)
  })
  app.get('/page', { config: { spdy: { push: ['/big.bin'] } } }, async () => 'page')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => { await app.close() })
  const c = await client(t, app.spdy.port!)
  const cookie = `spdy-casper=${encodeCasperCookie([casperHash('/big.bin', '"big"', 13)], [], 13, 512).value}`
  const res = await c.request({ path: '/page', headers: { cookie } })
  t.equal(res.body.toString(), 'page')
  t.equal(res.pushes.length, 0, 'no SYN_STREAM and no RST_STREAM: nothing of the skipped push was sent')
  await sourceClosed
  t.ok(produced < CHUNKS / 2, `the route's stream was closed after ${produced} of ${CHUNKS} chunks`)

  // The same route pushed to a browser without the cookie: the whole body goes.
  produced = 0
  const full = await c.request({ path: '/page' })
  t.equal(full.pushes.find((p) => p.path === '/big.bin')?.body.length, CHUNKS * (16 << 10))
})

t.test('a response without pushes is not held for a tick by cache-aware push', async (t) => {
  const app = Fastify()
  // Runs before the plugin's onSend hook: a microtask queued here has run by the hook after it only if some
  // hook in between went asynchronous.
  let ticked = false
  app.addHook('onSend', (_req, _reply, payload, done) => { ticked = false; queueMicrotask(() => { ticked = true }); done(null, payload) })
  await app.register(spdy, { tls: { cert, key }, port: 0, cacheAwarePush: true })
  app.addHook('onSend', (_req, reply, payload, done) => { reply.header('x-ticked', String(ticked)); done(null, payload) })
  app.get('/asset.txt', async (_req, reply) => { reply.header('etag', '"x"'); return 'asset' })
  app.get('/page', { config: { spdy: { push: ['/asset.txt'] } } }, async () => 'page')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => { await app.close() })
  const c = await client(t, app.spdy.port!)
  const asset = await c.request({ path: '/asset.txt' })
  t.equal(asset.headers['x-ticked'], 'false', 'no push, no wait: the hooks ran in one go')
  const page = await c.request({ path: '/page' })
  t.equal(page.headers['x-ticked'], 'true', 'a page that pushes waits for its pushes (the check can tell)')
  t.equal(pathsOf(page).length, 1)
})
