/**
 * Read the first bytes of a TLS connection up to the complete ClientHello: does it offer NPN, or is it malformed?
 * For the listener that picks a TLS stack per connection (issue 12, "one port, two TLS stacks"): NPN clients go to
 * our engine, every other client to node:tls, and the chosen stack is then handed the hello.
 *
 * Sans-IO and streaming: bytes in as they arrive, an answer out. Record headers are checked and dropped as they
 * pass, and only the handshake bytes are kept, so what one connection can make us hold is the hello itself (at most
 * 4 + MAX_CLIENT_HELLO_SIZE bytes) however finely it is cut into records: RFC 5246 section 6.2.1 lets a client send
 * one handshake byte per record, six bytes on the wire for each byte of the hello. Each byte is looked at once.
 *
 * The stack is handed the hello re-framed into records of up to 2^14 bytes (the first record's version on each),
 * then the connection's bytes as they came. Record boundaries carry no meaning for handshake messages (section
 * 6.2.1: "Client message boundaries are not preserved in the record layer"), and the transcript hashes cover the
 * messages, not the records, so both stacks negotiate exactly as they would with the original framing. The hello is
 * parsed by the same strict parser as our engine's (hello.ts), so both stacks see one verdict on its syntax.
 */
import { TlsError } from '../errors'
import { Alert, ContentType, HandshakeType } from './constants'
import { ClientHello, parseClientHello } from './hello'
import { MAX_CLIENT_HELLO_SIZE, MAX_PLAINTEXT } from './limits'

export type HelloPeek =
  /** Not enough bytes yet: push more. */
  | { kind: 'need-more' }
  /**
   * The whole ClientHello is in. `replay` is what the chosen stack must read first, in place of every byte pushed
   * so far: the hello in records of up to 2^14 bytes, then whatever followed it (the rest of its last record under a
   * header of its own, then the rest of the last chunk). `npn`: it offers extension 13172.
   */
  | { kind: 'complete', hello: ClientHello, npn: boolean, replay: Buffer }
  /** Not a ClientHello we take: answer with this fatal alert and close. */
  | { kind: 'malformed', alert: number, reason: string }

export interface PeekLimits {
  /** Largest ClientHello body; default MAX_CLIENT_HELLO_SIZE (131,396, the largest legal one). */
  maxHelloSize?: number
}

const malformed = (alert: number, reason: string): HelloPeek => ({ kind: 'malformed', alert, reason })
const NEED_MORE: HelloPeek = { kind: 'need-more' }

/** One connection's ClientHello, read as it arrives. Holds at most 4 + maxHelloSize bytes of the hello, plus 9. */
export class HelloReader {
  private readonly maxHello: number
  /** The current record's header while it arrives. */
  private readonly head = Buffer.alloc(5)
  private headFill = 0
  /** Body bytes of the current record not yet seen (0: a header comes next). */
  private left = 0
  /** The first record's version (RFC 5246 section 6.2.1, any 3.x), or -1 before it is known. */
  private version = -1
  /** The handshake header (type + 24-bit length) while it arrives; then the message, in a buffer that grows. */
  private readonly msgHead = Buffer.alloc(4)
  private msg: Buffer | null = null
  /** The whole message's size (header included), as the header announced it. */
  private msgLen = 0
  private hs = 0
  private verdict: HelloPeek | null = null

  constructor (limits: PeekLimits = {}) {
    this.maxHello = limits.maxHelloSize ?? MAX_CLIENT_HELLO_SIZE
  }

  /** Minor version of the first record (for the version of an alert record answering it), 1 if none came yet. */
  get recordMinor (): number {
    return this.version < 0 ? 1 : this.version & 0xff
  }

  /** The next bytes of the connection; after a verdict, the same verdict (nothing more is read). */
  push (chunk: Uint8Array): HelloPeek {
    if (this.verdict !== null) return this.verdict
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    let pos = 0
    while (pos < buf.length) {
      if (this.left === 0) {
        const n = buf.copy(this.head, this.headFill, pos, Math.min(buf.length, pos + 5 - this.headFill))
        this.headFill += n
        pos += n
        if (this.headFill < 5) break
        this.headFill = 0
        const bad = this.checkHeader()
        if (bad !== null) return (this.verdict = bad)
        continue
      }
      const end = Math.min(buf.length, pos + this.left)
      const start = pos
      while (pos < end && (this.msg === null || this.hs < this.msgLen)) {
        if (this.msg === null) {
          this.msgHead[this.hs++] = buf[pos++]
          if (this.hs === 4) {
            const bad = this.startMessage()
            if (bad !== null) return (this.verdict = bad)
          }
          continue
        }
        const take = Math.min(end - pos, this.msgLen - this.hs)
        if (this.hs + take > this.msg.length) this.grow(this.hs + take)
        const n = buf.copy(this.msg as Buffer, this.hs, pos, pos + take)
        this.hs += n
        pos += n
      }
      this.left -= pos - start
      if (this.msg !== null && this.hs === this.msgLen) return (this.verdict = this.finish(buf.subarray(pos)))
    }
    return NEED_MORE
  }

