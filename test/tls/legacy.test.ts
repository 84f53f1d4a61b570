/**
 * `legacy`: TLS 1.0 (RFC 2246) and 1.1 (RFC 4346) with the CBC-SHA suites, for SPDY-era clients. The peer is
 * `openssl s_client` (OpenSSL 3.0, an independent implementation; 1.0/1.1 and SHA-1 need `@SECLEVEL=0`), which is
 * what a 2012 Chrome spoke: TLS 1.0, NPN, AES-CBC. Tampering and RSA-premaster cases use our client in memory,
 * editing bytes on the wire between the two engines.
 */
import t from 'tap'
import { loadCertificate } from '../../lib/tls/certificates'
import { TlsClientConnection } from '../../lib/tls/client'
import { TlsServerConnection, TlsServerOptions } from '../../lib/tls/server'
import type { TlsEvent } from '../../lib/tls/engine'
import { pipe, sClient, shuttle, startServer, testCerts, caFiles } from './harness'

const certs = testCerts()
const rsa = loadCertificate(certs.rsa)
const ec = loadCertificate(certs.ec)
const caFile = caFiles(t, 'legacy')
const SECLEVEL0 = ':@SECLEVEL=0' // OpenSSL 3 refuses TLS 1.0/1.1 and SHA-1 signatures at the default level 1+

/**
 * 40 KB of numbered, distinct text: several records both ways, and a mix-up or a lost record shows in the echo.
 * s_client reads stdin 8 KB at a time and takes a chunk starting with R, Q, k, K or B as a command (renegotiate,
 * quit, ...), so the text avoids those letters.
 */
const bigPayload = (tag: string): string => {
  const safe = tag.toLowerCase().replace(/[^0-9acdefghij.-]/g, '_')
  let s = ''
  for (let i = 0; s.length < 40_000; i++) s += `${safe} ${i} ${'abcdefghij'.repeat(i % 7)}|`
  return s + '\n'
}
const dataBytes = (ev: TlsEvent[]): number => ev.reduce((n, e) => n + (e.type === 'data' ? e.data.length : 0), 0)
const errorOf = (ev: TlsEvent[]): number => {
  const e = ev.filter((x) => x.type === 'error')
  return e.length === 1 && e[0].type === 'error' ? e[0].error.alert : -1
}

const VERSIONS = [['-tls1', 'TLSv1', 'TLSv1'], ['-tls1_1', 'TLSv1.1', 'TLSv1.1'], ['-tls1_2', 'TLSv1.2', 'TLSv1.2']] as const
const SUITES = {
  rsa: ['ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA', 'AES128-SHA', 'AES256-SHA'],
  ec: ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA']
} as const

t.test('openssl s_client: every legacy suite in TLS 1.0, 1.1 and 1.2 with NPN, 40 KB echoed', async (t) => {
  for (const type of ['rsa', 'ec'] as const) {
    const srv = await startServer({ certificates: [type === 'rsa' ? rsa : ec], legacy: true })
    for (const [flag, printed, event] of VERSIONS) {
      for (const cipher of SUITES[type]) {
        const payload = bigPayload(`${flag} ${cipher}`)
        const before = srv.events.length
        const out = await sClient(srv.port, [flag, '-cipher', cipher + SECLEVEL0, '-nextprotoneg', 'spdy/3,spdy/2', '-CAfile', caFile[type]], payload)
        const what = `${type} ${flag} ${cipher}`
        t.match(out, 'Next protocol: (1) spdy/3', `${what}: NPN`)
        t.match(out, new RegExp(`Cipher is ${cipher}\\b`), `${what}: cipher`)
        t.match(out, new RegExp(`Protocol  : ${printed.replace('.', '\\.')}\\n`), `${what}: protocol`)
        t.match(out, 'Verify return code: 0 (ok)', `${what}: ServerKeyExchange signature and chain verified`)
        t.ok(out.includes(payload.trim()), `${what}: 40 KB echoed back intact`)
        const ev = srv.events.slice(before)
        t.same(ev.filter((e) => e.type === 'handshake').map((e) => e.type === 'handshake' && [e.version, e.cipher, e.protocol, e.negotiatedBy]),
          [[event, cipher, 'spdy/3', 'npn']], `${what}: server handshake event`)
        t.equal(dataBytes(ev), payload.length, `${what}: server received every byte`)
      }
    }
    await srv.close()
  }
})

