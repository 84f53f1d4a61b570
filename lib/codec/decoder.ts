/**
 * Sans-IO SPDY frame decoder: `push(bytes) -> events`, identical however the input is chunked.
 *
 * Frame layout (SPDY/3 section 2.2; SPDY/2 section 2.2 is the same):
 *   control: |1| version(15) | type(16) | flags(8) | length(24) | data
 *   data:    |0| stream-id(31)           | flags(8) | length(24) | data
 *
 * Never throws. Stream errors (the frame was consumed in full and the shared zlib context is in step) are yielded
 * and decoding goes on; session errors are yielded once and the decoder is dead afterwards.
 */
import {
  FrameTooLargeError,
  ProtocolError,
  SessionProtocolError,
  UnsupportedVersionError,
  type SpdySessionError,
  type SpdyStreamError
} from '../errors'
import { ControlType, Flag, type DecodeEvent, type HeaderList, type WireVersion } from './types'
import { tableFor, type VersionTable } from './versions'
import { HeaderDecompressor } from './zlib'
import { DEFAULT_MAX_FRAME_LENGTH, DEFAULT_MAX_HEADER_BLOCK_BYTES, DEFAULT_MAX_HEADER_PAIRS } from './limits'

export interface DecoderOptions {
  version: WireVersion
  /** Largest payload of any frame; a larger DATA frame is skipped unbuffered (RST FRAME_TOO_LARGE), a larger
   * control frame ends the session. */
  maxFrameLength?: number
  /** Largest decompressed header block. */
  maxHeaderBlockBytes?: number
  /** Most name/value pairs in one header block. */
  maxHeaderPairs?: number
}

const MASK_31 = 0x7fffffff
/** push()'s answer when nothing completed; frozen, so a caller that would add to it fails loudly. */
const NO_EVENTS: DecodeEvent[] = Object.freeze([]) as unknown as DecodeEvent[]

export class FrameDecoder {
  readonly version: WireVersion
  private readonly table: VersionTable
  private readonly maxFrameLength: number
  private readonly maxHeaderBlockBytes: number
  private readonly maxHeaderPairs: number
  private readonly inflater: HeaderDecompressor
  /** Made with the first header block, dropped by compact(). */
  private strings: HeaderStrings | null = null
  /**
   * The incomplete frame carried over from earlier pushes: `partial[0, fill)`. While its 8-byte header is not yet
   * complete, and until payload bytes follow it, `partial` is the reused `head` scratch; then a buffer sized to
   * the bytes that have arrived, grown by doubling as more arrive, never past the frame's size. What a frame
   * header announces reserves nothing: a peer that sends 8 bytes announcing a 1 MB frame costs 8 bytes, and one
   * that trickles a large frame costs at most twice what it has sent (issue 11: 64 KB reserved per announced frame
   * made 5,000 sockets of 8 bytes each cost 356 MB). Straddling bytes are copied once plus the doublings' copies
   * (under 2x in total); frames wholly inside a chunk are never copied.
   */
  private readonly head = new Uint8Array(8)
  private partial: Uint8Array = this.head
  private fill = 0
  /** Total size (8 + length) of the partial frame once its header is known, else 0. */
  private want = 0
  /** Bytes still to drop of an oversized DATA frame. */
  private skip = 0
  private dead = false
  /** Decompressed header-block bytes so far, every block counted (those whose frame is then dropped too). */
  inflatedBytes = 0
  /**
   * Header-block bytes this decoder may still inflate; the block that takes it below zero ends the session. The
   * session sets it from its per-window budget before each push (issue 11: HEADERS on streams already reset were
   * inflated and dropped uncounted, 2.6 GB in 20 s on one connection). Infinity: no budget.
   */
  inflateAllowance = Infinity

