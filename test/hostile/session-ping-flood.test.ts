/**
 * PING flood from a client that never reads, through the plugin over a real socket (plain SPDY/3, port 0): once
 * the socket backs up, the replies the session holds are capped at maxQueuedControlFrames and the session ends with
 * GOAWAY, instead of queueing 4 MiB of 12-byte replies (~350,000 objects, ~50 MB of heap) as before. Bounded: at
 * most 24 MB of pings, 15 s. A well-behaved client (npm spdy's agent) is served afterwards.
 */
import t from 'tap'
import net from 'node:net'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { SpdySession, type SessionEvent } from '../../lib/session'
import { FrameEncoder } from '../../lib/codec'
import { StClient } from '../interop/spdy-transport-peer'

t.test('a ping flood that never reads: at most maxQueuedControlFrames replies held, then GOAWAY', async (t) => {
  // Watch every session's queue from outside: the largest number of control frames it held after a receive().
  let maxQueued = 0
  let closedByFlood = false
  const receive = SpdySession.prototype.receive
  SpdySession.prototype.receive = function (this: SpdySession, bytes: Uint8Array, now: number): SessionEvent[] {
    const evs = receive.call(this, bytes, now)
    maxQueued = Math.max(maxQueued, (this as unknown as { control: unknown[] }).control.length)
    if (evs.some((e) => e.type === 'closed')) closedByFlood = true
    return evs
  }
  t.teardown(() => { SpdySession.prototype.receive = receive })

  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0 })
  app.get('/small', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const port = app.spdy.port!

  const enc = new FrameEncoder({ version: 3 })
  const chunk = Buffer.concat(Array.from({ length: 5000 }, (_, i) => enc.encode({ type: 'PING', id: 2 * i + 1 }))) // 60 KB
  const sock = net.connect(port, '127.0.0.1')
  sock.on('error', () => {})
  sock.pause() // never read
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()))
  const deadline = Date.now() + 15_000
  let sent = 0
  while (!closedByFlood && sent < 24 << 20 && Date.now() < deadline && !sock.destroyed) {
    if (!sock.write(chunk)) await new Promise<void>((resolve) => { sock.once('drain', resolve); setTimeout(resolve, 200) })
    sent += chunk.length
  }
  sock.destroy()
  t.ok(closedByFlood, `the session ended after ${(sent / 1048576).toFixed(1)} MB of pings`)
  t.ok(maxQueued <= 1002, `at most ${maxQueued} control frames held (cap 1000, plus the reply that tripped it and the GOAWAY)`)

  // A client we did not write (spdy-transport, plain SPDY/3.1) on a new connection.
  const client = await StClient.connect({ port, version: 3.1 })
  t.teardown(() => client.close())
  t.equal((await client.request({ method: 'GET', path: '/small' })).status, 200, 'a normal client is served')
})
