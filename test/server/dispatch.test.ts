/**
 * dispatch(): SPDY streams through a real Fastify app via fastify.routing(req, res), seen from a recording sink.
 */
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { dispatch } from '../../lib/server/dispatch'
import { RecordingSink, head } from './dispatch-sink'

async function buildApp (): Promise<{ app: FastifyInstance, seen: string[] }> {
  const app = Fastify()
  const seen: string[] = []
  app.decorate('greeting', 'hello')
  app.addHook('onRequest', async (req) => { await new Promise((resolve) => setImmediate(resolve)); seen.push(`onRequest ${req.url}`) })
  app.addHook('preHandler', async (req) => { await Promise.resolve(); seen.push(`preHandler ${req.url}`) })
  app.addHook('onSend', async (_req, reply, payload) => { reply.header('x-on-send', '1'); return payload })
  app.addHook('onResponse', async (req, reply) => { seen.push(`onResponse ${req.url} ${reply.statusCode}`) })
  app.setNotFoundHandler((req, reply) => { reply.code(404).send({ missing: req.url }) })
  app.setErrorHandler((err: Error & { statusCode?: number, code?: string }, _req, reply) => { reply.code(err.statusCode ?? 500).send(err.statusCode === undefined ? { handled: err.message } : { statusCode: err.statusCode, code: err.code }) })
  app.get('/hello', async (req) => ({ hello: 'world', greeting: (app as unknown as { greeting: string }).greeting, spdy: (req.raw as unknown as { spdy: unknown }).spdy }))
  app.post('/items', {
    schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, n: { type: 'integer' } } } }
  }, async (req, reply) => reply.code(201).send({ got: req.body }))
  app.get('/boom', async () => { throw new Error('kaboom') })
  app.get('/cookies', async (_req, reply) => {
    reply.header('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly'])
    reply.header('connection', 'close').header('keep-alive', 'timeout=5').header('transfer-encoding', 'chunked').header('proxy-connection', 'x').header('upgrade', 'h2c')
    reply.header('X-Mixed-Case', 'Yes')
    return 'ok'
  })
  app.get('/who', async (req) => ({ ip: req.ip, hostname: req.hostname, host: req.host, protocol: req.protocol, port: req.port }))
  await app.register(async (child) => {
    child.decorate('childOnly', 42)
    child.decorateRequest('tag', 'child-tag')
    child.addHook('onRequest', async (req) => { seen.push(`child onRequest ${req.url}`) })
    child.get('/inner', async (req) => ({ childOnly: (child as unknown as { childOnly: number }).childOnly, tag: (req as unknown as { tag: string }).tag }))
  }, { prefix: '/child' })
  app.get('/outer', async (req) => ({ tag: (req as unknown as { tag?: string }).tag ?? null, hasChildOnly: app.hasDecorator('childOnly') }))
  await app.ready()
  return { app, seen }
}

function send (app: FastifyInstance, method: string, path: string, headers: Record<string, string | string[]> = {}, body?: string): RecordingSink {
  const sink = new RecordingSink()
  const { req } = dispatch(app, head(method, path, headers, { fin: body === undefined }), sink)
  if (body !== undefined) {
    req.pushData(Buffer.from(body))
    req.pushEnd()
  }
  return sink
}

t.test('GET: status, headers, body, hooks and req.spdy', async (t) => {
  const { app, seen } = await buildApp()
  t.teardown(() => app.close())
  const sink = send(app, 'GET', '/hello')
  await sink.finished()
  t.equal(sink.status, 200)
  t.equal(sink.types(), 'respond,write+fin', 'SYN_REPLY then one DATA with FIN')
  t.match(sink.headers, { 'content-type': 'application/json; charset=utf-8', 'x-on-send': '1' })
  t.equal(sink.headers['content-length'], String(sink.bytes))
  t.type(sink.headers.date, 'string')
  t.same(JSON.parse(sink.body), { hello: 'world', greeting: 'hello', spdy: { version: 3.1, streamId: sink.headers ? JSON.parse(sink.body).spdy.streamId : 0, priority: 3 } })
  t.ok(JSON.parse(sink.body).spdy.streamId % 2 === 1, 'stream id is a client stream id')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(seen, ['onRequest /hello', 'preHandler /hello', 'onResponse /hello 200'], 'async onRequest/preHandler, then onResponse')
})