  constructor (opts: DecoderOptions) {
    this.version = opts.version
    this.table = tableFor(opts.version)
    this.maxFrameLength = opts.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH
    this.maxHeaderBlockBytes = opts.maxHeaderBlockBytes ?? DEFAULT_MAX_HEADER_BLOCK_BYTES
    this.maxHeaderPairs = opts.maxHeaderPairs ?? DEFAULT_MAX_HEADER_PAIRS
    this.inflater = new HeaderDecompressor(opts.version)
  }

  /** Bytes of memory held for the incomplete frame carried over (0 while only its header, or nothing, is here). */
  get pendingBytes (): number { return this.partial === this.head ? 0 : this.partial.length }

  /** True while the header inflater holds a zlib context (see compact()). */
  get zlibLive (): boolean { return this.inflater.live }

  /**
   * Frees the header inflater's zlib context (~40 KB) and keeps only its window's bytes, for a session with nothing
   * to read for a while; the next header block rebuilds it (HeaderDecompressor.compact). A no-op when the peer's
   * stream is not at a clean block boundary.
   */
  compact (): void {
    this.inflater.compact()
    this.strings = null
  }

  /**
   * Decodes what `chunk` completes. A DATA frame wholly inside `chunk` is returned as a view of it (no copy):
   * consume or copy DATA payloads before reusing `chunk`'s memory. Nothing else refers to `chunk` after return.
   * A push that completes no frame returns a shared empty array (frozen) and allocates nothing beyond the bytes it
   * keeps: a peer that writes each frame in pieces costs a read per piece, and that read must cost next to nothing
   * (issue 14).
   */
  push (chunk: Uint8Array): DecodeEvent[] {
    if (this.dead) return NO_EVENTS
    let out: DecodeEvent[] = NO_EVENTS
    let pos = 0
    const end = chunk.length
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, end - pos)
        this.skip -= n
        pos += n
        if (this.skip > 0) return out
      }
      if (this.fill === 0) break
      if (this.want === 0) {
        // Completing the header.
        const take = Math.min(8 - this.fill, end - pos)
        for (let i = 0; i < take; i++) this.head[this.fill + i] = chunk[pos + i]
        this.fill += take
        pos += take
        if (this.fill < 8) return out
        const length = frameLength(this.head, 0)
        if (length === 0 || length > this.maxFrameLength) {
          // Nothing to gather: an empty frame decodes from its header, an oversized one is refused from it.
          this.fill = 0
          if (out === NO_EVENTS) out = []
          this.frames(this.head, 0, out)
          if (this.dead) return out
          continue
        }
        this.want = 8 + length
        if (pos === end) return out // the payload's memory comes with the payload
      }
      const take = Math.min(this.want - this.fill, end - pos)
      if (this.fill + take > this.partial.length) {
        // `head` is shared scratch: never doubled in place, replaced by a buffer of what is here.
        const grown = this.partial === this.head ? this.fill + take : Math.max(this.partial.length * 2, this.fill + take)
        const bigger = new Uint8Array(Math.min(this.want, grown))
        // All of it, unused room included (overwritten from `fill` next): a view of the used part would cost an object.
        bigger.set(this.partial)
        this.partial = bigger
      }
      this.partial.set(take === end - pos && pos === 0 ? chunk : chunk.subarray(pos, pos + take), this.fill)
      this.fill += take
      pos += take
      if (this.fill < this.want) return out
      // A frame of its own buffer (grown at most to the frame's size): its DATA payload view stays valid for the caller.
      const frame = this.partial
      this.partial = this.head
      this.fill = 0
      this.want = 0
      if (out === NO_EVENTS) out = []
      this.frames(frame, 0, out)
      if (this.dead) return out
    }
    if (end - pos >= 8) {
      if (out === NO_EVENTS) out = []
      pos = this.frames(chunk, pos, out)
      if (this.dead || pos >= end) return out
    } else if (pos === end) return out
    // Keep the incomplete tail (a copy: the caller may reuse `chunk`).
    const n = end - pos
    if (n <= 8) {
      for (let i = 0; i < n; i++) this.head[i] = chunk[pos + i]
      // A whole header: frames() has refused an oversized one and decoded an empty one, so this one waits for payload.
      if (n === 8) this.want = 8 + frameLength(chunk, pos)
    } else {
      this.want = 8 + frameLength(chunk, pos)
      // Only what arrived (see `partial`); n < want here, the frame being incomplete.
      this.partial = new Uint8Array(n)
      this.partial.set(chunk.subarray(pos, end))
    }
    this.fill = n
    return out
  }

  /**
   * Decodes the complete frames of `buf` from `off`; returns where the first incomplete one starts (buf.length
   * when everything was used, including an oversized DATA frame whose remainder is then skipped).
   */
  private frames (buf: Uint8Array, off: number, out: DecodeEvent[]): number {
    while (buf.length - off >= 8) {
      const b0 = buf[off]
      const length = frameLength(buf, off)
      if (length > this.maxFrameLength) {
        if ((b0 & 0x80) === 0) {
          // DATA: its bytes can be dropped without touching any shared state, so only this stream is hurt.
          const streamId = readU31(buf, off)
          out.push(streamError(new FrameTooLargeError(streamId, `DATA frame of ${length} bytes exceeds maxFrameLength ${this.maxFrameLength}`), this.table))
          const avail = buf.length - off - 8
          if (avail >= length) { off += 8 + length; continue }
          this.skip = length - avail
          return buf.length
        }
        // A control frame we will not buffer; if it carries a header block, skipping it desyncs zlib
        // (SPDY/3 section 2.6.11: FRAME_TOO_LARGE without processing the block MUST close the session).
        this.fail(out, new SessionProtocolError(`control frame of ${length} bytes exceeds maxFrameLength ${this.maxFrameLength}`))
        return buf.length
      }
      if (buf.length - off - 8 < length) break
      const start = off
      const flags = buf[start + 4]
      off += 8 + length
      if ((b0 & 0x80) === 0) {
        const streamId = readU31(buf, start)
        if (streamId === 0) { this.fail(out, new SessionProtocolError('DATA frame on stream 0')); return buf.length }
        if ((flags & 0x02) !== 0 && this.version === 2) {
          // SPDY/2 FLAG_COMPRESS (section 2.3): per-stream data compression, never deployed; we cannot honour it.
          out.push(streamError(new ProtocolError(streamId, 'compressed DATA (SPDY/2 FLAG_COMPRESS) is not supported'), this.table))
          continue
        }
        out.push({ type: 'DATA', streamId, fin: (flags & Flag.FIN) !== 0, data: buf.subarray(start + 8, off) })
        continue
      }
      const version = ((b0 & 0x7f) << 8) | buf[start + 1]
      const type = (buf[start + 2] << 8) | buf[start + 3]
      if (version !== this.version) {
        if (type === ControlType.SYN_STREAM && length >= 4) {
          // SPDY/3 section 2.4.1: a stream of a version we do not speak is refused with UNSUPPORTED_VERSION. Its
          // header block went through the peer's compressor for another version, so nothing more can be trusted:
          // the stream error is followed by the end of the session.
          out.push(streamError(new UnsupportedVersionError(readU31(buf, start + 8), `SYN_STREAM of SPDY version ${version} on a SPDY/${this.version} session`), this.table))
        }
        this.fail(out, new SessionProtocolError(`control frame of SPDY version ${version} on a SPDY/${this.version} session`))
        return buf.length
      }
      if (!this.control(type, flags, buf, start + 8, length, out)) return buf.length
    }
    return off
  }

  /** A malformed control frame: the session is over. */
  private bad (out: DecodeEvent[], what: string): boolean {
    this.fail(out, new SessionProtocolError(what))
    return false
  }

  private fail (out: DecodeEvent[], error: SpdySessionError): DecodeEvent[] {
    this.dead = true
    this.partial = this.head
    this.fill = 0
    out.push({ type: 'SESSION_ERROR', error })
    return out
  }

  /**
   * The control frame whose payload is `p[o, o + len)`, read in place: only a header block gets a view of its own,
   * so the 8-byte frames a flood is made of (WINDOW_UPDATE, RST_STREAM, PING) cost no allocation but their event.
   * Returns false when the session is over.
   */
  private control (type: number, flags: number, p: Uint8Array, o: number, len: number, out: DecodeEvent[]): boolean {
    const t = this.table
    switch (type) {
      case ControlType.SYN_STREAM: {
        if (len < 10) return this.bad(out, `SYN_STREAM of ${len} bytes, at least 10 expected`)
        const streamId = readU31(p, o)
        const associatedStreamId = readU31(p, o + 4)
        const priority = t.priorityBits === 2 ? p[o + 8] >> 6 : p[o + 8] >> 5
        const slot = t.version === 3 ? p[o + 9] : 0
        const headers = this.headerBlock(p.subarray(o + 10, o + len), streamId, out)
        if (headers === false) return false
        if (headers === null) return true
        out.push({ type: 'SYN_STREAM', streamId, associatedStreamId, priority, slot, fin: (flags & Flag.FIN) !== 0, unidirectional: (flags & Flag.UNIDIRECTIONAL) !== 0, headers })
        return true
      }
      case ControlType.SYN_REPLY:
      case ControlType.HEADERS: {
        const min = 4 + t.replyPadding
        const name = type === ControlType.SYN_REPLY ? 'SYN_REPLY' : 'HEADERS'
        if (len < min) return this.bad(out, `${name} of ${len} bytes, at least ${min} expected`)
        const streamId = readU31(p, o)
        const headers = this.headerBlock(p.subarray(o + min, o + len), streamId, out)
        if (headers === false) return false
        if (headers === null) return true
        out.push({ type: name, streamId, fin: (flags & Flag.FIN) !== 0, headers })
        return true
      }
      case ControlType.RST_STREAM:
        if (len !== 8) return this.bad(out, `RST_STREAM of ${len} bytes, 8 expected`)
        out.push({ type: 'RST_STREAM', streamId: readU31(p, o), status: readU32(p, o + 4) })
        return true
      case ControlType.SETTINGS: {
        if (len < 4) return this.bad(out, `SETTINGS of ${len} bytes, at least 4 expected`)
        const count = readU32(p, o)
        if (len !== 4 + count * 8) return this.bad(out, `SETTINGS with ${count} entries in ${len} bytes`)
        const entries = []
        for (let i = 0, e = o + 4; i < count; i++, e += 8) {
          const id = t.settingsIdLittleEndian
            ? p[e] | (p[e + 1] << 8) | (p[e + 2] << 16)
            : (p[e + 1] << 16) | (p[e + 2] << 8) | p[e + 3]
          const f = t.settingsIdLittleEndian ? p[e + 3] : p[e]
          entries.push({ id, flags: f, value: readU32(p, e + 4) })
        }
        out.push({ type: 'SETTINGS', clearSettings: (flags & Flag.CLEAR_SETTINGS) !== 0, entries })
        return true
      }
      case ControlType.NOOP:
        if (!t.hasNoop) break
        if (len !== 0) return this.bad(out, `NOOP of ${len} bytes, 0 expected`)
        out.push({ type: 'NOOP' })
        return true
      case ControlType.PING:
        if (len !== 4) return this.bad(out, `PING of ${len} bytes, 4 expected`)
        out.push({ type: 'PING', id: readU32(p, o) })
        return true
      case ControlType.GOAWAY:
        // SPDY/2 GOAWAY is 4 bytes by the draft, but spdy-transport (and with it node-spdy clients) sends the v3
        // layout with a status; both are accepted, the v2 status is ignored.
        if (len !== t.goawayLength && !(t.version === 2 && len === 8)) return this.bad(out, `GOAWAY of ${len} bytes, ${t.goawayLength} expected`)
        out.push({ type: 'GOAWAY', lastGoodStreamId: readU31(p, o), status: t.goawayHasStatus ? readU32(p, o + 4) : 0 })
        return true
      case ControlType.WINDOW_UPDATE:
        if (!t.hasWindowUpdate) break
        if (len !== 8) return this.bad(out, `WINDOW_UPDATE of ${len} bytes, 8 expected`)
        out.push({ type: 'WINDOW_UPDATE', streamId: readU31(p, o), deltaWindowSize: readU31(p, o + 4) })
        return true
      case ControlType.CREDENTIAL:
        if (!t.hasCredential) break
        // SPDY/3 section 2.6.9: client certificates per origin. We never ask for them; parse the slot and ignore.
        out.push({ type: 'CREDENTIAL', slot: len >= 2 ? (p[o] << 8) | p[o + 1] : 0 })
        return true
      default:
        break
    }
    // SPDY/3 section 2.2.1: a control frame of an unknown type must be ignored.
    out.push({ type: 'UNKNOWN', controlType: type, flags, length: len })
    return true
  }

  /**
   * Inflates and parses a header block. Returns the list, null after a stream error (the block was fully
   * inflated, so the shared context is in step), or false after a session error.
   */
  private headerBlock (block: Uint8Array, streamId: number, out: DecodeEvent[]): HeaderList | null | false {
    const res = this.inflater.decompress(block, this.maxHeaderBlockBytes)
    if (!res.ok) {
      // Either way the shared zlib context is lost: too-large stopped midway, corrupt never was in step.
      this.fail(out, new SessionProtocolError(res.message))
      return false
    }
    this.inflatedBytes += res.data.length
    this.inflateAllowance -= res.data.length
    if (this.inflateAllowance < 0) {
      this.fail(out, new SessionProtocolError('header blocks inflated beyond the budget (HEADERS flood)'))
      return false
    }
    const parsed = parseHeaderBlock(res.data, this.table, this.maxHeaderPairs, streamId, this.strings ??= { names: new StringCache(), values: new StringCache() })
    if (parsed instanceof Error) {
      out.push(streamError(parsed, this.table))
      return null
    }
    return parsed
  }
}

