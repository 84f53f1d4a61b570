/**
 * A burst of requests in one read (what a browser sends when it opens a page's streams at once) is dispatched in
 * slices: responses to the first requests are written to the socket before the app has even seen the last request,
 * and every request of the burst is still answered, in full, on its own stream. Plain SPDY/3.1, our client session
 * over a real TCP socket (it is the client that can put 64 SYN_STREAMs into one write).
 */
import t from 'tap'
import net from 'node:net'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { SpdySession } from '../../lib/session/session'
import { requestHeaderList, replyStatus } from '../../lib/session/headers'

const BURST = 64

t.test('64 SYN_STREAMs in one write: first responses leave before the last request is dispatched', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0, alternateProtocol: false })
  const writtenWhenRouted: number[] = []
  app.get('/n/:i', async (req) => {
    writtenWhenRouted.push(app.spdy.sessions()[0]?.bytesWritten ?? -1)
    return `body ${(req.params as { i: string }).i}`
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const port = app.spdy.port!

  const socket = net.connect(port, '127.0.0.1')
  t.teardown(() => { socket.destroy() })
  const session = new SpdySession({ role: 'client', version: 3.1 }, Date.now())
  const bodies = new Map<number, string>()
  const statuses = new Map<number, number>()
  const paths = new Map<number, string>()
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject)
    socket.on('connect', () => {
      for (let i = 0; i < BURST; i++) {
        const path = `/n/${i}`
        const id = session.request(requestHeaderList(3.1, { method: 'GET', path, authority: `127.0.0.1:${port}`, scheme: 'http' }), { fin: true })
        paths.set(id, path)
        bodies.set(id, '')
      }
      socket.write(Buffer.concat(session.takeOutbound()))
    })
    let finished = 0
    socket.on('data', (chunk: Buffer) => {
      for (const ev of session.receive(chunk, Date.now())) {
        if (ev.type === 'response') statuses.set(ev.streamId, replyStatus(3.1, ev.headers))
        if (ev.type === 'data') {
          bodies.set(ev.streamId, bodies.get(ev.streamId)! + Buffer.from(ev.data).toString())
          session.consume(ev.streamId, ev.data.length)
          if (ev.fin && ++finished === BURST) resolve()
        }
        if (ev.type === 'streamReset') reject(new Error(`stream ${ev.streamId} reset: ${ev.status}`))
      }
      const out = session.takeOutbound()
      if (out.length > 0) socket.write(Buffer.concat(out))
    })
  })

  t.equal(writtenWhenRouted.length, BURST, 'every request of the burst reached the route')
  for (const [id, path] of paths) {
    t.equal(statuses.get(id), 200, `${path}: 200`)
    t.equal(bodies.get(id), `body ${path.slice(3)}`, `${path}: its own body`)
  }
  t.ok(writtenWhenRouted[BURST - 1] > writtenWhenRouted[0],
    `responses were on the socket before the last request was routed (${writtenWhenRouted[0]} -> ${writtenWhenRouted[BURST - 1]} bytes written)`)
})
