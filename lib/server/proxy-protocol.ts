/**
 * PROXY protocol v1 and v2 header parser (haproxy doc/proxy-protocol.txt, 2020/03/05 revision): sans-IO, bytes in,
 * a verdict out. No sockets, no timers: lib/server/proxy-stage.ts owns the deadline and the socket.
 *
 * A balancer in TCP mode (HAProxy `send-proxy`/`send-proxy-v2`) puts one header in front of the client's bytes,
 * before any TLS, to tell us who the client is. parseProxyHeader() looks at what has arrived so far and says:
 * - 'need-more': a valid prefix of a header, not complete yet (TCP may split it, section 2);
 * - 'header': the parsed header, its length and the bytes after it (the client's first TLS/SPDY/HTTP bytes);
 * - 'none': these bytes cannot start a PROXY header (a client talking directly);
 * - 'malformed': a header that breaks the spec, or longer than the cap: the connection must be dropped
 *   (section 2.1 "Any sequence which does not exactly match the protocol must be discarded").
 * v2 TLVs: ALPN, AUTHORITY and SSL are read; CRC32C is checked (section 2.2.3); every other type is kept in `tlvs`
 * unread, as section 2.2 allows.
 */

/** Section 2.2: the 12-byte signature of the binary format (a NUL at the 5th byte: not a C string). */
export const PROXY_V2_SIGNATURE: Readonly<Uint8Array> = Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
const V1_PREFIX = Uint8Array.from([0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]) // "PROXY "
/** Section 2.1: the longest v1 line, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses and ports). */
export const PROXY_V1_MAX_LINE = 107
/** Section 2.2: signature, ver_cmd, fam, and the 16-bit length of what follows. */
const V2_FIXED = 16

/** Section 2.2.x: registered TLV types. */
export const Pp2Type = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30
} as const
/** Section 2.2.6: PP2_TYPE_SSL's sub-TLV with the TLS version, and the `client` bit saying TLS was used. */
const PP2_SUBTYPE_SSL_VERSION = 0x21
const PP2_CLIENT_SSL = 0x01

export interface ProxyEndpoint { address: string, port: number }
export interface ProxyTlv { type: number, value: Uint8Array }

export interface ProxyHeader {
  version: 1 | 2
  /**
   * true: the header describes a relayed client connection (v2 PROXY command with an IPv4/IPv6 address, v1 TCP4/TCP6).
   * false: v2 LOCAL (the proxy's own connection, e.g. a health check), v1 UNKNOWN, or an address family we do not
   * map onto a socket (AF_UNSPEC, AF_UNIX): the spec says to use the real connection's endpoints then.
   */
  proxied: boolean
  family: 'IPv4' | 'IPv6' | 'unix' | 'unspec'
  transport: 'stream' | 'dgram' | 'unspec'
  /** The client, when proxied over IPv4/IPv6. */
  source: ProxyEndpoint | null
  /** The address the client connected to (the balancer's frontend). */
  destination: ProxyEndpoint | null
  /** Every v2 TLV in order, sub-TLVs of PP2_TYPE_SSL not expanded; [] for v1. */
  tlvs: ProxyTlv[]
  /** PP2_TYPE_ALPN as text (the protocol the balancer negotiated with the client), or null. */
  alpn: string | null
  /** PP2_TYPE_AUTHORITY (the client's SNI), or null. */
  authority: string | null
  /** PP2_TYPE_SSL: whether the client connected to the balancer over TLS, and the TLS version it names. */
  ssl: { version: string | null } | null
}

export type ProxyParseResult =
  | { kind: 'need-more' }
  | { kind: 'none' }
  | { kind: 'malformed', reason: string }
  | { kind: 'header', header: ProxyHeader, length: number, rest: Uint8Array }

const NEED_MORE: ProxyParseResult = { kind: 'need-more' }
const NONE: ProxyParseResult = { kind: 'none' }
const bad = (reason: string): ProxyParseResult => ({ kind: 'malformed', reason })

/** True if `buf` matches `sig` over their common length. */
function prefixMatches (buf: Uint8Array, sig: Readonly<Uint8Array>): boolean {
  const n = Math.min(buf.length, sig.length)
  for (let i = 0; i < n; i++) if (buf[i] !== sig[i]) return false
  return true
}

