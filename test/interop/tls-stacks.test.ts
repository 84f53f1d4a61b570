/**
 * One TLS port, two stacks (lib/server/tls-select.ts), against peers we did not write:
 * - `openssl s_client -alpn spdy/3.1` (no version pin) negotiates TLS 1.3 and spdy/3.1 with OpenSSL, and
 *   spdy-transport runs SPDY GETs over it;
 * - `-nextprotoneg` (TLS 1.2) gets our engine: only it speaks NPN;
 * - curl gets TLS 1.3 and the HTTPS/1.1 fallback;
 * - Node's own tls.connect with ALPN spdy/3.1 carries spdy-transport's SPDY;
 * - the package's client, over NPN (our engine) and over ALPN (OpenSSL, TLS 1.2 from our client), every version;
 * - `tls.openssl: false` sends an ALPN client to our engine (TLS 1.2);
 * - tickets resume on the OpenSSL side, across two apps sharing tls.ticketKeys; keylog covers both stacks;
 * - a malformed hello gets decode_error from the strict parser before either stack sees it.
 */
import t, { type Test } from 'tap'
import tls from 'node:tls'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { spawn, execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Duplex } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { connect } from '../../lib/client'
import { spdyOverSClient, spdyGet, type SpdyConnection } from './spdy-over-s-client'
import { httpsExchange, type HttpsExchange } from './https-exchange'
// eslint-disable-next-line @typescript-eslint/no-require-imports
const transport = require('spdy-transport')

const run = promisify(execFile)
const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })

async function start (t: Test, tlsExtra: Record<string, unknown> = {}): Promise<{ app: FastifyInstance, port: number, keylog: string[] }> {
  const keylog: string[] = []
  const app = Fastify()
  await app.register(spdy, { tls: { cert, key, keylog: (line: string) => keylog.push(line), ...tlsExtra }, port: 0 })
  app.get('/', async (req) => ({ spdy: req.spdy, protocol: req.protocol, ip: req.ip }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, port: app.spdy.port!, keylog }
}

async function sClient (port: number, args: string[]): Promise<string> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString('latin1') })
  child.stdin.end()
  await new Promise((resolve) => child.on('close', resolve))
  return out
}

t.test('ALPN clients get OpenSSL (TLS 1.3), NPN clients our engine, on one port', async (t) => {
  const { app, port, keylog } = await start(t)

  const alpn = await sClient(port, ['-alpn', 'spdy/3.1'])
  t.match(alpn, /New, TLSv1\.3/, 'openssl -alpn without a version pin: TLS 1.3')
  t.match(alpn, /ALPN protocol: spdy\/3\.1/)
  const npn = await sClient(port, ['-tls1_2', '-nextprotoneg', 'spdy/3.1,spdy/3,spdy/2'])
  t.match(npn, /Next protocol: \(1\) spdy\/3\.1/, 'NPN answered: our engine (OpenSSL as a server has no NPN in Node)')
  t.match(npn, /New, TLSv1\.2/)

  for (const [proto, version] of [['spdy/3.1', 3.1], ['spdy/3', 3], ['spdy/2', 2]] as const) {
    const { conn } = spdyOverSClient(t, port, version, ['-servername', 'localhost', '-alpn', proto])
    const res = await spdyGet(conn, '/')
    t.equal(res.status, 200, `spdy-transport over s_client -alpn ${proto} (TLS 1.3)`)
    t.same(JSON.parse(res.body).spdy.version, version)
    t.equal(JSON.parse(res.body).protocol, 'https')
    t.ok(app.spdy.sessions().some((s) => s.protocol === proto && s.remoteAddress === '127.0.0.1' && s.streamsServed === 1),
      'the OpenSSL session is listed with its protocol and address')
    conn.end()
  }

  t.ok(keylog.some((l) => l.startsWith('CLIENT_RANDOM ')), 'keylog: our engine (TLS 1.2)')
  t.ok(keylog.some((l) => l.startsWith('CLIENT_HANDSHAKE_TRAFFIC_SECRET ')), 'keylog: OpenSSL (TLS 1.3 secrets)')
})

