/**
 * ClientHellos built field by field for the malformed-hello tests, and a raw-socket probe that reports what a TLS
 * server answers to one: the alert it sends, its ServerHello, or nothing. Built from RFC 5246 section 7.4.1.2's
 * layout here, not by our client, so a bug in our encoder cannot hide one in our parser.
 */
import * as net from 'node:net'
import { Ext, Group, SigScheme } from '../../lib/tls/constants'

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
