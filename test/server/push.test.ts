/**
 * Server push through the plugin, received by an independent client (spdy-transport, see test/interop/spdy-transport-peer.ts), over
 * plain SPDY/2, 3 and 3.1: declarative (`config.spdy.push`) and from a handler (`reply.push`); each pushed resource
 * is produced by the app's own route (its hooks and headers included), associated to the page's stream, and
 * announced before the page's response ends. Nothing is pushed over plain HTTP.
 */
import t from 'tap'
import net from 'node:net'
import { PassThrough, Readable } from 'node:stream'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { SpdySession, type SessionEvent } from '../../lib/session/session'
import { requestHeaderList } from '../../lib/session/headers'
import { RstStatus } from '../../lib/errors'
import { SessionSocket } from '../session/socket-loop'
import { StClient } from '../interop/spdy-transport-peer'

interface Pushed { path: string, status: number, body: string }

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

async function get (client: StClient, path: string): Promise<{ body: string, pushes: Pushed[] }> {
  const res = await client.request({ path })
  return { body: res.body.toString(), pushes: res.pushes.map((p) => ({ path: p.path, status: p.status, body: p.body.toString() })) }
}

for (const protocol of ['spdy/2', 'spdy/3', 'spdy/3.1'] as const) {
  t.test(`${protocol}: pushes arrive with the page`, async (t) => {
    const app = await build()
    const port = app.spdy.port!
    const client = await StClient.connect({ port, version: protocol === 'spdy/2' ? 2 : protocol === 'spdy/3' ? 3 : 3.1 })
    t.teardown(async () => { await client.close(); await app.close() })

    const page = await get(client, '/page')
    t.equal(page.body, 'page over spdy')
    const byPath = Object.fromEntries(page.pushes.map((p) => [p.path.replace(/^https?:\/\/[^/]+/, ''), p]))
    t.same(Object.keys(byPath).sort(), ['/asset/1', '/asset/2', '/asset/3'], 'the three declared assets were pushed')
    for (const n of [1, 2, 3]) t.equal(byPath[`/asset/${n}`]?.body, `asset ${n}`, `asset ${n} body from the app's route`)
    t.same(page.pushes.map((p) => p.status), [200, 200, 200], 'each push carries its status')

    const manual = await get(client, '/manual')
    t.equal(manual.body, 'manual pushed=true')
    t.same(manual.pushes.map((p) => p.body), ['asset 9'])
  })
}

t.test('a route that runs inside routing() (sync hook and handler) can push: the stream is wired before the app runs', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0 })
  app.get('/asset/:n', async (req) => `asset ${(req.params as { n: string }).n}`)
  let ranInside = false
  let inRouting = false
  app.addHook('onRequest', (_req, _reply, done) => { done() })
  // Fastify runs callback hooks and a sync handler of a body-less GET before routing() returns: push is called
  // from inside the bridge's route() call, so the push function must already be on the request.
  app.get('/sync', (_req, reply) => {
    ranInside = inRouting
    void reply.push('/asset/7').then((ok) => { reply.send(`sync pushed=${ok}`) })
  })
  app.addHook('onReady', async () => {
    const routing = app.routing
    ;(app as unknown as { routing: typeof routing }).routing = function (this: unknown, ...args: Parameters<typeof routing>) {
      inRouting = true
      try { return routing.apply(this, args) } finally { inRouting = false }
    }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const client = await StClient.connect({ port: app.spdy.port!, version: 3.1 })
  t.teardown(async () => { await client.close(); await app.close() })
  const page = await get(client, '/sync')
  t.ok(ranInside, 'the handler ran inside routing()')
  t.equal(page.body, 'sync pushed=true')
  t.same(page.pushes.map((p) => p.body), ['asset 7'])
})

t.test('nothing is pushed over plain HTTP; maxPushesPerRequest caps pushes', async (t) => {
  const app = await build(2)
  t.teardown(() => app.close())
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  t.equal(await (await fetch(`${base}/page`)).text(), 'page over http')
  t.equal(await (await fetch(`${base}/manual`)).text(), 'manual pushed=false')
  const client = await StClient.connect({ port: app.spdy.port!, version: 3.1 })
  t.teardown(() => client.close())
  const page = await get(client, '/page')
  t.equal(page.pushes.length, 2, 'two of three pushed')
})

/**
 * The peer's side of push, driven by our client session over real TCP so the test controls exactly what the client
 * advertises and answers: MAX_CONCURRENT_STREAMS bounds pushes, and RST_STREAM stops a push's producer.
 */
