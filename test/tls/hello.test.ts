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
import { Ext, SigScheme } from '../../lib/tls/constants'
import { sClient, startServer, testCerts } from './harness'
import { baseHello, helloBody, helloRecords, HelloParts, malformedHellos, probe, u16, v16, withExt } from './hellos'

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

const base = baseHello()

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
  for (const c of malformedHellos) {
    const bytes = helloRecords(helloBody(c.hello))
    t.equal(ours(bytes), `alert ${c.alert}`, `${c.name}: ours`)
    // Node 20 bundles OpenSSL 3.0, Node 22 and 24 OpenSSL 3.5: where the two answer differently, each is checked.
    const theirs = (process.versions.openssl.startsWith('3.0.') ? undefined : c.openssl35) ?? c.openssl ?? c.alert
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
