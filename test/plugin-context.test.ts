/**
 * The plugin in any encapsulation context: registered inside a (prefixed) child, the SPDY listener still binds when
 * the app listens and serves every route of the app through the root's routing; Alternate-Protocol follows the
 * hook's encapsulation; Fastify's register options mean what they mean for every plugin; twice on one app fails.
 * SPDY requests go through lib/client, HTTP ones through fetch; the app logs through a real pino stream.
 */
import t from 'tap'
import net from 'node:net'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../lib/index'
import { connect } from '../lib/client'

/** The registering child context, captured so the test can read its `spdy` decoration. */
async function buildNested (opts: Record<string, unknown> = {}): Promise<{ app: FastifyInstance, child: FastifyInstance }> {
  const app = Fastify()
  let child: FastifyInstance | null = null
  app.get('/root', async (req) => ({ where: 'root', spdy: req.spdy ?? null }))
  await app.register(async (c) => {
    await c.register(spdy, { tls: false, port: 0, ...opts })
    c.get('/inner', async (req) => ({ where: 'inner', version: req.spdy?.version ?? null }))
    await c.register(async (grandchild) => {
      grandchild.get('/deeper', async () => ({ where: 'deeper' }))
    })
    child = c
  }, { prefix: '/child' })
  await app.ready()
  return { app, child: child as unknown as FastifyInstance }
}

t.test('registered in a prefixed child context: both listeners serve the whole app', async (t) => {
  const { app, child } = await buildNested()
  t.teardown(() => app.close())
  t.equal(child.spdy.port, null, 'not bound before listen')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const spdyPort = child.spdy.port
  t.type(spdyPort, 'number', 'the SPDY listener bound when the root listened')
  t.ok(child.spdy.server.listening)
  t.equal(child.spdy.address?.address, '127.0.0.1', 'it follows the host the app listens on')

  const client = await connect({ host: '127.0.0.1', port: spdyPort!, tls: false })
  const inner = await client.request({ path: '/child/inner' })
  t.equal(inner.status, 200)
  t.same(JSON.parse(inner.body.toString()), { where: 'inner', version: 3.1 }, 'a route of the registering context, over SPDY')
  const root = await client.request({ path: '/root' })
  t.equal(root.status, 200)
  t.same(JSON.parse(root.body.toString()).where, 'root', 'a route outside the registering context is served over SPDY too')
  const deeper = await client.request({ path: '/child/deeper' })
  t.same(JSON.parse(deeper.body.toString()), { where: 'deeper' })
  t.equal((await client.request({ path: '/nowhere' })).status, 404, "the root's 404 handling")
  await client.close()

  const base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`
  const want = `${spdyPort}:spdy/v2`
  for (const path of ['/child/inner', '/child/deeper']) {
    const res = await fetch(base + path)
    t.equal(res.status, 200)
    t.equal(res.headers.get('alternate-protocol'), want, `${path}: the registering context and its children advertise`)
  }
  const outside = await fetch(base + '/root')
  t.equal(outside.status, 200)
  t.equal(outside.headers.get('alternate-protocol'), null, '/root: a route outside the registering context does not')

  await app.close()
  t.notOk(child.spdy.server.listening, 'closed with the app')
})

t.test('registered in a child context: a bind failure rejects listen()', async (t) => {
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const port = (blocker.address() as net.AddressInfo).port
  const { app } = await buildNested({ port })
  t.teardown(() => app.close())
  await t.rejects(app.listen({ port: 0, host: '127.0.0.1' }), { code: 'EADDRINUSE' })
})

t.test('registered in a child context: callback-style listen binds too', async (t) => {
  const { app, child } = await buildNested()
  t.teardown(() => app.close())
  await new Promise<void>((resolve, reject) => {
    app.listen({ port: 0, host: '127.0.0.1' }, (err) => { if (err !== null) reject(err); else resolve() })
  })
  t.type(child.spdy.port, 'number')
})

/** An app whose pino logger writes JSON lines into `lines`. */
function loggedApp (): { app: FastifyInstance, lines: Array<{ level: number, msg: string }> } {
  const lines: Array<{ level: number, msg: string }> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) { for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l)); cb() }
  })
  return { app: Fastify({ logger: { level: 'debug', stream } }), lines }
}

/** A TLS ClientHello on the plain listener: it warns and closes the connection. */
async function helloOnPlain (port: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(Buffer.from([0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0])))
    s.on('close', () => resolve())
    s.on('error', () => {})
  })
}

t.test('register options: logLevel applies to the plugin\'s own log lines, prefix is accepted', async (t) => {
  const spdyLines = (lines: Array<{ msg: string }>): string[] => lines.map((l) => l.msg).filter((m) => m.startsWith('fastify-spdy'))

  const loud = loggedApp()
  await loud.app.register(spdy, { tls: false, port: 0, prefix: '/ignored' })
  await loud.app.listen({ port: 0, host: '127.0.0.1' })
  await loud.app.close()
  t.ok(spdyLines(loud.lines).some((m) => m.includes('listener on 127.0.0.1')), 'without logLevel the plugin logs its listener at info')

  const silent = loggedApp()
  let child: FastifyInstance | null = null
  await silent.app.register(async (c) => {
    await c.register(spdy, { tls: false, port: 0, logLevel: 'silent' })
    child = c
  }, { prefix: '/child' })
  await silent.app.listen({ port: 0, host: '127.0.0.1' })
  await helloOnPlain((child as unknown as FastifyInstance).spdy.port!)
  await silent.app.close()
  t.same(spdyLines(silent.lines), [], "logLevel 'silent': no line from the plugin, not even its warning")
  t.ok(silent.lines.some((l) => l.msg.startsWith('Server listening')), "the app's own lines still go out")

  const warnOnly = loggedApp()
  await warnOnly.app.register(spdy, { tls: false, port: 0, logLevel: 'warn' })
  await warnOnly.app.listen({ port: 0, host: '127.0.0.1' })
  await helloOnPlain(warnOnly.app.spdy.port!)
  await warnOnly.app.close()
  const lines = warnOnly.lines.filter((l) => l.msg.startsWith('fastify-spdy'))
  t.ok(lines.length > 0, "logLevel 'warn': the warning about a TLS ClientHello on the plain listener goes out")
  t.ok(lines.every((l) => l.level >= 40), "logLevel 'warn': nothing below warn from the plugin")
})

t.test('registering twice on one app fails with a clear error', async (t) => {
  const same = Fastify()
  same.register(spdy, { tls: false, port: 0 })
  same.register(spdy, { tls: false, port: 0 })
  await t.rejects(async () => { await same.ready() }, { code: 'FST_SPDY_ALREADY_REGISTERED', message: /already registered on this app/ }, 'same context')

  const split = Fastify()
  split.register(spdy, { tls: false, port: 0 })
  split.register(async (child) => { await child.register(spdy, { tls: false, port: 0 }) })
  await t.rejects(async () => { await split.ready() }, { code: 'FST_SPDY_ALREADY_REGISTERED' }, 'root and a child context')

  // Two apps each have their own listener.
  const a = Fastify()
  const b = Fastify()
  await a.register(spdy, { tls: false, port: 0 })
  await b.register(spdy, { tls: false, port: 0 })
  await Promise.all([a.ready(), b.ready()])
  await a.close()
  await b.close()
})
