/**
 * Streaming through the plugin with backpressure, seen from an independent client (spdy-transport):
 * the first bytes of a response arrive while the route is still producing it, and a 200 MB response to a client that
 * stops reading costs the server a bounded amount of memory (the route is paused, nothing piles up).
 */
import t from 'tap'
import { PassThrough } from 'node:stream'
import { spawn } from 'node:child_process'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { StClient } from '../interop/spdy-transport-peer'

const MB = 1024 * 1024

t.test('first bytes arrive before the route has finished', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0 })
  let firstSeen: () => void = () => {}
  const clientGotFirst = new Promise<string>((resolve) => { firstSeen = () => resolve('client') })
  app.get('/progressive', async (_req, reply) => {
    const body = new PassThrough()
    body.write('first;')
    // End only once the client has the first chunk (or give up after 5 s and say so in the body).
    Promise.race([clientGotFirst, new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 5000))])
      .then((who) => body.end(`done-after-${who}`), () => {})
    return reply.send(body)
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const client = await StClient.connect({ port: app.spdy.port!, version: 3.1 })
  t.teardown(async () => { await client.close(); await app.close() })
  const { stream: res, head } = client.open({ path: '/progressive' })
  const body = await new Promise<string>((resolve, reject) => {
    let text = ''
    res.on('data', (c: Buffer) => { text += c.toString(); if (text.startsWith('first;')) firstSeen() })
    res.on('end', () => resolve(text))
    head.catch(reject)
  })
  t.equal(body, 'first;done-after-client')
})

t.test('200 MB to a client that stops reading: server memory stays bounded', async (t) => {
  // The server runs in its own process so only its memory is measured (live bytes after a full GC).
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/fixtures/huge-server.ts'], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill() })
  const [httpPort, spdyPort] = await new Promise<number[]>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /READY (\d+) (\d+)/.exec(out)
      if (m !== null) resolve([Number(m[1]), Number(m[2])])
    })
    child.on('exit', (code) => reject(new Error(`server exited ${code}`)))
  })
  const mem = async (): Promise<{ live: number, produced: number }> => (await fetch(`http://127.0.0.1:${httpPort}/mem`)).json() as Promise<{ live: number, produced: number }>
  const TOTAL = 200 * MB
  const baseline = await mem()
  const client = await StClient.connect({ port: spdyPort, version: 3.1 })
  t.teardown(() => client.close())
  let peak = 0
  const { stream: res, head } = client.open({ path: '/huge' })
  const received = await new Promise<number>((resolve, reject) => {
    head.catch(reject)
    let n = 0
    let paused = false
    res.on('data', (c: Buffer) => {
      n += c.length
      if (!paused && n > 20 * MB) {
        // The client stops reading for a while: the server must stop producing, not buffer.
        paused = true
        res.pause()
        setTimeout(() => {
          mem().then(async (a) => {
            await new Promise((resolve) => setTimeout(resolve, 500))
            const b = await mem()
            peak = Math.max(a.live, b.live) - baseline.live
            t.ok(b.produced - a.produced < MB, `route paused while the client did not read (${((b.produced - a.produced) / MB).toFixed(2)} MB more in 0.5 s)`)
            res.resume()
          }, reject)
        }, 500)
      }
    })
    res.on('end', () => resolve(n))
  })
  t.equal(received, TOTAL, 'every byte arrived')
  t.ok(peak < 32 * MB, `server live memory growth with a stalled 200 MB response: ${(peak / MB).toFixed(2)} MB (< 32 MB)`)
  const after = await mem()
  t.ok(after.live - baseline.live < 8 * MB, `memory returns after the transfer (${((after.live - baseline.live) / MB).toFixed(2)} MB)`)
})
