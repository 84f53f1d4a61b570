/**
 * Header-block compression: one zlib stream per direction per session (SPDY/3 section 2.6.10.1: "the compression
 * context is shared by all header blocks in one direction of a session"), primed with the version's dictionary,
 * each block ended with Z_SYNC_FLUSH so the peer can inflate it on its own.
 *
 * Built on pako's low-level zlib API (ZStream) rather than its Deflate/Inflate classes: those allocate a fresh output
 * chunk per push, while here output goes into one scratch buffer shared by all sessions (decoding is synchronous,
 * and results are copied out before returning), and inflation is bounded by construction: the scratch is the size of
 * the limit plus one byte, so a zlib bomb stops at the limit instead of after inflating everything.
 *
 * Memory (issue 7 item 4, figures in bench/RESULTS.md "memory"): a live pako inflate context is about 40 KB (its
 * 32 KB window, which peers' 2^15-window compressors need, plus 5.8 KB of code tables) and our deflate context about
 * 21 KB. Contexts are made on first use, and an idle session can `compact()` them: all a zlib stream carries from
 * one sync-flushed block to the next is the window (RFC 1951 section 3.2: back-references reach at most the window
 * size into earlier output), so compact() keeps only the window's bytes (the dictionary plus the headers so far, at
 * most the window size) and the next block rebuilds the context as a raw deflate stream primed with them.
 */
import * as pako from 'pako'
import { DICTIONARY_V2, DICTIONARY_V3 } from './dictionary'
import type { WireVersion } from './types'

const Z_OK = 0
const Z_STREAM_END = 1
const Z_NEED_DICT = 2
const Z_BUF_ERROR = -5
const Z_SYNC_FLUSH = 2
const Z_DEFLATED = 8
const Z_DEFAULT_STRATEGY = 0

export const dictionaryFor = (v: WireVersion): Uint8Array => (v === 2 ? DICTIONARY_V2 : DICTIONARY_V3)

export interface CompressorOptions {
  /** 1-9; header blocks are small, so level matters less than speed. */
  level?: number
  /**
   * 9-15. Our own compressor can use a small window: a header block is a few hundred bytes, and the peer's
   * inflater (any window) reads a stream made with a smaller one. 2^11 keeps the dictionary (<= 1423 bytes) in reach.
   */
  windowBits?: number
  /** 1-9: hash table of 2^(memLevel+7) entries (2 bytes each) and a 2^(memLevel+8)-byte pending buffer. */
  memLevel?: number
}

export const DEFAULT_COMPRESSOR: Required<CompressorOptions> = { level: 6, windowBits: 11, memLevel: 4 }

/** pako's inflate mode between two deflate blocks (pako 3.0.3 src/zlib/inflate.js, TYPE). */
const INFLATE_TYPE = 16191

/**
 * pako state fields read to compact a context: they are internals (not in pako's .d.ts), which is why pako is pinned
 * to an exact version and test/codec/zlib-compact.test.ts checks compacted streams against Node's zlib.
 */
interface DeflateInternals { window: Uint8Array, w_size: number, strstart: number, lookahead: number, pending: number }
interface InflateInternals { window: Uint8Array | null, wsize: number, whave: number, wnext: number, mode: number, bits: number, last: number }

/**
 * The process's one output scratch for header blocks, shared by every session's inflaters and deflaters (pako's
 * here, ours in lib/codec/deflate.ts): each call is synchronous and what it returns is copied out (compressors) or
 * parsed (the decoder) before the next call, so one buffer serves all. Grows to the largest block seen.
 */
let scratch = new Uint8Array(64 * 1024)
export function scratchOf (size: number): Uint8Array {
  if (scratch.length < size) scratch = new Uint8Array(size)
  return scratch
}

/**
 * pako's deflate as a header compressor. FrameEncoder writes with HeaderDeflater (lib/codec/deflate.ts: fixed
 * Huffman codes, ~9x less CPU per repeated block, issue 14); this one stays for tests and bench/codec.ts's comparisons.
 */
export class HeaderCompressor {
  private strm: pako.ZStream | null = null
  /** While compacted: the uncompressed bytes the peer's window holds that the next block may refer back to. */
  private history: Uint8Array | null = null
  private readonly o: Required<CompressorOptions>

