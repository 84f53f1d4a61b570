/**
 * Large concurrent downloads and uploads through the plugin's TLS listener, checked byte for byte by peers we did
 * not write (uploads: records the peer encrypted, which the server decrypts where they lie, see TlsEngine.receive):
 * spdy-transport (npm spdy's engine) over Node's TLS (ALPN spdy/3.1, several streams on one connection) and Node's
 * https client (HTTP/1.1 fallback, several connections). Each body is different random data, so a record buffer reused while
 * the socket still held it (lib/tls/outbuf.ts) would show as a wrong hash. Records are sealed and opened with node:crypto.
 */
import t from 'tap'
import http from 'node:http'
import https from 'node:https'
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { StClient, type StHead } from './spdy-transport-peer'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
const BLOBS = 6
const blobs = Array.from({ length: BLOBS }, (_, i) => randomBytes(6_000_000 + i * 77_777))
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/**
 * GET `path` and hash the body. With `stall`, reading stops for 150 ms after the first chunk: the server's socket
 * buffer fills, its writes go asynchronous and hold record buffers until the kernel takes them, which is when a
 * buffer given back too early would be overwritten by the next records.
 */
const get = async (port: number, path: string, agent: http.Agent | StClient | undefined, stall = false): Promise<{ hash: string, len: number, spdy: string | undefined }> =>
  await new Promise((resolve, reject) => {
    const read = (res: NodeJS.ReadableStream, headers: Promise<http.IncomingHttpHeaders | StHead['headers']>): void => {
      const h = createHash('sha256')
      let len = 0
      res.on('data', (c: Buffer) => {
        if (stall && len === 0) { res.pause(); setTimeout(() => res.resume(), 300) }
        h.update(c)
        len += c.length
      })
      res.on('end', () => { headers.then((hd) => resolve({ hash: h.digest('hex'), len, spdy: hd['x-spdy'] as string | undefined }), reject) })
      res.on('error', reject)
    }
    if (agent instanceof StClient) {
      const { stream, head } = agent.open({ path })
      read(stream, head.then((r) => r.headers))
      return
    }
    https.get({ host: '127.0.0.1', port, path, agent, ca: cert, servername: 'localhost' }, (res) => read(res, Promise.resolve(res.headers))).on('error', reject)
  })

t.test('concurrent large bodies over TLS stay intact', async (t) => {
  const app = Fastify()
  // These peers (Node's https and spdy-transport's client, ALPN only) would get OpenSSL: openssl: false keeps them on our
  // engine, whose record layer this tests.
  await app.register(spdy, { tls: { cert, key, openssl: false }, port: 0 })
  app.get('/blob/:n', async (req, reply) => {
    reply.header('x-spdy', req.spdy === null ? 'no' : String(req.spdy.version))
    return blobs[Number((req.params as { n: string }).n)]
  })
  // the same bytes as 64 KB writes over time: later writes are sealed while earlier ones may still be queued
  app.get('/stream/:n', async (req, reply) => {
    const blob = blobs[Number((req.params as { n: string }).n)]
    reply.header('x-spdy', req.spdy === null ? 'no' : String(req.spdy.version))
    return await reply.send(Readable.from((function * () { for (let o = 0; o < blob.length; o += 65536) yield blob.subarray(o, o + 65536) })()))
  })
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 16_000_000 }, (_req, body, done) => done(null, body))
  app.post('/hash', async (req) => ({ hash: sha(req.body as Buffer), len: (req.body as Buffer).length }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = app.spdy.port as number
  t.teardown(() => app.close())

  t.test('node:crypto records', async (t) => {
    const client = await StClient.connect({ port, tls: { ca: cert, servername: 'localhost', protocols: ['spdy/3.1'] } })
    t.teardown(() => client.close())
    const viaSpdy = await Promise.all(blobs.map(async (_, i) => await get(port, `/blob/${i}`, client)))
    const https1 = (): https.Agent => new https.Agent({ ca: cert, ALPNProtocols: ['http/1.1'] })
    const viaHttps = await Promise.all(blobs.map(async (_, i) => await get(port, `/blob/${i}`, https1())))
    const streamed = await Promise.all(blobs.map(async (_, i) => await get(port, `/stream/${i}`, https1(), true)))
    for (let i = 0; i < BLOBS; i++) {
      const want = { hash: sha(blobs[i]), len: blobs[i].length }
      t.same(viaSpdy[i], { ...want, spdy: '3.1' }, `blob ${i} over SPDY/3.1 (one connection, ${BLOBS} streams)`)
      t.same(viaHttps[i], { ...want, spdy: 'no' }, `blob ${i} over the HTTPS/1.1 fallback`)
      t.same(streamed[i], { ...want, spdy: 'no' }, `blob ${i} streamed in 64 KB writes to a client that stalls`)
    }
    const post = async (body: Buffer, agent: http.Agent | StClient): Promise<{ hash: string, len: number }> => {
      const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }
      // odd-sized writes, so records and reads cut the body in varied places
      if (agent instanceof StClient) return JSON.parse((await agent.request({ method: 'POST', path: '/hash', headers, body, chunk: 70_001 })).body.toString())
      return await new Promise((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port, path: '/hash', method: 'POST', agent, ca: cert, servername: 'localhost', headers }, (res) => {
          let b = ''
          res.on('data', (c: Buffer) => { b += c.toString() })
          res.on('end', () => { try { resolve(JSON.parse(b) as { hash: string, len: number }) } catch (err) { reject(err) } })
        })
        req.on('error', reject)
        for (let o = 0; o < body.length; o += 70_001) req.write(body.subarray(o, o + 70_001))
        req.end()
      })
    }
    const upSpdy = await Promise.all(blobs.slice(0, 3).map(async (b) => await post(b, client)))
    const upHttps = await Promise.all(blobs.slice(3).map(async (b) => await post(b, https1())))
    for (let i = 0; i < 3; i++) t.same(upSpdy[i], { hash: sha(blobs[i]), len: blobs[i].length }, `upload ${i} over SPDY/3.1 hashed intact by the server`)
    for (let i = 3; i < BLOBS; i++) t.same(upHttps[i - 3], { hash: sha(blobs[i]), len: blobs[i].length }, `upload ${i} over the HTTPS/1.1 fallback hashed intact`)
  })
})
