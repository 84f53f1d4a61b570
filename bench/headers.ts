/**
 * Header bytes on the wire (issue 7.2): 100 browser-like requests and their responses, one connection, one request
 * at a time, over SPDY/2 and SPDY/3 (plain SPDY, `tls: false`, so the counts are the frames themselves) against
 * HTTP/1.1 on the same Fastify app (its own Node HTTP server, no TLS either). Counted:
 *   - SPDY client -> server: the bytes our client session (lib/session, client role) hands out to write;
 *   - SPDY server -> client: the bytes the client socket read, i.e. what fastify-spdy's server wrote;
 *   - HTTP/1.1: the client socket's bytesWritten / bytesRead (Node's http client with a keep-alive Agent: exactly
 *     the request bytes Fastify's server parsed and the response bytes it sent).
 * "Header bytes" are wire bytes less the response bodies (identical in every protocol): HTTP/1.1 request and status
 * lines and headers; SPDY frame headers, compressed header blocks, SETTINGS and WINDOW_UPDATE. SPDY compresses each
 * direction's header blocks with one zlib context per connection (SPDY/3 section 2.6.10.1), so repeated headers
 * (user-agent, cookie, accept-*) cost a few bytes after the first request.
 * Alternate-Protocol is disabled for this app so HTTP/1.1 responses carry only what Fastify itself sends.
 *
 *   npx tsx bench/headers.ts [--quick]      (--quick: same measurement, nothing written)
 */
import http from 'node:http'
import net from 'node:net'
import Fastify from 'fastify'
import spdy from '../lib/index'
import { SpdySession } from '../lib/session/session'
import { replyStatus, requestHeaderList, type OutgoingHeaders } from '../lib/session/headers'
import type { SpdyVersion } from '../lib/codec/types'
import { machine, writeSection } from './results'

const N = 100
const AUTHORITY = 'blog.example.com'
const UA = 'Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/31.0.1650.63 Safari/537.36'
/** ~200 B: a session id plus analytics cookies, the kind every request to a real site carried. */
const COOKIE = 'sid=s%3A4f1d2c9e8b7a6f5e4d3c2b1a09f8e7d6.Xq3kL9mN2pR5tV8wY1zA4bC7dE0fG3hJ6kM9nP2qS5; _ga=GA1.2.1183912347.1385123456; ' +
  '_gat=1; prefs=theme%3Dlight%26lang%3Den; __utmz=173272373.1385123456.1.1.utmcsr=(direct)|utmccn=(direct)|utmcmd=(none)'

interface Req { path: string, headers: OutgoingHeaders }

/** The requests a visit to the blog makes: pages, then each page's stylesheets, scripts and images, Chrome-style. */
function requests (): Req[] {
  const pages = ['/', '/posts/2012-03-01-why-spdy', '/posts/2012-05-10-running-it', '/posts/2012-08-20-server-push', '/posts/2013-01-15-header-compression', '/tags/spdy']
  const images = ['bridge', 'canyon', 'city', 'coast', 'desert', 'forest', 'garden', 'glacier', 'harbor', 'island', 'lake', 'meadow', 'mountain', 'river', 'tower', 'valley']
  const out: Req[] = []
  const common = { 'user-agent': UA, 'accept-encoding': 'gzip,deflate,sdch', 'accept-language': 'en-US,en;q=0.8', cookie: COOKIE }
  for (let i = 0; out.length < N; i++) {
    const page = pages[i % pages.length]
    out.push({ path: page, headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,*/*;q=0.8', ...common, 'cache-control': 'max-age=0' } })
    const referer = `https://${AUTHORITY}${page}`
    const sub: Req[] = [
      { path: '/static/style.css', headers: { accept: 'text/css,*/*;q=0.1', ...common, referer } },
      { path: '/static/app.js', headers: { accept: '*/*', ...common, referer } },
      ...images.map((n) => ({ path: `/static/img/${n}.svg`, headers: { accept: 'image/webp,*/*;q=0.8', ...common, referer } }))
    ]
    for (const r of sub) if (out.length < N) out.push(r)
  }
  return out
}

/** Responses: a small body of fixed size (the same in every protocol) with the headers a static server sends. */
const BODY = Buffer.alloc(200, 0x2e)
async function buildApp (): Promise<ReturnType<typeof Fastify>> {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0, protocols: ['spdy/3', 'spdy/2'], alternateProtocol: false })
  app.get('/*', async (req, reply) => {
    const path = req.url
    const type = path.endsWith('.css') ? 'text/css; charset=utf-8' : path.endsWith('.js') ? 'text/javascript; charset=utf-8' : path.endsWith('.svg') ? 'image/svg+xml' : 'text/html; charset=utf-8'
    reply.type(type)
      .header('cache-control', path.startsWith('/static/') ? 'public, max-age=3600' : 'private, no-cache')
      .header('last-modified', 'Mon, 20 Aug 2012 10:00:00 GMT')
      .header('etag', `"${Buffer.from(path).toString('base64').slice(0, 16)}"`)
    return BODY
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

interface Count { up: number, down: number, bodies: number }

async function overHttp1 (port: number, reqs: Req[]): Promise<Count> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  let socket: net.Socket | null = null
  let bodies = 0
  for (const r of reqs) {
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: r.path, agent, headers: { host: AUTHORITY, ...r.headers } as http.OutgoingHttpHeaders }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`HTTP/1.1 ${r.path}: ${String(res.statusCode)}`))
        res.on('data', (c: Buffer) => { bodies += c.length })
        res.on('end', () => resolve())
      })
      req.on('socket', (s) => { if (socket !== null && socket !== s) reject(new Error('HTTP/1.1: a second connection was opened')); socket = s })
      req.on('error', reject)
    })
  }
  const s = socket as net.Socket | null
  if (s === null) throw new Error('no socket')
  const count = { up: s.bytesWritten, down: s.bytesRead, bodies }
  agent.destroy()
  return count
}

