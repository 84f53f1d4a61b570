/**
 * The demo blog's gzip (example-app/gzip.mts), against peers we did not write:
 * - Accept-Encoding parsing on RFC 9110 section 12.5.3's own examples;
 * - HTTP/1.1 with curl: `--compressed` gets gzip (curl decodes it to the file on disk), no Accept-Encoding or
 *   `gzip;q=0` gets identity; Vary: Accept-Encoding on both; the gzip variant's own `-gz` ETag; a 304 for each
 *   variant's ETag and a 200 (the other variant) for the other's; a file that gzip does not shrink stays identity;
 * - SPDY with spdy-transport: the page and each pushed asset are gzip exactly when the page's request accepted
 *   it (pushes run with the page's accept-encoding, lib/server/push.ts), the PNG/WOFF2 never;
 * - cache-aware push: the cookie from a gzip visit names the gzip variants (skipped on a gzip repeat visit), not
 *   the identity ones.
 */
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import spdy from '../../lib/index'
import { StClient, type StHeaders } from './spdy-transport-peer'

const ROOT = join(__dirname, '..', '..')
const PUBLIC = join(ROOT, 'example-app', 'public')
const POST = '/posts/2012-08-20-server-push'
const CHROME_31 = 'gzip,deflate,sdch'

interface Blog {
  buildBlog: (opts?: object, blog?: { push?: boolean }) => FastifyInstance
  pageAssets: () => string[]
  DEMO_PAGES: Record<string, string[]>
}
interface Gzip { acceptsGzip: (h: string | string[] | undefined) => boolean }

t.test('acceptsGzip: RFC 9110 section 12.5.3 examples and qvalues', async (t) => {
  const { acceptsGzip } = await import('../../example-app/gzip.mjs') as Gzip
  t.equal(acceptsGzip('compress, gzip'), true)
  t.equal(acceptsGzip(''), false, 'empty: identity only')
  t.equal(acceptsGzip(undefined), false, 'absent: the server may send anything, the demo sends identity')
  t.equal(acceptsGzip('*'), true)
  t.equal(acceptsGzip('compress;q=0.5, gzip;q=1.0'), true)
  t.equal(acceptsGzip('gzip;q=1.0, identity; q=0.5, *;q=0'), true)
  t.equal(acceptsGzip('gzip;q=0, *'), false, 'gzip refused by name wins over *')
  t.equal(acceptsGzip('deflate, *;q=0'), false)
  t.equal(acceptsGzip('br, *;q=0.1'), true, '* covers gzip')
  t.equal(acceptsGzip('x-gzip'), true, 'x-gzip is gzip (section 8.4.1.3)')
  t.equal(acceptsGzip('GZIP ; Q=0.001'), true, 'case-insensitive')
  t.equal(acceptsGzip(CHROME_31), true)
})

function curl (args: string[]): Promise<{ head: string, body: Buffer }> {
  return new Promise((resolve, reject) => {
    // -D - writes the head to stdout ahead of the body; --http1.1 pins the protocol.
    execFile('curl', ['-s', '--http1.1', '--max-time', '20', '-D', '-', ...args], { encoding: 'buffer', maxBuffer: 8 << 20 }, (err, stdout) => {
      if (err !== null) { reject(err); return }
      const end = stdout.indexOf('\r\n\r\n')
      resolve({ head: stdout.subarray(0, end).toString('latin1'), body: stdout.subarray(end + 4) })
    })
  })
}

const header = (head: string, name: string): string | undefined => new RegExp(`^${name}: *(.*?)\\r?$`, 'im').exec(head)?.[1]
const statusOf = (head: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1])

async function blog (t: Test, cacheAwarePush = false): Promise<{ app: FastifyInstance, http: string, spdyPort: number, mod: Blog }> {
  const mod = await import('../../example-app/blog.mjs') as Blog
  const app = mod.buildBlog()
  await app.register(spdy, { port: 0, tls: false, cacheAwarePush })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, http: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, spdyPort: app.spdy.port!, mod }
}

