/**
 * Our client against our server in memory: every suite and both key types, NPN/ALPN, SNI certificate choice,
 * fragmentation (byte-by-byte delivery), record splitting at 2^14, close_notify both ways, keylog, resumption.
 * The independent peers (openssl, Node, curl) are in openssl.test.ts and node.test.ts.
 */
import t from 'tap'
import { TlsServerConnection, TlsServerOptions } from '../../lib/tls/server'
import { TlsClientConnection, TlsClientOptions } from '../../lib/tls/client'
import { generateSelfSigned, loadCertificate } from '../../lib/tls/certificates'
import { SUITES } from '../../lib/tls/crypto'
import type { TlsEvent } from '../../lib/tls/engine'
import { shuttle, testCerts } from './harness'

const certs = testCerts()
const rsa = loadCertificate(certs.rsa)
const ec = loadCertificate(certs.ec)
const client = (o: Partial<TlsClientOptions> = {}): TlsClientConnection =>
  new TlsClientConnection({ ca: [certs.rsa.cert, certs.ec.cert], servername: 'localhost', ...o }, Date.now())
const hs = (ev: TlsEvent[]): TlsEvent & { type: 'handshake' } => {
  const h = ev.find((e) => e.type === 'handshake')
  if (h === undefined || h.type !== 'handshake') throw new Error(`no handshake in ${JSON.stringify(ev)}`)
  return h
}
const text = (ev: TlsEvent[]): string => ev.map((e) => (e.type === 'data' ? Buffer.from(e.data).toString() : '')).join('')

t.test('every suite with its certificate type, each group', async (t) => {
  for (const suite of SUITES) {
    for (const group of ['x25519', 'P-256', 'P-384'] as const) {
      const opts: TlsServerOptions = { certificates: [suite.auth === 'rsa' ? rsa : ec] }
      const s = new TlsServerConnection(opts, Date.now())
      const c = client({ ciphers: [suite.name], groups: [group] })
      const ev = shuttle(c, s)
      if (suite.auth === 'ecdsa' && group !== 'P-256') {
        // our ECDSA certificate is on P-256, which this client did not list: RFC 8422 section 5.1 forbids using it
        t.ok(ev.b.some((e) => e.type === 'error' && e.error.alert === 40), `${suite.name} ${group}: handshake_failure`)
        continue
      }
      t.equal(hs(ev.b).cipher, suite.name, `${suite.name} ${group} server`)
      t.equal(hs(ev.a).cipher, suite.name, `${suite.name} ${group} client`)
      c.write(Buffer.from('ping')); s.write(Buffer.from('pong'))
      const e2 = shuttle(c, s)
      t.equal(text(e2.b), 'ping'); t.equal(text(e2.a), 'pong')
    }
  }
})

t.test('NPN, ALPN, both (ALPN wins), none; server preference', async (t) => {
  const opts: TlsServerOptions = { certificates: [rsa] }
  for (const [negotiation, by] of [['npn', 'npn'], ['alpn', 'alpn'], ['both', 'alpn']] as const) {
    const s = new TlsServerConnection(opts, Date.now())
    const ev = shuttle(client({ protocols: ['http/1.1', 'spdy/3', 'spdy/3.1'], negotiation }), s)
    const h = hs(ev.b)
    // ALPN: server preference (spdy/3.1 first in the default list); NPN: the client picks its first in the server list.
    t.same([h.protocol, h.negotiatedBy], [by === 'alpn' ? 'spdy/3.1' : 'http/1.1', by], negotiation)
    t.same([hs(ev.a).protocol, hs(ev.a).negotiatedBy], [h.protocol, by])
  }
  const s = new TlsServerConnection(opts, Date.now())
  const h = hs(shuttle(client(), s).b)
  t.same([h.protocol, h.negotiatedBy], [null, null])
})

t.test('ALPN without overlap is no_application_protocol', async (t) => {
  const s = new TlsServerConnection({ certificates: [rsa] }, Date.now())
  const ev = shuttle(client({ protocols: ['h2'] }), s)
  const err = ev.b.find((e) => e.type === 'error')
  t.equal(err?.type === 'error' ? err.error.alert : -1, 120)
  const cerr = ev.a.find((e) => e.type === 'error')
  t.equal(cerr?.type === 'error' ? cerr.error.alert : -1, 120, 'client saw the alert')
})

t.test('SNI picks the certificate per name, wildcard included', async (t) => {
  const a = generateSelfSigned({ commonName: 'a.example', keyType: 'ec' })
  const b = generateSelfSigned({ commonName: '*.b.example', keyType: 'ec' })
  const opts: TlsServerOptions = { certificates: [ec, loadCertificate(a), loadCertificate(b)] }
  for (const [name, ca] of [['a.example', a.cert], ['x.b.example', b.cert], ['localhost', certs.ec.cert]]) {
    const s = new TlsServerConnection(opts, Date.now())
    const ev = shuttle(new TlsClientConnection({ ca, servername: name }, Date.now()), s)
    t.equal(hs(ev.a).servername, name, `${name} verified against its own cert`)
    t.equal(hs(ev.b).servername, name)
  }
  // the wrong CA for a name fails verification: proves the certificate really differs per name
  const ev = shuttle(new TlsClientConnection({ ca: a.cert, servername: 'x.b.example' }, Date.now()), new TlsServerConnection(opts, Date.now()))
  t.ok(ev.a.some((e) => e.type === 'error' && e.error.alert === 48), 'unknown_ca')
})

