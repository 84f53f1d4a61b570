/**
 * options.proxyProtocol on the plugin's listener: a relay in front of it puts a PROXY header (v1 lines and v2 bytes
 * laid out as the spec's examples) before the client's own bytes, as a balancer in TCP mode does. The app then
 * sees the client named in the header: request.ip, request.socket.remoteAddress, app.spdy.sessions(), over plain
 * SPDY, SPDY over our TLS, and the HTTP/1.1 fallbacks of both. A missing, malformed, oversized or late header closes
 * the connection; with a list of trusted sources, other sources are served directly and may not send one.
 * HAProxy itself in front: test/interop/haproxy*.test.ts.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import https from 'node:https'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { connect } from '../../lib/client'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })

const V1 = Buffer.from('PROXY TCP4 203.0.113.7 192.0.2.1 40001 443\r\n')
// v2, PROXY command, TCP over IPv6: 2001:db8::7 port 40002 -> 2001:db8::1 port 443, with an AUTHORITY TLV.
const V2 = Buffer.from('0d0a0d0a000d0a515549540a' + '2121' + '0032' +
  '20010db8000000000000000000000007' + '20010db8000000000000000000000001' + '9c42' + '01bb' +
  '02000b' + Buffer.from('example.com').toString('hex'), 'hex')

/** A TCP relay that writes `header` to the listener first, then pipes both ways: a balancer, stripped down. */
async function relay (t: Test, port: number, header: Buffer): Promise<number> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((down) => {
    sockets.add(down)
    const up = net.connect(port, '127.0.0.1', () => { up.write(header); down.pipe(up); up.pipe(down) })
    up.on('error', () => down.destroy())
    down.on('error', () => up.destroy())
    up.on('close', () => down.destroy())
    down.on('close', () => up.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  // Keep-alive HTTP clients would hold the relay open until Fastify's keep-alive timeout.
  t.teardown(() => new Promise<void>((resolve) => { server.close(() => resolve()); for (const s of sockets) s.destroy() }))
  return (server.address() as net.AddressInfo).port
}

async function build (opts: Record<string, unknown>): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(spdy, { port: 0, ...opts } as never)
  app.get('/who', async (req) => ({ ip: req.ip, socket: req.socket.remoteAddress, port: req.socket.remotePort, protocol: req.protocol, spdy: req.spdy?.version ?? null, sessions: app.spdy.sessions().map((s) => s.remoteAddress) }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

/** Raw connection: writes `bytes`, resolves true once the server closes it. */
const closedAfter = async (port: number, bytes: Buffer[], gapMs = 0): Promise<boolean> => await new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => {
    let i = 0
    const next = (): void => { if (i < bytes.length && !s.destroyed) { s.write(bytes[i++]); setTimeout(next, gapMs) } }
    next()
  })
  s.on('data', () => {})
  s.on('close', () => resolve(true))
  s.on('error', () => {})
  setTimeout(() => { s.destroy(); resolve(false) }, 8000).unref()
})

t.test('plain listener, proxyProtocol: true', async (t) => {
  const app = await build({ tls: false, proxyProtocol: true, handshakeTimeout: 300 })
  t.teardown(() => app.close())
  const port = app.spdy.port!

  t.test('v1 and v2 headers: SPDY requests see the client', async (t) => {
    for (const [hdr, ip, cport] of [[V1, '203.0.113.7', 40001], [V2, '2001:db8::7', 40002]] as const) {
      const client = await connect({ host: '127.0.0.1', port: await relay(t, port, hdr), tls: false, version: 3.1 })
      const body = JSON.parse((await client.request({ path: '/who' })).body.toString())
      t.same(body, { ip, socket: ip, port: cport, protocol: 'http', spdy: 3.1, sessions: [ip] })
      await client.close()
    }
  })

  t.test('HTTP/1.1 on the plain port: the app\'s server sees the client too', async (t) => {
    const res = await fetch(`http://127.0.0.1:${await relay(t, port, V1)}/who`)
    const body = await res.json() as { ip: string, socket: string, spdy: null }
    t.equal(body.ip, '203.0.113.7')
    t.equal(body.socket, '203.0.113.7')
    t.equal(body.spdy, null)
  })

  t.test('no header, a malformed one, one cut off, one over the cap, one too late: closed', async (t) => {
    const spdySettings = Buffer.from('800300040000000c000000010000000700000064', 'hex')
    t.ok(await closedAfter(port, [spdySettings]), 'SPDY without a header')
    t.ok(await closedAfter(port, [Buffer.from('GET /who HTTP/1.1\r\nHost: x\r\n\r\n')]), 'HTTP without a header')
    t.ok(await closedAfter(port, [Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n')]), 'v1 ending in LF alone')
    t.ok(await closedAfter(port, [V2.subarray(0, 20)]), 'v2 cut short: closed at handshakeTimeout')
    t.ok(await closedAfter(port, [Buffer.from('0d0a0d0a000d0a515549540a2111ffff', 'hex')]), 'v2 announcing 64 KiB')
    t.ok(await closedAfter(port, [Buffer.from('PROXY TCP4 '), Buffer.from('1.2.3.4 5.6.7.8 1 2\r\n')], 1000), 'rest of the line after handshakeTimeout')
    // The client can see the close a moment before the server's 'close' event has run: wait for it (bounded).
    for (let i = 0; i < 100 && app.spdy.sessions().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    t.same(app.spdy.sessions(), [], 'nothing left open')
  })
})

t.test('TLS listener, proxyProtocol: true: SPDY over TLS and the HTTPS/1.1 fallback', async (t) => {
  const app = await build({ tls: { cert, key }, proxyProtocol: true })
  t.teardown(() => app.close())
  const port = await relay(t, app.spdy.port!, V2)
  for (const negotiation of ['npn', 'alpn'] as const) {
    const client = await connect({ host: '127.0.0.1', port, tls: true, ca: cert, servername: 'localhost', negotiation })
    const body = JSON.parse((await client.request({ path: '/who' })).body.toString())
    t.same(body, { ip: '2001:db8::7', socket: '2001:db8::7', port: 40002, protocol: 'https', spdy: 3.1, sessions: ['2001:db8::7'] }, negotiation)
    await client.close()
  }
  const body = await new Promise<Record<string, unknown>>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path: '/who', ca: cert, servername: 'localhost', agent: false }, (res) => {
      let s = ''
      res.on('data', (c) => { s += c })
      res.on('end', () => resolve(JSON.parse(s)))
    }).on('error', reject)
  })
  t.equal(body.ip, '2001:db8::7', 'HTTPS/1.1 fallback: request.ip')
  t.equal(body.protocol, 'https')
})

t.test('trusted list: required from the list, refused from elsewhere', async (t) => {
  t.test('loopback trusted', async (t) => {
    const app = await build({ tls: false, proxyProtocol: ['10.0.0.0/8', '127.0.0.1/32'] })
    t.teardown(() => app.close())
    const client = await connect({ host: '127.0.0.1', port: await relay(t, app.spdy.port!, V1), tls: false })
    t.equal(JSON.parse((await client.request({ path: '/who' })).body.toString()).ip, '203.0.113.7')
    await client.close()
    t.ok(await closedAfter(app.spdy.port!, [Buffer.from('800300040000000c000000010000000700000064', 'hex')]), 'a header is required from a trusted source')
  })
  t.test('loopback not trusted', async (t) => {
    const app = await build({ tls: false, proxyProtocol: ['10.0.0.0/8', '2001:db8::/32'] })
    t.teardown(() => app.close())
    const direct = await connect({ host: '127.0.0.1', port: app.spdy.port!, tls: false })
    t.equal(JSON.parse((await direct.request({ path: '/who' })).body.toString()).ip, '127.0.0.1', 'a direct client is served as itself')
    await direct.close()
    const res = await fetch(`http://127.0.0.1:${app.spdy.port!}/who`)
    t.equal(((await res.json()) as { ip: string }).ip, '127.0.0.1', 'and over HTTP/1.1')
    t.ok(await closedAfter(app.spdy.port!, [V1]), 'a v1 header from an untrusted source is refused')
    t.ok(await closedAfter(app.spdy.port!, [V2]), 'a v2 header too')
  })
})