t.test('AEAD suites stay preferred with legacy; ALPN works in 1.0', async (t) => {
  const srv = await startServer({ certificates: [rsa], legacy: true })
  t.teardown(srv.close)
  const def = await sClient(srv.port, ['-tls1_2', '-cipher', 'DEFAULT' + SECLEVEL0, '-CAfile', caFile.rsa])
  t.match(def, 'New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256')
  // a 1.0 client offering AEAD and CBC gets CBC (AEAD suites do not exist below 1.2, RFC 5288 section 4)
  const v10 = await sClient(srv.port, ['-tls1', '-cipher', 'DEFAULT' + SECLEVEL0, '-alpn', 'spdy/3.1', '-CAfile', caFile.rsa])
  t.match(v10, /Protocol {2}: TLSv1\n/)
  t.match(v10, 'Cipher is ECDHE-RSA-AES128-SHA')
  t.match(v10, 'ALPN protocol: spdy/3.1')
})

t.test('without legacy, TLS 1.0/1.1 get protocol_version; a fallback SCSV below 1.2 gets inappropriate_fallback', async (t) => {
  const plain = await startServer({ certificates: [rsa] })
  const legacy = await startServer({ certificates: [rsa], legacy: true })
  t.teardown(plain.close)
  t.teardown(legacy.close)
  for (const flag of ['-tls1', '-tls1_1']) {
    const out = await sClient(plain.port, [flag, '-cipher', 'DEFAULT' + SECLEVEL0])
    t.match(out, 'alert protocol version', `${flag} without legacy`)
    t.notMatch(out, /Cipher is (?!\(NONE\))/, `${flag}: no session`)
    // RFC 7507 section 3: our best is 1.2, so a fallback retry at 1.0/1.1 means a downgrade, legacy or not
    t.match(await sClient(plain.port, [flag, '-fallback_scsv', '-cipher', 'DEFAULT' + SECLEVEL0]), 'alert inappropriate fallback', `${flag} SCSV, no legacy`)
    t.match(await sClient(legacy.port, [flag, '-fallback_scsv', '-cipher', 'DEFAULT' + SECLEVEL0]), 'alert inappropriate fallback', `${flag} SCSV, legacy`)
  }
  const ok = await sClient(legacy.port, ['-tls1_2', '-fallback_scsv', '-cipher', 'DEFAULT' + SECLEVEL0, '-CAfile', caFile.rsa])
  t.match(ok, 'New, TLSv1.2', 'SCSV at our best version is fine')
  // the CBC suites are not offered without legacy, even in TLS 1.2
  t.match(await sClient(plain.port, ['-tls1_2', '-cipher', 'AES128-SHA' + SECLEVEL0]), 'alert handshake failure', 'AES128-SHA without legacy')
})

t.test('resumption keeps the version: tickets and session ids in 1.0 and 1.1', async (t) => {
  const srv = await startServer({ certificates: [rsa], legacy: true })
  t.teardown(srv.close)
  // s_client's "New/Reused, TLSv1.0" names the cipher's version, so the session's version is read off the server
  for (const [flag, version] of [['-tls1', 'TLSv1'], ['-tls1_1', 'TLSv1.1']]) {
    for (const extra of [[], ['-no_ticket']]) {
      const before = srv.events.length
      const out = await sClient(srv.port, [flag, '-reconnect', ...extra, '-cipher', 'DEFAULT' + SECLEVEL0, '-CAfile', caFile.rsa])
      t.equal(out.match(/Reused, /g)?.length, 5, `${flag} ${extra.join('')}: five reconnects reused`)
      const hs = srv.events.slice(before).filter((e) => e.type === 'handshake')
      t.same(hs.map((e) => e.type === 'handshake' && `${e.version} ${String(e.resumed)}`), [`${version} false`, ...Array(5).fill(`${version} true`)], `${flag} ${extra.join('')}: server side`)
    }
  }
  // a TLS 1.0 session offered in a 1.2 handshake is not resumed at 1.2 (RFC 5246 section 7.4.1.3)
  const s1 = new TlsServerConnection({ certificates: [rsa], legacy: true }, Date.now())
  const c1 = new TlsClientConnection({ insecure: true, version: 'TLSv1' }, Date.now())
  shuttle(c1, s1)
  t.equal(c1.session?.version, 0x0301)
  const opts: TlsServerOptions = { certificates: [rsa], legacy: true }
  const first = new TlsServerConnection(opts, Date.now())
  const c2 = new TlsClientConnection({ insecure: true, version: 'TLSv1' }, Date.now())
  shuttle(c2, first)
  const again = shuttle(new TlsClientConnection({ insecure: true, version: 'TLSv1', session: c2.session }, Date.now()), new TlsServerConnection(opts, Date.now()))
  t.ok(again.b.some((e) => e.type === 'handshake' && e.resumed && e.version === 'TLSv1'), 'same version: resumed')
  const up = shuttle(new TlsClientConnection({ insecure: true, version: 'TLSv1.2', session: c2.session }, Date.now()), new TlsServerConnection(opts, Date.now()))
  t.ok(up.b.some((e) => e.type === 'handshake' && !e.resumed && e.version === 'TLSv1.2'), '1.0 session, 1.2 hello: full handshake')
})