/**
 * Parses the PROXY header at the start of `buf` (everything received so far). `maxBytes` caps the header length:
 * a v2 length field may announce up to 64 KiB, and nothing is buffered past the cap.
 */
export function parseProxyHeader (buf: Uint8Array, maxBytes: number): ProxyParseResult {
  if (buf.length === 0) return NEED_MORE
  if (prefixMatches(buf, PROXY_V2_SIGNATURE)) return buf.length < V2_FIXED ? NEED_MORE : parseV2(buf, maxBytes)
  if (prefixMatches(buf, V1_PREFIX)) return buf.length < V1_PREFIX.length ? NEED_MORE : parseV1(buf, maxBytes)
  return NONE
}

// ---- version 1 (section 2.1) ----

function parseV1 (buf: Uint8Array, maxBytes: number): ProxyParseResult {
  const limit = Math.min(PROXY_V1_MAX_LINE, maxBytes, buf.length)
  let end = -1
  for (let i = V1_PREFIX.length; i < limit; i++) {
    const c = buf[i]
    if (c === 0x0d) {
      if (i + 1 >= buf.length) return i + 1 >= Math.min(PROXY_V1_MAX_LINE, maxBytes) ? bad('v1 line longer than 107 bytes') : NEED_MORE
      // "The receiver must not tolerate a single CR or LF character to end the line."
      if (buf[i + 1] !== 0x0a) return bad('v1 line: CR not followed by LF')
      end = i
      break
    }
    // US-ASCII text: anything else (a LF alone, a NUL, a control byte) is not a v1 line.
    if (c < 0x20 || c > 0x7e) return bad('v1 line: byte 0x' + c.toString(16).padStart(2, '0') + ' before CRLF')
  }
  if (end < 0) return limit >= Math.min(PROXY_V1_MAX_LINE, maxBytes) ? bad(`v1 line: no CRLF in the first ${Math.min(PROXY_V1_MAX_LINE, maxBytes)} bytes`) : NEED_MORE
  const line = Buffer.from(buf.buffer, buf.byteOffset, end).toString('latin1')
  const length = end + 2
  const rest = buf.subarray(length)
  const fields = line.split(' ')
  const proto = fields[1]
  if (proto === 'UNKNOWN') {
    // "the receiver must ignore anything presented before the CRLF": use the real connection's endpoints.
    return { kind: 'header', header: v1Header(false, 'unspec', null, null), length, rest }
  }
  if (proto !== 'TCP4' && proto !== 'TCP6') return bad(`v1 protocol ${JSON.stringify(proto ?? '')} (TCP4, TCP6 or UNKNOWN)`)
  // Exactly one space between the six fields: an empty field means a doubled space.
  if (fields.length !== 6 || fields.some((f) => f === '')) return bad('v1 line: expected "PROXY TCPx SRC DST SPORT DPORT"')
  const v4 = proto === 'TCP4'
  const src = v4 ? canonicalIPv4(fields[2]) : canonicalIPv6(fields[2])
  const dst = v4 ? canonicalIPv4(fields[3]) : canonicalIPv6(fields[3])
  if (src === null || dst === null) return bad(`v1 ${proto} address not in its canonical form`)
  const sport = v1Port(fields[4])
  const dport = v1Port(fields[5])
  if (sport === null || dport === null) return bad('v1 port not a decimal from 0 to 65535 without leading zeros')
  return { kind: 'header', header: v1Header(true, v4 ? 'IPv4' : 'IPv6', { address: src, port: sport }, { address: dst, port: dport }), length, rest }
}

function v1Header (proxied: boolean, family: ProxyHeader['family'], source: ProxyEndpoint | null, destination: ProxyEndpoint | null): ProxyHeader {
  return { version: 1, proxied, family, transport: proxied ? 'stream' : 'unspec', source, destination, tlvs: [], alpn: null, authority: null, ssl: null }
}

/** Decimal, no leading zeros (section 2.1: "to avoid any possible confusion with octal numbers"). */
function v1Port (s: string): number | null {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(s)) return null
  const n = Number(s)
  return n <= 65535 ? n : null
}