t.test('byte-by-byte delivery and records split at 2^14', async (t) => {
  const s = new TlsServerConnection({ certificates: [rsa] }, Date.now())
  const c = client({ protocols: ['spdy/3.1'], negotiation: 'npn' })
  const evS: TlsEvent[] = []
  const evC: TlsEvent[] = []
  for (let i = 0; i < 20; i++) {
    const out = c.takeOutbound()
    for (const b of out) evS.push(...s.receive(Buffer.from([b]), Date.now()))
    const back = s.takeOutbound()
    for (const b of back) evC.push(...c.receive(Buffer.from([b]), Date.now()))
    if (out.length === 0 && back.length === 0) break
  }
  t.equal(hs(evS).protocol, 'spdy/3.1')
  t.equal(hs(evC).protocol, 'spdy/3.1')
  const big = Buffer.alloc(100_000, 7)
  big[99_999] = 1
  s.write(big)
  const wire = s.takeOutbound()
  // 100000 bytes = 7 records (6 x 16384 + 1696), each with a 5-byte header, 8-byte nonce and 16-byte tag
  t.equal(wire.length, 100_000 + 7 * (5 + 8 + 16))
  const got = Buffer.concat(c.receive(wire, Date.now()).map((e) => (e.type === 'data' ? Buffer.from(e.data) : Buffer.alloc(0))))
  t.ok(got.equals(big), 'reassembled')
})

t.test('records cut anywhere by reads, header included, reassemble without loss', async (t) => {
  const s = new TlsServerConnection({ certificates: [rsa] }, Date.now())
  const c = client()
  shuttle(c, s)
  // several writes of odd sizes: records of 1..16384 bytes back to back
  const sent: Buffer[] = []
  let seed = 7
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
  for (let i = 0; i < 40; i++) {
    const b = Buffer.alloc(1 + rnd(40_000))
    for (let j = 0; j < b.length; j += 997) b[j] = rnd(256)
    sent.push(b)
    c.write(b)
  }
  const wire = c.takeOutbound()
  // cut points: every offset 0-12 of some records (inside the 5-byte header, at it, inside the GCM nonce) and
  // random sizes up to 70 KB elsewhere
  const got: Buffer[] = []
  let off = 0
  while (off < wire.length) {
    const len = off < 200_000 ? 1 + rnd(13) : 1 + rnd(70_000)
    // the engine may decrypt in place: hand it a copy, as a socket hands fresh buffers
    for (const e of s.receive(Buffer.from(wire.subarray(off, off + len)), Date.now())) {
      if (e.type === 'data') got.push(Buffer.from(e.data))
      else t.fail(`unexpected ${e.type}`)
    }
    off += len
  }
  t.ok(Buffer.concat(got).equals(Buffer.concat(sent)), `${wire.length} bytes in ${sent.length} writes arrive intact`)
})

t.test('close_notify both ways', async (t) => {
  const s = new TlsServerConnection({ certificates: [rsa] }, Date.now())
  const c = client()
  shuttle(c, s)
  c.close()
  const ev = shuttle(c, s)
  t.same(ev.b.map((e) => e.type), ['close'], 'server saw close')
  t.same(ev.a.map((e) => e.type), ['close'], 'server answered with its close_notify')
  s.write(Buffer.from('late'))
  t.equal(s.takeOutbound().length, 0, 'nothing written after close')
})

t.test('keylog lines match on both sides (NSS format)', async (t) => {
  const lines: string[] = []
  const s = new TlsServerConnection({ certificates: [rsa], onKeylog: (l) => lines.push('s ' + l) }, Date.now())
  shuttle(client({ onKeylog: (l) => lines.push('c ' + l) }), s)
  t.equal(lines.length, 2)
  t.match(lines[0], /^[sc] CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}$/)
  t.equal(lines[0].slice(2), lines[1].slice(2))
})

t.test('resumption: ticket, session id, shared ticket keys, EMS rules', async (t) => {
  const opts: TlsServerOptions = { certificates: [rsa] }
  const first = client()
  shuttle(first, new TlsServerConnection(opts, Date.now()))
  const session = first.session
  t.ok(session?.ticket, 'got a ticket')
  if (session === null) return
  let ev = shuttle(client({ session }), new TlsServerConnection(opts, Date.now()))
  t.equal(hs(ev.b).resumed, true, 'ticket resumes')
  ev = shuttle(client({ session: { ...session, ticket: null } }), new TlsServerConnection(opts, Date.now()))
  t.equal(hs(ev.b).resumed, true, 'session id resumes')
  ev = shuttle(client({ session }), new TlsServerConnection({ certificates: [rsa] }, Date.now()))
  t.equal(hs(ev.b).resumed, false, 'another context has another ticket key and cache: full handshake')
  const key = Buffer.alloc(32, 9)
  const c1 = client()
  shuttle(c1, new TlsServerConnection({ certificates: [rsa], ticketKeys: key }, Date.now()))
  ev = shuttle(client({ session: c1.session }), new TlsServerConnection({ certificates: [rsa], ticketKeys: [Buffer.alloc(32, 1), key] }, Date.now()))
  t.equal(hs(ev.b).resumed, true, 'a second process with the same (rotated) ticket key resumes')
  const tampered = Buffer.from(session.ticket ?? [])
  tampered[40] ^= 1
  ev = shuttle(client({ session: { ...session, ticket: tampered } }), new TlsServerConnection(opts, Date.now() ))
  t.equal(hs(ev.b).resumed, false, 'tampered ticket: full handshake')
})
