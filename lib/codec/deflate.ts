/**
 * Our own header-block compressor: a zlib stream (RFC 1950) of fixed-Huffman deflate blocks (RFC 1951 section
 * 3.2.6), one per header block, each ended as Z_SYNC_FLUSH ends it (an empty stored block, 00 00 ff ff), primed
 * with the version's dictionary (SPDY/3 section 2.6.10.1). Any inflater reads it: this is the same format zlib
 * writes, only without dynamic Huffman trees.
 *
 * Why not pako (issue 14): a server's header blocks are small and mostly repeats (a SYN_REPLY is the same
 * ":status 200 / :version / content-type / content-length" block every time). pako's deflate at level 6 spent
 * ~31% of a small GET's server CPU, half of it building dynamic Huffman trees per block (build_tree, gen_codes,
 * _tr_flush_block), which a block of a few tokens never pays back: for blocks under ~1 KB zlib itself picks the
 * fixed trees most of the time. Here a repeated block is one hash lookup and one back-reference.
 *
 * Matching is greedy LZ77 over a hash chain (3-byte hash, `maxChain` candidates), distances up to the window
 * (2^windowBits, announced in the zlib header so the peer's inflater checks it, RFC 1950 CINFO).
 *
 * Memory: the window's bytes plus the block being compressed, a hash head table (2^11 entries) and a chain table
 * (one entry per window position): ~20 KB at the default 2^11 window. compact() keeps only the window's bytes.
 */
import { DEFAULT_COMPRESSOR, dictionaryFor, scratchOf } from './zlib'
import type { WireVersion } from './types'

const HASH_BITS = 11
const HASH_SIZE = 1 << HASH_BITS
const HASH_MASK = HASH_SIZE - 1
const MIN_MATCH = 3
const MAX_MATCH = 258
/**
 * Inside a match longer than INSERT_MAX, only every STEP-th position is hashed (zlib's fast levels skip them all,
 * max_insert_length). Hashing each position of a long match was half the cost of a repeated block; skipping them all
 * made browser-like request blocks 2.2x bigger (the next block, differing in its path, then matches the bytes after
 * the path only in older copies, out of the 2 KB window); every 4th costs at most 3 literals per such restart:
 * bench/headers.ts 0.107x of HTTP/1.1's header bytes against 0.104x hashing every position and pako's 0.104x.
 */
const INSERT_MAX = 32
const STEP = 4
/** A working buffer grown past this by a large block is replaced by one of the initial size after it. */
const SHRINK_ABOVE = 256 * 1024
/** See HeaderDeflater.rebase(). */
const REBASE_AT = 2 ** 30

/** Reversed fixed-Huffman codes (RFC 1951 section 3.2.6): deflate writes Huffman codes from their top bit. */
const LIT_CODE = new Uint16Array(288)
const LIT_BITS = new Uint8Array(288)
const DIST_CODE = new Uint8Array(30)
/** Per match length 3..258: its length symbol's reversed code and bits, then the extra bits (value, count). */
const LEN_CODE = new Uint16Array(MAX_MATCH + 1)
const LEN_CODE_BITS = new Uint8Array(MAX_MATCH + 1)
const LEN_EXTRA = new Uint8Array(MAX_MATCH + 1)
const LEN_EXTRA_BITS = new Uint8Array(MAX_MATCH + 1)
/** Distance code base values and extra bits (RFC 1951 section 3.2.5). */
const DIST_BASE = new Uint16Array(30)
const DIST_EXTRA_BITS = new Uint8Array(30)
/** Distance code of d - 1 for d <= 256, and of 256 + ((d - 1) >> 7) beyond (zlib's _dist_code layout). */
const DIST_SYM = new Uint8Array(512)

function reverse (code: number, bits: number): number {
  let r = 0
  for (let i = 0; i < bits; i++) { r = (r << 1) | (code & 1); code >>= 1 }
  return r
}

