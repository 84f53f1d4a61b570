/** Node's native TLS (OpenSSL inside Node) and curl against our engine, over real sockets. */
import t from 'tap'
import * as tls from 'node:tls'
import * as net from 'node:net'
import { execFile } from 'node:child_process'
import { writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { loadCertificate } from '../../lib/tls/certificates'
import { TlsClientConnection, TlsClientOptions, TlsClientSession } from '../../lib/tls/client'
import type { TlsEvent } from '../../lib/tls/engine'
import { pipe, startServer, testCerts } from './harness'

const certs = testCerts()
const rsa = loadCertificate(certs.rsa)

t.test('tls.connect against our server, with and without ALPN, verifying our certificate', async (t) => {
  const srv = await startServer({ certificates: [rsa] })
  t.teardown(srv.close)
  for (const alpn of [undefined, ['http/1.1', 'spdy/3']]) {
    const got = await new Promise<{ alpn: string | false, cipher: string, proto: string | null, echo: string }>((resolve, reject) => {
      const s = tls.connect({ port: srv.port, host: '127.0.0.1', servername: 'localhost', ca: certs.rsa.cert, ALPNProtocols: alpn }, () => {
        s.write('node says hi')
        s.once('data', (d) => {
          resolve({ alpn: s.alpnProtocol ?? false, cipher: s.getCipher().name, proto: s.getProtocol(), echo: d.toString() })
          s.end()
        })
      })
      s.on('error', reject)
    })
    t.same(got, { alpn: alpn === undefined ? false : 'spdy/3', cipher: 'ECDHE-RSA-AES128-GCM-SHA256', proto: 'TLSv1.2', echo: 'node says hi' })
  }
  const wrongCa = await new Promise<string>((resolve) => {
    const s = tls.connect({ port: srv.port, host: '127.0.0.1', servername: 'localhost', ca: certs.ec.cert }, () => resolve('connected'))
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
  })
  t.equal(wrongCa, 'DEPTH_ZERO_SELF_SIGNED_CERT', 'Node really verifies: another CA is refused')
})

/** Our client over a socket: resolves with its events once it got `expect` bytes back (or failed). */
const runClient = async (port: number, opts: TlsClientOptions, send: string): Promise<{ events: TlsEvent[], echo: string, session: TlsClientSession | null }> =>
  await new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1')
    const c = new TlsClientConnection(opts, Date.now())
    const events: TlsEvent[] = []
    let echo = ''
    const done = (): void => { c.close(); p.flush(); sock.end(); resolve({ events, echo, session: c.session }) }
    const p = pipe(sock, c, (e, eng) => {
      events.push(e)
      if (e.type === 'handshake') eng.write(Buffer.from(send))
      if (e.type === 'data') { echo += Buffer.from(e.data).toString(); if (echo.length >= send.length) done() }
      if (e.type === 'error') done()
    })
  })

t.test('our client against tls.createServer: ALPN, RSA and ECDSA, ticket resumption', async (t) => {
  for (const type of ['rsa', 'ec'] as const) {
    const ns = tls.createServer({ cert: certs[type].cert, key: certs[type].key, ALPNProtocols: ['spdy/3.1', 'http/1.1'] }, (s) => s.pipe(s))
    await new Promise<void>((resolve) => ns.listen(0, '127.0.0.1', resolve))
    const port = (ns.address() as net.AddressInfo).port
    const opts: TlsClientOptions = { ca: certs[type].cert, servername: 'localhost', protocols: ['spdy/3.1'] }
    const first = await runClient(port, opts, 'x'.repeat(50_000))
    const hs = first.events.find((e) => e.type === 'handshake')
    t.match(hs, { protocol: 'spdy/3.1', negotiatedBy: 'alpn', cipher: type === 'rsa' ? 'ECDHE-RSA-AES128-GCM-SHA256' : 'ECDHE-ECDSA-AES128-GCM-SHA256', resumed: false })
    t.equal(first.echo, 'x'.repeat(50_000), '50 KB echoed through Node')
    t.ok(first.session?.ticket, 'Node issued a ticket')
    const second = await runClient(port, { ...opts, session: first.session }, 'again')
    t.match(second.events.find((e) => e.type === 'handshake'), { resumed: true })
    t.equal(second.echo, 'again')
    const bad = await runClient(port, { ...opts, ca: certs[type === 'rsa' ? 'ec' : 'rsa'].cert }, 'nope')
    t.ok(bad.events.some((e) => e.type === 'error' && e.error.alert === 48), 'untrusted Node certificate: unknown_ca')
    await new Promise<void>((resolve) => ns.close(() => resolve()))
  }
})

t.test('curl --cacert gets an HTTP/1.1 response through our server', async (t) => {
  const body = 'hello from the sans-IO engine\n'
  const srv = await startServer({ certificates: [rsa], protocols: ['http/1.1'] }, (data, engine) => {
    if (Buffer.from(data).toString('latin1').includes('\r\n\r\n')) {
      engine.write(Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`))
      engine.close()
    }
  })
  t.teardown(srv.close)
  const ca = `${tmpdir()}/fastify-spdy-curl-${process.pid}.pem`
  writeFileSync(ca, certs.rsa.cert)
  t.teardown(() => rmSync(ca, { force: true }))
  const out = await new Promise<string>((resolve) => {
    execFile('curl', ['-sS', '--http1.1', '--tlsv1.2', '--tls-max', '1.2', '--cacert', ca, '--resolve', `localhost:${srv.port}:127.0.0.1`,
      '-w', '\n%{http_code} %{ssl_verify_result}', `https://localhost:${srv.port}/`], { timeout: 15_000 }, (err, stdout, stderr) => resolve(stdout + stderr + (err === null ? '' : String(err))))
  })
  t.equal(out, `${body}\n200 0`)
  t.match(srv.events.find((e) => e.type === 'handshake'), { protocol: 'http/1.1', negotiatedBy: 'alpn', servername: 'localhost' })
})
