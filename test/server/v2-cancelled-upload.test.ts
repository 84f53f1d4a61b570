/**
 * A large upload the server refuses early (here Fastify's 413 past bodyLimit), with the server's RST_STREAM racing
 * the body. SPDY/2 has no flow control, so what bounds the bytes still on their way is the client:
 * - lib/client takes at most 64 KiB of DATA from its session per driver round, and only while its socket is not
 *   congested, so the body waits in the session, where the RST_STREAM drops it. Before, a SPDY/2 body went into
 *   the socket whole: all 64 MiB crossed the link after the 413 (a counting proxy here shows how much does).
 * - The server charges SPDY/2 DATA on a stream it reset by volume, not per frame (lib/session/session.ts
 *   lateDataV2; test/session/late-data.test.ts shows the small frames of SPDY/2-era browsers): the session stays.
 * spdy-transport keeps one default window on v2 too, so it cannot show the case; SPDY/3 and 3.1 run for reference.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { connect } from '../../lib/client'

/** A TCP relay to `port` counting the bytes the client sent through it. */
async function countingRelay (t: Test, port: number): Promise<{ port: number, up: () => number }> {
  let up = 0
  const relay = net.createServer((c) => {
    const s = net.connect(port, '127.0.0.1')
    c.on('data', (b: Buffer) => { up += b.length })
    c.pipe(s).pipe(c)
    c.on('error', () => s.destroy())
    s.on('error', () => c.destroy())
  })
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
  t.teardown(() => relay.close())
  return { port: (relay.address() as net.AddressInfo).port, up: () => up }
}

const BODY = 64 << 20

for (const version of [2, 3, 3.1] as const) {
  t.test(`spdy/${version}: a 64 MiB upload refused with 413: most of it never sent, the session answers the next request`, async (t) => {
    const app = Fastify({ bodyLimit: 1024 })
    await app.register(spdy, { tls: false, port: 0 })
    app.post('/up', async () => 'stored')
    app.get('/small', async () => 'small')
    await app.listen({ port: 0, host: '127.0.0.1' })
    t.teardown(() => app.close())
    const relay = await countingRelay(t, app.spdy.port!)
    const client = await connect({ host: '127.0.0.1', port: relay.port, tls: false, version })
    t.teardown(() => client.close())
    const up = await client.request({ method: 'POST', path: '/up', body: Buffer.alloc(BODY, 0x61), headers: { 'content-type': 'text/plain' }, timeout: 30_000 })
    t.equal(up.status, 413, 'the body is refused')
    // Whatever of the body was already on its way reaches the server after the 413 and its RST_STREAM, ahead of this.
    const next = await client.request({ path: '/small' })
    t.equal(next.status, 200, 'the next request on the same session is answered')
    t.equal(next.body.toString(), 'small')
    t.ok(relay.up() < BODY / 2, `${(relay.up() / 2 ** 20).toFixed(1)} MiB of the 64 MiB body crossed the link`)
  })
}
