/**
 * Request heads over real sockets (plain SPDY and our TLS with ALPN): a head the server cannot accept is answered
 * with RST_STREAM PROTOCOL_ERROR on its stream, the app never sees it, and the session goes on serving. Where a
 * case maps onto HTTP/1.1, the same app's own HTTP/1.1 server (Node's parser) is asked too and answers 400: the
 * SPDY side is as strict as that, no stricter without a SPDY reason (SPDY/3 section 3.2.1).
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { GoawayStatus, RstStatus } from '../../lib/errors'
import { WirePeer, goodHead, type Outcome } from './dispatch-wire'
import type { HeaderList, SpdyVersion } from '../../lib/codec/types'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })

interface Served { app: FastifyInstance, port: number, httpPort: number, ran: string[], aborted: string[] }

async function serve (t: Test, withTls: boolean, limits: { maxInvalidFrames?: number } = {}): Promise<Served> {
  const app = Fastify()
  const ran: string[] = []
  const aborted: string[] = []
  await app.register(spdy, { tls: withTls ? { cert, key } : false, port: 0, alternateProtocol: false, protocols: ['spdy/3.1', 'spdy/3', 'spdy/2'], ...limits })
  // Every hook an app could run code in: none of them may see a refused head.
  app.addHook('onRequest', async (req) => { ran.push(`onRequest ${req.method} ${req.url}`) })
  app.addHook('onRequestAbort', async (req) => { aborted.push(`${req.method} ${req.url}`) })
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => { done(null, body) })
  // reply.push with paths no client could have requested: refused (false), nothing is dispatched for them.
  app.get('/pusher', async (_req, reply) => {
    const r = reply as unknown as { push: (p: string) => Promise<boolean> }
    return await Promise.all(['/ok', '/a b', 'http://evil.example/x', '/x\r\nset-cookie: a=1'].map((p) => r.push(p)))
  })
  app.all('/*', async (req) => { ran.push(`${req.method} ${req.url}`); return { url: req.url, host: req.host, body: req.body ?? null } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const addr = app.server.address()
  return { app, port: app.spdy.port!, httpPort: typeof addr === 'object' && addr !== null ? addr.port : 0, ran, aborted }
}

/** One raw HTTP/1.1 request to the app's own server: its status line. */
async function http1 (port: number, raw: string): Promise<string> {
  return await new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(Buffer.from(raw, 'latin1')))
    let got = ''
    s.on('data', (d: Buffer) => { got += d.toString('latin1') })
    s.on('error', () => { /* seen as close */ })
    s.on('close', () => resolve(got.split('\r\n')[0]))
  })
}

const PROTOCOL_ERROR: Outcome = { kind: 'reset', status: RstStatus.PROTOCOL_ERROR }

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
    if (ok.kind === 'reply') t.same(JSON.parse(ok.body), { url: '/a?b=1', host: 'example.test:81', body: null })
    t.same(ran, ['onRequest GET /a?b=1', 'GET /a?b=1'])
  })
}

/**
 * One case per rule. `head` builds the SPDY head from a good one (SPDY/3.1 unless `version`); `h1`, where the case
 * maps onto HTTP/1.1, is the raw request Node's parser gets (it must answer 400). Authority is 127.0.0.1:<port>.
 */
interface Case { name: string, version?: SpdyVersion, head: (a: string) => HeaderList, h1?: string }
const V3 = (a: string, extra: HeaderList = [], drop: string[] = [], path = '/x', method = 'GET'): HeaderList => goodHead(3.1, a, path, method, extra, drop)
const H1 = (lines: string, target = '/x', method = 'GET'): string => `${method} ${target} HTTP/1.1\r\n${lines}\r\n`