;((): void => {
  for (let s = 0; s < 288; s++) {
    const [code, bits] = s < 144 ? [0x30 + s, 8] : s < 256 ? [0x190 + s - 144, 9] : s < 280 ? [s - 256, 7] : [0xc0 + s - 280, 8]
    LIT_CODE[s] = reverse(code, bits)
    LIT_BITS[s] = bits
  }
  for (let d = 0; d < 30; d++) DIST_CODE[d] = reverse(d, 5)
  // Length symbols 257..284: four per extra-bit count from 1 to 5 (eight with none), then 285 = 258.
  let len = 3
  for (let sym = 257; sym < 285; sym++) {
    const extra = sym < 265 ? 0 : (sym - 261) >> 2
    for (let e = 0; e < 1 << extra; e++, len++) {
      LEN_CODE[len] = LIT_CODE[sym]; LEN_CODE_BITS[len] = LIT_BITS[sym]; LEN_EXTRA[len] = e; LEN_EXTRA_BITS[len] = extra
    }
  }
  LEN_CODE[258] = LIT_CODE[285]; LEN_CODE_BITS[258] = LIT_BITS[285]; LEN_EXTRA[258] = 0; LEN_EXTRA_BITS[258] = 0
  let dist = 1
  for (let code = 0; code < 30; code++) {
    const extra = code < 4 ? 0 : (code >> 1) - 1
    DIST_BASE[code] = dist
    DIST_EXTRA_BITS[code] = extra
    for (let e = 0; e < 1 << extra; e++, dist++) {
      if (dist <= 256) DIST_SYM[dist - 1] = code
      else DIST_SYM[256 + ((dist - 1) >> 7)] = code
    }
  }
})()

function adler32 (b: Uint8Array): number {
  let a = 1
  let s = 0
  for (let i = 0; i < b.length; i++) { a = (a + b[i]) % 65521; s = (s + a) % 65521 }
  return ((s << 16) | a) >>> 0
}

/** Level 1-9 -> hash-chain candidates tried per position (0: literals only). */
const CHAIN = [0, 4, 8, 8, 16, 16, 32, 64, 128, 256]

export interface DeflaterOptions {
  /** 0-9: how many earlier occurrences are tried per position (0: no back-references at all). */
  level?: number
  /** 9-15: the window (2^windowBits bytes) back-references reach into, announced in the zlib header. */
  windowBits?: number
  /** Tests only: the stream position past which the tables are rebased (default 2^30, see rebase()). */
  rebaseAt?: number
}

export class HeaderDeflater {
  /** The window's bytes, then the block being compressed; positions in the tables are indexes into it, plus one. */
  private buf: Uint8Array | null = null
  private used = 0
  private head: Int32Array | null = null
  private prev: Int32Array | null = null
  /** Positions below this are in the hash tables (the last two of a block wait for the next block's bytes). */
  private hashed = 0
  /** Absolute stream position of buf[0] (bytes dropped off the front since the tables were made). */
  private base = 0
  private started = false
  /** While compacted: the window's bytes. */
  private history: Uint8Array | null = null
  private readonly wsize: number
  private readonly maxChain: number
  private readonly rebaseAt: number

  constructor (private readonly version: WireVersion, readonly opts: DeflaterOptions = {}) {
    const level = opts.level ?? DEFAULT_COMPRESSOR.level
    const windowBits = opts.windowBits ?? DEFAULT_COMPRESSOR.windowBits
    if (!(Number.isInteger(level) && level >= 0 && level <= 9)) throw new RangeError(`zlib level ${level} is not 0-9`)
    if (!(Number.isInteger(windowBits) && windowBits >= 9 && windowBits <= 15)) throw new RangeError(`zlib windowBits ${windowBits} is not 9-15`)
    this.wsize = 1 << windowBits
    this.maxChain = CHAIN[level]
    this.rebaseAt = opts.rebaseAt ?? REBASE_AT
  }

  /** True while the tables are allocated (between first use or the last compact() and the next compact()). */
  get live (): boolean { return this.buf !== null }

  /** Frees the tables, keeping the window's bytes: the next block rebuilds them and goes on where the stream is. */
  compact (): void {
    const buf = this.buf
    if (buf === null) return
    this.history = buf.slice(Math.max(0, this.used - this.wsize), this.used)
    this.buf = this.head = this.prev = null
  }