t.test('curl gets TLS 1.3 and the HTTPS/1.1 fallback', async (t) => {
  const { port } = await start(t)
  const { stdout, stderr } = await run('curl', ['-sk', '-v', `https://127.0.0.1:${port}/`])
  t.match(stderr, /SSL connection using TLSv1\.3/)
  t.same(JSON.parse(stdout).spdy, null)
  t.equal(JSON.parse(stdout).protocol, 'https')
})

t.test("Node's tls.connect with ALPN spdy/3.1 carries spdy-transport's SPDY", async (t) => {
  const { port } = await start(t)
  const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: cert, ALPNProtocols: ['spdy/3.1'] })
  await new Promise((resolve, reject) => { socket.once('secureConnect', resolve); socket.once('error', reject) })
  t.equal(socket.getProtocol(), 'TLSv1.3')
  t.equal(socket.alpnProtocol, 'spdy/3.1')
  const conn = transport.connection.create(socket as Duplex, { protocol: 'spdy', isServer: false }) as SpdyConnection & { start: (v: number) => void }
  conn.start(3.1)
  for (let i = 0; i < 3; i++) {
    const res = await spdyGet(conn, '/')
    t.equal(res.status, 200)
    t.equal(JSON.parse(res.body).spdy.version, 3.1)
  }
  conn.end()
  socket.destroy()
})

t.test("the package's client: NPN (our engine) and ALPN (OpenSSL), every version", async (t) => {
  const { port } = await start(t)
  for (const negotiation of ['npn', 'alpn'] as const) {
    for (const version of [3.1, 3, 2] as const) {
      const client = await connect({ host: '127.0.0.1', port, tls: true, ca: cert, servername: 'localhost', negotiation, version })
      const res = await client.request({ path: '/' })
      t.equal(res.status, 200, `${negotiation} spdy/${version}`)
      t.equal(JSON.parse(res.body.toString()).spdy.version, version)
      t.equal(client.negotiatedBy, negotiation)
      await client.close()
    }
  }
})

t.test('tls.openssl: false sends every client to our engine', async (t) => {
  const { port } = await start(t, { openssl: false })
  const out = await sClient(port, ['-alpn', 'spdy/3.1'])
  t.match(out, /New, TLSv1\.2/, 'the same ALPN client gets TLS 1.2 from our engine')
  t.match(out, /ALPN protocol: spdy\/3\.1/)
})

t.test('tickets resume on the OpenSSL side, and across apps sharing tls.ticketKeys', async (t) => {
  const ticketKeys = [randomBytes(48)]
  const a = await start(t, { ticketKeys })
  const b = await start(t, { ticketKeys })
  const handshake = async (port: number, session?: Buffer | null): Promise<HttpsExchange> => await httpsExchange(port, cert, session ?? undefined)
  const first = await handshake(a.port)
  t.notOk(first.reused)
  t.ok(first.session, 'a ticket was issued')
  t.ok((await handshake(a.port, first.session)).reused, 'resumed on the same app')
  t.ok((await handshake(b.port, first.session)).reused, 'resumed on another app with the same ticketKeys')
})

t.test('a malformed ClientHello gets decode_error before either stack', async (t) => {
  const { port } = await start(t)
  // A TLS 1.2 hello whose server_name extension has an empty host list (RFC 6066 section 3 forbids it).
  const ext = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00])
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]), randomBytes(32), Buffer.from([0x00]),
    Buffer.from([0x00, 0x02, 0xc0, 0x2f]), Buffer.from([0x01, 0x00]),
    Buffer.from([0x00, ext.length]), ext
  ])
  const hs = Buffer.concat([Buffer.from([0x01, 0x00, body.length >> 8, body.length & 0xff]), body])
  const record = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, hs.length >> 8, hs.length & 0xff]), hs])
  const sock = net.connect(port, '127.0.0.1')
  const got: Buffer[] = []
  sock.on('data', (c) => got.push(c))
  sock.write(record)
  await new Promise((resolve) => sock.on('close', resolve))
  const reply = Buffer.concat(got)
  t.same([...reply.subarray(0, 1)], [0x15], 'an alert record')
  t.same([...reply.subarray(5, 7)], [2, 50], 'fatal decode_error (RFC 5246 section 7.2.2)')
})