function frameLength (b: Uint8Array, o: number): number {
  return (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]
}

function readU31 (b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) & MASK_31
}

/** A header block length field: 16 bits in SPDY/2, 32 in SPDY/3 (section 2.6.10 of each). */
function readLength (b: Uint8Array, o: number, w: 2 | 4): number {
  return w === 2 ? (b[o] << 8) | b[o + 1] : readU32(b, o)
}

function readU32 (b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
}

/** SPDY/2 has no FRAME_TOO_LARGE (its codes stop at 7): it is answered with PROTOCOL_ERROR there. */
function streamError (error: SpdyStreamError, table: VersionTable): DecodeEvent {
  if (error.status > table.maxRstStatus) error = new ProtocolError(error.streamId, error.message)
  return { type: 'STREAM_ERROR', error }
}

const latin1 = (b: Uint8Array, start: number, end: number): string => Buffer.prototype.latin1Slice.call(b, start, end) as string

/** Slots of a StringCache (a power of two). */
const CACHE_SLOTS = 64
/**
 * Longer strings are not cached (a long cookie is rarely repeated byte for byte); with CACHE_SLOTS this bounds a
 * live session's two caches (names, values) at 8 KB of characters each, and compact() drops them.
 */
const CACHE_MAX_LENGTH = 128