  /**
   * Compresses one header block, returning a fresh buffer (the caller owns it) with `headroom` unused bytes before
   * the block, so a frame header can be written in front. `input` is not kept.
   */
  compress (input: Uint8Array, headroom = 0): Buffer {
    if (this.buf === null) this.open()
    const n = input.length
    this.makeRoom(n)
    const buf = this.buf!
    const head = this.head!
    const prev = this.prev!
    const wsize = this.wsize
    const wmask = wsize - 1
    const start = this.used
    const end = start + n
    buf.set(input, start)
    // Positions whose 3 bytes were not all there at the last block's end.
    // Table entries are absolute stream positions plus one (0: none), so moving the buffer moves no entry.
    const base = this.base
    const off = base + 1
    for (let p = this.hashed; p < start && p + 2 < end; p++) {
      const h = hash(buf, p)
      prev[(p + base) & wmask] = head[h]
      head[h] = p + off
    }
    // Worst case: 9 bits per literal, the zlib header (6 bytes), block header, end code and the sync marker.
    const bound = headroom + 6 + n + (n >> 3) + 16
    // The scratch lib/codec/zlib.ts shares with the inflaters: the block is copied out before this returns.
    const out = scratchOf(bound)
    let o = headroom
    let bb = 0
    let bc = 0
    if (!this.started) {
      // RFC 1950: CMF (deflate, window 2^windowBits), FLG with FDICT and FCHECK, then the dictionary's Adler-32.
      const cmf = ((31 - Math.clz32(wsize)) - 8) << 4 | 8
      let flg = 0x20
      flg |= 31 - ((cmf << 8 | flg) % 31)
      const id = dictionaryId(this.version)
      out[o++] = cmf; out[o++] = flg
      out[o++] = id >>> 24; out[o++] = id >>> 16; out[o++] = id >>> 8; out[o++] = id
      this.started = true
    }
    // Block header: BFINAL 0, BTYPE 01 (fixed Huffman codes).
    bb = 2; bc = 3
    const maxChain = this.maxChain
    let p = start
    while (p < end) {
      let best = 0
      let dist = 0
      if (p + 2 < end) {
        const h = hash(buf, p)
        if (maxChain > 0) {
          const low = p > wsize ? p - wsize : 0
          const maxLen = end - p < MAX_MATCH ? end - p : MAX_MATCH
          let cand = head[h] - off
          let chain = maxChain
          while (cand >= low && chain-- > 0) {
            if (buf[cand + best] === buf[p + best] && buf[cand] === buf[p]) {
              let l = 1
              while (l < maxLen && buf[cand + l] === buf[p + l]) l++
              if (l > best) { best = l; dist = p - cand; if (l === maxLen) break }
            }
            const next = prev[(cand + base) & wmask] - off
            if (next >= cand) break // a slot reused by a later position: the chain ends here
            cand = next
          }
        }
        prev[(p + base) & wmask] = head[h]
        head[h] = p + off
      }
      if (best >= MIN_MATCH) {
        // Length symbol and its extra bits, then distance code and its extra bits (at most 31 bits in all, written
        // in two halves so the 32-bit accumulator never overflows).
        bb |= LEN_CODE[best] << bc; bc += LEN_CODE_BITS[best]
        bb |= LEN_EXTRA[best] << bc; bc += LEN_EXTRA_BITS[best]
        while (bc >= 8) { out[o++] = bb; bb >>>= 8; bc -= 8 }
        const dc = dist <= 256 ? DIST_SYM[dist - 1] : DIST_SYM[256 + ((dist - 1) >> 7)]
        bb |= DIST_CODE[dc] << bc; bc += 5
        bb |= (dist - DIST_BASE[dc]) << bc; bc += DIST_EXTRA_BITS[dc]
        while (bc >= 8) { out[o++] = bb; bb >>>= 8; bc -= 8 }
        // The positions a short match covers go into the tables, so later blocks can refer to any of them.
        const stop = p + best
        const step = best > INSERT_MAX ? STEP : 1
        for (p += step; p < stop; p += step) {
          if (p + 2 >= end) break
          const h = hash(buf, p)
          prev[(p + base) & wmask] = head[h]
          head[h] = p + off
        }
        p = stop
      } else {
        const c = buf[p++]
        bb |= LIT_CODE[c] << bc; bc += LIT_BITS[c]
        if (bc >= 16) { out[o++] = bb; out[o++] = bb >>> 8; bb >>>= 16; bc -= 16 }
      }
    }
    // End of block (code 256: seven 0 bits), then Z_SYNC_FLUSH's empty stored block: 3 header bits (BFINAL 0,
    // BTYPE 00), padding to the byte, LEN 0000 and NLEN ffff (RFC 1951 section 3.2.4).
    bc += 7 + 3
    while (bc > 0) { out[o++] = bb; bb >>>= 8; bc -= 8 }
    out[o++] = 0; out[o++] = 0; out[o++] = 0xff; out[o++] = 0xff
    this.used = end
    // Every position below end - 2 is in the tables now; the last two wait for the next block's bytes.
    this.hashed = Math.max(this.hashed, end - 2)
    // A large block grew the buffer: give the memory back rather than keep it for the session's life.
    if (buf.length > SHRINK_ABOVE) this.moveWindow(new Uint8Array(this.initialSize))
    const result = Buffer.allocUnsafe(o)
    // A repeated block is a few bytes: a loop copies them for less than making a subarray view.
    if (o - headroom <= 64) for (let i = headroom; i < o; i++) result[i] = out[i]
    else result.set(out.subarray(headroom, o), headroom)
    return result
  }

