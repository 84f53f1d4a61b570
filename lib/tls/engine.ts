/**
 * The part of the engine both roles share: the record layer (RFC 5246 section 6) with handshake reassembly,
 * alerts, application data, close_notify, the handshake transcript and the deadline. Sans-IO: bytes in via
 * receive(), bytes out via takeOutbound(), time handed in by the caller.
 */
import * as crypto from 'node:crypto'
import { TlsError } from '../errors'
import { Alert, AlertLevel, alertName, ContentType, Version } from './constants'
import { PrfHash, RecordProtection } from './crypto'
import { MAX_CIPHERTEXT, MAX_EMPTY_RECORDS, MAX_PLAINTEXT, MAX_WARNING_ALERTS } from './limits'

/** Reported once the handshake is finished (both Finished messages verified/sent). */
export interface TlsHandshakeEvent {
  type: 'handshake'
  /** Negotiated application protocol, null when neither NPN nor ALPN was used. */
  protocol: string | null
  negotiatedBy: 'npn' | 'alpn' | null
  /** OpenSSL suite name, e.g. ECDHE-RSA-AES128-GCM-SHA256. */
  cipher: string
  /** 'TLSv1.2', or 'TLSv1.1' / 'TLSv1' with `legacy` */
  version: string
  /** SNI name the client sent (server role) or asked for (client role). */
  servername: string | null
  resumed: boolean
  /**
   * Client role with NPN: the protocols the server advertised (draft-agl-tls-nextprotoneg-04 section 3). When it
   * has none of ours, `protocol` is our first choice anyway (section 4); a caller can tell from this list.
   */
  serverProtocols?: string[]
  /**
   * Client role: reported early, after our Finished and before the server's (False Start, RFC 7918): writes go out
   * from here; the server's Finished is still verified when it comes, and a bad one is an 'error' event.
   */
  falseStart?: boolean
}
export type TlsEvent =
  | TlsHandshakeEvent
  | { type: 'data', data: Uint8Array }
  /** The peer sent close_notify; we answered with ours (RFC 5246 section 7.2.1). */
  | { type: 'close' }
  /** A fatal alert is queued in outbound: the caller flushes takeOutbound() and closes the socket. */
  | { type: 'error', error: TlsError }

export interface HandshakeMessage { type: number, body: Buffer, raw: Buffer }

const EMPTY = Buffer.alloc(0)

export abstract class TlsEngine {
  protected readonly maxHandshakeMessageSize: number
  protected out: Buffer[] = []
  protected events: TlsEvent[] = []
  /**
   * A record cut by a socket read, carried to the next receive(): its first `carryFill` bytes. A 5-byte buffer until
   * the header is complete, then one buffer of the record's full size, so each later chunk copies only its own
   * bytes (records wholly inside a chunk are read where they lie, never copied).
   */
  private carry: Buffer = EMPTY
  private carryFill = 0
  /**
   * A handshake message cut across records: its first `hsFill` bytes, copied into `hsbuf`, which grows by doubling
   * (capped at the message's declared size once its header is in). Each byte is copied once or twice in all, so
   * reassembly is linear in the message size whatever the record sizes; a Buffer.concat per record was quadratic
   * (a 64 KB hello in 1-byte records copied ~2 GB). One growing buffer rather than a list of fragments joined at
   * the end: a list of 1-byte records would cost a Buffer object (~100 bytes of heap) per byte. Growth by doubling
   * means a peer declaring a 128 KiB message makes us allocate at most twice what it actually sent.
   */
  private hsbuf: Buffer = EMPTY
  private hsFill = 0
  /**
   * Warning alerts received: during the handshake all of them, after it the consecutive ones (reset by a non-empty
   * record of another type, as OpenSSL's rlayer alert_count is). Bounded by MAX_WARNING_ALERTS.
   */
  private warningAlerts = 0
  /** Consecutive empty records (MAX_EMPTY_RECORDS). */
  private emptyRecords = 0
  protected readCipher: RecordProtection | null = null
  protected writeCipher: RecordProtection | null = null
  /** Record version to write: 0x0301 for the first ClientHello (RFC 5246 appendix E.1), then the negotiated one. */
  protected recordVersion: number = Version.TLS12
  protected version: number = Version.TLS12
  protected connected = false
  /** Application data may be written before `connected`: the client's False Start (RFC 7918). */
  private writesOpen = false
  /** Set once a fatal alert was sent or received, or close_notify both ways: nothing more is read or written. */
  protected dead = false
  private closeSent = false
  private pendingWrites: Uint8Array[] = []
  private _deadline: number | null

