/**
 * Malformed ClientHellos, table-driven: each case is sent to our engine and, over a real socket, to Node's TLS
 * server (OpenSSL 3.0, the independent implementation issue 12 measures us against), and both answers are
 * checked. Every syntax error is decode_error (RFC 5246 section 7.2.2); the few places where OpenSSL answers
 * otherwise are named in the case with the reason.
 */
import t, { Test } from 'tap'
import * as tls from 'node:tls'
import type { AddressInfo } from 'node:net'
import { TlsServerConnection, TlsServerOptions } from '../../lib/tls/server'
import { parseClientHello } from '../../lib/tls/hello'
import { loadCertificate } from '../../lib/tls/certificates'
import { Alert, Ext, SigScheme } from '../../lib/tls/constants'
import { sClient, startServer, testCerts } from './harness'
import { baseHello, helloBody, helloRecords, HelloParts, latin1, probe, u16, u8, v16, v8, withExt } from './hellos'

const certs = testCerts()
const rsa = loadCertificate(certs.rsa)
const ALPN = ['spdy/3.1', 'spdy/3', 'spdy/2', 'http/1.1']

/** What our engine answers: 'server_hello' or 'alert N' (first record it writes). */
const ours = (bytes: Buffer): string => {
  const s = new TlsServerConnection({ certificates: [rsa], protocols: ALPN }, Date.now())
  s.receive(Buffer.from(bytes), Date.now())
  const out = Buffer.from(s.takeOutbound())
  if (out.length >= 7 && out[0] === 21) return `alert ${out[6]}`
  if (out.length >= 6 && out[0] === 22 && out[5] === 2) return 'server_hello'
  return out.length === 0 ? 'nothing' : `other ${out.subarray(0, 8).toString('hex')}`
}

interface Case {
  name: string
  hello: HelloParts
  /** Our alert. */
  alert: number
  /** OpenSSL's answer when it differs from `alert`, with why in the name. */
  openssl?: number | 'server_hello'
}

const D = Alert.decode_error
const base = baseHello()
const ext = (type: number): Buffer => {
  const e = base.exts?.find(([x]) => x === type)
  if (e === undefined) throw new Error(`no extension ${type} in the base hello`)
  return e[1]
}
const pad = (b: Buffer, n = 1): Buffer => Buffer.concat([b, Buffer.alloc(n)])
const exts = base.exts ?? []
const extBlock = v16(...exts.map(([type, d]) => Buffer.concat([u16(type), v16(d)])))