t.test('POST with a JSON body: schema validation, 201 and 400', async (t) => {
  const { app } = await buildApp()
  t.teardown(() => app.close())
  const ok = send(app, 'POST', '/items', { 'content-type': 'application/json' }, JSON.stringify({ name: 'x', n: 2 }))
  await ok.finished()
  t.equal(ok.status, 201)
  t.same(JSON.parse(ok.body), { got: { name: 'x', n: 2 } })
  const bad = send(app, 'POST', '/items', { 'content-type': 'application/json' }, JSON.stringify({ n: 'two' }))
  await bad.finished()
  t.equal(bad.status, 400)
  t.match(JSON.parse(bad.body), { statusCode: 400, code: 'FST_ERR_VALIDATION' })
  // A body with a content-length must match it: FIN short of it is RST_STREAM PROTOCOL_ERROR, no response.
  const len = send(app, 'POST', '/items', { 'content-type': 'application/json', 'content-length': '100' }, JSON.stringify({ name: 'y' }))
  await len.finished()
  t.equal(len.types(), 'reset')
  t.same(len.calls, [{ type: 'reset', status: 'PROTOCOL_ERROR' }])
  const exact = send(app, 'POST', '/items', { 'content-type': 'application/json', 'content-length': '12' }, JSON.stringify({ name: 'y' }))
  await exact.finished()
  t.equal(exact.status, 201, 'a body of exactly its content-length is read')
  const split = new RecordingSink()
  const { req } = dispatch(app, head('POST', '/items', { 'content-type': 'application/json' }, { fin: false }), split)
  // The body arrives over several DATA frames, after routing has started.
  await new Promise((resolve) => setImmediate(resolve))
  req.pushData(Buffer.from('{"na'))
  req.pushData(Buffer.from('me":"split"}'))
  req.pushEnd()
  await split.finished()
  t.equal(split.status, 201)
  t.same(JSON.parse(split.body), { got: { name: 'split' } })
})

t.test('404 handler, error handler, encapsulation', async (t) => {
  const { app, seen } = await buildApp()
  t.teardown(() => app.close())
  const nf = send(app, 'GET', '/nope?q=1')
  await nf.finished()
  t.equal(nf.status, 404)
  t.same(JSON.parse(nf.body), { missing: '/nope?q=1' })
  const boom = send(app, 'GET', '/boom')
  await boom.finished()
  t.equal(boom.status, 500)
  t.same(JSON.parse(boom.body), { handled: 'kaboom' })
  const inner = send(app, 'GET', '/child/inner')
  await inner.finished()
  t.same(JSON.parse(inner.body), { childOnly: 42, tag: 'child-tag' })
  t.ok(seen.includes('child onRequest /child/inner'), 'the child context hook ran')
  const outer = send(app, 'GET', '/outer')
  await outer.finished()
  t.same(JSON.parse(outer.body), { tag: null, hasChildOnly: false }, 'child decorators stay in the child')
  t.notOk(seen.includes('child onRequest /outer'))
})