  constructor (private readonly version: WireVersion, opts: CompressorOptions = {}) {
    const o = { ...DEFAULT_COMPRESSOR, ...opts }
    // Checked here, since the context itself is made on first use (pako's own limits, deflateInit2).
    if (!(Number.isInteger(o.level) && o.level >= 0 && o.level <= 9)) throw new RangeError(`zlib level ${o.level} is not 0-9`)
    if (!(Number.isInteger(o.windowBits) && o.windowBits >= 9 && o.windowBits <= 15)) throw new RangeError(`zlib windowBits ${o.windowBits} is not 9-15`)
    if (!(Number.isInteger(o.memLevel) && o.memLevel >= 1 && o.memLevel <= 9)) throw new RangeError(`zlib memLevel ${o.memLevel} is not 1-9`)
    this.o = o
  }

  /** True while a pako context is allocated (between first use or the last compact() and the next compact()). */
  get live (): boolean { return this.strm !== null }

  /**
   * Compresses one header block, returning a fresh buffer (the caller owns it) with `headroom` unused bytes before
   * the block, so a frame header can be written in front without another allocation and copy. `input` is not kept.
   */
  compress (input: Uint8Array, headroom = 0): Buffer {
    const strm = this.strm ?? this.open()
    // Stored blocks cost 5 bytes per 16 KB plus the sync marker; this bound always holds for one sync-flushed block.
    let out = scratchOf(input.length + (input.length >> 3) + 64)
    strm.input = input
    strm.next_in = 0
    strm.avail_in = input.length
    strm.output = out as Uint8Array<ArrayBuffer>
    strm.next_out = 0
    strm.avail_out = out.length
    for (;;) {
      const rc = pako.zlibDeflate(strm, Z_SYNC_FLUSH)
      if (rc !== Z_OK && rc !== Z_BUF_ERROR) throw new Error(`zlib deflate failed: ${rc}`)
      if (strm.avail_out > 0) break
      // Output full: grow the scratch and go on where it stopped.
      const bigger = new Uint8Array(out.length * 2)
      bigger.set(out.subarray(0, strm.next_out))
      scratch = out = bigger
      strm.output = out as Uint8Array<ArrayBuffer>
      strm.avail_out = out.length - strm.next_out
    }
    const result = Buffer.allocUnsafe(headroom + strm.next_out)
    result.set(out.subarray(0, strm.next_out), headroom)
    strm.input = EMPTY
    strm.output = EMPTY as Uint8Array<ArrayBuffer>
    return result
  }

  /**
   * Frees the context, keeping its last window of input. Every block ended with Z_SYNC_FLUSH, so the peer's
   * inflater stands at a block boundary with the same window: a fresh raw deflater primed with those bytes
   * (deflateSetDictionary) writes blocks it decodes in step. Costs ~21 KB of allocation and a 2 KB hash pass
   * on the next block.
   */
  compact (): void {
    const strm = this.strm
    if (strm === null) return
    const s = strm.state as unknown as DeflateInternals
    if (s.lookahead !== 0 || s.pending !== 0) return // not at a flushed block boundary (cannot happen after compress)
    this.history = s.window.slice(Math.max(0, s.strstart - s.w_size), s.strstart)
    this.strm = null
  }

  private open (): pako.ZStream {
    const o = this.o
    const strm = new pako.ZStream()
    const history = this.history
    // legacyHash: pako 3's default hash floors the table at 2^15 entries (64 KB) whatever memLevel says; zlib's
    // classic hash sizes it by memLevel, 4 KB at memLevel 4.
    const rc = pako.zlibDeflateInit2(strm, o.level, Z_DEFLATED, history === null ? o.windowBits : -o.windowBits, o.memLevel, Z_DEFAULT_STRATEGY, true)
    if (rc !== Z_OK) throw new Error(`zlib deflateInit2 failed: ${rc}`)
    // First context: the version's dictionary (SPDY/3 section 2.6.10.1), announced in the zlib header. After a
    // compact(): the stream goes on without a header, from the window it had.
    const set = pako.zlibDeflateSetDictionary(strm, history ?? dictionaryFor(this.version))
    if (set !== Z_OK) throw new Error(`zlib deflateSetDictionary failed: ${set}`)
    this.history = null
    this.strm = strm
    return strm
  }
}

const EMPTY = new Uint8Array(0)