t.test('HTTP/1.1 with curl: gzip when accepted, identity otherwise, Vary, ETag variants, 304s', async (t) => {
  const { http } = await blog(t)
  const css = readFileSync(join(PUBLIC, 'style.css'))

  const gz = await curl(['--compressed', `${http}/static/style.css`])
  t.equal(statusOf(gz.head), 200)
  t.equal(header(gz.head, 'content-encoding'), 'gzip')
  t.equal(header(gz.head, 'vary'), 'Accept-Encoding')
  t.ok(Number(header(gz.head, 'content-length')) < css.length, `gzip on the wire (${header(gz.head, 'content-length')} < ${css.length} B)`)
  t.ok(gz.body.equals(css), 'curl decoded it to the file on disk')
  const gzEtag = header(gz.head, 'etag')!
  t.match(gzEtag, /^"[A-Za-z0-9_-]{16}-gz"$/, 'the gzip variant has its own ETag')

  // Without --compressed curl sends no Accept-Encoding and decodes nothing.
  const plain = await curl([`${http}/static/style.css`])
  t.equal(header(plain.head, 'content-encoding'), undefined)
  t.equal(header(plain.head, 'vary'), 'Accept-Encoding', 'Vary on the identity variant too')
  t.ok(plain.body.equals(css))
  const plainEtag = header(plain.head, 'etag')!
  t.equal(gzEtag, `${plainEtag.slice(0, -1)}-gz"`)

  // The bytes as sent are gzip (asked for by hand, so curl leaves them alone).
  const raw = await curl(['-H', 'Accept-Encoding: gzip', `${http}/static/style.css`])
  t.ok(gunzipSync(raw.body).equals(css), 'the body is a gzip member of the file')
  const refused = await curl(['-H', 'Accept-Encoding: gzip;q=0, identity', `${http}/static/style.css`])
  t.equal(header(refused.head, 'content-encoding'), undefined, 'gzip;q=0: identity')
  t.ok(refused.body.equals(css))

  // 304s: each variant's ETag revalidates that variant; the other variant's ETag gets a 200.
  const gz304 = await curl(['--compressed', '-H', `If-None-Match: ${gzEtag}`, `${http}/static/style.css`])
  t.equal(statusOf(gz304.head), 304, '304 for the gzip variant')
  t.equal(header(gz304.head, 'etag'), gzEtag)
  t.equal(header(gz304.head, 'vary'), 'Accept-Encoding', 'Vary on the 304 (RFC 9110 section 15.4.5)')
  t.equal(gz304.body.length, 0)
  const listed = await curl(['--compressed', '-H', `If-None-Match: "other", ${gzEtag}`, `${http}/static/style.css`])
  t.equal(statusOf(listed.head), 304, 'an If-None-Match list naming it')
  const plain304 = await curl(['-H', `If-None-Match: ${plainEtag}`, `${http}/static/style.css`])
  t.equal(statusOf(plain304.head), 304, '304 for the identity variant')
  const switched = await curl(['--compressed', '-H', `If-None-Match: ${plainEtag}`, `${http}/static/style.css`])
  t.equal(statusOf(switched.head), 200, 'the identity ETag does not validate the gzip variant')
  t.equal(header(switched.head, 'content-encoding'), 'gzip')

  // A rendered page and the JSON: gzip per response.
  const page = await curl(['--compressed', `${http}${POST}`])
  t.equal(header(page.head, 'content-encoding'), 'gzip')
  t.equal(header(page.head, 'vary'), 'Accept-Encoding')
  t.match(page.body.toString(), /<title>Server push/, 'curl decoded the page')
  t.match(page.body.toString(), /data-proto="HTTP\/1\.1"/)
  const pagePlain = await curl([`${http}${POST}`])
  t.equal(header(pagePlain.head, 'content-encoding'), undefined)
  t.equal(pagePlain.body.toString(), page.body.toString(), 'the same page either way')
  const json = await curl(['--compressed', `${http}/api/posts`])
  t.equal(header(json.head, 'content-encoding'), 'gzip')
  t.ok(Array.isArray(JSON.parse(json.body.toString())))

  // Not compressed: a PNG and a WOFF2 (no Vary either), and a file gzip would grow (93 B style sheet).
  for (const path of ['/static/big/photo.png', '/static/chain/serif.woff2']) {
    const r = await curl(['--compressed', `${http}${path}`])
    t.equal(header(r.head, 'content-encoding'), undefined, `${path} identity`)
    t.equal(header(r.head, 'vary'), undefined, `${path} no Vary`)
  }
  const tiny = await curl(['--compressed', `${http}/static/print.css`])
  t.equal(header(tiny.head, 'content-encoding'), undefined, 'print.css: gzip would not be smaller')
  t.equal(header(tiny.head, 'vary'), 'Accept-Encoding')
  t.ok(tiny.body.equals(readFileSync(join(PUBLIC, 'print.css'))))
})