t.test('set-cookie stays an array; connection-specific headers dropped; names lowercased', async (t) => {
  const { app } = await buildApp()
  t.teardown(() => app.close())
  const sink = send(app, 'GET', '/cookies')
  await sink.finished()
  t.same(sink.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly'])
  for (const h of ['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']) {
    t.ok(h in sink.given, `${h} reaches the sink as the app set it`)
    t.notOk(h in sink.headers, `${h} not in the SYN_REPLY`)
  }
  t.equal(sink.headers['x-mixed-case'], 'Yes')
  for (const k of Object.keys(sink.headers)) t.equal(k, k.toLowerCase())
  t.equal(sink.body, 'ok')
})

t.test('HEAD: headers only, SYN_REPLY with FIN', async (t) => {
  const { app } = await buildApp()
  t.teardown(() => app.close())
  const sink = send(app, 'HEAD', '/hello')
  await sink.finished()
  t.equal(sink.status, 200)
  t.equal(sink.types(), 'respond+fin')
  t.equal(sink.bytes, 0)
  t.equal(sink.headers['content-type'], 'application/json; charset=utf-8')
})

t.test('request.ip, hostname, host, port and protocol', async (t) => {
  const { app } = await buildApp()
  t.teardown(() => app.close())
  const tls = send(app, 'GET', '/who')
  await tls.finished()
  t.same(JSON.parse(tls.body), { ip: '10.1.2.3', hostname: 'example.test', host: 'example.test:8443', protocol: 'https', port: 8443 })
  const plain = new RecordingSink()
  dispatch(app, head('GET', '/who', { host: 'given.test' }, { encrypted: false, authority: 'ignored.test', remoteAddress: '::1' }), plain)
  await plain.finished()
  t.same(JSON.parse(plain.body), { ip: '::1', hostname: 'given.test', host: 'given.test', protocol: 'http', port: null }, 'a host header wins over :host; plain TCP is http')
})

t.test('raw request looks like an IncomingMessage', async (t) => {
  const app = Fastify()
  let raw: Record<string, unknown> = {}
  app.get('/raw', async (req) => {
    const r = req.raw as unknown as Record<string, unknown> & { socket: Record<string, unknown> }
    raw = { method: r.method, url: r.url, httpVersion: r.httpVersion, major: r.httpVersionMajor, rawHeaders: r.rawHeaders, headers: r.headers, encrypted: r.socket.encrypted, remotePort: r.socket.remotePort, localAddress: r.socket.localAddress, localPort: r.socket.localPort, same: r.socket === r.connection, complete: r.complete, aborted: r.aborted }
    return 'x'
  })
  await app.ready()
  t.teardown(() => app.close())
  const sink = new RecordingSink()
  dispatch(app, head('GET', '/raw?a=b', { cookie: 'x=1; y=2', 'set-cookie': ['p=1', 'q=2'], accept: 'a, b' }), sink)
  await sink.finished()
  t.same(raw, {
    method: 'GET', url: '/raw?a=b', httpVersion: '1.1', major: 1,
    rawHeaders: ['cookie', 'x=1; y=2', 'set-cookie', 'p=1', 'set-cookie', 'q=2', 'accept', 'a, b', 'host', 'example.test:8443'],
    headers: { cookie: 'x=1; y=2', 'set-cookie': ['p=1', 'q=2'], accept: 'a, b', host: 'example.test:8443' },
    encrypted: true, remotePort: 50123, localAddress: '10.9.9.9', localPort: 8443, same: true, complete: true, aborted: false
  })
})

t.test('response API: setHeader/getHeader, writeHead, headersSent, invalid values, flushHeaders', async (t) => {
  const app = Fastify()
  const notes: Record<string, unknown> = {}
  app.get('/raw-api', (_req, reply) => {
    const res = reply.raw
    res.setHeader('X-Num', 5)
    notes.num = res.getHeader('x-num')
    notes.has = res.hasHeader('X-NUM')
    notes.names = res.getHeaderNames()
    t.throws(() => res.setHeader('bad header', 'v'), { code: 'ERR_INVALID_HTTP_TOKEN' })
    t.throws(() => res.setHeader('x-nul', 'a\0b'), { code: 'ERR_INVALID_CHAR' }, 'a NUL would split the value on the SPDY wire')
    res.removeHeader('x-num')
    notes.afterRemove = res.hasHeader('x-num')
    res.writeHead(202, { 'X-Head': 'h', 'Content-Type': 'text/plain' })
    notes.sent = res.headersSent
    t.throws(() => res.setHeader('x-late', '1'), { code: 'ERR_HTTP_HEADERS_SENT' })
    res.flushHeaders()
    res.write('a')
    res.end('b')
  })
  await app.ready()
  t.teardown(() => app.close())
  const sink = new RecordingSink()
  dispatch(app, head('GET', '/raw-api'), sink)
  await sink.finished()
  t.same(notes, { num: 5, has: true, names: ['x-num'], afterRemove: false, sent: true })
  t.equal(sink.status, 202)
  t.equal(sink.types(), 'respond,write,write+fin')
  t.equal(sink.headers['x-head'], 'h')
  t.notOk('x-num' in sink.headers)
  t.equal(sink.body, 'ab')
})