/** Client and server engines with a finished handshake, in memory. */
const connected = (version: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2', cipher = 'ECDHE-RSA-AES128-SHA'): { c: TlsClientConnection, s: TlsServerConnection } => {
  const s = new TlsServerConnection({ certificates: [rsa], legacy: true }, Date.now())
  const c = new TlsClientConnection({ insecure: true, version, ciphers: [cipher] }, Date.now())
  const ev = shuttle(c, s)
  if (!ev.b.some((e) => e.type === 'handshake')) throw new Error('no handshake')
  return { c, s }
}
/** Split a byte stream into records (RFC 5246 section 6.2). */
const records = (b: Buffer): Buffer[] => {
  const out: Buffer[] = []
  for (let o = 0; o < b.length; o += 5 + b.readUInt16BE(o + 3)) out.push(b.subarray(o, o + 5 + b.readUInt16BE(o + 3)))
  return out
}

t.test('tampered CBC records: a flipped padding or MAC byte is bad_record_mac, no data, no crash', async (t) => {
  for (const version of ['TLSv1', 'TLSv1.1', 'TLSv1.2'] as const) {
    // 27 bytes of data + 20 MAC + 1 = 48: padding_length 0, so the record's last plaintext byte is the padding byte
    // and the MAC sits in bytes 27..46. In TLS 1.0 the record is split 1/n-1, so the data record carries 27 of 28.
    const len = version === 'TLSv1' ? 28 : 27
    const inRecord = 27
    for (const [what, at] of [['padding', inRecord + 20], ['MAC', inRecord + 3], ['data', 5]] as const) {
      const { c, s } = connected(version)
      c.write(Buffer.alloc(len, 0x41))
      const recs = records(Buffer.from(c.takeOutbound()))
      t.equal(recs.length, version === 'TLSv1' ? 2 : 1, `${version}: ${version === 'TLSv1' ? '1/n-1 split' : 'one record'}`)
      const last = Buffer.from(recs[recs.length - 1])
      const ivLen = version === 'TLSv1' ? 0 : 16
      t.equal(last.length, 5 + ivLen + 48, `${version}: ${what}: record of IV + 3 blocks`)
      // flipping ciphertext byte i of block k flips plaintext byte i of block k+1 (CBC decryption); the preceding
      // block is the IV for the first one (explicit IV in 1.1/1.2)
      const target = 5 + ivLen + at - 16
      if (version === 'TLSv1' && at < 16) continue // the chained IV of the first block is not in this record
      last[target] ^= 0x01
      const ev = s.receive(Buffer.concat([...recs.slice(0, -1), last]), Date.now())
      t.equal(errorOf(ev), 20, `${version}: flipped ${what} byte -> bad_record_mac`)
      t.equal(dataBytes(ev), version === 'TLSv1' ? 1 : 0, `${version}: ${what}: nothing of the tampered record delivered`)
      const back = c.receive(s.takeOutbound(), Date.now())
      t.equal(errorOf(back), 20, `${version}: ${what}: the client reads a bad_record_mac alert`)
    }
    // a ciphertext that is not whole blocks, or too short for a MAC
    for (const [what, size] of [['not a block multiple', 40], ['shorter than MAC + padding byte', 16]] as const) {
      const { c, s } = connected(version)
      c.write(Buffer.alloc(100, 0x78))
      const rec = Buffer.from(records(Buffer.from(c.takeOutbound())).at(-1) as Buffer)
      const cut = Buffer.concat([rec.subarray(0, 5), rec.subarray(5, 5 + size)])
      cut.writeUInt16BE(size, 3)
      t.equal(errorOf(s.receive(cut, Date.now())), 20, `${version}: ${what} -> bad_record_mac`)
    }
    // an untampered record of each size still goes through (the checks above failed for the tampering alone)
    const { c, s } = connected(version)
    for (const n of [0, 1, 11, 12, 27, 28, 16384, 40000]) c.write(Buffer.alloc(n, 0x42))
    t.equal(dataBytes(s.receive(c.takeOutbound(), Date.now())), 1 + 11 + 12 + 27 + 28 + 16384 + 40000, `${version}: every size round-trips`)
  }
})

t.test('TLS 1.0 sends application data split 1/n-1 (BEAST); 1.1 and 1.2 do not', async (t) => {
  for (const version of ['TLSv1', 'TLSv1.1'] as const) {
    const { c, s } = connected(version)
    s.write(Buffer.alloc(1000, 0x43))
    const recs = records(Buffer.from(s.takeOutbound()))
    t.equal(recs.length, version === 'TLSv1' ? 2 : 1, version)
    if (version === 'TLSv1') t.equal(recs[0].length, 5 + 32, 'first record: 1 byte + MAC + padding')
    t.equal(dataBytes(c.receive(Buffer.concat(recs), Date.now())), 1000)
  }
})

