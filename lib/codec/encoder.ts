/**
 * Sans-IO SPDY frame encoder: `encode(frame) -> bytes`. Stateful only through its header compressor (one zlib
 * stream per direction per session, SPDY/3 section 2.6.10.1), so frames carrying header blocks must be encoded in
 * the order they are sent.
 */
import { ControlType, Flag, type Frame, type HeaderList, type WireVersion } from './types'
import { tableFor, type VersionTable } from './versions'
import { HeaderDeflater, type DeflaterOptions } from './deflate'

export interface EncoderOptions extends DeflaterOptions {
  version: WireVersion
}

const MASK_31 = 0x7fffffff

export class FrameEncoder {
  readonly version: WireVersion
  private readonly table: VersionTable
  /** Our fixed-Huffman deflater (lib/codec/deflate.ts says why not pako's). */
  private readonly deflater: HeaderDeflater

  constructor (opts: EncoderOptions) {
    this.version = opts.version
    this.table = tableFor(opts.version)
    this.deflater = new HeaderDeflater(opts.version, opts)
  }

  /** True while the header compressor holds its tables (see compact()). */
  get zlibLive (): boolean { return this.deflater.live }

  /** Frees the header compressor's tables (~20 KB) while idle, keeping its window; the next header block rebuilds them. */
  compact (): void {
    this.deflater.compact()
  }

  /** 8-byte DATA frame header, so a large payload is written after it without being copied. */
  encodeDataHeader (streamId: number, fin: boolean, length: number): Uint8Array {
    checkLength(length)
    const h = Buffer.allocUnsafe(8)
    h.writeUInt32BE(streamId & MASK_31, 0)
    h.writeUInt32BE(((fin ? Flag.FIN : 0) << 24 | length) >>> 0, 4)
    return h
  }

  encode (frame: Frame): Uint8Array {
    const t = this.table
    switch (frame.type) {
      case 'DATA': {
        checkLength(frame.data.length)
        const b = Buffer.allocUnsafe(8 + frame.data.length)
        b.writeUInt32BE(frame.streamId & MASK_31, 0)
        b.writeUInt32BE(((frame.fin ? Flag.FIN : 0) << 24 | frame.data.length) >>> 0, 4)
        b.set(frame.data, 8)
        return b
      }
      case 'SYN_STREAM': {
        const b = this.headerFrame(ControlType.SYN_STREAM, (frame.fin ? Flag.FIN : 0) | (frame.unidirectional ? Flag.UNIDIRECTIONAL : 0), 10, frame.headers)
        b.writeUInt32BE(frame.streamId & MASK_31, 8)
        b.writeUInt32BE(frame.associatedStreamId & MASK_31, 12)
        // v2: priority in the top 2 bits then 14 unused; v3: top 3 bits, 5 unused, then the CREDENTIAL slot.
        b[16] = (frame.priority & t.lowestPriority) << (8 - t.priorityBits)
        b[17] = t.version === 3 ? frame.slot & 0xff : 0
        return b
      }
      case 'SYN_REPLY':
      case 'HEADERS': {
        const pad = t.replyPadding
        const b = this.headerFrame(frame.type === 'SYN_REPLY' ? ControlType.SYN_REPLY : ControlType.HEADERS, frame.fin ? Flag.FIN : 0, 4 + pad, frame.headers)
        b.writeUInt32BE(frame.streamId & MASK_31, 8)
        if (pad === 2) b.writeUInt16BE(0, 12)
        return b
      }
      case 'RST_STREAM': {
        const b = this.control(ControlType.RST_STREAM, 0, 8)
        b.writeUInt32BE(frame.streamId & MASK_31, 8)
        b.writeUInt32BE(frame.status >>> 0, 12)
        return b
      }
      case 'SETTINGS': {
        const n = frame.entries.length
        const b = this.control(ControlType.SETTINGS, frame.clearSettings ? Flag.CLEAR_SETTINGS : 0, 4 + 8 * n)
        b.writeUInt32BE(n, 8)
        let o = 12
        for (const e of frame.entries) {
          if (t.settingsIdLittleEndian) {
            b[o] = e.id & 0xff; b[o + 1] = (e.id >> 8) & 0xff; b[o + 2] = (e.id >> 16) & 0xff; b[o + 3] = e.flags & 0xff
          } else {
            b[o] = e.flags & 0xff; b[o + 1] = (e.id >> 16) & 0xff; b[o + 2] = (e.id >> 8) & 0xff; b[o + 3] = e.id & 0xff
          }
          b.writeUInt32BE(e.value >>> 0, o + 4)
          o += 8
        }
        return b
      }
      case 'NOOP':
        return this.control(ControlType.NOOP, 0, 0)
      case 'PING': {
        const b = this.control(ControlType.PING, 0, 4)
        b.writeUInt32BE(frame.id >>> 0, 8)
        return b
      }
      case 'GOAWAY': {
        const b = this.control(ControlType.GOAWAY, 0, t.goawayLength)
        b.writeUInt32BE(frame.lastGoodStreamId & MASK_31, 8)
        if (t.goawayHasStatus) b.writeUInt32BE(frame.status >>> 0, 12)
        return b
      }
      case 'WINDOW_UPDATE': {
        const b = this.control(ControlType.WINDOW_UPDATE, 0, 8)
        b.writeUInt32BE(frame.streamId & MASK_31, 8)
        b.writeUInt32BE(frame.deltaWindowSize & MASK_31, 12)
        return b
      }
      case 'CREDENTIAL': {
        // We never send client certificates; an empty-proof, no-certificate frame for completeness of the union.
        const b = this.control(ControlType.CREDENTIAL, 0, 6)
        b.writeUInt16BE(frame.slot & 0xffff, 8)
        b.writeUInt32BE(0, 10)
        return b
      }
      case 'UNKNOWN':
        return this.control(frame.controlType, frame.flags, 0)
    }
  }

