/**
 * Header-block compression: one zlib stream per direction per session (SPDY/3 section 2.6.10.1: "the compression
 * context is shared by all header blocks in one direction of a session"), primed with the version's dictionary,
 * each block ended with Z_SYNC_FLUSH so the peer can inflate it on its own.
 *
 * Built on pako's low-level zlib API (ZStream) rather than its Deflate/Inflate classes: those allocate a fresh output
 * chunk per push, while here output goes into one scratch buffer shared by all sessions (decoding is synchronous,
 * and results are copied out before returning), and inflation is bounded by construction: the scratch is the size of
 * the limit plus one byte, so a zlib bomb stops at the limit instead of after inflating everything.
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
  /** 1-9: hash table size; 2^(memLevel+9) bytes of state. */
  memLevel?: number
}

export const DEFAULT_COMPRESSOR: Required<CompressorOptions> = { level: 6, windowBits: 11, memLevel: 4 }

let scratch = new Uint8Array(64 * 1024)
function scratchOf (size: number): Uint8Array {
  if (scratch.length < size) scratch = new Uint8Array(size)
  return scratch
}

export class HeaderCompressor {
  private readonly strm = new pako.ZStream()

  constructor (version: WireVersion, opts: CompressorOptions = {}) {
    const o = { ...DEFAULT_COMPRESSOR, ...opts }
    const rc = pako.zlibDeflateInit2(this.strm, o.level, Z_DEFLATED, o.windowBits, o.memLevel, Z_DEFAULT_STRATEGY)
    if (rc !== Z_OK) throw new Error(`zlib deflateInit2 failed: ${rc}`)
    pako.zlibDeflateSetDictionary(this.strm, dictionaryFor(version))
  }

  /** Compresses one header block, returning a fresh buffer (the caller owns it). */
  compress (input: Uint8Array): Uint8Array {
    const strm = this.strm
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
    const result = Buffer.allocUnsafe(strm.next_out)
    result.set(out.subarray(0, strm.next_out))
    strm.input = EMPTY
    return result
  }
}

const EMPTY = new Uint8Array(0)

export type InflateResult =
  | { ok: true, data: Uint8Array }
  | { ok: false, reason: 'too-large' | 'corrupt', message: string }

export class HeaderDecompressor {
  private readonly strm = new pako.ZStream()
  private readonly dictionary: Uint8Array

  constructor (version: WireVersion) {
    this.dictionary = dictionaryFor(version)
    const rc = pako.zlibInflateInit2(this.strm, 15)
    if (rc !== Z_OK) throw new Error(`zlib inflateInit2 failed: ${rc}`)
  }

  /**
   * Inflates one header block into the shared scratch; the returned view is valid until the next call on any
   * decompressor. More than `limit` bytes of output is an error, detected after at most limit + 1 bytes.
   */
  decompress (input: Uint8Array, limit: number): InflateResult {
    const strm = this.strm
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
}