async function overSpdy (port: number, version: SpdyVersion, reqs: Req[]): Promise<Count> {
  const socket = net.connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  const session = new SpdySession({ role: 'client', version }, Date.now())
  let up = 0
  let bodies = 0
  const flush = (): void => {
    for (const b of session.takeOutbound()) { up += b.length; socket.write(b) }
  }
  let current: { id: number, resolve: () => void, reject: (e: Error) => void } | null = null
  socket.on('data', (chunk: Buffer) => {
    for (const ev of session.receive(chunk, Date.now())) {
      if (current === null || !('streamId' in ev) || ev.streamId !== current.id) continue
      if (ev.type === 'response' && replyStatus(version, ev.headers) !== 200) current.reject(new Error(`SPDY/${version}: status ${replyStatus(version, ev.headers)}`))
      if (ev.type === 'data') { bodies += ev.data.length; if (ev.data.length > 0) session.consume(ev.streamId, ev.data.length) }
      if (ev.type === 'streamReset') current.reject(new Error(`SPDY/${version}: stream reset ${ev.status}`))
      if ((ev.type === 'data' || ev.type === 'response') && ev.fin) current.resolve()
    }
    flush()
  })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  for (const r of reqs) {
    await new Promise<void>((resolve, reject) => {
      const id = session.request(requestHeaderList(version, { method: 'GET', path: r.path, authority: AUTHORITY, scheme: 'https' }, r.headers), { fin: true })
      current = { id, resolve, reject }
      flush()
    })
  }
  const count = { up, down: socket.bytesRead, bodies }
  socket.destroy()
  return count
}

async function main (): Promise<void> {
  const quick = process.argv.includes('--quick')
  const reqs = requests()
  const app = await buildApp()
  try {
    const httpPort = (app.server.address() as net.AddressInfo).port
    const spdyPort = app.spdy.port ?? 0
    const h1 = await overHttp1(httpPort, reqs)
    const s2 = await overSpdy(spdyPort, 2, reqs)
    const s3 = await overSpdy(spdyPort, 3, reqs)
    for (const c of [s2, s3]) if (c.bodies !== h1.bodies) throw new Error(`body bytes differ: ${c.bodies} vs ${h1.bodies}`)
    const hdr = (c: Count): { up: number, down: number, total: number } => ({ up: c.up, down: c.down - c.bodies, total: c.up + c.down - c.bodies })
    const base = hdr(h1)
    const rows: string[] = []
    const ratio = (a: number, b: number): string => `${(a / b).toFixed(3)}x`
    for (const [name, c] of [['HTTP/1.1 (anchor)', h1], ['SPDY/2', s2], ['SPDY/3', s3]] as const) {
      const h = hdr(c)
      rows.push(`| ${name} | ${c.up} | ${h.down} | ${h.total} | ${c.up + c.down} | ${(h.up / N).toFixed(1)} / ${(h.down / N).toFixed(1)} | ${ratio(h.up, base.up)} | ${ratio(h.down, base.down)} | ${ratio(h.total, base.total)} |`)
    }
    const line = `headers: ${N} requests, header bytes (wire less bodies) SPDY/2 ${ratio(hdr(s2).total, base.total)}, SPDY/3 ${ratio(hdr(s3).total, base.total)} of HTTP/1.1 (${base.total} B)`
    const table = `| protocol | request bytes | response bytes less bodies | header bytes total | wire bytes with bodies | per request up / down | up ratio | down ratio | total ratio |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}`
    process.stdout.write(table + '\n' + line + '\n')
    if (quick) return
    const sample = reqs[1]
    writeSection('headers', `## Header bytes on the wire (bench/headers.ts): SPDY/2 and SPDY/3 vs HTTP/1.1

Command: \`flock /tmp/bench.lock npx tsx bench/headers.ts\` (${machine()}; byte counts do not depend on the machine, and move by a few bytes between runs as the date header changes).
${N} browser-like GETs on one connection, one at a time: 6 pages, each followed by its stylesheet, script and 16 images,
with a Chrome 31 user-agent, accept (per resource type), accept-encoding, accept-language, a ${COOKIE.length} B cookie,
and referer on subresources (e.g. \`${sample.path}\`: ${Object.keys(sample.headers).join(', ')}). Responses: 200 with
content-type, cache-control, last-modified, etag and a ${BODY.length} B body (Fastify adds content-length and date; on
HTTP/1.1 also connection/keep-alive). Same Fastify app for all three; SPDY is plain (\`tls: false\`) so frames are
counted as they are, HTTP/1.1 is Fastify's own Node HTTP server counted at the client socket. SPDY bytes include the
SETTINGS each side opens with and every frame header; "less bodies" removes the ${N} x ${BODY.length} B bodies only.

${table}

Requests shrink most: the ~${Math.round(base.up / N)} B HTTP/1.1 request (user-agent and cookie repeated every time)
becomes a header block that the shared zlib context reduces to a few tens of bytes after the first one.
`)
  } finally {
    await app.close()
  }
}

main().catch((err) => { console.error(err); process.exit(1) })