const cases: Case[] = [
  // trailing bytes inside an extension (RFC 8446 section 4: each vector consumed exactly)
  { name: 'server_name with a trailing byte', hello: withExt(Ext.server_name, pad(ext(Ext.server_name))), alert: D },
  { name: 'supported_groups with a trailing byte', hello: withExt(Ext.supported_groups, pad(ext(Ext.supported_groups))), alert: D },
  { name: 'ec_point_formats with a trailing byte', hello: withExt(Ext.ec_point_formats, pad(ext(Ext.ec_point_formats))), alert: D },
  { name: 'signature_algorithms padded (two trailing bytes)', hello: withExt(Ext.signature_algorithms, pad(ext(Ext.signature_algorithms), 2)), alert: D },
  { name: 'ALPN with a trailing byte', hello: withExt(Ext.alpn, pad(ext(Ext.alpn))), alert: D },
  {
    name: 'renegotiation_info with a trailing byte (OpenSSL reads renegotiated_connection and ignores the rest)',
    hello: withExt(Ext.renegotiation_info, pad(v8())),
    alert: D,
    openssl: 'server_hello'
  },
  {
    name: 'supported_versions with a trailing byte (OpenSSL: "length mismatch", answered as protocol_version)',
    hello: withExt(Ext.supported_versions, pad(v8(u16(0x0303)))),
    alert: D,
    openssl: Alert.protocol_version
  },
  // empty lists the RFCs bound below by one element
  { name: 'server_name: empty server_name_list', hello: withExt(Ext.server_name, v16()), alert: D },
  {
    name: 'server_name: empty host_name (HostName<1..2^16-1>; OpenSSL takes it as no name)',
    hello: withExt(Ext.server_name, v16(u8(0), v16())),
    alert: D,
    openssl: 'server_hello'
  },
  { name: 'server_name: entry cut after name_type', hello: withExt(Ext.server_name, v16(u8(0))), alert: D },
  { name: 'server_name: extension_data empty', hello: withExt(Ext.server_name, Buffer.alloc(0)), alert: D },
  { name: 'ALPN: empty protocol_name_list', hello: withExt(Ext.alpn, v16()), alert: D },
  { name: 'ALPN: extension_data empty', hello: withExt(Ext.alpn, Buffer.alloc(0)), alert: D },
  { name: 'ALPN: inner length short (leaves 3 bytes over)', hello: withExt(Ext.alpn, v16(u8(5), latin1('spdy/3.1'))), alert: D },
  { name: 'ALPN: inner length past the list', hello: withExt(Ext.alpn, v16(u8(9), latin1('spdy/3.1'))), alert: D },
  { name: 'ALPN: empty protocol name', hello: withExt(Ext.alpn, v16(u8(0), v8(latin1('spdy/3.1')))), alert: D },
  { name: 'signature_algorithms: empty list', hello: withExt(Ext.signature_algorithms, v16()), alert: D },
  { name: 'signature_algorithms: odd length', hello: withExt(Ext.signature_algorithms, v16(u16(SigScheme.rsa_pkcs1_sha256), u8(4))), alert: D },
  { name: 'supported_groups: empty list', hello: withExt(Ext.supported_groups, v16()), alert: D },
  { name: 'supported_groups: odd length', hello: withExt(Ext.supported_groups, v16(u16(29), u8(0))), alert: D },
  { name: 'ec_point_formats: empty list', hello: withExt(Ext.ec_point_formats, v8()), alert: D },
  { name: 'supported_versions: empty list (OpenSSL answers protocol_version)', hello: withExt(Ext.supported_versions, v8()), alert: D, openssl: Alert.protocol_version },
  { name: 'compression_methods: empty', hello: { ...base, compression: Buffer.alloc(0) }, alert: D },
  { name: 'compression_methods: null not offered', hello: { ...base, compression: u8(1) }, alert: D },
  // extensions that are empty by definition
  { name: 'extended_master_secret with data (RFC 7627 section 5.1)', hello: withExt(Ext.extended_master_secret, u8(0)), alert: D },
  {
    name: 'next_protocol_negotiation with data (OpenSSL 3 has no NPN and ignores extension 13172)',
    hello: withExt(Ext.next_protocol_negotiation, v8(latin1('spdy/3'))),
    alert: D,
    openssl: 'server_hello'
  },
  // the fixed fields
  { name: 'session_id of 33 bytes', hello: { ...base, sessionId: Buffer.alloc(33, 1) }, alert: D },
  { name: 'session_id of 255 bytes', hello: { ...base, sessionId: Buffer.alloc(255, 1) }, alert: D },
  { name: 'hello cut inside random', hello: { ...base, random: Buffer.alloc(20), suites: Buffer.alloc(0), suitesLength: undefined, compression: Buffer.alloc(0), exts: null, extsRaw: Buffer.alloc(0) }, alert: D },
  // cipher_suites<2..2^16-2> with its length field fuzzed
  ...[0, 1, 3, 5, 6, 7, 0xffff].map((len): Case => ({ name: `cipher_suites length ${len} (4 bytes follow)`, hello: { ...base, suitesLength: len }, alert: D })),
  { name: 'cipher_suites: odd content', hello: { ...base, suites: Buffer.concat([u16(0xc02f), u8(0)]) }, alert: D },
  // the extensions block
  { name: 'one stray byte after compression_methods', hello: { ...base, exts: null, extsRaw: u8(0) }, alert: D },
  { name: 'extensions block length one short', hello: { ...base, extsRaw: Buffer.concat([u16(extBlock.length - 3), extBlock.subarray(2)]) }, alert: D },
  { name: 'extensions block length one long', hello: { ...base, extsRaw: Buffer.concat([u16(extBlock.length - 1), extBlock.subarray(2)]) }, alert: D },
  { name: 'trailing bytes after the extensions block', hello: { ...base, tail: Buffer.alloc(2) }, alert: D },
  { name: 'extension header cut (type only)', hello: { ...base, extsRaw: v16(extBlock.subarray(2), u16(0x1234)) }, alert: D },
  { name: 'extension data length past the block', hello: { ...base, extsRaw: v16(extBlock.subarray(2), u16(0x1234), u16(10), u8(0)) }, alert: D },
  // meaning, not syntax: these keep their own alerts
  { name: 'duplicate extension', hello: { ...base, exts: [...exts, [Ext.extended_master_secret, Buffer.alloc(0)]] }, alert: Alert.illegal_parameter },
  {
    // RFC 8422 section 5.1.2: "the server MUST abort the handshake and return an illegal_parameter alert"
    name: 'ec_point_formats without uncompressed (OpenSSL 3 sends uncompressed points anyway)',
    hello: withExt(Ext.ec_point_formats, v8(u8(1))),
    alert: Alert.illegal_parameter,
    openssl: 'server_hello'
  },
  { name: 'non-empty renegotiation_info in an initial handshake', hello: withExt(Ext.renegotiation_info, v8(Buffer.alloc(12))), alert: Alert.handshake_failure },
  { name: 'ALPN with nothing in common', hello: withExt(Ext.alpn, v16(v8(latin1('h2')))), alert: Alert.no_application_protocol }
]