export type InflateResult =
  | { ok: true, data: Uint8Array }
  | { ok: false, reason: 'too-large' | 'corrupt', message: string }

export class HeaderDecompressor {
  private strm: pako.ZStream | null = null
  /** While compacted: the peer's stream so far as our window held it (at most 32 KB, usually ~2 KB). */
  private history: Uint8Array | null = null
  private readonly dictionary: Uint8Array

  constructor (version: WireVersion) {
    this.dictionary = dictionaryFor(version)
  }

  /** True while a pako context is allocated. */
  get live (): boolean { return this.strm !== null }

  /**
   * Inflates one header block into the shared scratch; the returned view is valid until the next call on any
   * decompressor or compressor (scratchOf). More than `limit` bytes of output is an error, detected after at most limit + 1 bytes.
   */
  decompress (input: Uint8Array, limit: number): InflateResult {
    const strm = this.strm ?? this.open()
    const out = scratchOf(limit + 1)
    strm.input = input
    strm.next_in = 0
    strm.avail_in = input.length
    strm.output = out as Uint8Array<ArrayBuffer>
    strm.next_out = 0
    strm.avail_out = limit + 1
    let rc: number
    try {
      rc = pako.zlibInflate(strm, Z_SYNC_FLUSH)
      if (rc === Z_NEED_DICT) {
        // The first block names the dictionary by its Adler-32 (RFC 1950 FDICT); pako checks it matches.
        const set = pako.zlibInflateSetDictionary(strm, this.dictionary)
        if (set !== Z_OK) return { ok: false, reason: 'corrupt', message: 'header block asks for a different zlib dictionary' }
        rc = pako.zlibInflate(strm, Z_SYNC_FLUSH)
      }
    } catch (err) {
      // Not seen in the mutation tests; kept so that the decoder's "never throws" does not rest on pako's internals.
      return { ok: false, reason: 'corrupt', message: `header block does not inflate: ${(err as Error).message}` }
    } finally {
      strm.input = EMPTY
      strm.output = EMPTY as Uint8Array<ArrayBuffer>
    }
    if (strm.next_out > limit) {
      return { ok: false, reason: 'too-large', message: `header block inflates to more than ${limit} bytes` }
    }
    if (rc === Z_STREAM_END) return { ok: false, reason: 'corrupt', message: 'header compression stream ended' }
    if (rc !== Z_OK && rc !== Z_BUF_ERROR) {
      return { ok: false, reason: 'corrupt', message: `header block does not inflate: ${strm.msg || String(rc)}` }
    }
    if (strm.avail_in !== 0) return { ok: false, reason: 'corrupt', message: 'header block has trailing bytes' }
    return { ok: true, data: out.subarray(0, strm.next_out) }
  }

  /**
   * Frees the context (its 32 KB window and code tables), keeping the window's bytes, when the peer's stream stands
   * at a block boundary with no bits pending, as Z_SYNC_FLUSH leaves it (SPDY/3 section 2.6.10.1). The next block
   * is read by a raw inflater primed with them (inflateSetDictionary), which decodes exactly what the old context
   * would have. A peer that flushed some other way (bits pending mid-byte) keeps its context.
   */
  compact (): void {
    const strm = this.strm
    if (strm === null) return
    const st = strm.state as unknown as InflateInternals
    if (st.mode !== INFLATE_TYPE || st.bits !== 0 || st.last !== 0 || st.window === null) return
    const w = st.window
    this.history = st.whave < st.wsize
      ? w.slice(0, st.whave)
      : Buffer.concat([w.subarray(st.wnext, st.wsize), w.subarray(0, st.wnext)])
    this.strm = null
  }

  private open (): pako.ZStream {
    const strm = new pako.ZStream()
    const history = this.history
    // 2^15: the peer's compressor may use the largest window (SPDY/3 section 2.6.10.1 names no smaller one).
    const rc = pako.zlibInflateInit2(strm, history === null ? 15 : -15)
    if (rc !== Z_OK) throw new Error(`zlib inflateInit2 failed: ${rc}`)
    if (history !== null) {
      const set = pako.zlibInflateSetDictionary(strm, history)
      if (set !== Z_OK) throw new Error(`zlib inflateSetDictionary failed: ${set}`)
      this.history = null
    }
    this.strm = strm
    return strm
  }
}