t.test('RSA key exchange: a bad EncryptedPreMasterSecret fails like a wrong one, at Finished (RFC 5246 7.4.7.1)', async (t) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crypto = require('node:crypto') as typeof import('node:crypto')
  const pub = crypto.createPublicKey(certs.rsa.cert)
  const enc = (m: Buffer): Buffer => crypto.publicEncrypt({ key: pub, padding: crypto.constants.RSA_PKCS1_PADDING }, m)
  const cases: Array<[string, (good: Buffer) => Buffer]> = [
    ['untouched (control)', (g) => g],
    ['one ciphertext byte flipped', (g) => { const b = Buffer.from(g); b[100] ^= 0x80; return b }],
    ['47-byte secret, valid padding', () => enc(crypto.randomBytes(47))],
    ['49-byte secret, valid padding', () => enc(crypto.randomBytes(49))],
    ['right length, wrong version bytes', () => enc(Buffer.concat([Buffer.from([0x02, 0x00]), crypto.randomBytes(46)]))],
    ['ciphertext one byte short', (g) => g.subarray(1)],
    ['ciphertext above the modulus', (g) => Buffer.alloc(g.length, 0xff)]
  ]
  for (const [name, edit] of cases) {
    for (const version of ['TLSv1', 'TLSv1.2'] as const) {
      const s = new TlsServerConnection({ certificates: [rsa], legacy: true }, Date.now())
      const c = new TlsClientConnection({ insecure: true, version, ciphers: ['AES128-SHA'] }, Date.now())
      s.receive(c.takeOutbound(), Date.now())
      c.receive(s.takeOutbound(), Date.now())
      // the client's flight: ClientKeyExchange (plaintext), ChangeCipherSpec, Finished (encrypted)
      const recs = records(Buffer.from(c.takeOutbound()))
      const cke = recs[0]
      t.equal(cke[5], 16, 'first record is ClientKeyExchange')
      const good = cke.subarray(5 + 4 + 2)
      const bad = edit(good)
      const body = Buffer.concat([Buffer.from([0, 0]), bad])
      body.writeUInt16BE(bad.length, 0)
      const msg = Buffer.concat([Buffer.from([16, 0, 0, 0]), body])
      msg.writeUIntBE(body.length, 1, 3)
      const rec = Buffer.concat([cke.subarray(0, 5), msg])
      rec.writeUInt16BE(msg.length, 3)
      // the ClientKeyExchange alone is accepted whatever it holds: no alert, no event that could tell them apart
      t.same(s.receive(rec, Date.now()), [], `${version} ${name}: ClientKeyExchange raises nothing`)
      t.equal(s.takeOutbound().length, 0, `${version} ${name}: nothing sent`)
      const ev = s.receive(Buffer.concat(recs.slice(1)), Date.now())
      if (name.startsWith('untouched')) t.ok(ev.some((e) => e.type === 'handshake'), `${version} ${name}: handshake completes`)
      else t.equal(errorOf(ev), 20, `${version} ${name}: bad_record_mac on the client's Finished record`)
    }
  }
})

t.test('TLS 1.0/1.1 PRF, Finished and EMS interoperate: our client against Node TLS (OpenSSL) at SECLEVEL 0', async (t) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tls = require('node:tls') as typeof import('node:tls')
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const net = require('node:net') as typeof import('node:net')
  const server = tls.createServer({ ...certs.rsa, minVersion: 'TLSv1', maxVersion: 'TLSv1.2', ciphers: 'ALL' + SECLEVEL0 }, (sock) => sock.pipe(sock))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const port = (server.address() as import('node:net').AddressInfo).port
  for (const version of ['TLSv1', 'TLSv1.1'] as const) {
    for (const cipher of SUITES.rsa) {
      const got = await new Promise<string>((resolve) => {
        const sock = net.connect(port, '127.0.0.1')
        const c = new TlsClientConnection({ ca: certs.rsa.cert, servername: 'localhost', version, ciphers: [cipher] }, Date.now())
        let text = ''
        let hs = ''
        pipe(sock, c, (e, engine) => {
          if (e.type === 'handshake') { hs = `${e.version} ${e.cipher}`; engine.write(Buffer.from(bigPayload(cipher))) }
          if (e.type === 'data') { text += Buffer.from(e.data).toString(); if (text.length >= bigPayload(cipher).length) { sock.destroy(); resolve(`${hs} ${text === bigPayload(cipher) ? 'echo ok' : 'echo differs'}`) } }
          if (e.type === 'error') { sock.destroy(); resolve(`error ${e.error.message}`) }
        })
      })
      t.equal(got, `${version} ${cipher} echo ok`, `${version} ${cipher} against Node TLS`)
    }
  }
})
