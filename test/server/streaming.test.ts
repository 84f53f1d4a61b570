/**
 * Streaming through the plugin with backpressure, seen from an independent client (npm spdy's agent):
 * the first bytes of a response arrive while the route is still producing it, and a 200 MB response to a client that
 * stops reading costs the server a bounded amount of memory (the route is paused, nothing piles up).
 */
import t from 'tap'
import http from 'node:http'
import { Readable, PassThrough } from 'node:stream'
import Fastify from 'fastify'
import spdy from '../../lib/index'
// eslint-disable-next-line @typescript-eslint/no-require-imports
const spdyClient = require('spdy') as { createAgent (o: unknown): http.Agent & { close (cb: () => void): void } }

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
  const agent = spdyClient.createAgent({ host: '127.0.0.1', port: app.spdy.port, spdy: { plain: true, ssl: false, protocol: 'spdy/3.1' } })
  t.teardown(async () => { await new Promise<void>((resolve) => agent.close(() => resolve())); await app.close() })
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: app.spdy.port!, path: '/progressive', agent }, (res) => {
      let text = ''
      res.on('data', (c: Buffer) => { text += c.toString(); if (text.startsWith('first;')) firstSeen() })
      res.on('end', () => resolve(text))
    }).on('error', reject)
  })
  t.equal(body, 'first;done-after-client')
})

t.test('200 MB to a client that stops reading: server memory stays bounded', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0 })
  const TOTAL = 200 * MB
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  let produced = 0
  app.get('/huge', async (_req, reply) => {
    const source = new Readable({
      read () {
        if (produced >= TOTAL) { this.push(null); return }
        produced += chunk.length
        this.push(chunk)
      }
    })
    return reply.type('application/octet-stream').send(source)
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const agent = spdyClient.createAgent({ host: '127.0.0.1', port: app.spdy.port, spdy: { plain: true, ssl: false, protocol: 'spdy/3.1' } })
  t.teardown(async () => { await new Promise<void>((resolve) => agent.close(() => resolve())); await app.close() })

  global.gc?.()
  const before = process.memoryUsage()
  let peakGrowth = 0
  const sample = (): void => {
    const m = process.memoryUsage()
    peakGrowth = Math.max(peakGrowth, (m.heapUsed + m.arrayBuffers) - (before.heapUsed + before.arrayBuffers))
  }
  const received = await new Promise<number>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: app.spdy.port!, path: '/huge', agent }, (res) => {
      let n = 0
      let paused = false
      let nextSample = 0
      res.on('data', (c: Buffer) => {
        n += c.length
        if (n >= nextSample) { sample(); nextSample += 4 * MB }
        if (!paused && n > 20 * MB) {
          // The client stops reading for a while: the server must stop producing, not buffer.
          paused = true
          res.pause()
          const producedAtPause = produced
          const timer = setInterval(sample, 50)
          setTimeout(() => {
            clearInterval(timer)
            t.ok(produced - producedAtPause < 16 * MB, `route paused while the client was not reading (produced ${((produced - producedAtPause) / MB).toFixed(1)} MB more)`)
            res.resume()
          }, 1500)
        }
      })
      res.on('end', () => resolve(n))
    }).on('error', reject)
  })
  t.equal(received, TOTAL, 'every byte arrived')
  t.ok(peakGrowth < 32 * MB, `peak memory growth over the transfer: ${(peakGrowth / MB).toFixed(1)} MB (< 32 MB)`)
})