  /** Room for `n` more bytes after the window: drops what lies beyond the window and moves the rest to the front. */
  private makeRoom (n: number): void {
    const buf = this.buf!
    if (this.used + n <= buf.length) return
    const keep = Math.min(this.used, this.wsize)
    this.moveWindow(keep + n > buf.length ? new Uint8Array(Math.max(keep + n, 2 * buf.length)) : buf)
  }

  /** Moves the window's bytes to the front of `target` (the buffer itself, or a new one); the tables stay valid. */
  private moveWindow (target: Uint8Array): void {
    const buf = this.buf!
    const keep = Math.min(this.used, this.wsize)
    const shift = this.used - keep
    target.set(buf.subarray(shift, this.used), 0)
    this.buf = target
    this.used = keep
    this.hashed = Math.max(0, this.hashed - shift)
    this.base += shift
    if (this.base > this.rebaseAt) this.rebase()
  }

  /**
   * Absolute positions would overflow the Int32 tables after 2 GB of headers on one session: once in a while,
   * count them from the buffer's start again (entries before it are dropped) and re-place the chain table, which
   * is indexed by absolute position modulo the window.
   */
  private rebase (): void {
    const base = this.base
    const head = this.head!
    const prev = this.prev!
    const mask = this.wsize - 1
    for (let i = 0; i < head.length; i++) head[i] = head[i] > base ? head[i] - base : 0
    const moved = new Int32Array(prev.length)
    for (let i = 0; i < prev.length; i++) moved[(i - base) & mask] = prev[i] > base ? prev[i] - base : 0
    this.prev = moved
    this.base = 0
  }

  /** Room for the window and a few ordinary blocks after it before the bytes are moved. */
  private get initialSize (): number { return Math.max(4 * this.wsize, 4096) }

  private open (): void {
    const wsize = this.wsize
    // The dictionary (first context) or the kept window; zlib keeps a dictionary's last window-size bytes.
    const primed = this.history ?? lastBytes(dictionaryFor(this.version), wsize)
    this.buf = new Uint8Array(this.initialSize)
    this.head = new Int32Array(HASH_SIZE)
    this.prev = new Int32Array(wsize)
    this.buf.set(primed, 0)
    this.used = primed.length
    this.base = 0
    this.hashed = 0
    this.history = null
    const buf = this.buf
    for (let p = 0; p + 2 < this.used; p++) {
      const h = hash(buf, p)
      this.prev[p & (wsize - 1)] = this.head[h]
      this.head[h] = p + 1
    }
    this.hashed = Math.max(0, this.used - 2)
  }
}

function hash (b: Uint8Array, p: number): number {
  return ((b[p] << 6) ^ (b[p + 1] << 3) ^ b[p + 2] ^ (b[p] >> 5)) & HASH_MASK
}

function lastBytes (b: Uint8Array, n: number): Uint8Array {
  return b.length <= n ? b : b.subarray(b.length - n)
}

const ids = new Map<WireVersion, number>()
function dictionaryId (v: WireVersion): number {
  let id = ids.get(v)
  if (id === undefined) { id = adler32(dictionaryFor(v)); ids.set(v, id) }
  return id
}
