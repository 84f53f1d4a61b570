import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../lib/index'

const run = promisify(execFile)

/** `curl -i` is the real HTTP client here: it reports the headers exactly as they came off the wire. */
async function curlHeaders (url: string): Promise<{ status: number, headers: Map<string, string[]> }> {
  const { stdout } = await run('curl', ['-s', '-i', '--max-time', '10', url])
  const head = stdout.split('\r\n\r\n')[0].split('\r\n')
  const status = Number(head[0].split(' ')[1])
  const headers = new Map<string, string[]>()
  for (const line of head.slice(1)) {
    const i = line.indexOf(':')
    const name = line.slice(0, i).toLowerCase()
    headers.set(name, [...(headers.get(name) ?? []), line.slice(i + 1).trim()])
  }
  return { status, headers }
}

async function build (opts: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0, ...opts })
  app.get('/', async () => ({ hello: 'world' }))
  app.get('/boom', async () => { throw new Error('boom') })
  app.get('/own', async (_req, reply) => { reply.header('alternate-protocol', '1234:npn-spdy/3'); return 'own' })
  app.get('/quiet', { config: { spdy: { alternateProtocol: false } } }, async () => 'quiet')
  await app.register(async (child) => {
    child.get('/inner', async () => 'inner')
    child.setNotFoundHandler(async (_req, reply) => reply.code(404).send('inner 404'))
  }, { prefix: '/child' })
  return app
}

t.test('every plain HTTP response advertises the bound SPDY port (port 0)', async (t) => {
  const app = await build()
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const spdyPort = app.spdy.port
  t.type(spdyPort, 'number')
  t.not(spdyPort, 0)
  t.not(spdyPort, (app.server.address() as { port: number }).port)
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const want = `${spdyPort}:spdy/v2`
  for (const [path, status] of [['/', 200], ['/boom', 500], ['/missing', 404], ['/child/inner', 200], ['/child/nope', 404]] as const) {
    const res = await curlHeaders(base + path)
    t.equal(res.status, status, `${path} status`)
    t.same(res.headers.get('alternate-protocol'), [want], `${path} carries Alternate-Protocol once`)
    t.notOk(res.headers.has('alt-svc'), `${path} has no Alt-Svc by default`)
  }
  const own = await curlHeaders(base + '/own')
  t.same(own.headers.get('alternate-protocol'), ['1234:npn-spdy/3'], 'a header the route set is kept')
  const quiet = await curlHeaders(base + '/quiet')
  t.notOk(quiet.headers.has('alternate-protocol'), 'route config opts out')
})

t.test('protocol token and Alt-Svc are options', async (t) => {
  const app = await build({ alternateProtocol: { protocol: 'npn-spdy/3', altSvc: { maxAge: 60 } } })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const res = await curlHeaders(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/`)
  t.same(res.headers.get('alternate-protocol'), [`${app.spdy.port}:npn-spdy/3`])
  t.same(res.headers.get('alt-svc'), [`spdy%2F3.1=":${app.spdy.port}"; ma=60`])
})

t.test('alternateProtocol: false sends nothing; nothing is advertised before listen', async (t) => {
  const off = await build({ alternateProtocol: false })
  t.teardown(() => off.close())
  await off.listen({ port: 0, host: '127.0.0.1' })
  const res = await curlHeaders(`http://127.0.0.1:${(off.server.address() as { port: number }).port}/`)
  t.notOk(res.headers.has('alternate-protocol'))

  const notListening = await build()
  t.teardown(() => notListening.close())
  const injected = await notListening.inject('/')
  t.equal(injected.statusCode, 200)
  t.equal(injected.headers['alternate-protocol'], undefined, 'no port bound, nothing to advertise')
  t.equal(notListening.spdy.port, null)
})
