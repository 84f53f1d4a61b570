/**
 * The plugin over our own TLS with NPN/ALPN, against peers we did not write:
 * - `openssl s_client -tls1_2 -nextprotoneg` negotiates spdy/3.1 (and each version when offered alone);
 * - spdy-transport's client speaks SPDY/2, 3 and 3.1 through `openssl s_client -quiet -nextprotoneg` as its
 *   transport (OpenSSL does the TLS and the NPN, spdy-transport the SPDY): a real SPDY GET over TLS+NPN;
 * - spdy-transport (npm spdy's engine) over Node's TLS with ALPN;
 * - curl and Node's tls client (ALPN http/1.1, and no ALPN) get the HTTP/1.1 fallback on the same port.
 */
import t from 'tap'
import tls from 'node:tls'
import { spawn, execFile } from 'node:child_process'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { spdyOverSClient, spdyGet } from './spdy-over-s-client'
import { StClient } from './spdy-transport-peer'

const run = promisify(execFile)
const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
const dir = mkdtempSync(join(tmpdir(), 'fastify-spdy-'))
const caFile = join(dir, 'cert.pem')
writeFileSync(caFile, cert)

t.test('TLS listener', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: { cert, key }, port: 0 })
  app.get('/', async (req) => ({ spdy: req.spdy, protocol: req.protocol }))
  app.get('/big', async () => 'x'.repeat(300_000))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = app.spdy.port!
  t.teardown(() => app.close())

  t.test('openssl s_client -nextprotoneg picks spdy/3.1; each version alone; ALPN too', async (t) => {
    const probe = async (args: string[]): Promise<string> => {
      const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-servername', 'localhost', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', (c: Buffer) => { out += c.toString() })
      child.stdin.end()
      await new Promise((resolve) => child.on('close', resolve))
      return out
    }
    t.match(await probe(['-nextprotoneg', 'spdy/3.1,spdy/3,spdy/2']), /Next protocol: \(1\) spdy\/3\.1/)
    t.match(await probe(['-nextprotoneg', 'spdy/2']), /Next protocol: \(1\) spdy\/2/)
    t.match(await probe(['-alpn', 'spdy/3.1,http/1.1']), /ALPN protocol: spdy\/3\.1/)
    t.match(await probe(['-alpn', 'h2,http/1.1']), /ALPN protocol: http\/1\.1/)
  })

  for (const [proto, version] of [['spdy/2', 2], ['spdy/3', 3], ['spdy/3.1', 3.1]] as const) {
    t.test(`spdy-transport over openssl s_client -nextprotoneg ${proto}`, async (t) => {
      const { conn } = spdyOverSClient(t, port, version, ['-tls1_2', '-servername', 'localhost', '-nextprotoneg', proto])
      for (const path of ['/', '/big']) {
        const res = await spdyGet(conn, path)
        t.equal(res.status, 200, `${path} status`)
        if (path === '/') t.same(JSON.parse(res.body), { spdy: { version, streamId: 1, priority: JSON.parse(res.body).spdy.priority }, protocol: 'https' })
        else t.equal(res.body.length, 300_000, 'large body through flow control and TLS records')
      }
      conn.end()
    })
  }

  t.test('spdy-transport over Node TLS with ALPN', async (t) => {
    const client = await StClient.connect({ port, tls: { ca: cert, servername: 'localhost', protocols: ['spdy/3.1'] } })
    t.teardown(() => client.close())
    t.equal(client.protocol, 'spdy/3.1', 'ALPN picked spdy/3.1')
    const res = await client.request({ path: '/' })
    t.equal(res.status, 200)
    t.match(JSON.parse(res.body.toString()), { spdy: { version: 3.1 }, protocol: 'https' })
  })

  t.test('HTTP/1.1 fallback: curl --cacert, Node tls with ALPN http/1.1 and without ALPN', async (t) => {
    const { stdout } = await run('curl', ['-s', '-i', '--max-time', '10', '--cacert', caFile, `https://localhost:${port}/`, '--resolve', `localhost:${port}:127.0.0.1`])
    t.match(stdout, /^HTTP\/1\.1 200/)
    t.match(stdout, /"protocol":"https"/)
    t.match(stdout, /"spdy":null/)
    for (const ALPNProtocols of [['http/1.1'], undefined]) {
      const text = await new Promise<string>((resolve, reject) => {
        const sock = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost', ALPNProtocols }, () => {
          t.equal(sock.alpnProtocol, ALPNProtocols === undefined ? false : 'http/1.1')
          sock.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
        })
        let b = ''
        sock.on('data', (c: Buffer) => { b += c.toString() })
        sock.on('end', () => resolve(b))
        sock.on('error', reject)
      })
      t.match(text, /^HTTP\/1\.1 200/, `ALPN ${String(ALPNProtocols)}`)
      t.match(text, /"protocol":"https"/)
    }
  })
})

t.test('an NPN pick the listener never offered gets the HTTP/1.1 fallback, not that SPDY version', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: { cert, key }, port: 0, protocols: ['spdy/3.1', 'spdy/3'] })
  app.get('/', async (req) => ({ spdy: req.spdy, protocol: req.protocol }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  // OpenSSL's client, finding nothing in common, selects its own first protocol (as the NPN draft allows), then
  // we speak HTTP/1.1 over the connection.
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${app.spdy.port!}`, '-tls1_2', '-servername', 'localhost', '-nextprotoneg', 'spdy/2', '-ign_eof'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let sent = false
  const kill = setTimeout(() => child.kill('SIGKILL'), 15_000)
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
    const at = out.indexOf('Verify return code')
    if (!sent && at >= 0 && out.indexOf('\n---', at) >= 0) {
      sent = true
      child.stdin.end('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
    }
  })
  await new Promise((resolve) => child.on('close', resolve))
  clearTimeout(kill)
  t.match(out, /Next protocol: \(2\) spdy\/2/, 'OpenSSL selected spdy/2 with no overlap')
  t.match(out, /HTTP\/1\.1 200/, 'answered over HTTP/1.1')
  t.match(out, /"spdy":null,"protocol":"https"/)
})
