/**
 * Server push through the plugin, received by an independent client (spdy-transport via npm spdy's agent), over
 * plain SPDY/2, 3 and 3.1: declarative (`config.spdy.push`) and from a handler (`reply.push`); each pushed resource
 * is produced by the app's own route (its hooks and headers included), associated to the page's stream, and
 * announced before the page's response ends. Nothing is pushed over plain HTTP.
 */
import t from 'tap'
import http from 'node:http'
import Fastify from 'fastify'
import spdy from '../../lib/index'
// eslint-disable-next-line @typescript-eslint/no-require-imports
const spdyClient = require('spdy') as { createAgent (o: unknown): http.Agent & { close (cb: () => void): void } }

interface Pushed { path: string, status: number, headers: Record<string, unknown>, body: string }

async function build (maxPushesPerRequest?: number): Promise<ReturnType<typeof Fastify>> {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0, ...(maxPushesPerRequest !== undefined ? { maxPushesPerRequest } : {}) })
  app.addHook('onSend', async (req, reply) => { if (req.url.startsWith('/asset')) reply.header('x-asset-hook', 'ran') })
  app.get('/asset/:n', async (req, reply) => { reply.type('text/css'); return `asset ${(req.params as { n: string }).n}` })
  app.get('/page', { config: { spdy: { push: ['/asset/1', '/asset/2', '/asset/3'] } } }, async (req) => `page over ${req.spdy === null ? 'http' : 'spdy'}`)
  app.get('/manual', async (_req, reply) => {
    const pushed = await reply.push('/asset/9')
    return `manual pushed=${pushed}`
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

function get (agent: http.Agent, port: number, path: string): Promise<{ body: string, pushes: Pushed[] }> {
  return new Promise((resolve, reject) => {
    const pushes: Array<Promise<Pushed>> = []
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => { Promise.all(pushes).then((p) => resolve({ body, pushes: p }), reject) })
    })
    req.on('push', (stream: NodeJS.ReadableStream & { path: string, on (e: 'response', cb: (status: number, headers: Record<string, unknown>) => void): void }) => {
      pushes.push(new Promise((resolve) => {
        let status = 0
        let headers: Record<string, unknown> = {}
        let body = ''
        stream.on('response', (s, h) => { status = s; headers = h })
        stream.on('data', (c: Buffer) => { body += c.toString() })
        stream.on('end', () => resolve({ path: stream.path, status, headers, body }))
      }))
    })
    req.on('error', reject)
  })
}

for (const protocol of ['spdy/2', 'spdy/3', 'spdy/3.1'] as const) {
  t.test(`${protocol}: pushes arrive with the page`, async (t) => {
    const app = await build()
    const port = app.spdy.port!
    const agent = spdyClient.createAgent({ host: '127.0.0.1', port, spdy: { plain: true, ssl: false, protocol } })
    t.teardown(async () => { await new Promise<void>((resolve) => agent.close(() => resolve())); await app.close() })

    const page = await get(agent, port, '/page')
    t.equal(page.body, 'page over spdy')
    const byPath = Object.fromEntries(page.pushes.map((p) => [p.path.replace(/^https?:\/\/[^/]+/, ''), p]))
    t.same(Object.keys(byPath).sort(), ['/asset/1', '/asset/2', '/asset/3'], 'the three declared assets were pushed')
    for (const n of [1, 2, 3]) t.equal(byPath[`/asset/${n}`]?.body, `asset ${n}`, `asset ${n} body from the app's route`)

    const manual = await get(agent, port, '/manual')
    t.equal(manual.body, 'manual pushed=true')
    t.same(manual.pushes.map((p) => p.body), ['asset 9'])
  })
}

t.test('nothing is pushed over plain HTTP; maxPushesPerRequest caps pushes', async (t) => {
  const app = await build(2)
  t.teardown(() => app.close())
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  t.equal(await (await fetch(`${base}/page`)).text(), 'page over http')
  t.equal(await (await fetch(`${base}/manual`)).text(), 'manual pushed=false')
  const agent = spdyClient.createAgent({ host: '127.0.0.1', port: app.spdy.port, spdy: { plain: true, ssl: false, protocol: 'spdy/3.1' } })
  t.teardown(() => new Promise<void>((resolve) => agent.close(() => resolve())))
  const page = await get(agent, app.spdy.port!, '/page')
  t.equal(page.pushes.length, 2, 'two of three pushed')
})