const CASES: Case[] = [
  { name: 'name with a space', head: (a) => V3(a, [['x y', 'v']]), h1: H1('Host: a\r\nx y: v\r\n') },
  { name: 'name with CRLF', head: (a) => V3(a, [['x\r\ny', 'v']]) },
  { name: 'name with a colon', head: (a) => V3(a, [['x:y', 'v']]) },
  { name: 'name with a separator "("', head: (a) => V3(a, [['x(y', 'v']]), h1: H1('Host: a\r\nx(y: v\r\n') },
  { name: 'empty name', head: (a) => V3(a, [['', 'v']]), h1: H1('Host: a\r\n: v\r\n') },
  { name: 'uppercase name', head: (a) => V3(a, [['X-Upper', 'v']]) },
  { name: 'unknown pseudo-header', head: (a) => V3(a, [[':status', '200']]) },
  { name: 'CRLF in a value (header injection)', head: (a) => V3(a, [['x', 'a\r\nSet-Cookie: pwned=1']]) },
  { name: 'bare CR in a value', head: (a) => V3(a, [['x', 'a\rb']]), h1: H1('Host: a\r\nx: a\rb\r\n') },
  { name: 'control character in a value', head: (a) => V3(a, [['x', 'a\u0001b']]), h1: H1('Host: a\r\nx: a\u0001b\r\n') },
  { name: 'DEL in a value', head: (a) => V3(a, [['x', 'a\u007fb']]), h1: H1('Host: a\r\nx: a\u007fb\r\n') },
  { name: 'missing :method', head: (a) => V3(a, [], [':method']) },
  { name: 'method not a token', head: (a) => V3(a, [], [], '/x', 'FO\u0001O'), h1: H1('Host: a\r\n', '/x', 'FO\u0001O') },
  { name: ':version HTTP/1.2', head: (a) => V3(a, [], [':version']).concat([[':version', 'HTTP/1.2']]), h1: 'GET /x HTTP/1.2\r\nHost: a\r\n\r\n' },
  { name: ':path not origin-form', head: (a) => V3(a, [], [], 'x'), h1: H1('Host: a\r\n', 'x') },
  { name: ':path with a space', head: (a) => V3(a, [], [], '/a b') },
  { name: ':path with a non-ASCII byte', head: (a) => V3(a, [], [], '/a\u00e9'), h1: H1('Host: a\r\n', '/a\u00e9') },
  { name: 'absolute URL in :path', head: (a) => V3(a, [], [], 'http://evil.example/x') },
  { name: '* with GET', head: (a) => V3(a, [], [], '*') },
  { name: 'no host at all', head: (a) => V3(a, [], [':host']), h1: H1('x: 1\r\n') },
  { name: 'host header disagrees with :host', head: (a) => V3(a, [['host', 'evil.example']]) },
  { name: ':host with a path', head: () => V3('a/b@c') },
  { name: 'content-length +5', head: (a) => V3(a, [['content-length', '+5']], [], '/x', 'POST'), h1: H1('Host: a\r\nContent-Length: +5\r\n', '/x', 'POST') + 'hello' },
  { name: 'content-length 0x5', head: (a) => V3(a, [['content-length', '0x5']], [], '/x', 'POST'), h1: H1('Host: a\r\nContent-Length: 0x5\r\n', '/x', 'POST') + 'hello' },
  { name: 'two content-length values', head: (a) => V3(a, [['content-length', '5\u00006']], [], '/x', 'POST'), h1: H1('Host: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n', '/x', 'POST') + 'hello!' },
  { name: 'two equal content-length values', head: (a) => V3(a, [['content-length', '5\u00005']], [], '/x', 'POST'), h1: H1('Host: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n', '/x', 'POST') + 'hello' },
  { name: 'content-length with transfer-encoding', head: (a) => V3(a, [['content-length', '5'], ['transfer-encoding', 'chunked']], [], '/x', 'POST'), h1: H1('Host: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n', '/x', 'POST') + '5\r\nhello\r\n0\r\n\r\n' },
  { name: 'transfer-encoding: chunked', head: (a) => V3(a, [['transfer-encoding', 'chunked']], [], '/x', 'POST') },
  { name: 'connection', head: (a) => V3(a, [['connection', 'keep-alive']]) },
  { name: 'keep-alive', head: (a) => V3(a, [['keep-alive', 'timeout=5']]) },
  { name: 'proxy-connection', head: (a) => V3(a, [['proxy-connection', 'keep-alive']]) },
  { name: 'upgrade', head: (a) => V3(a, [['upgrade', 'websocket']]) },
  { name: 'SPDY/2: url authority disagrees with host', version: 2, head: (a) => goodHead(2, a, 'http://evil.example/x') },
  { name: 'SPDY/2: no host', version: 2, head: (a) => goodHead(2, a, '/x', 'GET', [], ['host']) },
  { name: 'SPDY/2: transfer-encoding', version: 2, head: (a) => goodHead(2, a, '/x', 'POST', [['transfer-encoding', 'chunked']]) }
]

