/**
 * Cache-aware server push (CASPer, after the h2o server's technique): a cookie holding a Golomb-coded set of what
 * the browser was pushed (or already had), so a repeat visit pushes only what it lacks. Pure: no I/O, no clock.
 *
 * Keys: hash(path, version) where version is the asset's ETag (or, without one, its Last-Modified). Each key hashes
 * to a value in a fixed universe of 2^bits (SHA-256's first 32 bits, top `bits` kept): a fixed universe lets a new
 * visit merge what the cookie already holds with what it pushes now without knowing the old keys. With N values in
 * the set a lookup of an absent key is a false positive with probability about N / 2^bits.
 *
 * Golomb-Rice coding (Golomb 1966; the "Golomb-coded set" of Putze, Sanders and Singler, "Cache-, Hash- and
 * Space-Efficient Bloom Filters", 2007): values sorted, duplicates dropped, each coded as its difference from the
 * previous one (the first from 0): quotient d >> P in unary (that many 1 bits, then a 0), remainder in P bits,
 * most significant bit first. With P near log2(2^bits / N) this costs about P + 1.5 bits per value.
 *
 * Wire format (then base64url, no padding, RFC 4648 section 5), every field checked on decoding:
 *   byte 0: format version (1) in the high 3 bits, `bits` - 1 in the low 5 (universe 2^1 .. 2^32)
 *   byte 1: P, the Rice parameter (0 .. bits)
 *   bytes 2-3: N, the number of values (big-endian)
 *   then N Rice codes, padded with 0 bits to a whole byte (at most 7 padding bits, all zero).
 * The first difference may be 0; every later one is at least 1 (one encoding per set).
 */
import { createHash } from 'node:crypto'
import { MIN_COOKIE_BYTES } from '../limits'

/** The empty set's value length, the least maxPushCookieBytes allows: one constant, kept in lib/limits.ts. */
export { MIN_COOKIE_BYTES }

const VERSION = 1
const HEADER_BYTES = 4

/** What a cookie value decodes to: a typed result, never an exception. */
export type CasperDecodeResult =
  | { ok: true, values: number[] }
  | { ok: false, reason: 'too-large' | 'not-base64url' | 'truncated' | 'bad-header' | 'bad-code' | 'trailing-bits' }

/** The value in [0, 2^bits) a (path, version) pair maps to. */
export function casperHash (path: string, version: string, bits: number): number {
  // NUL cannot occur in a path or in a header value, so (path, version) pairs cannot collide by concatenation.
  const d = createHash('sha256').update(path).update('\0').update(version).digest()
  return Math.floor(d.readUInt32BE(0) / 2 ** (32 - bits))
}

/** Sorted, duplicates dropped. */
function normalise (values: Iterable<number>): number[] {
  return [...new Set(values)].sort((a, b) => a - b)
}

/** The Rice parameter for n values spread over 2^bits: floor(log2(mean gap)), at least 0. */
export function riceParameter (n: number, bits: number): number {
  if (n <= 1) return Math.max(0, bits - 1)
  return Math.max(0, Math.min(bits, Math.floor(bits - Math.log2(n))))
}

/** Golomb-Rice codes of `values` (sorted, distinct, each < 2^bits) with parameter p, header included. */
export function encodeSetBytes (values: number[], bits: number, p = riceParameter(values.length, bits)): Buffer {
  if (!Number.isInteger(bits) || bits < 1 || bits > 32) throw new RangeError(`bits must be 1..32, not ${bits}`)
  if (!Number.isInteger(p) || p < 0 || p > bits) throw new RangeError(`p must be 0..${bits}, not ${p}`)
  if (values.length > 0xffff) throw new RangeError('at most 65535 values')
  const bitsOut: number[] = []
  const div = 2 ** p
  let prev = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits || (i > 0 && v <= prev)) throw new RangeError('values must be sorted, distinct integers below 2^bits')
    const d = v - prev
    prev = v
    const q = Math.floor(d / div)
    for (let k = 0; k < q; k++) bitsOut.push(1)
    bitsOut.push(0)
    const r = d - q * div
    for (let k = p - 1; k >= 0; k--) bitsOut.push(Math.floor(r / 2 ** k) % 2)
  }
  const out = Buffer.alloc(HEADER_BYTES + Math.ceil(bitsOut.length / 8))
  out[0] = (VERSION << 5) | (bits - 1)
  out[1] = p
  out.writeUInt16BE(values.length, 2)
  for (let i = 0; i < bitsOut.length; i++) if (bitsOut[i] === 1) out[HEADER_BYTES + (i >> 3)] |= 0x80 >> (i & 7)
  return out
}