const nodeServer = async (t: Test): Promise<number> => {
  const srv = tls.createServer({ cert: certs.rsa.cert, key: certs.rsa.key, maxVersion: 'TLSv1.2', ALPNProtocols: ALPN })
  srv.on('tlsClientError', () => {})
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(() => srv.close())
  return (srv.address() as AddressInfo).port
}

t.test('the base hello gets a ServerHello from both', async (t) => {
  const srv = await nodeServer(t)
  const bytes = helloRecords(helloBody(base))
  t.equal(ours(bytes), 'server_hello')
  t.equal(await probe(srv, bytes), 'server_hello')
})

t.test('malformed hellos: our alert, and what OpenSSL answers', async (t) => {
  const port = await nodeServer(t)
  for (const c of cases) {
    const bytes = helloRecords(helloBody(c.hello))
    t.equal(ours(bytes), `alert ${c.alert}`, `${c.name}: ours`)
    const theirs = c.openssl ?? c.alert
    t.equal(await probe(port, bytes), typeof theirs === 'number' ? `alert ${theirs}` : theirs, `${c.name}: OpenSSL`)
  }
})

t.test('parseClientHello: the values a driver needs', async (t) => {
  const h = parseClientHello(helloBody(withExt(Ext.next_protocol_negotiation, Buffer.alloc(0))))
  t.same(h.alpn, ['spdy/3.1', 'http/1.1'])
  t.equal(h.servername, 'localhost')
  t.equal(h.npn, true)
  t.equal(h.extendedMasterSecret, true)
  t.same(h.sessionTicket, Buffer.alloc(0))
  t.same(h.cipherSuites, [0xc02f, 0x00ff])
  t.same(h.supportedGroups, [29, 23])
  t.equal(parseClientHello(helloBody(base)).npn, false)
  const bare = parseClientHello(helloBody({ ...base, exts: null }))
  t.same([bare.alpn, bare.servername, bare.signatureAlgorithms, bare.extensions.size], [null, null, null, 0])
})