  // transcript (RFC 5246 section 7.4.9: all handshake messages, not counting HelloRequest)
  private transcriptMsgs: Buffer[] = []
  /** One hash, or MD5 and SHA-1 side by side for TLS 1.0/1.1 (RFC 2246 section 7.4.9). */
  private transcriptHash: crypto.Hash[] | null = null

  constructor (maxHandshakeMessageSize: number, handshakeTimeout: number, now: number) {
    this.maxHandshakeMessageSize = maxHandshakeMessageSize
    this._deadline = handshakeTimeout > 0 ? now + handshakeTimeout : null
  }

  /** Time (same clock as `now`) by which the handshake must be finished; null once done or if no timeout is set. */
  get deadline (): number | null { return this._deadline }

  /**
   * Feed bytes read from the socket. Never throws: failures become an alert in outbound plus an error event.
   * The bytes are consumed: records may be decrypted where they lie, so `bytes` must not be used afterwards
   * (a socket's read buffers never are); 'data' events may be views into it.
   */
  receive (bytes: Uint8Array, now: number): TlsEvent[] {
    if (this.dead) return []
    let chunk = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    try {
      if (this.carryFill > 0) chunk = this.continueCarry(chunk)
      if (chunk.length > 0) this.readRecords(chunk)
      if (this.deadlineExpired(now)) this.fatal(new TlsError(Alert.handshake_failure, 'handshake timeout'))
    } catch (err) {
      this.fatal(err)
    }
    return this.drainEvents()
  }

  /** Call when `deadline` passes: a handshake still running is aborted with a handshake_failure alert. */
  tick (now: number): TlsEvent[] {
    if (!this.dead && this.deadlineExpired(now)) this.fatal(new TlsError(Alert.handshake_failure, 'handshake timeout'))
    return this.drainEvents()
  }

  private deadlineExpired (now: number): boolean {
    return !this.connected && this._deadline !== null && now >= this._deadline
  }

  /** Queue application data, split into records of at most 2^14 bytes; held back until the handshake is done. */
  write (data: Uint8Array): void {
    if (this.dead || this.closeSent) return
    if (!this.connected && !this.writesOpen) { this.pendingWrites.push(Buffer.from(data)); return }
    for (let off = 0; off < data.length; off += MAX_PLAINTEXT) {
      this.sendRecord(ContentType.application_data, data.subarray(off, Math.min(off + MAX_PLAINTEXT, data.length)))
    }
  }

  /** The connection is gone (socket closed): the engine is dead from here. */
  dispose (): void {
    this.dead = true
  }

  /** Send close_notify (RFC 5246 section 7.2.1). Further writes are ignored. */
  close (): void {
    if (this.dead || this.closeSent) return
    this.closeSent = true
    this.sendAlert(AlertLevel.warning, Alert.close_notify)
  }