/**
 * Decodes a set's bytes for universe 2^bits. Work and memory are bounded by the input's length: each bit is read
 * once, and N is checked against what the bytes can hold (each code takes at least P + 1 bits) before anything is
 * allocated for the values.
 */
export function decodeSetBytes (b: Uint8Array, bits: number): CasperDecodeResult {
  if (b.length < HEADER_BYTES) return { ok: false, reason: 'truncated' }
  if (b[0] >> 5 !== VERSION || (b[0] & 0x1f) + 1 !== bits) return { ok: false, reason: 'bad-header' }
  const p = b[1]
  if (p > bits) return { ok: false, reason: 'bad-header' }
  const n = (b[2] << 8) | b[3]
  const avail = (b.length - HEADER_BYTES) * 8
  if (n * (p + 1) > avail) return { ok: false, reason: 'truncated' }
  const limit = 2 ** bits
  const div = 2 ** p
  const values = new Array<number>(n)
  let pos = HEADER_BYTES * 8
  const end = b.length * 8
  const bit = (): number => { const x = (b[pos >> 3] >> (7 - (pos & 7))) & 1; pos++; return x }
  let prev = 0
  for (let i = 0; i < n; i++) {
    let q = 0
    for (;;) {
      if (pos >= end) return { ok: false, reason: 'truncated' }
      if (bit() === 0) break
      q++
      // The value is already out of the universe: stop before reading the rest of a run of 1 bits.
      if (q * div >= limit) return { ok: false, reason: 'bad-code' }
    }
    if (pos + p > end) return { ok: false, reason: 'truncated' }
    let r = 0
    for (let k = 0; k < p; k++) r = r * 2 + bit()
    const d = q * div + r
    if (i > 0 && d === 0) return { ok: false, reason: 'bad-code' }
    const v = prev + d
    if (v >= limit) return { ok: false, reason: 'bad-code' }
    values[i] = v
    prev = v
  }
  // Canonical: fewer than 8 padding bits, all zero.
  if (end - pos >= 8) return { ok: false, reason: 'trailing-bits' }
  while (pos < end) if (bit() !== 0) return { ok: false, reason: 'trailing-bits' }
  return { ok: true, values }
}

const BASE64URL = /^[A-Za-z0-9_-]*$/

/**
 * A cookie value to a set. `maxBytes` bounds the value's characters (checked first, before any decoding), so a
 * hostile cookie costs at most that much work.
 */
export function decodeCasperCookie (value: string, bits: number, maxBytes: number): CasperDecodeResult {
  if (value.length > maxBytes) return { ok: false, reason: 'too-large' }
  // Buffer.from(_, 'base64url') skips characters outside the alphabet silently: refuse them instead. A length of
  // 1 mod 4 is no whole number of bytes.
  if (!BASE64URL.test(value) || value.length % 4 === 1) return { ok: false, reason: 'not-base64url' }
  return decodeSetBytes(Buffer.from(value, 'base64url'), bits)
}

/**
 * The cookie value for a set: `first` (what this visit pushed or found present) all kept, then `rest` (what the
 * cookie held before) in ascending order while the value fits in maxBytes characters. Returns the value and how
 * many of `rest` were dropped to fit.
 */
export function encodeCasperCookie (first: Iterable<number>, rest: Iterable<number>, bits: number, maxBytes: number): { value: string, dropped: number } {
  const must = normalise(first)
  const mustSet = new Set(must)
  const extra = normalise(rest).filter((v) => !mustSet.has(v))
  const encode = (vals: number[]): string => encodeSetBytes(normalise(vals), bits).toString('base64url')
  // Most sets fit at once; otherwise find the largest prefix of `extra` that fits (encoded length grows with it,
  // give or take one code's worth of a changed Rice parameter: binary search, then step down if needed).
  let value = encode([...must, ...extra])
  if (value.length <= maxBytes) return { value, dropped: 0 }
  let lo = 0
  let hi = extra.length
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (encode([...must, ...extra.slice(0, mid)]).length <= maxBytes) lo = mid
    else hi = mid - 1
  }
  value = encode([...must, ...extra.slice(0, lo)])
  // `first` alone may not fit (more assets than the cookie can name): keep its lowest values that do.
  if (value.length > maxBytes) {
    let k = must.length
    while (k > 0 && (value = encode(must.slice(0, k))).length > maxBytes) k = Math.floor(k * 0.9)
    if (k === 0) value = encode([])
    return { value, dropped: extra.length + must.length - k }
  }
  return { value, dropped: extra.length - lo }
}

/** Membership in a decoded (sorted) set. */
export function hasValue (sorted: number[], v: number): boolean {
  let lo = 0
  let hi = sorted.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (sorted[mid] === v) return true
    if (sorted[mid] < v) lo = mid + 1
    else hi = mid - 1
  }
  return false
}
