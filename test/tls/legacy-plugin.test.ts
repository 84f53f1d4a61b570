/**
 * `tls.legacy` end to end through the plugin: a SPDY-era client stack (OpenSSL speaking TLS 1.0 or 1.1 with NPN,
 * spdy-transport speaking SPDY/3 over it; neither written by us) does real GETs against a Fastify app.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { spdyOverSClient, spdyGet as get } from '../interop/spdy-over-s-client'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })

t.test('fastify.register(spdy, { tls: { cert, key, legacy: true } }) serves SPDY/3 over TLS 1.0 and 1.1', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: { cert, key, legacy: true }, port: 0 })
  app.get('/', async (req) => ({ spdy: req.spdy, protocol: req.protocol }))
  app.get('/big', async () => 'y'.repeat(300_000))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const port = app.spdy.port as number
  for (const [flag, cipher] of [['-tls1', 'ECDHE-RSA-AES128-SHA'], ['-tls1_1', 'AES256-SHA'], ['-tls1', 'AES128-SHA']]) {
    const { conn } = spdyOverSClient(t, port, 3, ['-nextprotoneg', 'spdy/3', flag, '-cipher', `${cipher}:@SECLEVEL=0`])
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
  const { done } = spdyOverSClient(t, app.spdy.port as number, 3, ['-nextprotoneg', 'spdy/3', '-tls1', '-cipher', 'DEFAULT:@SECLEVEL=0'])
  t.match(await done, 'alert protocol version')
})
