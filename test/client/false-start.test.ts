/**
 * TLS False Start in lib/client (RFC 7918), proved by a record log: a proxy on loopback holds the server's second
 * flight (NewSessionTicket, ChangeCipherSpec, Finished) until it has forwarded application data from the client.
 * With False Start the client's SPDY frames (SETTINGS, SYN_STREAM) come first and the hold ends on them; without it
 * the client waits for that flight, the hold ends by time, and the log shows the server's CCS first. Against our
 * server (the plugin) and against openssl s_server with -nextprotoneg and with -alpn, a peer we did not write.
 * A tampered server Finished fails the request that was already sent.
 */
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { ClientTlsError, connect } from '../../lib/client'
import { firstIndex, RecordType, startFlightProxy, type FlightProxy } from '../fixtures/flight-proxy'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })

async function plugin (): Promise<ReturnType<typeof Fastify>> {
  const app = Fastify()
  await app.register(spdy, { tls: { cert, key }, port: 0 })
  app.get('/', async () => ({ ok: true }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

/** The client's first application data was forwarded before any record of the server's CCS+Finished flight. */
function assertFalseStartOrder (t: Test, proxy: FlightProxy): void {
  const clientData = firstIndex(proxy.log, 'c2s', RecordType.application_data)
  const serverCcs = firstIndex(proxy.log, 's2c', RecordType.change_cipher_spec)
  t.ok(clientData >= 0 && serverCcs >= 0, 'both the client data and the server CCS went through')
  t.ok(clientData < serverCcs, `client application data (record ${clientData}) forwarded before the server's ChangeCipherSpec (record ${serverCcs})`)
  t.same(proxy.releases, ['client-data'], 'the held server flight was released by the client\'s data, not by time')
}

t.test('our server: the request leaves before the server\'s Finished (NPN and ALPN); off: it waits', async (t) => {
  const app = await plugin()
  t.teardown(() => app.close())
  for (const negotiation of ['npn', 'alpn'] as const) {
    t.test(`${negotiation}, False Start on (default)`, async (t) => {
      const proxy = await startFlightProxy({ upstream: app.spdy.port! })
      t.teardown(() => proxy.close())
      const client = await connect({ host: '127.0.0.1', port: proxy.port, tls: true, ca: cert, servername: 'localhost', negotiation })
      t.teardown(() => client.close())
      t.equal(client.tls?.falseStart, true, 'the handshake event came early, as a False Start')
      t.equal(client.tlsSession, null, 'the server\'s Finished has not arrived when connect() resolves')
      const res = await client.request({ path: '/' })
      t.equal(res.status, 200)
      t.same(JSON.parse(res.body.toString()), { ok: true })
      assertFalseStartOrder(t, proxy)
      t.not(client.tlsSession, null, 'the server\'s Finished was verified afterwards (the session exists)')
    })
  }
  t.test('falseStart: false waits for the server\'s Finished', async (t) => {
    const proxy = await startFlightProxy({ upstream: app.spdy.port!, holdMs: 300 })
    t.teardown(() => proxy.close())
    const client = await connect({ host: '127.0.0.1', port: proxy.port, tls: true, ca: cert, servername: 'localhost', falseStart: false })
    t.teardown(() => client.close())
    t.equal(client.tls?.falseStart, undefined)
    const res = await client.request({ path: '/' })
    t.equal(res.status, 200)
    const clientData = firstIndex(proxy.log, 'c2s', RecordType.application_data)
    const serverCcs = firstIndex(proxy.log, 's2c', RecordType.change_cipher_spec)
    t.ok(serverCcs >= 0 && serverCcs < clientData, 'the server\'s CCS+Finished came before the client\'s first data')
    t.same(proxy.releases, ['timeout'], 'the hold ended by time: the client sent nothing before the server\'s flight')
  })
  t.test('a tampered server Finished fails the request already sent', async (t) => {
    let serverCcsPassed = false
    let tampered = false
    const proxy = await startFlightProxy({
      upstream: app.spdy.port!,
      tamperServer: (r) => {
        if (r[0] === RecordType.change_cipher_spec) serverCcsPassed = true
        else if (serverCcsPassed && !tampered && r[0] === RecordType.handshake) { r[r.length - 1] ^= 1; tampered = true }
        return r
      }
    })
    t.teardown(() => proxy.close())
    const client = await connect({ host: '127.0.0.1', port: proxy.port, tls: true, ca: cert, servername: 'localhost' })
    t.teardown(() => client.close())
    t.equal(client.tls?.falseStart, true)
    await t.rejects(client.request({ path: '/' }), ClientTlsError, 'the bad Finished is a fatal TLS error for the request')
    t.ok(tampered, 'the server\'s Finished record was altered')
    t.equal(client.tlsSession, null, 'no session from a handshake that failed')
    await client.closed
    const deadline = Date.now() + 2000
    while (firstIndex(proxy.log, 'c2s', RecordType.alert) < 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    t.ok(firstIndex(proxy.log, 'c2s', RecordType.alert) > firstIndex(proxy.log, 's2c', RecordType.change_cipher_spec), 'the client answered with an alert')
  })
})

t.test('openssl s_server (-nextprotoneg / -alpn): the SPDY frames leave before its Finished, and it reads them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-spdy-falsestart-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'cert.pem'), cert)
  writeFileSync(join(dir, 'key.pem'), key)
  for (const flag of ['-nextprotoneg', '-alpn'] as const) {
    t.test(flag, async (t) => {
      const probe = net.createServer()
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
      const port = (probe.address() as net.AddressInfo).port
      await new Promise<void>((resolve) => probe.close(() => resolve()))
      const server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', join(dir, 'cert.pem'), '-key', join(dir, 'key.pem'),
        '-tls1_2', flag, 'spdy/3.1', '-naccept', '1'], { stdio: ['pipe', 'pipe', 'pipe'] })
      t.teardown(() => { server.kill() })
      let out = Buffer.alloc(0)
      await new Promise<void>((resolve, reject) => {
        server.stdout.on('data', (b: Buffer) => { out = Buffer.concat([out, b]); if (out.includes('ACCEPT')) resolve() })
        server.on('exit', (code) => reject(new Error(`openssl s_server exited (${String(code)}): ${out.toString()}`)))
      })
      const proxy = await startFlightProxy({ upstream: port })
      t.teardown(() => proxy.close())
      const client = await connect({ host: '127.0.0.1', port: proxy.port, tls: true, ca: cert, servername: 'localhost', negotiation: flag === '-alpn' ? 'alpn' : 'npn', version: 3.1 })
      t.teardown(() => client.close())
      t.equal(client.tls?.falseStart, true)
      // s_server does not speak SPDY: the request gets no answer; what matters is when it left and that it arrived.
      client.request({ path: '/', timeout: 3000 }).catch(() => {})
      // s_server prints what it decrypts; a SPDY/3 SETTINGS frame starts 80 03 00 04 (SPDY/3 section 2.6.4).
      const settings = Buffer.from([0x80, 0x03, 0x00, 0x04])
      const deadline = Date.now() + 5000
      while ((!out.includes(settings) || client.tlsSession === null) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      t.ok(out.includes(settings), 'openssl decrypted our SETTINGS frame')
      assertFalseStartOrder(t, proxy)
      t.not(client.tlsSession, null, 'openssl\'s Finished was verified after our data had left')
    })
  }
})
