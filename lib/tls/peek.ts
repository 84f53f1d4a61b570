/**
 * Peek at the first bytes of a TLS connection: is the ClientHello complete yet, does it offer NPN, or is it
 * malformed? For the listener that picks a TLS stack per connection (issue 12, "one port, two TLS stacks"): NPN
 * clients go to our engine, every other client to node:tls, and both are handed the same bytes afterwards.
 *
 * Pure: the bytes received so far in, an answer out, nothing kept between calls. The caller buffers the bytes and
 * calls again once it holds at least `atLeast` of them; the records are walked again each time, so with that hint
 * the calls for one hello stay few however it is fragmented. The hello is parsed by the same strict parser as our
 * engine's (hello.ts), so both stacks see one verdict on its syntax.
 */
import { TlsError } from '../errors'
import { Alert, ContentType, HandshakeType } from './constants'
import { ClientHello, parseClientHello } from './hello'
import { MAX_CLIENT_HELLO_SIZE, MAX_PLAINTEXT } from './limits'

export type HelloPeek =
  /** Not enough bytes yet: call again once at least `atLeast` bytes (counted from the first) are in. */
  | { kind: 'need-more', atLeast: number }
  /** The whole ClientHello is in the first `length` bytes (whole records); `npn`: it offers extension 13172. */
  | { kind: 'complete', hello: ClientHello, npn: boolean, length: number }
  /** Not a ClientHello we take: answer with this fatal alert and close. */
  | { kind: 'malformed', alert: number, reason: string }

export interface PeekLimits {
  /** Largest ClientHello body; default MAX_CLIENT_HELLO_SIZE (131,396, the largest legal one). */
  maxHelloSize?: number
  /** Most bytes the caller will buffer for one hello, record headers included; default PEEK_MAX_BYTES. */
  maxBytes?: number
}

/**
 * Bytes buffered for one ClientHello at most, by default: twice the largest legal hello. That holds it in records
 * of 16 KiB (131,445 bytes) or in records of down to 6 bytes each; smaller records than that carry no real client's
 * hello. The caller holds these bytes until the hello is complete (or the handshake timeout), so the cap is what one
 * slow connection can make it buffer.
 */
export const PEEK_MAX_BYTES = 2 * MAX_CLIENT_HELLO_SIZE

const malformed = (alert: number, reason: string): HelloPeek => ({ kind: 'malformed', alert, reason })

/** Look at the start of a connection. `bytes` is everything received so far, from the first byte. */
export const peekClientHello = (bytes: Uint8Array, limits: PeekLimits = {}): HelloPeek => {
  const maxHello = limits.maxHelloSize ?? MAX_CLIENT_HELLO_SIZE
  const maxBytes = Math.max(limits.maxBytes ?? PEEK_MAX_BYTES, 5)
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const tooLarge = (): HelloPeek => malformed(Alert.illegal_parameter, `ClientHello needs more than ${maxBytes} bytes of records`)
  const needMore = (atLeast: number): HelloPeek => atLeast > maxBytes ? tooLarge() : { kind: 'need-more', atLeast }

  // First pass: walk the record headers, counting handshake bytes, until the hello's 4-byte header and then all of
  // its body are in. Nothing is copied until it is complete.
  const header = Buffer.alloc(4)
  let hsBytes = 0
  let total = -1 // 4 + body length, once the header is in
  let pos = 0
  /**
   * The fewest bytes that can hold the rest of the hello, given the records through `end` hold `hs` handshake
   * bytes: the missing bytes in records of 2^14, each with its 5-byte header. Never past what the hello needs, so
   * the caller never waits for bytes that will not come, and far enough that tiny records take few calls.
   */
  const hint = (end: number, hs: number): number => {
    const missing = total >= 0 ? total - hs : Math.max(0, 4 - hs)
    return missing === 0 ? end : end + missing + 5 * Math.ceil(missing / MAX_PLAINTEXT)
  }
  while (total < 0 || hsBytes < total) {
    if (buf.length - pos < 5) return needMore(hint(pos, hsBytes))
    const type = buf[pos]
    const length = buf.readUInt16BE(pos + 3)
    // The same record checks as the engine's (engine.ts checkHeader), for a plaintext record.
    // An alert (even a warning) or anything else before the ClientHello: OpenSSL answers unexpected_message.
    if (type !== ContentType.handshake) return malformed(Alert.unexpected_message, `record type ${type} before the ClientHello`)
    if (buf[pos + 1] !== 3) return malformed(Alert.protocol_version, `record version 0x${buf.readUInt16BE(pos + 1).toString(16)}`)
    if (length > MAX_PLAINTEXT) return malformed(Alert.record_overflow, `record of ${length} bytes`) // RFC 5246 section 6.2.1
    if (length === 0) return malformed(Alert.unexpected_message, 'empty handshake record') // section 6.2.1
    if (pos + 5 + length > maxBytes) return tooLarge()
    if (buf.length - pos < 5 + length) return needMore(Math.max(pos + 5 + length, hint(pos + 5 + length, hsBytes + length)))
    for (let i = 0; i < length && hsBytes + i < 4; i++) header[hsBytes + i] = buf[pos + 5 + i]
    hsBytes += length
    pos += 5 + length
    if (total < 0 && hsBytes >= 4) {
      if (header[0] !== HandshakeType.client_hello) return malformed(Alert.unexpected_message, `handshake message ${header[0]} before the ClientHello`)
      const body = header.readUIntBE(1, 3)
      // OpenSSL answers its CLIENT_HELLO_MAX_LENGTH the same way ("excessive message size").
      if (body > maxHello) return malformed(Alert.illegal_parameter, `ClientHello of ${body} bytes`)
      total = 4 + body
    }
  }

  // Second pass: the hello's bytes, joined once (or where they lie when one record holds it).
  let msg: Buffer
  if (buf.readUInt16BE(3) >= total) {
    msg = buf.subarray(5, 5 + total)
  } else {
    msg = Buffer.allocUnsafe(total)
    let filled = 0
    for (let p = 0; filled < total; p += 5 + buf.readUInt16BE(p + 3)) {
      const len = buf.readUInt16BE(p + 3)
      filled += buf.copy(msg, filled, p + 5, p + 5 + Math.min(len, total - filled))
    }
  }
  try {
    const hello = parseClientHello(msg.subarray(4))
    return { kind: 'complete', hello, npn: hello.npn, length: pos }
  } catch (err) {
    if (err instanceof TlsError) return malformed(err.alert, err.message)
    throw err
  }
}