/** Four decimals 0-255 without leading zeros, dot separated (section 2.1). */
function canonicalIPv4 (s: string): string | null {
  const parts = s.split('.')
  if (parts.length !== 4) return null
  for (const p of parts) if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return null
  return s
}

/** Hex groups with at most one `::`, 128 bits in all (section 2.1); returned in the RFC 5952 form Node uses. */
function canonicalIPv6 (s: string): string | null {
  if (!/^[0-9a-fA-F:]{2,39}$/.test(s)) return null
  const halves = s.split('::')
  if (halves.length > 2) return null
  const groups = (h: string): string[] | null => {
    if (h === '') return []
    const g = h.split(':')
    return g.every((x) => x.length >= 1 && x.length <= 4) ? g : null
  }
  const head = groups(halves[0])
  const tail = halves.length === 2 ? groups(halves[1]) : []
  if (head === null || tail === null) return null
  const given = head.length + tail.length
  if (halves.length === 1 ? given !== 8 : given > 7) return null
  const bytes = new Uint8Array(16)
  const put = (g: string[], at: number): void => g.forEach((x, i) => { const v = parseInt(x, 16); bytes[(at + i) * 2] = v >> 8; bytes[(at + i) * 2 + 1] = v & 0xff })
  put(head, 0)
  put(tail, 8 - tail.length)
  return formatIPv6(bytes)
}

// ---- version 2 (section 2.2) ----

function parseV2 (buf: Uint8Array, maxBytes: number): ProxyParseResult {
  const verCmd = buf[12]
  // "it must always be sent as \x2 and the receiver must only accept this value"
  if ((verCmd & 0xf0) !== 0x20) return bad(`v2 version nibble 0x${(verCmd >> 4).toString(16)} (only 0x2 exists)`)
  const command = verCmd & 0x0f
  if (command > 1) return bad(`v2 command 0x${command.toString(16)} (LOCAL 0x0 or PROXY 0x1)`)
  const fam = buf[13]
  const af = fam >> 4
  const tp = fam & 0x0f
  if (af > 3) return bad(`v2 address family 0x${af.toString(16)}`)
  if (tp > 2) return bad(`v2 transport protocol 0x${tp.toString(16)}`)
  const len = (buf[14] << 8) | buf[15]
  const length = V2_FIXED + len
  if (length > maxBytes) return bad(`v2 header of ${length} bytes is over the ${maxBytes}-byte cap`)
  if (buf.length < length) return NEED_MORE
  const body = buf.subarray(V2_FIXED, length)
  const family: ProxyHeader['family'] = af === 1 ? 'IPv4' : af === 2 ? 'IPv6' : af === 3 ? 'unix' : 'unspec'
  const transport: ProxyHeader['transport'] = tp === 1 ? 'stream' : tp === 2 ? 'dgram' : 'unspec'
  // Address block sizes: 2*4+2*2, 2*16+2*2, 2*108 (section 2.2); AF_UNSPEC has none.
  const addrLen = af === 1 ? 12 : af === 2 ? 36 : af === 3 ? 216 : 0
  // "Receivers MUST always consider this field to skip the appropriate number of bytes": a LOCAL header may still
  // carry an address block, which is skipped like any other. A block shorter than its family needs is malformed.
  if (body.length < addrLen) return bad(`v2 length ${len} is shorter than the ${family} address block (${addrLen} bytes)`)
  let source: ProxyEndpoint | null = null
  let destination: ProxyEndpoint | null = null
  if (af === 1 || af === 2) {
    const n = af === 1 ? 4 : 16
    const fmt = af === 1 ? formatIPv4 : formatIPv6
    const port = (at: number): number => (body[at] << 8) | body[at + 1]
    source = { address: fmt(body.subarray(0, n)), port: port(2 * n) }
    destination = { address: fmt(body.subarray(n, 2 * n)), port: port(2 * n + 2) }
  }
  const tlvs = parseTlvs(body.subarray(addrLen))
  if (typeof tlvs === 'string') return bad(tlvs)
  // LOCAL: "must use the real connection endpoints". AF_UNIX and AF_UNSPEC do not map onto a TCP peer either.
  const proxied = command === 1 && source !== null
  const header: ProxyHeader = {
    version: 2,
    proxied,
    family,
    transport,
    source: proxied ? source : null,
    destination: proxied ? destination : null,
    tlvs,
    alpn: null,
    authority: null,
    ssl: null
  }
  for (const tlv of tlvs) {
    if (tlv.type === Pp2Type.CRC32C) {
      // Section 2.2.3: the CRC32c of the whole header with this field zeroed; a mismatch makes the connection invalid.
      if (tlv.value.length !== 4) return bad(`v2 PP2_TYPE_CRC32C of ${tlv.value.length} bytes (4)`)
      const copy = Uint8Array.from(buf.subarray(0, length))
      copy.fill(0, tlv.value.byteOffset - buf.byteOffset, tlv.value.byteOffset - buf.byteOffset + 4)
      const sent = ((tlv.value[0] << 24) | (tlv.value[1] << 16) | (tlv.value[2] << 8) | tlv.value[3]) >>> 0
      if (crc32c(copy) !== sent) return bad('v2 PP2_TYPE_CRC32C does not match the header')
    } else if (tlv.type === Pp2Type.ALPN) header.alpn = Buffer.from(tlv.value).toString('latin1')
    else if (tlv.type === Pp2Type.AUTHORITY) header.authority = Buffer.from(tlv.value).toString('utf8')
    else if (tlv.type === Pp2Type.SSL) {
      const ssl = parseSslTlv(tlv.value)
      if (typeof ssl === 'string') return bad(ssl)
      header.ssl = ssl
    }
  }
  return { kind: 'header', header, length, rest: buf.subarray(length) }
}