const one = (h: StHeaders, name: string): string | undefined => { const v = h[name]; return Array.isArray(v) ? v[0] : v }

t.test('SPDY with spdy-transport: the page and its pushes are gzip exactly when the page\'s request accepted it', async (t) => {
  const { spdyPort, mod } = await blog(t)
  const assets = mod.pageAssets()
  const cases: Array<{ name: string, headers: Record<string, string>, gzip: boolean }> = [
    { name: 'SPDY-era Chrome', headers: { 'accept-encoding': CHROME_31 }, gzip: true },
    { name: 'no Accept-Encoding', headers: {}, gzip: false },
    { name: 'gzip refused', headers: { 'accept-encoding': 'gzip;q=0, deflate' }, gzip: false }
  ]
  for (const c of cases) {
    const client = await StClient.connect({ port: spdyPort, version: 3.1 })
    t.teardown(() => client.close())
    const res = await client.request({ path: POST, headers: c.headers })
    t.equal(res.status, 200, c.name)
    t.equal(one(res.headers, 'content-encoding'), c.gzip ? 'gzip' : undefined, `${c.name}: page encoding`)
    t.equal(one(res.headers, 'vary'), 'Accept-Encoding')
    const html = (c.gzip ? gunzipSync(res.body) : res.body).toString()
    t.match(html, /data-proto="SPDY\/3\.1"/, `${c.name}: page decodes`)
    t.same(res.pushes.map((p) => p.path).sort(), [...assets].sort(), `${c.name}: every asset pushed`)
    for (const p of res.pushes) {
      const file = readFileSync(join(PUBLIC, p.path.slice('/static/'.length)))
      const shrinks = p.path !== '/static/print.css'
      const gz = c.gzip && shrinks
      t.equal(one(p.promised, 'content-encoding'), gz ? 'gzip' : undefined, `${c.name}: ${p.path} encoding`)
      t.match(one(p.promised, 'etag'), gz ? /^"[A-Za-z0-9_-]{16}-gz"$/ : /^"[A-Za-z0-9_-]{16}"$/, `${c.name}: ${p.path} ETag variant`)
      t.equal(one(p.promised, 'vary'), 'Accept-Encoding', `${c.name}: ${p.path} Vary`)
      t.ok((gz ? gunzipSync(p.body) : p.body).equals(file), `${c.name}: ${p.path} is the file`)
    }
    await client.close()
  }

  // The chain page: CSS, JS, SVG and JSON gzip, the WOFF2 not.
  const client = await StClient.connect({ port: spdyPort, version: 3 })
  t.teardown(() => client.close())
  const chain = await client.request({ path: '/demo/chain', headers: { 'accept-encoding': CHROME_31 } })
  const enc = Object.fromEntries(chain.pushes.map((p) => [p.path, one(p.promised, 'content-encoding') ?? 'identity']))
  t.same(enc, Object.fromEntries(mod.DEMO_PAGES['/demo/chain'].map((p) => [p, p.endsWith('.woff2') ? 'identity' : 'gzip'])))
})

t.test('cache-aware push: the cookie names the variant that was pushed', async (t) => {
  const { spdyPort } = await blog(t, true)
  const visit = async (headers: Record<string, string>): Promise<{ pushed: string[], cookie: string | undefined }> => {
    const client = await StClient.connect({ port: spdyPort, version: 3.1 })
    try {
      const res = await client.request({ path: POST, headers })
      const set = res.headers['set-cookie']
      const line = (Array.isArray(set) ? set : set === undefined ? [] : [set]).find((l) => l.startsWith('spdy-casper='))
      return { pushed: res.pushes.map((p) => p.path), cookie: line?.split(';')[0] }
    } finally { await client.close() }
  }
  const first = await visit({ 'accept-encoding': CHROME_31 })
  t.ok(first.pushed.length >= 20, `first visit: ${first.pushed.length} pushed`)
  t.ok(first.cookie !== undefined, 'the page set the cookie')
  const again = await visit({ 'accept-encoding': CHROME_31, cookie: first.cookie! })
  t.same(again.pushed, [], 'a gzip repeat visit: every gzip variant is in the cookie, nothing pushed')
  // The same cookie without gzip: print.css has one representation (gzip would not shrink it) and stays skipped;
  // every asset with a gzip variant is another version in identity, so it is pushed.
  const identity = await visit({ cookie: first.cookie! })
  t.same(identity.pushed.sort(), first.pushed.filter((p) => p !== '/static/print.css').sort(), 'identity variants are not taken for the gzip ones')
})
