/**
 * `tls.legacy` end to end through the plugin: a SPDY-era client stack (OpenSSL speaking TLS 1.0 or 1.1 with NPN,
 * spdy-transport speaking SPDY/3 over it; neither written by us) does real GETs against a Fastify app.
 */
import t, { Test } from 'tap'
import { spawn } from 'node:child_process'
import { Duplex } from 'node:stream'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
// eslint-disable-next-line @typescript-eslint/no-require-imports
const transport = require('spdy-transport')

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })

type Stream = Duplex & { on (e: 'response', cb: (code: number) => void): void }
interface SpdyConnection {
  request: (o: Record<string, unknown>, cb: (err: Error | null, stream: Stream) => void) => void
  end: () => void
}

/** openssl s_client as the TLS transport of a spdy-transport client connection. */
const spdyOverSClient = (t: Test, port: number, args: string[]): { conn: SpdyConnection, done: Promise<string> } => {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-quiet', '-nextprotoneg', 'spdy/3', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  child.stdin.on('error', () => {})
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const pipe = new Duplex({
    read () {},
    write (chunk, _enc, cb) { if (child.stdin.writable) child.stdin.write(chunk, () => cb()); else cb() },
    final (cb) { child.stdin.end(); cb() }
  })
  child.stdout.on('data', (c: Buffer) => pipe.push(c))
  child.stdout.on('end', () => pipe.push(null))
  t.teardown(() => { child.kill() })
  const conn = transport.connection.create(pipe, { protocol: 'spdy', isServer: false }) as SpdyConnection & { start: (v: number) => void }
  conn.start(3)
  return { conn, done: new Promise((resolve) => child.on('close', () => resolve(stderr))) }
}

const get = async (conn: SpdyConnection, path: string): Promise<{ status: number, body: string }> => await new Promise((resolve, reject) => {
  conn.request({ method: 'GET', path, host: 'localhost', headers: {} }, (err, stream) => {
    if (err !== null) return reject(err)
    let status = 0
    let body = ''
    stream.on('response', (code: number) => { status = code })
    stream.on('data', (c: Buffer) => { body += c.toString() })
    stream.on('end', () => resolve({ status, body }))
    stream.on('error', reject)
    stream.end()
  })
})

t.test('fastify.register(spdy, { tls: { cert, key, legacy: true } }) serves SPDY/3 over TLS 1.0 and 1.1', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: { cert, key, legacy: true }, port: 0 })
  app.get('/', async (req) => ({ spdy: req.spdy, protocol: req.protocol }))
  app.get('/big', async () => 'y'.repeat(300_000))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const port = app.spdy.port as number
  for (const [flag, cipher] of [['-tls1', 'ECDHE-RSA-AES128-SHA'], ['-tls1_1', 'AES256-SHA'], ['-tls1', 'AES128-SHA']]) {
    const { conn } = spdyOverSClient(t, port, [flag, '-cipher', `${cipher}:@SECLEVEL=0`])
    const root = await get(conn, '/')
    t.equal(root.status, 200, `${flag} ${cipher}: status`)
    t.match(JSON.parse(root.body), { spdy: { version: 3, streamId: 1 }, protocol: 'https' }, `${flag} ${cipher}: a SPDY/3 request`)
    const big = await get(conn, '/big')
    t.equal(big.body, 'y'.repeat(300_000), `${flag} ${cipher}: 300 KB through CBC records and flow control`)
    conn.end()
  }
  const info = await new Promise<string>((resolve) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1', '-cipher', 'DEFAULT:@SECLEVEL=0', '-nextprotoneg', 'spdy/3'], { stdio: ['pipe', 'pipe', 'ignore'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    child.stdin.end()
    child.on('close', () => resolve(out))
  })
  t.match(info, /Protocol {2}: TLSv1\n/)
  t.match(info, 'Next protocol: (1) spdy/3')
})

t.test('without tls.legacy the plugin answers a TLS 1.0 ClientHello with protocol_version', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: { cert, key }, port: 0 })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { done } = spdyOverSClient(t, app.spdy.port as number, ['-tls1', '-cipher', 'DEFAULT:@SECLEVEL=0'])
  t.match(await done, 'alert protocol version')
})