/** Section 2.2: type (1 byte), length (2 bytes, big endian), value; every TLV must fit in the header's length. */
function parseTlvs (b: Uint8Array): ProxyTlv[] | string {
  const out: ProxyTlv[] = []
  let i = 0
  while (i < b.length) {
    if (b.length - i < 3) return `v2 TLV header cut short (${b.length - i} bytes left)`
    const type = b[i]
    const n = (b[i + 1] << 8) | b[i + 2]
    if (i + 3 + n > b.length) return `v2 TLV 0x${type.toString(16)} of ${n} bytes runs past the header`
    out.push({ type, value: b.subarray(i + 3, i + 3 + n) })
    i += 3 + n
  }
  return out
}

/** Section 2.2.6: `client` (1 byte), `verify` (4 bytes), then sub-TLVs. null when the client did not use TLS. */
function parseSslTlv (v: Uint8Array): ProxyHeader['ssl'] | string {
  if (v.length < 5) return `v2 PP2_TYPE_SSL of ${v.length} bytes (at least 5)`
  const subs = parseTlvs(v.subarray(5))
  if (typeof subs === 'string') return 'PP2_TYPE_SSL: ' + subs
  if ((v[0] & PP2_CLIENT_SSL) === 0) return null
  const ver = subs.find((s) => s.type === PP2_SUBTYPE_SSL_VERSION)
  return { version: ver === undefined ? null : Buffer.from(ver.value).toString('latin1') }
}

function formatIPv4 (b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`
}

/**
 * RFC 5952 section 4: lowercase, no leading zeros, the longest run (the first, on a tie) of two or more zero groups
 * as `::`; IPv4-mapped addresses as `::ffff:a.b.c.d`, the form Node gives socket.remoteAddress on dual-stack sockets.
 */
export function formatIPv6 (b: Uint8Array): string {
  const g: number[] = []
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1])
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`
  }
  let bestAt = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) { bestAt = i; bestLen = j - i }
    i = j
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':')
  if (bestAt < 0) return hex(g)
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`
}

/** CRC32c (Castagnoli, reflected polynomial 0x82F63B78), as RFC 4960 appendix B computes it for SCTP. */
let CRC32C_TABLE: Uint32Array | null = null
export function crc32c (b: Uint8Array): number {
  if (CRC32C_TABLE === null) {
    CRC32C_TABLE = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
      CRC32C_TABLE[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (let i = 0; i < b.length; i++) crc = CRC32C_TABLE[(crc ^ b[i]) & 0xff] ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}
