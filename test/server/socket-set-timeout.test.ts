/**
 * README "Timeouts": "`request.raw.setTimeout(ms, cb)` and `request.raw.socket.setTimeout(ms, cb)` set that
 * inactivity timeout for one stream, with Node's semantics". test/server/timeouts.test.ts covers the request's own;
 * this is the socket's: on a stream with nothing coming in or going out (a GET whose route waits), the callback runs
 * after `ms` and the route can still answer; a stream of the same session without it is untouched.
 */
import t from 'tap'
import type { FastifyReply } from 'fastify'
import { startServer, RawSpdy } from '../hostile/harness'
import type { HeaderList } from '../../lib/codec/types'

const statusOf = (h: HeaderList | undefined): number => parseInt(h?.find(([k]) => k === ':status')?.[1] ?? '0', 10)
const done = (reply: FastifyReply): Promise<unknown> => new Promise((resolve) => { reply.raw.once('finish', resolve); reply.raw.once('close', resolve) })

t.test('req.raw.socket.setTimeout(ms, cb) on an idle stream: cb runs and answers; other streams are untouched', async (t) => {
  let fired = 0
  const s = await startServer({
    routes: (app) => {
      app.get('/wait', {
        onRequest: (req, reply, next) => {
          req.raw.socket.setTimeout(200, () => { fired++; void reply.code(503).send('socket timed out') })
          next()
        }
      }, async (_req, reply) => { await done(reply); return reply })
      app.get('/later', async () => { await new Promise((resolve) => setTimeout(resolve, 600)); return 'later' })
    }
  })
  t.teardown(s.close)
  const p = await RawSpdy.connect(s.port)
  t.teardown(() => p.destroy())
  const later = p.get('/later')
  const wait = p.get('/wait')
  const head = (id: number): HeaderList | undefined => {
    for (const e of p.events) if (e.type === 'response' && e.streamId === id) return e.headers
    return undefined
  }
  t.ok(await p.until(() => head(wait) !== undefined), 'the waiting stream was answered')
  t.equal(statusOf(head(wait)), 503, 'by the timeout callback')
  t.equal(fired, 1, 'the callback ran once')
  t.ok(await p.until(() => head(later) !== undefined), 'the other stream answered')
  t.equal(statusOf(head(later)), 200, 'untouched by the first stream\'s timeout')
})
