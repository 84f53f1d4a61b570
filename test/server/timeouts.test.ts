/**
 * Fastify's timeouts on SPDY streams, and request.setTimeout() (a no-op before):
 * - requestTimeout: a request whose body does not arrive in time gets 408 and RST_STREAM CANCEL (Node's http.Server
 *   answers 408 and closes the connection; the stream is SPDY's connection-equivalent), the session lives on;
 * - connectionTimeout: a stream with no activity that long is reset, one that keeps writing is not, and Fastify's
 *   onTimeout hook runs;
 * - req.raw.setTimeout(ms, cb) on a stalled upload: cb runs, and the route can still answer.
 */
import t from 'tap'
import { startServer, RawSpdy, sleep } from '../hostile/harness'
import { requestHeaderList } from '../../lib/session/headers'
import { RstStatus } from '../../lib/errors'
import type { HeaderList } from '../../lib/codec/types'

const statusOf = (h: HeaderList): number => parseInt(h.find(([k]) => k === ':status')?.[1] ?? '0', 10)

function response (p: RawSpdy, id: number): HeaderList | undefined {
  for (const e of p.events) if (e.type === 'response' && e.streamId === id) return e.headers
  return undefined
}

t.test('requestTimeout: POST streams whose body never comes get 408 and RST_STREAM CANCEL', async (t) => {
  let handled = 0
  const s = await startServer({ fastify: { requestTimeout: 300 }, routes: (app) => app.post('/slow', async (req) => { handled++; return req.body }) })
  t.teardown(s.close)
  const p = await RawSpdy.connect(s.port)
  t.teardown(() => p.destroy())
  const N = 20
  const ids: number[] = []
  for (let i = 0; i < N; i++) {
    ids.push(p.requestRaw(requestHeaderList(3.1, { method: 'POST', path: '/slow', authority: 'localhost', scheme: 'http' }, { 'content-type': 'application/json' }), false))
  }
  t.ok(await p.until(() => ids.every((id) => p.reset(id) !== undefined), 10_000), 'every stream reset')
  t.equal(ids.filter((id) => statusOf(response(p, id) ?? []) === 408).length, N, 'every stream answered 408')
  t.equal(ids.filter((id) => p.reset(id)?.status === RstStatus.CANCEL).length, N, 'then RST_STREAM CANCEL')
  t.equal(handled, 0, 'no handler completed with a partial body')
  t.ok(await p.served(), 'the session still serves requests')
})

t.test('requestTimeout does not touch a request that completes in time', async (t) => {
  const s = await startServer({ fastify: { requestTimeout: 300 }, routes: (app) => app.get('/late', async () => { await sleep(600); return 'late' }) })
  t.teardown(s.close)
  const p = await RawSpdy.connect(s.port)
  t.teardown(() => p.destroy())
  const id = p.get('/late') // FIN with the SYN_STREAM: the request is complete at once, the answer may be slow
  t.ok(await p.until(() => response(p, id) !== undefined), 'answered')
  t.equal(statusOf(response(p, id)!), 200, '200 after 600 ms, past requestTimeout')
})

t.test('connectionTimeout: an inactive stream is reset, an active one is not, onTimeout runs', async (t) => {
  let onTimeout = 0
  const s = await startServer({
    // 100 ms between writes against a 1 s timeout: a loaded machine (the whole suite on 2 cores) has stalled this
    // process's timers by more than 200 ms, and a 300 ms timeout then reset the active stream too.
    fastify: { connectionTimeout: 1000 },
    routes: (app) => {
      app.addHook('onTimeout', async () => { onTimeout++ })
      app.get('/hang', () => new Promise(() => {}))
      app.get('/drip', (_req, reply) => {
        // A write every 100 ms for 2 s: activity the whole time, past the timeout twice over.
        reply.raw.writeHead(200, { 'content-type': 'text/plain' })
        let n = 0
        const iv = setInterval(() => { reply.raw.write('x'); if (++n === 20) { clearInterval(iv); reply.raw.end() } }, 100)
        return reply
      })
    }
  })
  t.teardown(s.close)
  const p = await RawSpdy.connect(s.port)
  t.teardown(() => p.destroy())
  const hang = p.get('/hang')
  const drip = p.get('/drip')
  t.ok(await p.until(() => p.reset(hang) !== undefined), 'the inactive stream was reset')
  t.ok(await p.until(() => p.events.some((e) => e.type === 'data' && e.streamId === drip && e.fin)), 'the active stream completed')
  t.equal(p.reset(drip), undefined, 'the active stream was not reset')
  t.equal(onTimeout, 1, "Fastify's onTimeout hook ran once")
})

t.test('req.raw.setTimeout(ms, cb) on an upload that stalls: cb runs and answers', async (t) => {
  // As with Node's IncomingMessage, the request's 'timeout' fires while the request is incomplete (a stalled body).
  const s = await startServer({
    routes: (app) => app.post('/upload', {
      onRequest: (req, reply, done) => {
        req.raw.setTimeout(200, () => { void reply.code(503).send('timed out') })
        done()
      }
    }, async (req) => req.body)
  })
  t.teardown(s.close)
  const p = await RawSpdy.connect(s.port)
  t.teardown(() => p.destroy())
  const id = p.requestRaw(requestHeaderList(3.1, { method: 'POST', path: '/upload', authority: 'localhost', scheme: 'http' }, { 'content-type': 'application/json' }), false)
  t.ok(await p.until(() => response(p, id) !== undefined), 'answered')
  t.equal(statusOf(response(p, id)!), 503, 'the callback answered 503')
})
