/**
 * The client's request timeouts: the earliest is kept by a heap (lib/client/deadlines.ts) instead of a walk over
 * every pending request on each pump, and a request costs the connection's driver one pump, not two. Against the
 * plugin over plain SPDY: the driver's wake() is counted while requests are issued and while their responses
 * arrive, and a short timeout among long ones fails alone.
 */
import t from 'tap'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { ClientTimeoutError, connect, type SpdyClient } from '../../lib/client'
import { DeadlineHeap, type Deadline } from '../../lib/client/deadlines'

t.test('DeadlineHeap: earliest, removal of any entry and takeDue agree with a plain scan (5000 random steps)', async (t) => {
  const heap = new DeadlineHeap()
  const held = new Set<Deadline>()
  let seed = 12345
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n }
  let now = 0
  let bad = 0
  for (let step = 0; step < 5000; step++) {
    const op = rnd(10)
    if (op < 5 || held.size === 0) {
      const d: Deadline = { until: now + rnd(1000), fire: () => {}, slot: -1 }
      heap.add(d); held.add(d)
    } else if (op < 8) {
      const all = [...held]
      const d = all[rnd(all.length)]
      heap.remove(d); held.delete(d)
      heap.remove(d) // twice: the second is a no-op
    } else {
      now += rnd(50)
      let last = -Infinity
      for (let d = heap.takeDue(now); d !== null; d = heap.takeDue(now)) {
        if (d.until > now || d.until < last || !held.delete(d)) bad++
        last = d.until
      }
    }
    let min: number | null = null
    for (const d of held) if (min === null || d.until < min) min = d.until
    if (heap.earliest !== min || heap.size !== held.size) bad++
  }
  t.equal(bad, 0, 'no step disagreed')
})

t.test('one pump per request, none extra per response read; a short timeout fails alone', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0 })
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  app.get('/hold', async () => { await held; return 'done' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const client: SpdyClient = await connect({ host: '127.0.0.1', port: app.spdy.port!, tls: false })
  t.teardown(() => client.close())
  const driver = (client as unknown as { link: { driver: { wake: () => void } } }).link.driver
  const wake = driver.wake
  let wakes = 0
  driver.wake = function (this: unknown) { wakes++; wake.call(this) }

  const N = 50
  const requests = Array.from({ length: N }, () => client.request({ path: '/hold', timeout: 30_000 }))
  t.equal(wakes, N, `${N} requests woke the driver ${N} times`)
  const short = client.request({ path: '/hold', timeout: 200 })
  await t.rejects(short, ClientTimeoutError, 'the request with the short timeout fails')
  t.ok(client.deadline !== null && client.deadline > Date.now() + 20_000, 'the earliest deadline left is one of the 30 s ones')

  wakes = 0
  release()
  const done = await Promise.all(requests)
  t.ok(done.every((r) => r.status === 200 && r.body.toString() === 'done'), `all ${N} others complete`)
  t.equal(wakes, 0, 'responses read by the driver cost no extra wake (it pumps after each read)')
  t.equal(client.deadline, null, 'no deadline left')
})
