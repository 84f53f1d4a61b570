/**
 * Bad input gets the right alert in outbound plus one error event, never a throw or a hang: garbage, truncated
 * and oversized records, messages out of order, bad MACs, renegotiation, slow handshakes, seeded corruption.
 */
import t, { Test } from 'tap'
import { TlsServerConnection, TlsServerOptions } from '../../lib/tls/server'
import { TlsClientConnection } from '../../lib/tls/client'
import { loadCertificate } from '../../lib/tls/certificates'
import type { TlsEvent } from '../../lib/tls/engine'
import { shuttle, testCerts } from './harness'

const certs = testCerts()
const opts: TlsServerOptions = { certificates: [loadCertificate(certs.rsa)] }
const server = (o: Partial<TlsServerOptions> = {}, now = Date.now()): TlsServerConnection => new TlsServerConnection({ ...opts, ...o }, now)
const client = (): TlsClientConnection => new TlsClientConnection({ ca: certs.rsa.cert, servername: 'localhost' }, Date.now())
/** A plaintext fatal alert record, RFC 5246 section 7.2 (level 2). */
const fatalAlert = (desc: number): Buffer => Buffer.from([21, 3, 3, 0, 2, 2, desc])
const errorOf = (ev: TlsEvent[]): number => {
  const e = ev.filter((x) => x.type === 'error')
  if (e.length !== 1 || e[0].type !== 'error') return -1
  return e[0].error.alert
}
const clientHello = (): Buffer => Buffer.from(client().takeOutbound())

const expectAlert = (t: Test, input: Buffer, desc: number, name: string, o: Partial<TlsServerOptions> = {}): void => {
  const s = server(o)
  const ev = s.receive(input, Date.now())
  t.equal(errorOf(ev), desc, `${name}: error event`)
  t.same(Buffer.from(s.takeOutbound()), fatalAlert(desc), `${name}: alert on the wire`)
  t.same(s.receive(clientHello(), Date.now()), [], `${name}: dead afterwards`)
}

t.test('garbage, truncated, oversized, wrong order', async (t) => {
  expectAlert(t, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 10, 'HTTP instead of ClientHello')
  const ch = clientHello()
  const bodyLen = ch.readUIntBE(6, 3)
  const cut = Buffer.from(ch.subarray(0, 5 + 4 + 60))
  cut.writeUInt16BE(4 + 60, 3)
  cut.writeUIntBE(60, 6, 3)
  t.ok(bodyLen > 60)
  expectAlert(t, cut, 50, 'ClientHello truncated inside its fields')
  expectAlert(t, Buffer.from([22, 3, 1, 0x40, 0x01, ...Buffer.alloc(16385)]), 22, 'plaintext record over 2^14')
  expectAlert(t, Buffer.from([22, 3, 1, 0, 8, 1, 0, 0x08, 0x00, 0, 0, 0, 0]), 47, 'handshake message over the limit', { maxHandshakeMessageSize: 1024 })
  expectAlert(t, Buffer.from([22, 3, 3, 0, 5, 16, 0, 0, 1, 0]), 10, 'ClientKeyExchange first')
  expectAlert(t, Buffer.from([20, 3, 3, 0, 1, 1]), 10, 'ChangeCipherSpec first')
  expectAlert(t, Buffer.from([23, 3, 3, 0, 1, 65]), 10, 'application data before the handshake')
  expectAlert(t, Buffer.from([22, 3, 3, 0, 0]), 10, 'empty handshake record')
  expectAlert(t, Buffer.from([22, 4, 3, 0, 1, 1]), 70, 'record version major 4')
  // a handshake fragment followed by an alert record: interleaving is not allowed (section 6.2.1)
  expectAlert(t, Buffer.concat([Buffer.from([22, 3, 1, 0, 10]), ch.subarray(5, 15), Buffer.from([21, 3, 3, 0, 2, 1, 0])]), 10, 'interleaved alert')
  const v11 = Buffer.from(ch)
  v11.writeUInt16BE(0x0302, 9)
  expectAlert(t, v11, 70, 'TLS 1.1 ClientHello without legacy')
})

t.test('no common suite or group is handshake_failure', async (t) => {
  const s = server()
  const ev = shuttle(new TlsClientConnection({ insecure: true, ciphers: ['ECDHE-ECDSA-AES128-GCM-SHA256'] }, Date.now()), s)
  t.equal(errorOf(ev.b), 40)
})

t.test('x25519 key share: wrong length or small-order point is illegal_parameter', async (t) => {
  // RFC 7748 section 6.1 / RFC 8422 section 5.11: u = 0 and u = 1 have small order, the shared secret is all
  // zero and the handshake must abort; a share that is not 32 bytes cannot be a u-coordinate at all.
  const shares: Array<[string, Buffer]> = [
    ['u = 0', Buffer.alloc(32)],
    ['u = 1', Buffer.concat([Buffer.from([1]), Buffer.alloc(31)])],
    ['31 bytes', Buffer.alloc(31, 9)],
    ['33 bytes', Buffer.alloc(33, 9)]
  ]
  for (const [name, share] of shares) {
    const s = server()
    const ch = Buffer.from(new TlsClientConnection({ insecure: true, groups: ['x25519'] }, Date.now()).takeOutbound())
    const flight = s.receive(ch, Date.now())
    t.same(flight, [], `${name}: server flight, no event`)
    t.ok(s.takeOutbound().length > 0)
    // ClientKeyExchange (RFC 8422 section 5.7): ClientECDiffieHellmanPublic = opaque point<1..2^8-1>, in clear.
    const body = Buffer.concat([Buffer.from([share.length]), share])
    const msg = Buffer.concat([Buffer.from([16, 0, 0, body.length]), body])
    const rec = Buffer.concat([Buffer.from([22, 3, 3, 0, msg.length]), msg])
    t.equal(errorOf(s.receive(rec, Date.now())), 47, `${name}: illegal_parameter`)
    t.same(Buffer.from(s.takeOutbound()), fatalAlert(47), `${name}: alert on the wire`)
  }
})