/**
 * Recently decoded header names and values, per decoder: a peer repeats most of them in every block (":method",
 * ":host", "user-agent", "accept"...), and comparing the bytes with the string already made is cheaper than
 * making a new one each time, and leaves no garbage. Direct-mapped by length and a few bytes; a miss replaces
 * the slot, so the cache holds at most CACHE_SLOTS strings of at most CACHE_MAX_LENGTH characters.
 */
export class StringCache {
  private readonly slots: string[] = new Array<string>(CACHE_SLOTS).fill('')

  /** The cached string with exactly these bytes, or null. */
  find (b: Uint8Array, start: number, end: number): string | null {
    const n = end - start
    if (n === 0 || n > CACHE_MAX_LENGTH) return null
    const hit = this.slots[slot(b, start, end)]
    if (hit.length !== n) return null
    for (let j = 0; j < n; j++) if (hit.charCodeAt(j) !== b[start + j]) return null
    return hit
  }

  /** Decodes the bytes and remembers the string; the caller has checked them (a hit skips the checks). */
  add (b: Uint8Array, start: number, end: number): string {
    const s = latin1(b, start, end)
    if (end - start <= CACHE_MAX_LENGTH && end > start) this.slots[slot(b, start, end)] = s
    return s
  }
}

function slot (b: Uint8Array, start: number, end: number): number {
  const n = end - start
  return (n * 31 + b[start] * 7 + b[end - 1] * 3 + b[start + (n >> 1)]) & (CACHE_SLOTS - 1)
}

