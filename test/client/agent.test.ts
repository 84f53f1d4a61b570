/**
 * SpdyAgent honours GOAWAY (SPDY/3 section 2.6.6). A scripted server on our session engine takes four requests on
 * its first connection, then sends GOAWAY with last-good-stream-id 1 (the frame written byte by byte from the
 * spec's layout, so it names a stream below ones it received) and answers stream 1 only: the two GETs above
 * last-good are sent again on a second connection and answered there, the POST is not (not idempotent) and fails
 * as `unprocessed`. The plugin itself: a GOAWAY from app.close() moves the agent to a new connection.
 */
import t from 'tap'
import net from 'node:net'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { SpdySession } from '../../lib/session/session'
import { requestHead, responseHeaderList } from '../../lib/session/headers'
import { ClientProtocolError, SpdyAgent } from '../../lib/client'

// SPDY/3 GOAWAY: control bit + version 3, type 7, flags 0, length 8, last-good-stream-id 1, status 0 (OK).
const GOAWAY_LAST_GOOD_1 = Buffer.from('80030007' + '00000008' + '00000001' + '00000000', 'hex')

t.test('streams above last-good are retried on a new connection when idempotent', async (t) => {
  let connections = 0
  const seen: string[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    const n = ++connections
    sockets.add(socket)
    socket.on('error', () => {})
    const session = new SpdySession({ role: 'server', version: 3.1 }, Date.now())
    const flush = (): void => { for (const b of session.takeOutbound()) socket.write(b) }
    const held: number[] = []
    const answer = (id: number, path: string): void => {
      session.respond(id, responseHeaderList(3.1, 200, {}))
      session.write(id, Buffer.from(`connection ${n} ${path}`), true)
    }
    socket.on('data', (chunk) => {
      for (const ev of session.receive(chunk, Date.now())) {
        if (ev.type !== 'request') continue
        const head = requestHead(3.1, ev.headers)
        const path = typeof head === 'string' ? '?' : `${head.method} ${head.path}`
        seen.push(`${n}: ${ev.streamId} ${path}`)
        if (n > 1) { answer(ev.streamId, path); continue }
        held.push(ev.streamId)
        if (held.length === 4) {
          socket.write(GOAWAY_LAST_GOOD_1)
          answer(1, 'GET /a')
        }
      }
      flush()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); server.close() })
  const port = (server.address() as net.AddressInfo).port

  const agent = new SpdyAgent({ host: '127.0.0.1', port, tls: false, version: 3.1 })
  t.teardown(() => agent.close())
  const results = await Promise.allSettled([
    agent.request({ path: '/a' }),
    agent.request({ path: '/b' }),
    agent.request({ path: '/c', method: 'PUT', body: 'x' }),
    agent.request({ path: '/d', method: 'POST', body: 'y' })
  ])
  const body = (r: PromiseSettledResult<{ body: Buffer }>): string => r.status === 'fulfilled' ? r.value.body.toString() : `rejected: ${(r.reason as Error).message}`
  t.equal(body(results[0]), 'connection 1 GET /a', 'stream 1 (last-good) answered on the first connection')
  t.equal(body(results[1]), 'connection 2 GET /b', 'GET above last-good: retried')
  t.equal(body(results[2]), 'connection 2 PUT /c', 'PUT above last-good: retried (idempotent)')
  t.equal(results[3].status, 'rejected', 'POST above last-good: not retried')
  const err = (results[3] as PromiseRejectedResult).reason as ClientProtocolError
  t.type(err, ClientProtocolError)
  t.equal(err.unprocessed, true, 'and reported as never processed')
  t.equal(err.frame, 'GOAWAY')
  t.equal(agent.retried, 2)
  t.equal(agent.connections, 2)
  t.same(seen.filter((s) => s.startsWith('2:')).sort(), ['2: 1 GET /b', '2: 3 PUT /c'], 'the second connection saw only the retried requests')
  // Later requests go to the new connection.
  t.equal((await agent.request({ path: '/e' })).body.toString(), 'connection 2 GET /e')
})

t.test('the plugin\'s GOAWAY on close: the agent moves to the next server', async (t) => {
  // Two apps behind a relay that sends new connections to whichever is current: a balancer, stripped down.
  const apps = [Fastify(), Fastify()]
  for (const [i, app] of apps.entries()) {
    await app.register(spdy, { tls: false, port: 0, gracefulTimeout: 2000 })
    app.get('/', async () => `app ${i}`)
    await app.listen({ port: 0, host: '127.0.0.1' })
  }
  t.teardown(async () => { for (const a of apps) await a.close() })
  let target = apps[0].spdy.port!
  const relay = net.createServer((down) => {
    const up = net.connect(target, '127.0.0.1')
    down.pipe(up).pipe(down)
    up.on('error', () => down.destroy())
    down.on('error', () => up.destroy())
  })
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
  t.teardown(() => relay.close())
  const agent = new SpdyAgent({ host: '127.0.0.1', port: (relay.address() as net.AddressInfo).port, tls: false })
  t.teardown(() => agent.close())
  t.equal((await agent.request({ path: '/' })).body.toString(), 'app 0')
  target = apps[1].spdy.port!
  await apps[0].close()
  t.equal((await agent.request({ path: '/' })).body.toString(), 'app 1', 'after GOAWAY, a new connection')
  t.equal(agent.connections, 2)
})
