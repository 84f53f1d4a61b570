/**
 * compressionIdleTimeout through the plugin, against an independent client (spdy-transport): an idle session
 * frees its header compression contexts (app.spdy.sessions() shows it), the next request rebuilds them in step
 * with the peer's zlib streams, and 0 keeps them.
 */
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { StClient } from '../interop/spdy-transport-peer'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function get (client: StClient, path: string): Promise<string> {
  const res = await client.request({ path, headers: { cookie: `session=${'c'.repeat(200)}`, 'user-agent': 'Mozilla/5.0 test' } })
  return res.body.toString()
}

async function setup (t: Test, compressionIdleTimeout: number): Promise<{ client: StClient, live: () => boolean }> {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0, compressionIdleTimeout })
  app.get('/n/:n', async (req, reply) => { reply.header('x-echo', (req.params as { n: string }).n); return `n=${(req.params as { n: string }).n}` })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const client = await StClient.connect({ port: app.spdy.port!, version: 3.1 })
  t.teardown(async () => { await client.close(); await app.close() })
  return { client, live: () => app.spdy.sessions()[0]?.compressionContextsLive ?? false }
}

t.test('an idle session frees its compression contexts and rebuilds them in step', async (t) => {
  // 1 s, not less: on a busy machine a few hundred ms can pass between the response and the check below.
  const { client, live } = await setup(t, 1000)
  t.equal(await get(client, '/n/1'), 'n=1')
  t.ok(live(), 'contexts live right after a request')
  for (let i = 0; i < 300 && live(); i++) await sleep(20)
  t.notOk(live(), 'freed after compressionIdleTimeout')
  // The peer's streams went on untouched: every later block must still inflate and deflate in step.
  for (let i = 2; i < 12; i++) {
    t.equal(await get(client, `/n/${i}`), `n=${i}`)
    if (i % 3 === 0) { for (let k = 0; k < 300 && live(); k++) await sleep(20) }
  }
})

t.test('compressionIdleTimeout 0 keeps them', async (t) => {
  const { client, live } = await setup(t, 0)
  t.equal(await get(client, '/n/1'), 'n=1')
  await sleep(400)
  t.ok(live(), 'still live after 400 ms idle')
})