  /** Bytes to write to the socket, in one buffer (length 0 when none). Copies; see takeOutboundChunks. */
  takeOutbound (): Uint8Array {
    if (this.out.length === 0) return Buffer.alloc(0)
    const b = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out)
    this.out = []
    return b
  }

  /**
   * The same bytes as takeOutbound, as the list of buffers the records were built in (no copy): for a socket loop
   * that writes them with cork()/write().../uncork() or writev. Empty array when none.
   */
  takeOutboundChunks (): Uint8Array[] {
    const o = this.out
    this.out = []
    return o
  }

  protected drainEvents (): TlsEvent[] {
    const e = this.events
    this.events = []
    return e
  }

  // ---- record layer ----

  /** Header checks, as soon as 5 bytes are there; returns the record's length. */
  private checkHeader (buf: Buffer, pos: number): number {
    const type = buf[pos]
    const version = buf.readUInt16BE(pos + 1)
    const length = buf.readUInt16BE(pos + 3)
    if (type < 20 || type > 23) throw new TlsError(Alert.unexpected_message, `unknown record type ${type}`)
    if ((version >> 8) !== 3) throw new TlsError(Alert.protocol_version, `bad record version 0x${version.toString(16)}`)
    // RFC 5246 section 6.2.3: ciphertext up to 2^14+2048; plaintext records (before CCS) up to 2^14 (6.2.1).
    if (length > (this.readCipher === null ? MAX_PLAINTEXT : MAX_CIPHERTEXT)) throw new TlsError(Alert.record_overflow, `record of ${length} bytes`)
    return length
  }

  /** Whole records of `buf` where they lie; an incomplete tail goes to `carry`. */
  private readRecords (buf: Buffer): void {
    let pos = 0
    while (!this.dead && pos < buf.length) {
      if (buf.length - pos < 5) {
        this.carry = Buffer.alloc(5)
        this.carryFill = buf.copy(this.carry, 0, pos)
        return
      }
      const length = this.checkHeader(buf, pos)
      if (buf.length - pos < 5 + length) {
        // copied into a buffer of its own, so a large socket chunk is not pinned by its last few bytes
        this.carry = Buffer.allocUnsafe(5 + length)
        this.carryFill = buf.copy(this.carry, 0, pos)
        return
      }
      this.onCiphertext(buf[pos], buf.readUInt16BE(pos + 1), buf.subarray(pos + 5, pos + 5 + length))
      pos += 5 + length
    }
  }

  /** Complete the carried record from the front of `chunk`; returns what is left of the chunk. */
  private continueCarry (chunk: Buffer): Buffer {
    let used = 0
    if (this.carryFill < 5) {
      used = chunk.copy(this.carry, this.carryFill, 0, Math.min(chunk.length, 5 - this.carryFill))
      this.carryFill += used
      if (this.carryFill < 5) return EMPTY
      const rec = Buffer.allocUnsafe(5 + this.checkHeader(this.carry, 0))
      this.carry.copy(rec, 0, 0, 5)
      this.carry = rec
    }
    const take = chunk.copy(this.carry, this.carryFill, used, Math.min(chunk.length, used + this.carry.length - this.carryFill))
    this.carryFill += take
    if (this.carryFill < this.carry.length) return EMPTY
    const rec = this.carry
    this.carry = EMPTY
    this.carryFill = 0
    this.onCiphertext(rec[0], rec.readUInt16BE(1), rec.subarray(5))
    return chunk.subarray(used + take)
  }

  private onCiphertext (type: number, version: number, fragment: Buffer): void {
    let plain = fragment
    if (this.readCipher !== null) {
      plain = this.readCipher.open(type, version, fragment)
      if (plain.length > MAX_PLAINTEXT) throw new TlsError(Alert.record_overflow, 'decrypted record over 2^14')
    }
    this.onRecord(type, plain)
  }

  private onRecord (type: number, data: Buffer): void {
    // CVE-2016-8610 hardening: records that carry nothing cost a peer 5 bytes and us a record's processing each.
    if (data.length === 0) {
      if (++this.emptyRecords > MAX_EMPTY_RECORDS) throw new TlsError(Alert.unexpected_message, `more than ${MAX_EMPTY_RECORDS} empty records in a row`)
    } else {
      this.emptyRecords = 0
      if (type !== ContentType.alert && this.connected) this.warningAlerts = 0
    }
    if (type !== ContentType.handshake && this.hsFill > 0) {
      // RFC 5246 section 6.2.1: handshake fragments may not be interleaved with other record types.
      throw new TlsError(Alert.unexpected_message, 'record interleaved with a fragmented handshake message')
    }
    switch (type) {
      case ContentType.handshake:
        if (data.length === 0) throw new TlsError(Alert.unexpected_message, 'empty handshake record') // section 6.2.1
        this.onHandshakeBytes(data)
        break
      case ContentType.change_cipher_spec:
        if (data.length !== 1 || data[0] !== 1) throw new TlsError(Alert.decode_error, 'bad ChangeCipherSpec')
        this.onChangeCipherSpec()
        break
      case ContentType.alert:
        this.onAlert(data)
        break
      case ContentType.application_data:
        if (!this.connected || this.readCipher === null) throw new TlsError(Alert.unexpected_message, 'application data before the handshake finished')
        if (data.length > 0) this.events.push({ type: 'data', data })
        break
    }
  }

  private onHandshakeBytes (data: Buffer): void {
    if (this.hsFill > 0) {
      data = this.appendHandshake(data)
      if (data.length === 0) return
    }
    // Whole messages lying in this record are handed on where they lie; a cut one is copied (appendHandshake).
    let pos = 0
    while (!this.dead && pos < data.length) {
      if (data.length - pos < 4) { this.appendHandshake(data.subarray(pos)); return }
      const len = this.checkHandshakeLength(data.readUIntBE(pos + 1, 3))
      if (data.length - pos < 4 + len) { this.appendHandshake(data.subarray(pos)); return }
      const raw = data.subarray(pos, pos + 4 + len)
      pos += 4 + len
      this.onHandshake({ type: raw[0], body: raw.subarray(4), raw })
    }
  }

  private checkHandshakeLength (len: number): number {
    if (len > this.maxHandshakeMessageSize) throw new TlsError(Alert.illegal_parameter, `handshake message of ${len} bytes exceeds maxHandshakeMessageSize`)
    return len
  }

  /**
   * Add `data` to the message being reassembled. Once it is complete it is handed on, and what followed it in
   * `data` is returned (to be read as whole messages where it lies); otherwise returns an empty buffer.
   */
  private appendHandshake (data: Buffer): Buffer {
    // bytes of `data` that belong to the pending message: up to its end once the header is known
    const total = this.hsFill >= 4 ? 4 + this.hsbuf.readUIntBE(1, 3) : -1
    let take = total < 0 ? Math.min(data.length, 4 - this.hsFill) : Math.min(data.length, total - this.hsFill)
    this.reserve(this.hsFill + take, total)
    this.hsFill += data.copy(this.hsbuf, this.hsFill, 0, take)
    if (total < 0 && this.hsFill === 4) {
      // the header just completed: check the length, then take the body bytes this record holds
      const len = this.checkHandshakeLength(this.hsbuf.readUIntBE(1, 3))
      const more = Math.min(data.length - take, len)
      this.reserve(4 + more, 4 + len)
      this.hsFill += data.copy(this.hsbuf, 4, take, take + more)
      take += more
    }
    if (this.hsFill < 4 || this.hsFill < 4 + this.hsbuf.readUIntBE(1, 3)) return EMPTY
    const raw = this.hsbuf.subarray(0, this.hsFill)
    this.hsbuf = EMPTY
    this.hsFill = 0
    this.onHandshake({ type: raw[0], body: raw.subarray(4), raw })
    return this.dead ? EMPTY : data.subarray(take)
  }

  /** Room for `need` bytes in hsbuf: doubled, never past `cap` (the message's full size) when that is known. */
  private reserve (need: number, cap: number): void {
    if (need <= this.hsbuf.length) return
    let size = Math.max(need, this.hsbuf.length * 2, 256)
    if (cap > 0) size = Math.max(need, Math.min(size, cap))
    const grown = Buffer.allocUnsafe(size)
    this.hsbuf.copy(grown, 0, 0, this.hsFill)
    this.hsbuf = grown
  }

  private onAlert (data: Buffer): void {
    if (data.length !== 2) throw new TlsError(Alert.decode_error, 'bad alert record')
    const [level, desc] = data
    if (desc === Alert.close_notify) {
      if (!this.closeSent) { this.closeSent = true; this.sendAlert(AlertLevel.warning, Alert.close_notify) }
      this.dead = true
      this.events.push({ type: 'close' })
      return
    }
    if (level === AlertLevel.warning && desc !== Alert.handshake_failure) {
      // CVE-2016-8610 ("SSL Death Alert"): warnings cost a peer 7 bytes each and are otherwise ignored; OpenSSL
      // aborts at the fifth in a row (MAX_WARN_ALERT_COUNT), and so do we.
      if (++this.warningAlerts > MAX_WARNING_ALERTS) throw new TlsError(Alert.unexpected_message, `more than ${MAX_WARNING_ALERTS} warning alerts`)
      this.onWarningAlert(desc)
      return
    }
    // RFC 5246 section 7.2.2: a fatal alert from the peer ends the connection; we send nothing back.
    this.dead = true
    this.events.push({ type: 'error', error: new TlsError(desc, `peer sent fatal alert ${alertName(desc)}`, 'FST_SPDY_TLS_PEER_ALERT') })
  }

  /** Warnings other than close_notify (e.g. no_renegotiation answering a client-side renegotiation) are ignored. */
  protected onWarningAlert (_desc: number): void {}

  protected sendRecord (type: number, data: Uint8Array): void {
    if (this.writeCipher !== null) {
      for (const part of this.writeCipher.seal(type, this.recordVersion, data)) this.out.push(part)
      return
    }
    const header = Buffer.allocUnsafe(5)
    header[0] = type
    header.writeUInt16BE(this.recordVersion, 1)
    header.writeUInt16BE(data.length, 3)
    this.out.push(header, Buffer.from(data))
  }

  protected sendHandshake (raw: Buffer): void {
    this.addTranscript(raw)
    for (let off = 0; off < raw.length; off += MAX_PLAINTEXT) this.sendRecord(ContentType.handshake, raw.subarray(off, off + MAX_PLAINTEXT))
  }

  protected sendChangeCipherSpec (state: RecordProtection): void {
    this.sendRecord(ContentType.change_cipher_spec, Buffer.from([1]))
    this.writeCipher = state
  }

  protected sendAlert (level: number, desc: number): void {
    this.sendRecord(ContentType.alert, Buffer.from([level, desc]))
  }

  /** Turn any failure into a fatal alert in outbound plus one error event; never rethrows. */
  protected fatal (err: unknown): void {
    if (this.dead) return
    const error = err instanceof TlsError
      ? err
      : new TlsError(Alert.internal_error, `internal error: ${err instanceof Error ? err.message : String(err)}`)
    try { this.sendAlert(AlertLevel.fatal, error.alert) } catch { /* a broken cipher state cannot stop the report */ }
    this.dead = true
    this._deadline = null
    this.events.push({ type: 'error', error })
  }

  /**
   * The handshake is finished. `ev` is null when it was already reported by openWritesEarly (False Start): the
   * caller then hears nothing more, unless the rest of the handshake fails.
   */
  protected handshakeDone (ev: TlsHandshakeEvent | null): void {
    this.connected = true
    this._deadline = null
    this.transcriptMsgs = []
    this.transcriptHash = null
    if (ev !== null) this.events.push(ev)
    this.flushPendingWrites()
  }

  /**
   * False Start (RFC 7918): report `ev` and let application data out under the write keys already set,
   * before the peer's Finished. Reading stays closed (application data before the peer's Finished is fatal), and
   * the deadline keeps running until handshakeDone.
   */
  protected openWritesEarly (ev: TlsHandshakeEvent): void {
    this.writesOpen = true
    this.events.push(ev)
    this.flushPendingWrites()
  }

  private flushPendingWrites (): void {
    const pending = this.pendingWrites
    this.pendingWrites = []
    for (const p of pending) this.write(p)
  }

  // ---- transcript ----

  protected addTranscript (raw: Buffer): void {
    if (this.transcriptHash !== null) for (const h of this.transcriptHash) h.update(raw)
    else this.transcriptMsgs.push(raw)
  }

  /**
   * Once suite and version are known the PRF's hash runs over the messages so far, then incrementally. TLS 1.0/1.1
   * Finished (RFC 2246 section 7.4.9) and the RFC 7627 session_hash there are MD5(messages) || SHA-1(messages).
   */
  protected startTranscriptHash (hash: PrfHash): void {
    const hs = hash === 'md5sha1' ? [crypto.createHash('md5'), crypto.createHash('sha1')] : [crypto.createHash(hash)]
    for (const m of this.transcriptMsgs) for (const h of hs) h.update(m)
    this.transcriptHash = hs
    this.transcriptMsgs = []
  }

  protected transcriptDigest (): Buffer {
    if (this.transcriptHash === null) throw new TlsError(Alert.internal_error, 'transcript hash not started')
    const hs = this.transcriptHash
    return hs.length === 1 ? hs[0].copy().digest() : Buffer.concat(hs.map((h) => h.copy().digest()))
  }

  protected setReadCipher (state: RecordProtection): void { this.readCipher = state }

  protected abstract onHandshake (msg: HandshakeMessage): void
  protected abstract onChangeCipherSpec (): void
}