t.test('bad MAC on an encrypted record', async (t) => {
  const s = server()
  const c = client()
  shuttle(c, s)
  c.write(Buffer.from('hello'))
  const rec = Buffer.from(c.takeOutbound())
  rec[rec.length - 1] ^= 0x80
  const ev = s.receive(rec, Date.now())
  t.equal(errorOf(ev), 20)
  const back = c.receive(s.takeOutbound(), Date.now())
  t.equal(errorOf(back), 20, 'client decrypts the fatal bad_record_mac alert')
})

t.test('encrypted record over 2^14+2048 is record_overflow', async (t) => {
  const s = server()
  shuttle(client(), s)
  const ev = s.receive(Buffer.from([23, 3, 3, 0x48, 0x01]), Date.now())
  t.equal(errorOf(ev), 22)
})

class RenegotiatingClient extends TlsClientConnection {
  warnings: number[] = []
  renegotiate (): void { this.sendRecord(22, Buffer.from(clientHello().subarray(5))) }
  protected override onWarningAlert (desc: number): void { this.warnings.push(desc) }
}

t.test('renegotiation is refused with no_renegotiation, then fatal when repeated', async (t) => {
  const s = server()
  const c = new RenegotiatingClient({ ca: certs.rsa.cert, servername: 'localhost' }, Date.now())
  shuttle(c, s)
  c.renegotiate()
  let ev = shuttle(c, s)
  t.same(c.warnings, [100], 'warning no_renegotiation')
  t.same(ev.b, [])
  c.write(Buffer.from('still here'))
  ev = shuttle(c, s)
  t.equal(ev.b[0]?.type, 'data', 'connection goes on')
  for (let i = 0; i < 3; i++) { c.renegotiate(); ev = shuttle(c, s) }
  t.equal(errorOf(ev.b), 10, 'fourth attempt: unexpected_message')
})

t.test('slow handshake: deadline, tick, alert', async (t) => {
  const s = server({ handshakeTimeout: 1000 }, 0)
  t.equal(s.deadline, 1000)
  const ch = clientHello()
  t.same(s.receive(ch.subarray(0, 20), 500), [], 'partial ClientHello waits')
  t.same(s.tick(999), [])
  t.equal(s.takeOutbound().length, 0)
  const ev = s.tick(1000)
  t.equal(errorOf(ev), 40)
  t.same(Buffer.from(s.takeOutbound()), fatalAlert(40))
  t.same(s.tick(5000), [], 'reported once')
  const done = server({ handshakeTimeout: 1000 })
  shuttle(client(), done)
  t.equal(done.deadline, null, 'no deadline after the handshake')
})

t.test('seeded corruption of both client flights: never a throw, always an alert or a handshake', async (t) => {
  let seed = 12345
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
  let alerts = 0
  let handshakes = 0
  let waiting = 0
  for (let i = 0; i < 400; i++) {
    const s = server()
    const c = client()
    let flight = Buffer.from(c.takeOutbound())
    const second = i % 2 === 1
    if (second) {
      s.receive(flight, Date.now())
      c.receive(s.takeOutbound(), Date.now())
      flight = Buffer.from(c.takeOutbound())
    }
    const mutated = Buffer.from(flight)
    const kind = rnd(3)
    if (kind === 0) mutated[rnd(mutated.length)] ^= 1 << rnd(8)
    else if (kind === 1) for (let k = 0; k < 8; k++) mutated[rnd(mutated.length)] = rnd(256)
    const input = kind === 2 ? mutated.subarray(0, rnd(mutated.length)) : mutated
    let ev: TlsEvent[] = []
    t.doesNotThrow(() => { ev = s.receive(input, Date.now()) })
    if (ev.some((e) => e.type === 'error')) {
      alerts++
      const out = Buffer.from(s.takeOutbound())
      if (out.length < 7 || out[out.length - 7] !== 21) t.fail(`error without an alert record (case ${i})`)
    } else if (ev.some((e) => e.type === 'handshake')) handshakes++
    else {
      // waiting for bytes that will never come: the deadline ends it with an alert
      waiting++
      const tev = s.tick(Date.now() + 60_000)
      if (errorOf(tev) !== 40) t.fail(`case ${i}: waiting connection not ended by the deadline`)
    }
  }
  t.ok(alerts > 150, `corruptions answered with alerts (${alerts})`)
  t.equal(alerts + handshakes + waiting, 400)
  t.comment(`alerts ${alerts}, handshakes ${handshakes}, waiting ${waiting}`)
})
