/**
 * lib/server/driver.ts and engine-driver.ts over real loopback sockets: the engine's deadline fires (also when it
 * moved later or earlier after arming), end -> linger -> destroy has a deadline, a peer that sends but never reads
 * is paused and then closed, and a throw in one connection's engine ends that connection only.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { EngineDriver, type EngineDriverOptions, type PullEngine } from '../../lib/server/engine-driver'
import { loopbackServer } from './loopback'

/** A tiny engine: echoes what it gets (or `reply(bytes)`), ticks at `deadline`, throws on "boom". */
class Echo implements PullEngine<string> {
  deadline: number | null = null
  ticks: number[] = []
  received = 0
  private out: Uint8Array[] = []
  constructor (private readonly reply: (b: Uint8Array) => Uint8Array = (b) => Buffer.from(b)) {}
  receive (b: Uint8Array): string[] {
    if (Buffer.from(b).toString().includes('boom')) throw new Error('engine failure injected by the test')
    this.received += b.length
    this.out.push(this.reply(b))
    return ['data']
  }

  tick (now: number): string[] { this.ticks.push(now); this.deadline = null; return ['tick'] }
  takeOutbound (): Uint8Array[] { const o = this.out; this.out = []; return o }
}

interface Served { driver: EngineDriver<string>, engine: Echo, socket: net.Socket }

/** A loopback server whose connections run `make()`'s engine on the driver; resolves each accepted one in order. */
async function server (t: Test, make: () => Echo, opts: (engine: Echo) => EngineDriverOptions<string> = () => ({})): Promise<{ port: number, next: () => Promise<Served> }> {
  return await loopbackServer(t, (socket) => {
    const engine = make()
    return { driver: new EngineDriver(socket, engine, opts(engine)), engine, socket }
  })
}

async function dial (t: Test, port: number, allowHalfOpen = false): Promise<net.Socket> {
  const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen })
  c.on('error', () => {})
  t.teardown(() => { c.destroy() })
  await once(c, 'connect')
  return c
}

const closed = async (s: net.Socket): Promise<void> => { if (!s.destroyed) await once(s, 'close') }

t.test('the engine\'s deadline fires: tick, and a done engine has its socket ended and closed', async (t) => {
  let over = false
  const { port, next } = await server(t, () => new Echo(), () => ({ done: () => over }))
  const c = await dial(t, port)
  const s = await next()
  const origTick = s.engine.tick.bind(s.engine)
  s.engine.tick = (now) => { over = true; return origTick(now) }
  const at = Date.now() + 50
  s.engine.deadline = at
  s.driver.wake()
  await once(c, 'end')
  t.equal(s.engine.ticks.length, 1, 'ticked once')
  t.ok(s.engine.ticks[0] >= at, 'with a now at or after the deadline')
  c.end()
  await closed(s.socket)
  t.ok(s.socket.destroyed, 'server socket closed')
})

t.test('a deadline moved later keeps one timer and ticks at the later time; moved earlier, at the earlier', async (t) => {
  const { port, next } = await server(t, () => new Echo())
  await dial(t, port)
  const s = await next()
  const early = Date.now() + 30
  const late = early + 120
  s.driver.schedule(early)
  s.driver.schedule(late) // later: the armed timer fires at `early`, finds `late` wanted and re-arms
  s.engine.deadline = late
  while (s.engine.ticks.length === 0) await new Promise((resolve) => setImmediate(resolve))
  t.equal(s.engine.ticks.length, 1, 'one tick')
  t.ok(s.engine.ticks[0] >= late, 'not before the later deadline')
  // Earlier than the armed one: re-armed at once, or this would wait an hour (and the test time out).
  s.driver.schedule(Date.now() + 3_600_000)
  const soon = Date.now() + 20
  s.driver.schedule(soon)
  while (s.engine.ticks.length === 1) await new Promise((resolve) => setImmediate(resolve))
  t.ok(s.engine.ticks[1] >= soon, 'the earlier deadline ticked')
  // null: nothing wanted; the timer may fire but ticks nobody.
  s.driver.schedule(Date.now() + 10)
  s.driver.schedule(null)
  await new Promise((resolve) => setTimeout(resolve, 60))
  t.equal(s.engine.ticks.length, 2, 'a cancelled deadline does not tick')
})