t.test('each malformed head: RST_STREAM PROTOCOL_ERROR, no app code runs; Node HTTP/1.1 answers 400 where it maps', async (t) => {
  const { port, httpPort, ran } = await serve(t, false)
  const authority = `127.0.0.1:${port}`
  const peers = new Map<SpdyVersion, WirePeer>()
  for (const v of [3.1, 2] as const) { const p = await WirePeer.connect(port, v); peers.set(v, p); t.teardown(() => p.close()) }
  for (const c of CASES) {
    const version = c.version ?? 3.1
    const head = c.head(authority)
    // A POST case carries a body, so only its head can be at fault.
    const post = head.some(([n, v]) => (n === ':method' || n === 'method') && v === 'POST')
    const got = await peers.get(version)!.send(head, post ? { data: ['hello'] } : {})
    t.same(got, PROTOCOL_ERROR, `SPDY/${version} ${c.name}`)
    if (c.h1 !== undefined) t.equal(await http1(httpPort, c.h1), 'HTTP/1.1 400 Bad Request', `HTTP/1.1 ${c.name}`)
  }
  t.same(ran, [], 'no hook or handler ran for any of them')
  // The sessions were never hurt: a good request on each is served.
  for (const [v, p] of peers) t.match(await p.send(goodHead(v, authority, '/ok')), { kind: 'reply', status: 200 }, `SPDY/${v} session still serves`)
  t.same(ran, ['onRequest GET /ok', 'GET /ok', 'onRequest GET /ok', 'GET /ok'])
})

t.test('content-length against the DATA bytes', async (t) => {
  const { port, httpPort, ran, aborted } = await serve(t, false)
  const a = `127.0.0.1:${port}`
  const peer = await WirePeer.connect(port, 3.1)
  t.teardown(() => peer.close())
  const post = (cl: string): HeaderList => V3(a, [['content-length', cl], ['content-type', 'text/plain']], [], '/up', 'POST')

  t.same(await peer.send(post('5'), { data: ['hel', 'lo'] }), { kind: 'reply', status: 200, body: JSON.stringify({ url: '/up', host: a, body: 'hello' }) }, 'exactly 5 bytes in two DATA frames: served')
  t.same(await peer.send(post('0'), { fin: true }), { kind: 'reply', status: 200, body: JSON.stringify({ url: '/up', host: a, body: '' }) }, 'content-length 0 with FIN on SYN_STREAM: served')
  ran.length = 0

  t.same(await peer.send(post('5'), { data: ['hello world'] }), PROTOCOL_ERROR, 'more DATA than declared')
  t.same(await peer.send(post('5'), { data: ['hel', 'lo', '!'] }), PROTOCOL_ERROR, 'more DATA than declared, over three frames')
  t.same(await peer.send(post('10'), { data: ['hello'] }), PROTOCOL_ERROR, 'FIN before the declared length')
  t.same(await peer.send(post('5'), { fin: true }), PROTOCOL_ERROR, 'SYN_STREAM with FIN and content-length 5')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(ran.filter((r) => !r.startsWith('onRequest')), [], 'no handler completed a request with a broken body')
  t.same(aborted, ['POST /up', 'POST /up', 'POST /up'], 'the three dispatched requests were aborted (onRequestAbort); the FIN one never reached the app')
  t.match(await peer.send(V3(a, [], [], '/ok')), { kind: 'reply', status: 200 }, 'the session still serves')
  // HTTP/1.1 over the same app: a body short of its content-length is never a request either (the socket ends).
  t.equal(await http1(httpPort, H1('Host: a\r\nContent-Length: 10\r\n', '/up', 'POST') + 'hello'), 'HTTP/1.1 400 Bad Request')
})

