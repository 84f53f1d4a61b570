/**
 * The package's client over node:tls (`connect({ tlsStack: 'openssl' })`, lib/client/openssl.ts) against the plugin:
 * TLS 1.3 and ALPN spdy/3.1 (the server's OpenSSL side), requests and pushes, every SPDY version, TLS 1.2 when
 * pinned, resumption with Node's session, the errors (untrusted certificate, no SPDY in common, NPN asked for).
 * The server's side is checked from its own view too: `app.spdy.sessions()` and `request.spdy`.
 */
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import net from 'node:net'
import { connect, ClientCertificateError, ClientConnectError, ClientNoProtocolError, type ConnectOptions } from '../../lib/client'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })

async function start (t: Test, extra: Record<string, unknown> = {}): Promise<number> {
  const app = Fastify()
  await app.register(spdy, { tls: { cert, key, ...extra }, port: 0 })
  app.get('/', { config: { spdy: { push: ['/style.css', '/app.js'] } } }, async (req) => ({ spdy: req.spdy, protocol: req.protocol }))
  app.get('/style.css', async () => 'body{}')
  app.get('/app.js', async () => 'alert(1)')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return app.spdy.port!
}

const base = (port: number): ConnectOptions => ({ host: '127.0.0.1', port, tls: true, tlsStack: 'openssl', ca: cert, servername: 'localhost' })

t.test('TLS 1.3 + ALPN spdy/3.1 from OpenSSL to OpenSSL: requests and pushes', async (t) => {
  const port = await start(t)
  const client = await connect(base(port))
  t.equal(client.tls?.version, 'TLSv1.3')
  t.equal(client.tls?.negotiatedBy, 'alpn')
  t.equal(client.negotiated, 'spdy/3.1')
  t.match(client.tls?.cipher, /^TLS_/, 'a TLS 1.3 suite')
  for (let i = 0; i < 3; i++) {
    const res = await client.request({ path: '/' })
    t.equal(res.status, 200)
    t.equal(JSON.parse(res.body.toString()).spdy.version, 3.1, 'the server speaks SPDY/3.1 to us')
    t.equal(JSON.parse(res.body.toString()).protocol, 'https')
    t.same(res.pushes.map((p) => [p.path, p.status, p.body.toString()]).sort(), [['/app.js', 200, 'alert(1)'], ['/style.css', 200, 'body{}']], 'both pushes')
  }
  await client.close()
})

t.test('every SPDY version over ALPN; TLS 1.2 when pinned', async (t) => {
  const port = await start(t)
  for (const version of [3.1, 3, 2] as const) {
    const client = await connect({ ...base(port), version })
    const res = await client.request({ path: '/' })
    t.equal(JSON.parse(res.body.toString()).spdy.version, version, `spdy/${version}`)
    t.equal(res.pushes.length, 2)
    await client.close()
  }
  const client = await connect({ ...base(port), tlsVersion: 'TLSv1.2' })
  t.equal(client.tls?.version, 'TLSv1.2')
  t.match(client.tls?.cipher, /^ECDHE-/, 'an ECDHE suite of the server policy')
  t.equal((await client.request({ path: '/' })).status, 200)
  await client.close()
})

t.test("resumption with Node's session, TLS 1.3 and 1.2", async (t) => {
  const port = await start(t)
  for (const tlsVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    const first = await connect({ ...base(port), tlsVersion })
    t.notOk(first.tls?.resumed)
    await first.request({ path: '/' }) // TLS 1.3 tickets come after the handshake: a round trip reads them
    const session = first.tlsSession
    t.ok(Buffer.isBuffer(session), `${tlsVersion}: a Node session`)
    await first.close()
    const again = await connect({ ...base(port), tlsVersion, session })
    t.ok(again.tls?.resumed, `${tlsVersion}: resumed`)
    t.equal((await again.request({ path: '/' })).status, 200)
    await again.close()
  }
})

t.test('against tls.openssl: false, our engine answers the same client (TLS 1.2, ALPN)', async (t) => {
  const port = await start(t, { openssl: false })
  const client = await connect(base(port))
  t.equal(client.tls?.version, 'TLSv1.2')
  t.equal(client.negotiated, 'spdy/3.1')
  t.equal((await client.request({ path: '/' })).pushes.length, 2)
  await client.close()
})

t.test('errors', async (t) => {
  const port = await start(t)
  await t.rejects(connect({ ...base(port), ca: undefined }), ClientCertificateError, 'an untrusted certificate')
  await t.rejects(connect({ ...base(port), servername: 'other.example' }), ClientCertificateError, 'a name mismatch')
  await t.rejects(connect({ ...base(port), negotiation: 'npn' }), TypeError, 'NPN needs our engine')
  // an HTTPS-only server (Node's own, ALPN http/1.1): no SPDY in common
  const https = Fastify({ https: { cert, key } })
  https.get('/', async () => 'x')
  await https.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => https.close())
  const httpsPort = (https.server.address() as { port: number }).port
  await t.rejects(connect(base(httpsPort)), ClientNoProtocolError, 'a server that speaks no SPDY')
  // a server that accepts and never answers: the handshake times out; a closed port: refused
  const sockets = new Set<net.Socket>()
  const silent = net.createServer((s) => { sockets.add(s); s.on('error', () => {}) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const silentPort = (silent.address() as net.AddressInfo).port
  await t.rejects(connect({ ...base(silentPort), timeout: 300 }), { code: 'FST_SPDY_CLIENT_TIMEOUT', phase: 'handshake' }, 'a silent server')
  silent.close()
  for (const s of [...sockets]) s.destroy()
  await t.rejects(connect(base(silentPort)), ClientConnectError, 'a closed port')
})