  /** Serialises (SPDY/3 section 2.6.10: 32-bit lengths; SPDY/2: 16-bit) and compresses a header block. */
  compressHeaders (headers: HeaderList): Uint8Array {
    return this.deflater.compress(serializeInto(headers, this.table))
  }

  /**
   * A control frame whose payload is `fixed` bytes (filled in by the caller) then the compressed header block: the
   * block is serialised into a shared scratch and compressed straight into the frame's buffer (one allocation).
   */
  private headerFrame (type: number, flags: number, fixed: number, headers: HeaderList): Buffer {
    const b = this.deflater.compress(serializeInto(headers, this.table), 8 + fixed)
    const length = b.length - 8
    checkLength(length)
    b.writeUInt16BE(0x8000 | this.version, 0)
    b.writeUInt16BE(type, 2)
    b.writeUInt32BE(((flags & 0xff) << 24 | length) >>> 0, 4)
    return b
  }

  private control (type: number, flags: number, length: number): Buffer {
    checkLength(length)
    const b = Buffer.allocUnsafe(8 + length)
    b.writeUInt16BE(0x8000 | this.version, 0)
    b.writeUInt16BE(type, 2)
    b.writeUInt32BE(((flags & 0xff) << 24 | length) >>> 0, 4)
    return b
  }
}

/**
 * The length field is 24 bits (SPDY/3 section 2.2): a longer frame would spill into the flags byte. This is a
 * caller bug (the session splits DATA at its frame size), so it throws rather than writing a corrupt frame.
 */
function checkLength (length: number): void {
  if (!(length >= 0 && length <= 0xffffff)) throw new RangeError(`SPDY frame payload of ${length} bytes does not fit the 24-bit length field`)
}

export function serializeHeaderBlock (headers: HeaderList, t: VersionTable): Uint8Array {
  return Buffer.from(serializeInto(headers, t))
}

/** Reused by serializeInto: the serialised block only lives until it is compressed. */
let scratch = Buffer.allocUnsafe(4096)

/** Serialises into the shared scratch; the view is valid until the next call. */
function serializeInto (headers: HeaderList, t: VersionTable): Uint8Array {
  const w = t.headerLengthBytes
  let size = w
  for (let i = 0; i < headers.length; i++) size += 2 * w + headers[i][0].length + headers[i][1].length
  if (scratch.length < size) scratch = Buffer.allocUnsafe(Math.max(size, scratch.length * 2))
  const b = scratch
  let o = putLength(b, 0, w, headers.length)
  for (let i = 0; i < headers.length; i++) {
    const n = headers[i][0]
    const v = headers[i][1]
    o = putLatin1(b, putLength(b, o, w, n.length), n)
    o = putLatin1(b, putLength(b, o, w, v.length), v)
  }
  return b.subarray(0, o)
}

function putLength (b: Buffer, o: number, w: 2 | 4, x: number): number {
  if (w === 2) {
    // SPDY/2 lengths are 16 bits (section 2.6.10): a longer name or value cannot be carried.
    if (x > 0xffff) throw new RangeError(`SPDY/2 header length ${x} does not fit 16 bits`)
    b[o] = x >>> 8; b[o + 1] = x; return o + 2
  }
  b[o] = x >>> 24; b[o + 1] = x >>> 16; b[o + 2] = x >>> 8; b[o + 3] = x
  return o + 4
}

/**
 * Header names and values are octets (SPDY/3 section 2.6.10), one per UTF-16 unit as Buffer's 'latin1' writes them.
 * Most are a few dozen bytes, where a loop beats the call into Buffer.write.
 */
function putLatin1 (b: Buffer, o: number, s: string): number {
  const n = s.length
  if (n > 64) return o + b.write(s, o, n, 'latin1')
  for (let i = 0; i < n; i++) b[o + i] = s.charCodeAt(i)
  return o + n
}