t.test('over TLS too: a malformed head is RST_STREAM PROTOCOL_ERROR and the session lives', async (t) => {
  const { port, ran } = await serve(t, true)
  const a = `127.0.0.1:${port}`
  const peer = await WirePeer.connect(port, 3.1, cert)
  t.teardown(() => peer.close())
  t.same(await peer.send(V3(a, [['x', 'a\r\nSet-Cookie: pwned=1']])), PROTOCOL_ERROR, 'CRLF in a value')
  t.same(await peer.send(V3(a, [['host', 'evil.example']])), PROTOCOL_ERROR, 'host vs :host')
  t.same(ran, [])
  t.match(await peer.send(V3(a, [], [], '/ok')), { kind: 'reply', status: 200 })
})

t.test('reply.push refuses a path that is not origin-form: nothing is dispatched, the good one is pushed', async (t) => {
  const { port, ran } = await serve(t, false)
  const peer = await WirePeer.connect(port, 3.1)
  t.teardown(() => peer.close())
  const got = await peer.send(V3(`127.0.0.1:${port}`, [], [], '/pusher'))
  t.same(got, { kind: 'reply', status: 200, body: '[true,false,false,false]' })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(ran.filter((r) => r !== 'onRequest GET /pusher'), ['onRequest GET /ok', 'GET /ok'], 'only /ok ran (as a pushed GET)')
})

t.test('malformed heads and bodies count toward maxInvalidFrames: a few are answered one by one, a flood ends in GOAWAY', async (t) => {
  const { port, ran } = await serve(t, false, { maxInvalidFrames: 5 })
  const a = `127.0.0.1:${port}`
  const bad = V3(a, [['x', 'a\r\nSet-Cookie: pwned=1']])
  const few = await WirePeer.connect(port, 3.1)
  t.teardown(() => few.close())
  for (let i = 0; i < 4; i++) t.same(await few.send(bad), PROTOCOL_ERROR, `malformed head ${i + 1}`)
  t.same(await few.send(V3(a, [['content-length', '2']], [], '/up', 'POST'), { data: ['hello'] }), PROTOCOL_ERROR, 'body over its content-length')
  t.match(await few.send(V3(a, [], [], '/ok')), { kind: 'reply', status: 200 }, '5 refusals (the limit): the session still serves')
  t.equal(few.goaway, null, 'no GOAWAY')

  const flood = await WirePeer.connect(port, 3.1)
  t.teardown(() => flood.close())
  const got = await Promise.all(Array.from({ length: 8 }, async () => await flood.send(bad)))
  t.same(got.slice(0, 6), Array(6).fill(PROTOCOL_ERROR), 'RST_STREAM PROTOCOL_ERROR up to the one over the limit')
  t.notOk(got.some((o) => o.kind === 'reply'), 'none served')
  t.equal(flood.goaway, GoawayStatus.PROTOCOL_ERROR, 'the sixth refusal ends the session with GOAWAY PROTOCOL_ERROR')
  t.same(ran.filter((r) => !r.startsWith('onRequest POST')), ['onRequest GET /ok', 'GET /ok'], 'no malformed head reached the app')
})
