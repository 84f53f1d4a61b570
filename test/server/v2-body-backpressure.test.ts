/**
 * SPDY/2 has no flow control: a request body the route has not read yet used to pile up in the request object
 * (a 256 MiB upload to a route that had not started reading was 256 MiB in memory). The server now stops reading
 * the socket while a stream holds a window's worth (initialWindowSize) unread (SpdySession.bodyHeld, HOLD_BODY),
 * as Node's HTTP/1.1 server pauses its socket, and reads on as the route reads: memory stays bounded and no byte is
 * lost. SPDY/3.1 (window-bound) runs for reference. The client is lib/client, which sends a v2 body without a
 * window, as SPDY/2-era browsers did (spdy-transport keeps 64 KB windows on v2 too, so it cannot show the case).
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { connect } from '../../lib/client'

const BODY = 32 << 20

for (const version of [2, 3.1] as const) {
  t.test(`spdy/${version}: a 32 MiB upload to a route that reads it late: bounded in the server, every byte arrives`, async (t) => {
    const app = Fastify({ bodyLimit: BODY })
    await app.register(spdy, { tls: false, port: 0 })
    app.addContentTypeParser('application/octet-stream', (_req, payload, done) => { done(null, payload) })
    let peak = 0
    app.post('/late', async (req) => {
      const body = req.body as Readable
      // The route is busy for a while before it reads (a slow auth check, a queue): the client keeps sending.
      for (let i = 0; i < 20; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        peak = Math.max(peak, req.raw.readableLength)
      }
      const hash = createHash('sha256')
      let n = 0
      for await (const chunk of body) { hash.update(chunk as Buffer); n += (chunk as Buffer).length }
      return { n, sha256: hash.digest('hex') }
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    t.teardown(() => app.close())
    const client = await connect({ host: '127.0.0.1', port: app.spdy.port!, tls: false, version })
    t.teardown(() => client.close())
    const sent = Buffer.alloc(BODY)
    for (let i = 0; i < BODY; i += 4096) sent.writeUInt32BE(i, i)
    const res = await client.request({ method: 'POST', path: '/late', body: sent, headers: { 'content-type': 'application/octet-stream' }, timeout: 60_000 })
    t.equal(res.status, 200)
    t.same(JSON.parse(res.body.toString()), { n: BODY, sha256: createHash('sha256').update(sent).digest('hex') }, 'every byte, in order')
    // One window (64 KiB) unread, plus what one socket read carried past it.
    t.ok(peak <= 256 << 10, `at most ${(peak / 1024).toFixed(0)} KiB waited in the request while the route was busy`)
  })
}