async function pushApp (): Promise<{ app: ReturnType<typeof Fastify>, produced: { bytes: number, closed: boolean } }> {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0 })
  const produced = { bytes: 0, closed: false }
  // A pushed resource that stays open until its timer ends it: several pushes are open at once.
  app.get('/slow/:n', async (_req, reply) => {
    // The first chunk goes at once (the response's headers go with it), the end later.
    const body = new PassThrough()
    body.write('slow ')
    setTimeout(() => body.end((_req.params as { n: string }).n), 100)
    return reply.type('text/plain').send(body)
  })
  // A pushed resource of 64 MB made on demand: only what the client's window lets out is ever produced.
  app.get('/huge', async (_req, reply) => {
    const chunk = Buffer.alloc(16 * 1024, 120)
    const body = new Readable({
      read () { if (produced.bytes >= 64 << 20) this.push(null); else { produced.bytes += chunk.length; this.push(chunk) } },
      destroy (err, cb) { produced.closed = true; cb(err) }
    })
    return reply.send(body)
  })
  app.get('/three', { config: { spdy: { push: ['/slow/1', '/slow/2', '/slow/3'] } } }, async (_req, reply) => {
    return reply.send('three')
  })
  app.get('/with-huge', async (_req, reply) => {
    const pushed = await reply.push('/huge')
    return `with-huge pushed=${pushed}`
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, produced }
}

interface ClientRun { session: SpdySession, io: SessionSocket, events: SessionEvent[], waitFor (pred: (ev: SessionEvent) => boolean): Promise<SessionEvent> }

function client (port: number, opts: { maxConcurrentStreams?: number, onEvent?: (ev: SessionEvent, run: ClientRun) => void } = {}): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const session = new SpdySession({ role: 'client', version: 3.1, maxConcurrentStreams: opts.maxConcurrentStreams ?? 100 }, Date.now())
    const waiters: Array<{ pred: (ev: SessionEvent) => boolean, resolve: (ev: SessionEvent) => void }> = []
    const events: SessionEvent[] = []
    const run: ClientRun = {
      session,
      io: null as unknown as SessionSocket,
      events,
      waitFor (pred) {
        const seen = events.find(pred)
        if (seen !== undefined) return Promise.resolve(seen)
        return new Promise((resolve) => waiters.push({ pred, resolve }))
      }
    }
    run.io = new SessionSocket(socket, session, (ev) => {
      events.push(ev)
      opts.onEvent?.(ev, run)
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].pred(ev)) { waiters[i].resolve(ev); waiters.splice(i, 1) }
    })
    socket.once('connect', () => { run.io.pump(); resolve(run) })
    socket.once('error', reject)
  })
}

function getOn (run: ClientRun, port: number, path: string): number {
  const id = run.session.request(requestHeaderList(3.1, { method: 'GET', path, authority: `127.0.0.1:${port}`, scheme: 'http' }), { fin: true })
  run.io.pump()
  return id
}

const endOf = (id: number) => (ev: SessionEvent): boolean =>
  'streamId' in ev && ev.streamId === id && ((ev.type === 'data' && ev.fin) || (ev.type === 'response' && ev.fin) || ev.type === 'streamReset')

t.test("pushes count against the client's MAX_CONCURRENT_STREAMS", async (t) => {
  const { app } = await pushApp()
  t.teardown(() => app.close())
  const port = app.spdy.port!
  // The client lets the server open one stream at a time: of three pushes, one is opened, two are not sent at all.
  const run = await client(port, { maxConcurrentStreams: 1 })
  t.teardown(() => run.io.socket.destroy())
  // Let the server read our SETTINGS before the request (SETTINGS and SYN_STREAM go in one write anyway).
  const id = getOn(run, port, '/three')
  await run.waitFor(endOf(id))
  const pushes = run.events.filter((e) => e.type === 'push')
  t.equal(pushes.length, 1, 'one pushed stream opened')
  for (const p of pushes) await run.waitFor(endOf(p.streamId))
  const body = Buffer.concat(run.events.filter((e): e is Extract<SessionEvent, { type: 'data' }> => e.type === 'data' && e.streamId === id).map((e) => e.data)).toString()
  t.equal(body, 'three', 'the page itself is served')
  t.equal(run.events.filter((e) => e.type === 'protocolError').length, 0, 'no protocol error seen by the client')
})

t.test("the client's RST_STREAM (CANCEL) on a pushed stream stops its producer; the session goes on", async (t) => {
  const { app, produced } = await pushApp()
  t.teardown(() => app.close())
  const port = app.spdy.port!
  const run = await client(port, {
    onEvent (ev, run) {
      // A browser that already has the resource cancels the push (SPDY/3 section 3.3.2).
      if (ev.type === 'push') { run.session.reset(ev.streamId, RstStatus.CANCEL); run.io.pump() }
    }
  })
  t.teardown(() => run.io.socket.destroy())
  const id = getOn(run, port, '/with-huge')
  await run.waitFor(endOf(id))
  const page = Buffer.concat(run.events.filter((e): e is Extract<SessionEvent, { type: 'data' }> => e.type === 'data' && e.streamId === id).map((e) => e.data)).toString()
  t.equal(page, 'with-huge pushed=true')
  // Give the server time to see the RST and tear the pushed response down.
  for (let i = 0; i < 100 && !produced.closed; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.ok(produced.closed, "the pushed route's stream was destroyed")
  t.ok(produced.bytes < 4 << 20, `producer stopped early (${produced.bytes} of 64 MB made)`)
  // The session is still usable.
  const again = getOn(run, port, '/slow/9')
  await run.waitFor(endOf(again))
  const body = Buffer.concat(run.events.filter((e): e is Extract<SessionEvent, { type: 'data' }> => e.type === 'data' && e.streamId === again).map((e) => e.data)).toString()
  t.equal(body, 'slow 9')
})
