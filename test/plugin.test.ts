import t from 'tap'
import net from 'node:net'
import Fastify from 'fastify'
import spdy from '../lib/index'
import { SpdyOptionsError } from '../lib/errors'

t.test('options are validated at registration', async (t) => {
  const app = Fastify()
  app.register(spdy, { tls: false, port: 70000 })
  await t.rejects(async () => { await app.ready() }, SpdyOptionsError)
  await t.rejects(async () => { await Fastify().register(spdy, {} as never).ready() }, /options\.tls is required/)
})

t.test('listener binds on listen(), follows the app host, and closes with the app', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0 })
  app.get('/', async (req) => ({ spdy: req.spdy }))
  t.equal(app.spdy.port, null, 'not bound before listen')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.equal(app.spdy.address?.address, '127.0.0.1')
  t.ok(app.spdy.server.listening)
  t.same(app.spdy.sessions(), [])

  // HTTP/1.1 sent to the plain SPDY port is served by the app's own routes (first byte is not a SPDY frame).
  const res = await fetch(`http://127.0.0.1:${app.spdy.port}/`)
  t.equal(res.status, 200)
  t.same(await res.json(), { spdy: null }, 'request.spdy is null over HTTP')

  await app.close()
  t.notOk(app.spdy.server.listening, 'SPDY listener closed by fastify.close()')
  await t.rejects(new Promise((resolve, reject) => {
    const s = net.connect(app.spdy.address?.port ?? 1, '127.0.0.1', () => { s.destroy(); resolve(null) })
    s.on('error', reject)
  }), /ECONNREFUSED/, 'port released')
})

t.test('a bind failure rejects listen()', async (t) => {
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const port = (blocker.address() as net.AddressInfo).port
  const app = Fastify()
  await app.register(spdy, { tls: false, port })
  t.teardown(() => app.close())
  await t.rejects(app.listen({ port: 0, host: '127.0.0.1' }), { code: 'EADDRINUSE' })
})

t.test('callback-style listen', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0 })
  t.teardown(() => app.close())
  await new Promise<void>((resolve, reject) => {
    app.listen({ port: 0, host: '127.0.0.1' }, (err) => { if (err) reject(err); else resolve() })
  })
  t.type(app.spdy.port, 'number')
})

t.test('a TLS ClientHello on a plain listener is closed, not served', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0 })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const closed = await new Promise<boolean>((resolve) => {
    const s = net.connect(app.spdy.port!, '127.0.0.1', () => s.write(Buffer.from([0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0])))
    s.on('close', () => resolve(true))
    s.on('error', () => {})
  })
  t.ok(closed)
})