  /** The same record checks as the engine's (engine.ts checkHeader), for a plaintext record before the hello. */
  private checkHeader (): HelloPeek | null {
    const type = this.head[0]
    const version = this.head.readUInt16BE(1)
    const length = this.head.readUInt16BE(3)
    if (this.version < 0) this.version = version
    // An alert (even a warning) or anything else before the ClientHello: OpenSSL answers unexpected_message.
    if (type !== ContentType.handshake) return malformed(Alert.unexpected_message, `record type ${type} before the ClientHello`)
    if ((version >> 8) !== 3) return malformed(Alert.protocol_version, `record version 0x${version.toString(16)}`)
    if (length > MAX_PLAINTEXT) return malformed(Alert.record_overflow, `record of ${length} bytes`) // RFC 5246 section 6.2.1
    if (length === 0) return malformed(Alert.unexpected_message, 'empty handshake record') // section 6.2.1
    this.left = length
    return null
  }

  /** The handshake header is in: a ClientHello of a size we take, and room for all of it. */
  private startMessage (): HelloPeek | null {
    if (this.msgHead[0] !== HandshakeType.client_hello) return malformed(Alert.unexpected_message, `handshake message ${this.msgHead[0]} before the ClientHello`)
    const body = this.msgHead.readUIntBE(1, 3)
    // OpenSSL answers its CLIENT_HELLO_MAX_LENGTH the same way ("excessive message size").
    if (body > this.maxHello) return malformed(Alert.illegal_parameter, `ClientHello of ${body} bytes`)
    // Room grows with the bytes that arrive, not with the length announced: 9 bytes claiming a 128 KiB hello, then
    // silence, must not hold 128 KiB until handshakeTimeout (issue 11: buffers grow with what actually arrives).
    this.msgLen = 4 + body
    this.msg = Buffer.allocUnsafe(Math.min(this.msgLen, 4 + MAX_PLAINTEXT))
    this.msgHead.copy(this.msg, 0)
    return null
  }

  /** At least `need` bytes of room (doubling, never past the announced size), the bytes so far kept. */
  private grow (need: number): void {
    const next = Buffer.allocUnsafe(Math.min(this.msgLen, Math.max(need, 2 * (this.msg as Buffer).length)))
    ;(this.msg as Buffer).copy(next, 0, 0, this.hs)
    this.msg = next
  }

  private finish (after: Buffer): HelloPeek {
    const msg = this.msg as Buffer
    this.msg = null
    let hello: ClientHello
    try {
      hello = parseClientHello(msg.subarray(4))
    } catch (err) {
      if (err instanceof TlsError) return malformed(err.alert, err.message)
      throw err
    }
    // The hello in records of 2^14, then the rest of its last record (a header of its own), then the rest.
    const records = Math.ceil(msg.length / MAX_PLAINTEXT)
    const replay = Buffer.allocUnsafe(msg.length + 5 * records + (this.left > 0 ? 5 : 0) + after.length)
    let at = 0
    const header = (length: number): void => {
      replay[at] = ContentType.handshake
      replay.writeUInt16BE(this.version, at + 1)
      replay.writeUInt16BE(length, at + 3)
      at += 5
    }
    for (let off = 0; off < msg.length; off += MAX_PLAINTEXT) {
      const n = Math.min(MAX_PLAINTEXT, msg.length - off)
      header(n)
      at += msg.copy(replay, at, off, off + n)
    }
    if (this.left > 0) header(this.left)
    after.copy(replay, at)
    return { kind: 'complete', hello, npn: hello.npn, replay }
  }
}

/** The verdict on `bytes`, the first bytes of a connection, read at once (tests, tools). */
export const peekClientHello = (bytes: Uint8Array, limits: PeekLimits = {}): HelloPeek => new HelloReader(limits).push(bytes)
