/**
 * ClientHellos built field by field for the malformed-hello tests, and a raw-socket probe that reports what a TLS
 * server answers to one: the alert it sends, its ServerHello, or nothing. Built from RFC 5246 section 7.4.1.2's
 * layout here, not by our client, so a bug in our encoder cannot hide one in our parser.
 */
import * as net from 'node:net'
import { Alert, Ext, Group, SigScheme } from '../../lib/tls/constants'

export interface HelloParts {
  version: number
  random: Buffer
  sessionId: Buffer
  /** cipher_suites content; `suitesLength` overrides the length field written before it. */
  suites: Buffer
  suitesLength?: number
  compression: Buffer
  /** Extensions in order; null writes no extensions block at all. */
  exts: Array<[number, Buffer]> | null
  /** Replaces the extensions block (length included) when set. */
  extsRaw?: Buffer
  /** Bytes after everything. */
  tail?: Buffer
}

export const u8 = (v: number): Buffer => Buffer.from([v])
export const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b }
export const v8 = (...p: Buffer[]): Buffer => { const b = Buffer.concat(p); return Buffer.concat([u8(b.length), b]) }
export const v16 = (...p: Buffer[]): Buffer => { const b = Buffer.concat(p); return Buffer.concat([u16(b.length), b]) }
export const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1')

/** A hello OpenSSL (Node's tls, TLS 1.2) and our server both accept with an RSA certificate. */
export const baseHello = (): HelloParts => ({
  version: 0x0303,
  random: Buffer.alloc(32, 7),
  sessionId: Buffer.alloc(0),
  suites: Buffer.concat([u16(0xc02f), u16(0x00ff)]),
  compression: u8(0),
  exts: [
    [Ext.server_name, v16(u8(0), v16(latin1('localhost')))],
    [Ext.supported_groups, v16(u16(Group.x25519), u16(Group.secp256r1))],
    [Ext.ec_point_formats, v8(u8(0))],
    [Ext.signature_algorithms, v16(u16(SigScheme.rsa_pss_rsae_sha256), u16(SigScheme.rsa_pkcs1_sha256))],
    [Ext.alpn, v16(v8(latin1('spdy/3.1')), v8(latin1('http/1.1')))],
    [Ext.extended_master_secret, Buffer.alloc(0)],
    [Ext.session_ticket, Buffer.alloc(0)]
  ]
})

/** ClientHello body (no handshake header). */
export const helloBody = (p: HelloParts): Buffer => Buffer.concat([
  u16(p.version), p.random, v8(p.sessionId), u16(p.suitesLength ?? p.suites.length), p.suites, v8(p.compression),
  p.extsRaw ?? (p.exts === null ? Buffer.alloc(0) : v16(...p.exts.map(([t, d]) => Buffer.concat([u16(t), v16(d)])))),
  p.tail ?? Buffer.alloc(0)
])

/** Handshake message (RFC 5246 section 7.4) in handshake records of at most `recordSize` bytes, record version 3,1. */
export const helloRecords = (body: Buffer, recordSize = 16384): Buffer => {
  const msg = Buffer.concat([u8(1), u8(body.length >> 16), u16(body.length & 0xffff), body])
  const out: Buffer[] = []
  for (let off = 0; off < msg.length; off += recordSize) {
    const frag = msg.subarray(off, Math.min(off + recordSize, msg.length))
    out.push(Buffer.from([22, 3, 1]), u16(frag.length), frag)
  }
  return Buffer.concat(out)
}

/** Replace (or with null drop) one extension of the base; extra ones are appended. */
export const withExt = (type: number, data: Buffer | null, p: HelloParts = baseHello()): HelloParts => {
  const exts = (p.exts ?? []).filter(([t]) => t !== type)
  if (data !== null) exts.push([type, data])
  return { ...p, exts }
}

export interface HelloCase {
  name: string
  hello: HelloParts
  /** Our alert. */
  alert: number
  /** OpenSSL's answer when it differs from `alert`, with why in the name (OpenSSL 3.0, Node 20's). */
  openssl?: number | 'server_hello'
  /** OpenSSL 3.5's answer (Node 22 and 24) where it differs from 3.0's. */
  openssl35?: number | 'server_hello'
  /** The hello parses: the alert is about what it asks for. */
  meaning?: true
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

/**
 * Malformed ClientHellos: what our engine answers (`alert`) and, where it differs, what OpenSSL answers. Those marked
 * `meaning` parse; their alert comes from what the server makes of them.
 */
export const malformedHellos: HelloCase[] = [
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
    openssl: 'server_hello',
    openssl35: D
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
  { name: 'compression_methods: null not offered (OpenSSL 3.5: illegal_parameter)', hello: { ...base, compression: u8(1) }, alert: D, openssl35: Alert.illegal_parameter },
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
  ...[0, 1, 3, 5, 6, 7, 0xffff].map((len): HelloCase => ({ name: `cipher_suites length ${len} (4 bytes follow)`, hello: { ...base, suitesLength: len }, alert: D })),
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
    openssl: 'server_hello',
    meaning: true
  },
  { name: 'non-empty renegotiation_info in an initial handshake', hello: withExt(Ext.renegotiation_info, v8(Buffer.alloc(12))), alert: Alert.handshake_failure, meaning: true },
  { name: 'ALPN with nothing in common', hello: withExt(Ext.alpn, v16(v8(latin1('h2')))), alert: Alert.no_application_protocol, meaning: true }
]

/** The records of a plaintext server flight, named: 'server_hello' for a handshake record opening with one, 'alert N', 'other'. */
const recordsOf = (got: Buffer): string[] => {
  const out: string[] = []
  for (let off = 0; off + 5 <= got.length; off += 5 + got.readUInt16BE(off + 3)) {
    if (got[off] === 21 && off + 7 <= got.length) out.push(`alert ${got[off + 6]}`)
    else if (got[off] === 22 && got[off + 5] === 2) out.push('server_hello')
    else if (got[off] !== 22) out.push('other')
  }
  return out
}

/**
 * What a server answered to the bytes: its first record, 'server_hello' or 'alert N' ('closed' if nothing came).
 * With `wait` ms it also waits that long (or for the close) and lists every ServerHello and alert it sent,
 * comma-separated: to see an alert that comes after the server's first flight.
 */
export const probe = async (port: number, bytes: Buffer, wait = 0): Promise<string> => await new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1')
  let got = Buffer.alloc(0)
  let done = false
  const finish = (): void => {
    if (done) return
    done = true
    clearTimeout(timer)
    s.destroy()
    const recs = recordsOf(got)
    resolve(recs.length === 0 ? 'closed' : wait > 0 ? recs.join(', ') : recs[0])
  }
  const timer = setTimeout(finish, wait > 0 ? wait : 5000)
  s.on('connect', () => s.write(bytes))
  s.on('data', (b) => {
    got = Buffer.concat([got, b])
    if (wait === 0 && ((got[0] === 21 && got.length >= 7) || (got[0] === 22 && got.length >= 6))) finish()
  })
  s.on('error', finish)
  s.on('close', finish)
})
