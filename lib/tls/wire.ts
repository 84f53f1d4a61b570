/** Byte reader/writer for TLS vectors (RFC 5246 section 4). Reading past the end is a decode_error alert. */
import { TlsError } from '../errors'
import { Alert } from './constants'

export class Reader {
  pos = 0
  constructor (readonly buf: Buffer) {}
  get left (): number { return this.buf.length - this.pos }
  private need (n: number): void {
    if (this.pos + n > this.buf.length) throw new TlsError(Alert.decode_error, 'truncated message')
  }

  u8 (): number { this.need(1); return this.buf[this.pos++] }
  u16 (): number { this.need(2); const v = this.buf.readUInt16BE(this.pos); this.pos += 2; return v }
  u32hint (): number { this.need(4); const v = this.buf.readUInt32BE(this.pos); this.pos += 4; return v }
  u24 (): number { this.need(3); const v = this.buf.readUIntBE(this.pos, 3); this.pos += 3; return v }
  bytes (n: number): Buffer { this.need(n); const b = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return b }
  vec8 (): Buffer { return this.bytes(this.u8()) }
  vec16 (): Buffer { return this.bytes(this.u16()) }
  vec24 (): Buffer { return this.bytes(this.u24()) }
  /** A message must be consumed exactly: trailing bytes are a decode_error too. */
  end (): void { if (this.pos !== this.buf.length) throw new TlsError(Alert.decode_error, 'trailing bytes in message') }
}

/**
 * A copy in an ArrayBuffer of its own. Buffer.from() and Buffer.concat() of fewer than 4 KiB return a slice of
 * Node's shared 8 KiB pool, which stays alive as long as any slice of it does: whatever is kept long (the session
 * cache keeps entries for hours) is copied with this instead.
 */
export const ownCopy = (b: Uint8Array): Buffer => {
  const c = Buffer.allocUnsafeSlow(b.length)
  c.set(b)
  return c
}

export const u8 = (v: number): Buffer => Buffer.from([v])
export const u16 = (v: number): Buffer => { const b = Buffer.allocUnsafe(2); b.writeUInt16BE(v); return b }
export const u24 = (v: number): Buffer => { const b = Buffer.allocUnsafe(3); b.writeUIntBE(v, 0, 3); return b }
const cat = (parts: Uint8Array[]): Buffer => Buffer.concat(parts)
export const vec8 = (...parts: Uint8Array[]): Buffer => { const b = cat(parts); return Buffer.concat([u8(b.length), b]) }
export const vec16 = (...parts: Uint8Array[]): Buffer => { const b = cat(parts); return Buffer.concat([u16(b.length), b]) }
export const vec24 = (...parts: Uint8Array[]): Buffer => { const b = cat(parts); return Buffer.concat([u24(b.length), b]) }
export const ext = (type: number, data: Uint8Array): Buffer => Buffer.concat([u16(type), vec16(data)])
/** Handshake header: msg_type(1) + length(3), RFC 5246 section 7.4. */
export const handshake = (type: number, body: Uint8Array): Buffer => Buffer.concat([u8(type), u24(body.length), body])

/** Parse an extensions block into a map; a repeated type is illegal (RFC 5246 section 7.4.1.4). */
export const parseExtensions = (r: Reader): Map<number, Buffer> => {
  const out = new Map<number, Buffer>()
  if (r.left === 0) return out
  const block = new Reader(r.vec16())
  while (block.left > 0) {
    const type = block.u16()
    const data = block.vec16()
    if (out.has(type)) throw new TlsError(Alert.illegal_parameter, `duplicate extension ${type}`)
    out.set(type, data)
  }
  return out
}

/** Protocol name lists: ALPN's ProtocolNameList (RFC 7301 section 3.1) and NPN's body are 8-bit-length strings. */
export const parseProtocolList = (data: Buffer): string[] => {
  const r = new Reader(data)
  const out: string[] = []
  while (r.left > 0) {
    const p = r.vec8()
    if (p.length === 0) throw new TlsError(Alert.decode_error, 'empty protocol name')
    out.push(p.toString('latin1'))
  }
  return out
}
export const encodeProtocolList = (list: string[]): Buffer => Buffer.concat(list.map((p) => vec8(Buffer.from(p, 'latin1'))))

/**
 * seq_num(8) + type + version + length into b[0..13): the record's MAC input header (RFC 5246 section 6.2.3.1) and
 * the AEAD additional_data (section 6.2.3.3) are the same 13 bytes.
 */
export function writeSeqHeader (b: Buffer, seq: number, type: number, version: number, length: number): Buffer {
  b.writeUInt32BE(Math.floor(seq / 0x100000000), 0)
  b.writeUInt32BE(seq >>> 0, 4)
  b[8] = type
  b[9] = version >> 8
  b[10] = version & 0xff
  b[11] = length >> 8
  b[12] = length & 0xff
  return b
}