/** Our server's first flight for a hello: the suite it chose and the ServerKeyExchange's scheme, or its alert. */
const flight = (hello: HelloParts, o: Partial<TlsServerOptions> = {}): string => {
  const s = new TlsServerConnection({ certificates: [rsa], ...o }, Date.now())
  s.receive(helloRecords(helloBody(hello)), Date.now())
  const out = Buffer.from(s.takeOutbound())
  if (out[0] === 21) return `alert ${out[6]}`
  // plaintext handshake records, each holding whole messages here: ServerHello, Certificate, [ServerKeyExchange], ServerHelloDone
  let suite = -1
  let scheme = 'none'
  for (let off = 0; off < out.length; off += 5 + out.readUInt16BE(off + 3)) {
    const rec = out.subarray(off + 5, off + 5 + out.readUInt16BE(off + 3))
    for (let m = 0; m < rec.length; m += 4 + rec.readUIntBE(m + 1, 3)) {
      const body = rec.subarray(m + 4)
      if (rec[m] === 2) suite = body.readUInt16BE(2 + 32 + 1 + body[34])
      // ServerECDHParams: curve_type(1) group(2) point<1..255>, then the SignatureAndHashAlgorithm (RFC 5246 section 7.4.3)
      if (rec[m] === 12) scheme = `0x${body.readUInt16BE(4 + body[3]).toString(16).padStart(4, '0')}`
    }
  }
  return `suite 0x${suite.toString(16).padStart(4, '0')} scheme ${scheme}`
}

t.test('RFC 9155 section 2: no signature_algorithms in TLS 1.2 is handshake_failure; SHA-1 only if listed and legacy', async (t) => {
  const port = await nodeServer(t)
  const noSigAlgs = withExt(Ext.signature_algorithms, null)
  const sha1Only = withExt(Ext.signature_algorithms, v16(u16(SigScheme.rsa_pkcs1_sha1)))
  for (const [name, hello] of [['no signature_algorithms', noSigAlgs], ['rsa_pkcs1_sha1 only', sha1Only]] as const) {
    t.equal(flight(hello), 'alert 40', `${name}: ours`)
    t.equal(await probe(port, helloRecords(helloBody(hello))), 'alert 40', `${name}: OpenSSL`)
    t.equal(flight(hello, { legacy: true }), name === 'no signature_algorithms' ? 'alert 40' : 'suite 0xc02f scheme 0x0201', `${name}, legacy: ours`)
  }
  t.equal(flight(base), 'suite 0xc02f scheme 0x0804', 'the base hello: rsa_pss_rsae_sha256')
  const sha256AndSha1 = withExt(Ext.signature_algorithms, v16(u16(SigScheme.rsa_pkcs1_sha1), u16(SigScheme.rsa_pkcs1_sha256)))
  t.equal(flight(sha256AndSha1, { legacy: true }), 'suite 0xc02f scheme 0x0401', 'legacy, SHA-1 listed first: SHA-256 still wins')
  // "except when digital signatures are not used": RSA key exchange (legacy only) sends no ServerKeyExchange
  const rsaKx = { ...noSigAlgs, suites: Buffer.concat([u16(0xc02f), u16(0x002f)]) }
  t.equal(flight(rsaKx, { legacy: true }), 'suite 0x002f scheme none', 'legacy, no signature_algorithms, AES128-SHA offered: RSA key exchange')
  t.equal(flight(rsaKx), 'alert 40', 'the same without legacy')
})

t.test('openssl s_client -sigalgs RSA+SHA1 against our server, with and without legacy', async (t) => {
  for (const legacy of [false, true]) {
    const srv = await startServer({ certificates: [rsa], legacy })
    // OpenSSL 3 refuses SHA-1 signatures at its default security level 1; level 0 lets the client offer them.
    const args = ['-tls1_2', '-cipher', 'DEFAULT:@SECLEVEL=0', '-servername', 'localhost']
    const sha1 = await sClient(srv.port, [...args, '-sigalgs', 'RSA+SHA1'])
    if (legacy) t.match(sha1, 'Peer signing digest: SHA1', 'legacy: SHA-1 when it is all the client lists')
    else t.match(sha1, 'alert handshake failure', 'SHA-1 only, no legacy: handshake_failure')
    const both = await sClient(srv.port, [...args, '-sigalgs', 'RSA+SHA1:RSA+SHA256'])
    t.match(both, 'Peer signing digest: SHA256', `legacy ${legacy}: SHA-256 when listed`)
    await srv.close()
  }
})
