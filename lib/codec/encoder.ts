/**
 * Sans-IO SPDY frame encoder: `encode(frame) -> bytes`. Stateful only through its header compressor (one zlib
 * stream per direction per session, SPDY/3 section 2.6.10.1), so frames carrying header blocks must be encoded in
 * the order they are sent.
 */
import { ControlType, Flag, type Frame, type HeaderList, type WireVersion } from './types'
import { tableFor, type VersionTable } from './versions'
import { HeaderCompressor, type CompressorOptions } from './zlib'

export interface EncoderOptions extends CompressorOptions {
  version: WireVersion
}

const MASK_31 = 0x7fffffff

export class FrameEncoder {
  readonly version: WireVersion
  private readonly table: VersionTable
  private readonly deflater: HeaderCompressor

  constructor (opts: EncoderOptions) {
    this.version = opts.version
    this.table = tableFor(opts.version)
    this.deflater = new HeaderCompressor(opts.version, opts)
  }

  /** True while the header compressor holds a zlib context (see compact()). */
  get zlibLive (): boolean { return this.deflater.live }

  /** Frees the header compressor's zlib context (~21 KB) while idle; the next header block rebuilds it. */
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
        const block = this.compressHeaders(frame.headers)
        const b = this.control(ControlType.SYN_STREAM, (frame.fin ? Flag.FIN : 0) | (frame.unidirectional ? Flag.UNIDIRECTIONAL : 0), 10 + block.length)
        b.writeUInt32BE(frame.streamId & MASK_31, 8)
        b.writeUInt32BE(frame.associatedStreamId & MASK_31, 12)
        // v2: priority in the top 2 bits then 14 unused; v3: top 3 bits, 5 unused, then the CREDENTIAL slot.
        b[16] = (frame.priority & t.lowestPriority) << (8 - t.priorityBits)
        b[17] = t.version === 3 ? frame.slot & 0xff : 0
        b.set(block, 18)
        return b
      }
      case 'SYN_REPLY':
      case 'HEADERS': {
        const block = this.compressHeaders(frame.headers)
        const pad = t.replyPadding
        const b = this.control(frame.type === 'SYN_REPLY' ? ControlType.SYN_REPLY : ControlType.HEADERS, frame.fin ? Flag.FIN : 0, 4 + pad + block.length)
        b.writeUInt32BE(frame.streamId & MASK_31, 8)
        if (pad === 2) b.writeUInt16BE(0, 12)
        b.set(block, 12 + pad)
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
    return this.deflater.compress(serializeHeaderBlock(headers, this.table))
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
  const w = t.headerLengthBytes
  let size = w
  for (const [n, v] of headers) size += 2 * w + n.length + v.length
  const b = Buffer.allocUnsafe(size)
  let o = 0
  const put = w === 2 ? (x: number) => { b.writeUInt16BE(x, o); o += 2 } : (x: number) => { b.writeUInt32BE(x, o); o += 4 }
  put(headers.length)
  for (const [n, v] of headers) {
    put(n.length); o += b.write(n, o, 'latin1')
    put(v.length); o += b.write(v, o, 'latin1')
  }
  return b
}
