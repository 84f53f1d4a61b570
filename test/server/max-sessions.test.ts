/**
 * maxSessions does not lock the port: with the listener full of connections that have nothing in flight (silent
 * sockets, idle SPDY sessions), a new client is admitted by closing the oldest idle one, as nginx reuses idle
 * keep-alive connections. When every connection has a stream open, the newcomer is the one turned away and the
 * busy ones are untouched.
 */
import t from 'tap'
import type net from 'node:net'
import { startServer, idleSockets, closedWithin, normalGet, RawSpdy, sleep } from '../hostile/harness'

const MAX = 8

for (const useTls of [false, true]) {
  t.test(`${useTls ? 'TLS' : 'plain'}: a listener full of idle connections still serves new clients`, async (t) => {
    const s = await startServer({ tls: useTls, spdy: { maxSessions: MAX } })
    t.teardown(s.close)
    // Half silent sockets, half SPDY sessions that finished a request and sit idle.
    const silent = await idleSockets(s.port, MAX / 2)
    const idle: RawSpdy[] = []
    for (let i = 0; i < MAX / 2; i++) {
      const p = await RawSpdy.connect(s.port, { tls: useTls })
      t.ok(await p.served(), `idle session ${i} served once`)
      idle.push(p)
    }
    t.teardown(() => { for (const x of silent) x.destroy(); for (const p of idle) p.destroy() })
    t.equal(s.app.spdy.sessions().length, MAX, 'the listener is full')
    for (let i = 0; i < 5; i++) t.equal(await normalGet(s.port, useTls), 200, `new client ${i} served`)
    // The oldest idle ones made room: the first silent sockets were closed by the server.
    t.ok(await closedWithin(silent[0], 3000), 'the oldest idle connection was closed')
    t.ok(s.app.spdy.sessions().length <= MAX, 'never more than maxSessions')
  })
}

t.test('a listener full of busy connections turns the newcomer away and keeps the busy ones', async (t) => {
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const s = await startServer({ spdy: { maxSessions: MAX }, routes: (app) => app.get('/hold', async () => { await held; return 'released' }) })
  t.teardown(s.close)
  const busy: RawSpdy[] = []
  const ids: number[] = []
  t.teardown(() => { release(); for (const p of busy) p.destroy() })
  for (let i = 0; i < MAX; i++) {
    const p = await RawSpdy.connect(s.port)
    ids.push(p.get('/hold'))
    busy.push(p)
  }
  const end = Date.now() + 3000
  while (s.app.spdy.sessions().reduce((n, x) => n + x.openStreams, 0) < MAX && Date.now() < end) await sleep(10)
  t.equal(s.app.spdy.sessions().reduce((n, x) => n + x.openStreams, 0), MAX, 'every connection has a stream open')
  t.not(await normalGet(s.port, false, '/', 2000), 200, 'the newcomer is refused')
  release()
  for (let i = 0; i < MAX; i++) {
    t.ok(await busy[i].until(() => busy[i].events.some((e) => e.type === 'response' && e.streamId === ids[i])), `busy connection ${i} answered`)
  }
  t.equal(busy.filter((p) => p.closed).length, 0, 'no busy connection was closed')
})

t.test('sockets beyond maxSessions while the first are idle never exceed the cap', async (t) => {
  const s = await startServer({ spdy: { maxSessions: MAX } })
  t.teardown(s.close)
  const socks: net.Socket[] = await idleSockets(s.port, MAX * 4)
  t.teardown(() => { for (const x of socks) x.destroy() })
  await sleep(100)
  t.ok(s.app.spdy.sessions().length <= MAX, `at most ${MAX} held (${s.app.spdy.sessions().length})`)
  const closed = (await Promise.all(socks.slice(0, MAX * 3).map((x) => closedWithin(x, 3000)))).filter(Boolean).length
  t.equal(closed, MAX * 3, 'the oldest were closed to admit the newest')
  t.equal(await normalGet(s.port, false), 200, 'a real client is served')
})
