/**
 * README limits table, `gracefulTimeout`: "ms that `app.close()` lets in-flight streams finish after GOAWAY", and
 * "Rolling restarts": every session gets GOAWAY, its streams finish within gracefulTimeout, then the sockets close.
 * Both halves, with spdy-transport (an independent client) over plain SPDY/3.1:
 * - a stream still in flight when close() starts is answered in full when the app ends it within gracefulTimeout;
 * - a stream the app never ends does not hold close() past gracefulTimeout: the socket is destroyed, the route
 *   sees its request closed, and close() resolves.
 */
import t from 'tap'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { StClient } from '../interop/spdy-transport-peer'

async function build (gracefulTimeout: number): Promise<{ app: ReturnType<typeof Fastify>, release: () => void, aborted: () => boolean }> {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0, gracefulTimeout })
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  let hangClosed = false
  app.get('/held', async () => { await gate; return 'held done' })
  app.get('/hang', async (req) => {
    req.raw.on('close', () => { hangClosed = true })
    return await new Promise<string>(() => { /* never answered */ })
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, release, aborted: () => hangClosed }
}

t.test('a stream in flight when close() starts finishes within gracefulTimeout', async (t) => {
  const { app, release } = await build(60_000)
  const client = await StClient.connect({ port: app.spdy.port!, version: 3.1 })
  t.teardown(() => client.socket.destroy())
  const inflight = client.request({ path: '/held' })
  // The stream is open in the app before close() starts.
  while (app.spdy.sessions()[0]?.openStreams !== 1) await new Promise((resolve) => setTimeout(resolve, 10))
  let closed = false
  const closing = app.close().then(() => { closed = true })
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(closed, false, 'close() waits for the held stream')
  t.notOk(app.spdy.server.listening, 'the listener stopped accepting at once')
  release()
  const res = await inflight
  t.equal(res.status, 200)
  t.equal(res.body.toString(), 'held done', 'answered in full after close() started')
  await closing
  t.equal(closed, true)
})

t.test('a stream the app never ends is cut at gracefulTimeout; close() resolves', { timeout: 30_000 }, async (t) => {
  const { app, aborted } = await build(300)
  const client = await StClient.connect({ port: app.spdy.port!, version: 3.1 })
  t.teardown(() => client.socket.destroy())
  const socketClosed = new Promise<void>((resolve) => client.socket.once('close', () => resolve()))
  let answered = false
  // spdy-transport leaves a stream pending when its socket closes, so the request is watched, not awaited.
  client.request({ path: '/hang' }).then(() => { answered = true }, () => {})
  while (app.spdy.sessions()[0]?.openStreams !== 1) await new Promise((resolve) => setTimeout(resolve, 10))
  await app.close()
  t.pass('close() resolved with a stream the app never ends')
  await socketClosed
  t.pass('the client\'s socket was closed')
  t.equal(answered, false, 'the hung request was not answered')
  t.equal(aborted(), true, 'the route saw its request closed')
})