t.test('end -> linger -> destroy: a peer that never closes its side loses the socket at the linger deadline', async (t) => {
  const { port, next } = await server(t, () => new Echo(), () => ({ lingerMs: 100 }))
  const c = await dial(t, port, true) // half-open allowed: it reads our FIN and never sends its own
  const s = await next()
  s.driver.end()
  await once(c, 'end')
  t.notOk(s.socket.destroyed, 'our FIN is out, the socket lingers')
  await closed(s.socket)
  t.ok(s.socket.destroyed, 'destroyed although the peer never closed')
  t.notOk(c.writableEnded, 'the peer never ended its side')
})

t.test('a peer that sends but never reads is paused, then closed after unreadOutputTimeout', async (t) => {
  let unread = 0
  const big = Buffer.alloc(256 * 1024, 0x61)
  const { port, next } = await server(t, () => new Echo(() => big), () => ({ maxUnreadOutputBytes: 64 * 1024, unreadOutputTimeout: 200 }))
  const c = await dial(t, port)
  c.pause() // never reads
  const s = await next()
  // The hook the server's Connection logs from; seen here on this instance.
  ;(s.driver as unknown as { unreadOutput: (n: number) => void }).unreadOutput = (n: number) => { unread = n }
  // Keep sending while the server owes us more and more.
  const pumping = setInterval(() => { if (!c.destroyed) c.write(Buffer.alloc(1024, 0x62)) }, 5)
  t.teardown(() => clearInterval(pumping))
  while (!s.socket.isPaused() && !s.socket.destroyed) await new Promise((resolve) => setTimeout(resolve, 5))
  t.ok(s.socket.isPaused(), 'reading paused while our output is not drained')
  const heldAt = s.engine.received
  await closed(s.socket)
  clearInterval(pumping)
  t.ok(unread > 64 * 1024, `closed with ${unread} bytes unread`)
  t.ok(s.engine.received - heldAt <= 64 * 1024, `read at most a socket buffer more after pausing (${s.engine.received - heldAt} bytes)`)
})

t.test('a throw in one connection\'s engine ends that connection only; the other keeps working', async (t) => {
  const failures: unknown[] = []
  const { port, next } = await server(t, () => new Echo(), () => ({ failed: (err) => failures.push(err), lingerMs: 200 }))
  const a = await dial(t, port)
  const sa = await next()
  const b = await dial(t, port)
  await next()
  a.write('boom')
  await once(a, 'end')
  await closed(sa.socket)
  t.equal(failures.length, 1, 'the error callback saw the throw once')
  t.match(String(failures[0]), /injected by the test/)
  b.write('ping')
  const [echo] = await once(b, 'data') as [Buffer]
  t.equal(echo.toString(), 'ping', 'the other connection still answers')
})

t.test('events that keep raising events are all handled: the pump yields after 16 rounds and goes on', async (t) => {
  let left = 40
  let seen = 0
  const { port, next } = await server(t, () => {
    const e = new Echo()
    ;(e as unknown as { takeEvents: () => string[] }).takeEvents = () => left > 0 ? [`event ${left--}`] : []
    return e
  }, () => ({ events: (ev) => { seen += ev.length } }))
  await dial(t, port)
  const s = await next()
  s.driver.wake()
  t.ok(seen <= 16, `one pump handles at most 16 rounds (${seen})`)
  while (seen < 40) await new Promise((resolve) => setImmediate(resolve))
  t.equal(seen, 40, 'every event handled')
})
