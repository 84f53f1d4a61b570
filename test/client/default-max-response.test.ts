/**
 * README "Checking a server": the client "buffers each response whole ... up to `maxResponseBytes` (per connection or
 * per request, default 64 MiB)". test/client/client.test.ts checks the limit when it is given; this checks the
 * default: a 64 MiB + 1 byte response, streamed by the app, fails with ClientResponseTooLargeError whose limit is
 * 64 MiB, with no option given.
 */
import t from 'tap'
import { Readable } from 'node:stream'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { connect, ClientResponseTooLargeError } from '../../lib/client'

const MiB = 1024 * 1024

t.test('no maxResponseBytes: a response one byte over 64 MiB is refused at 64 MiB', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0 })
  app.get('/huge', async (_req, reply) => {
    let sent = 0
    const total = 64 * MiB + 1
    const chunk = Buffer.alloc(MiB, 120)
    return reply.type('application/octet-stream').send(new Readable({
      read () {
        if (sent >= total) { this.push(null); return }
        const n = Math.min(chunk.length, total - sent)
        sent += n
        this.push(n === chunk.length ? chunk : chunk.subarray(0, n))
      }
    }))
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const client = await connect({ host: '127.0.0.1', port: app.spdy.port!, tls: false })
  t.teardown(() => client.close())
  const err = await client.request({ path: '/huge' }).then(() => null, (e: unknown) => e)
  t.ok(err instanceof ClientResponseTooLargeError, String(err))
  t.equal((err as ClientResponseTooLargeError).limit, 64 * MiB, 'the default limit is 64 MiB')
})