/** Names and values are cached apart: a hit on either stands for bytes that passed that kind's checks before. */
export interface HeaderStrings { names: StringCache, values: StringCache }

/**
 * Parses an inflated header block (SPDY/3 section 2.6.10; SPDY/2 section 2.6.10 with 16-bit fields) and checks
 * the rules of section 2.6.10: lowercase non-empty names, no duplicate names, multiple values separated by single
 * NULs (none leading, trailing or doubled).
 */
export function parseHeaderBlock (b: Uint8Array, t: VersionTable, maxPairs: number, streamId: number, cache?: HeaderStrings): HeaderList | SpdyStreamError {
  const w = t.headerLengthBytes
  if (b.length < w) return new ProtocolError(streamId, 'header block shorter than its pair count')
  const count = readLength(b, 0, w)
  if (count > maxPairs) {
    return new FrameTooLargeError(streamId, `header block of ${count} pairs exceeds maxHeaderPairs ${maxPairs}`)
  }
  const list: HeaderList = new Array(count)
  // Duplicate names: a scan of the names so far while blocks are small (the usual ~10 pairs), a set beyond.
  const seen = count > 32 ? new Set<string>() : null
  let o = w
  for (let i = 0; i < count; i++) {
    if (o + w > b.length) return new ProtocolError(streamId, 'header block truncated')
    const nlen = readLength(b, o, w); o += w
    if (nlen === 0) return new ProtocolError(streamId, 'empty header name')
    if (o + nlen + w > b.length) return new ProtocolError(streamId, 'header block truncated')
    let name = cache?.names.find(b, o, o + nlen) ?? null
    if (name === null) {
      for (let j = o; j < o + nlen; j++) {
        const c = b[j]
        if ((c >= 0x41 && c <= 0x5a) || c === 0) return new ProtocolError(streamId, 'header names must be lowercase, without NUL')
      }
      name = cache !== undefined ? cache.names.add(b, o, o + nlen) : latin1(b, o, o + nlen)
    }
    o += nlen
    if (seen !== null ? seen.has(name) : seenIn(list, i, name)) return new ProtocolError(streamId, `duplicate header name ${name}`)
    seen?.add(name)
    const vlen = readLength(b, o, w); o += w
    if (o + vlen > b.length) return new ProtocolError(streamId, 'header block truncated')
    let value = cache?.values.find(b, o, o + vlen) ?? null
    if (value === null) {
      if (vlen > 0 && (b[o] === 0 || b[o + vlen - 1] === 0)) return new ProtocolError(streamId, `header ${name} has an empty value between NULs`)
      for (let j = o + 1; j < o + vlen; j++) {
        if (b[j] === 0 && b[j - 1] === 0) return new ProtocolError(streamId, `header ${name} has an empty value between NULs`)
      }
      value = cache !== undefined ? cache.values.add(b, o, o + vlen) : latin1(b, o, o + vlen)
    }
    o += vlen
    list[i] = [name, value]
  }
  if (o !== b.length) return new ProtocolError(streamId, 'bytes after the last header pair')
  return list
}

function seenIn (list: HeaderList, n: number, name: string): boolean {
  for (let i = 0; i < n; i++) if (list[i][0] === name) return true
  return false
}
