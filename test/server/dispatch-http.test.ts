/**
 * The same app over real HTTP/1.1 (app.listen + node:http client) and through dispatch(): status, headers and body
 * must match, and so must the hooks that run when the client goes away mid-response.
 */
import t from 'tap'
import http from 'node:http'
import { PassThrough } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import { dispatch } from '../../lib/server/dispatch'
import { RecordingSink, head } from './dispatch-sink'

interface Seen { status: number, headers: Record<string, string | string[]>, body: string }

// Headers that belong to HTTP/1.1 framing or the clock, not to the app.
const FRAMING = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding'])
function appHeaders (h: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const k of Object.keys(h).sort()) { const v = h[k]; if (!FRAMING.has(k) && v !== undefined) out[k] = v }
  return out
}

async function build (): Promise<{ app: FastifyInstance, port: number, hooks: string[] }> {
  const app = Fastify()
  const hooks: string[] = []
  app.addHook('onRequest', async (req) => { await Promise.resolve(); req.raw.headers['x-seen'] = '1' })
  app.addHook('onSend', async (_req, reply, payload) => { reply.header('x-on-send', 'yes'); return payload })
  app.addHook('onResponse', async (req) => { hooks.push(`onResponse ${req.url}`) })
  app.addHook('onRequestAbort', async (req) => { hooks.push(`onRequestAbort ${req.url}`) })
  app.get('/hello', async () => ({ hello: 'world' }))
  app.post('/items', { schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } }, async (req, reply) => reply.code(201).send(req.body))
  app.get('/boom', async () => { throw new Error('kaboom') })
  app.get('/cookies', async (_req, reply) => { reply.header('set-cookie', ['a=1', 'b=2']).header('connection', 'close'); return 'c' })
  app.get('/stream', (_req, reply) => {
    const body = new PassThrough()
    body.write('first;')
    reply.header('content-type', 'text/plain').send(body)
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const addr = app.server.address()
  return { app, port: typeof addr === 'object' && addr !== null ? addr.port : 0, hooks }
}

function overHttp (port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { ...headers, host: 'example.test:8443' }, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: appHeaders(res.headers), body: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function overSpdy (app: FastifyInstance, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Seen> {
  const sink = new RecordingSink()
  const h: Record<string, string> = { ...headers }
  const { req } = dispatch(app, head(method, path, h, { fin: body === undefined }), sink)
  if (body !== undefined) { req.pushData(Buffer.from(body)); req.pushEnd() }
  await sink.finished()
  return { status: sink.status ?? 0, headers: appHeaders(sink.headers), body: sink.body }
}

t.test('status, headers and body match HTTP/1.1', async (t) => {
  const { app, port } = await build()
  t.teardown(() => app.close())
  const json = { 'content-type': 'application/json' }
  const cases: Array<[string, string, string?, Record<string, string>?]> = [
    ['GET', '/hello'],
    ['HEAD', '/hello'],
    ['GET', '/missing'],
    ['GET', '/boom'],
    ['GET', '/cookies'],
    ['POST', '/items', JSON.stringify({ name: 'n' }), json],
    ['POST', '/items', JSON.stringify({ nope: 1 }), json],
    ['POST', '/items', '{bad json', json]
  ]
  for (const [method, path, body, headers] of cases) {
    const a = await overHttp(port, method, path, body, headers)
    const b = await overSpdy(app, method, path, body, headers)
    t.same(b, a, `${method} ${path}${body !== undefined ? ' ' + body : ''}: ${a.status}`)
  }
})

t.test('client gone mid-response: the same hooks run as over HTTP/1.1', async (t) => {
  const { app, port, hooks } = await build()
  t.teardown(() => app.close())
  await new Promise<void>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/stream', agent: false }, (res) => {
      res.once('data', () => { req.destroy(); resolve() })
    })
    req.on('error', () => {})
    req.on('timeout', reject)
  })
  // Wait until the server has seen the socket close (its hooks run on 'close').
  while (!hooks.some((h) => h.includes('/stream'))) await new Promise((resolve) => setTimeout(resolve, 5))
  await new Promise((resolve) => setTimeout(resolve, 20))
  const httpHooks = hooks.splice(0)

  const sink = new RecordingSink()
  const { req } = dispatch(app, head('GET', '/stream'), sink)
  while (sink.bytes === 0) await new Promise((resolve) => setImmediate(resolve))
  req.abort()
  while (!hooks.some((h) => h.includes('/stream'))) await new Promise((resolve) => setTimeout(resolve, 5))
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(hooks, httpHooks, `same hooks: ${httpHooks.join(', ')}`)
  t.notOk(sink.calls.some((c) => c.type === 'reset'), 'a peer reset is not answered with a reset')
})
