/**
 * MAC-then-encrypt record protection of the `legacy` CBC suites: HMAC-SHA1 over seq_num + header + fragment, then
 * AES-CBC over fragment + MAC + padding (RFC 5246 section 6.2.3.2; RFC 2246 / RFC 4346 section 6.2.3.2 for 1.0 and
 * 1.1). TLS 1.0 chains the IV from the previous record's last ciphertext block; 1.1 and 1.2 send a fresh random IV
 * in front of each record.
 */
import * as crypto from 'node:crypto'
import { TlsError } from '../errors'
import { Alert, ContentType } from './constants'
import { writeSeqHeader } from './wire'

const BLOCK = 16
const MAC_LEN = 20
/** Smallest valid ciphertext: MAC + the padding_length byte, rounded up to whole blocks (RFC 5246 section 6.2.3.2). */
const MIN_CT = Math.ceil((MAC_LEN + 1) / BLOCK) * BLOCK
/** Throwaway input for the equal-work MAC in open(): at most 256 padding bytes are ever fed. */
const DUMMY = Buffer.alloc(256 + 64)

export class CbcState {
  seq = 0
  private readonly key: crypto.KeyObject
  private readonly macKey: crypto.KeyObject
  private readonly header = Buffer.alloc(13)
  /** TLS 1.0: the chained IV (last ciphertext block seen in this direction); null = explicit per-record IV. */
  private iv: Buffer | null

  constructor (private readonly cipher: 'aes-128-cbc' | 'aes-256-cbc', macKey: Buffer, key: Buffer, iv: Buffer | null) {
    this.key = crypto.createSecretKey(key)
    this.macKey = crypto.createSecretKey(macKey)
    this.iv = iv === null ? null : Buffer.from(iv)
  }

  /** HMAC input header: seq_num(8) + type + version + length (RFC 5246 section 6.2.3.1). */
  private macHeader (seq: number, type: number, version: number, length: number): Buffer {
    return writeSeqHeader(this.header, seq, type, version, length)
  }

  seal (type: number, version: number, plaintext: Uint8Array): Buffer[] {
    // BEAST (Duong and Rizzo 2011) needs the attacker to choose the first block encrypted under a chained IV it has
    // already seen. With 1/n-1 record splitting every application-data record starts with a 1-byte record whose
    // block mixes in a MAC keyed by a secret, so the next record's IV is unpredictable to the attacker. Same split
    // as NSS and OpenSSL's empty-fragment countermeasure, but 1 byte since some clients choke on empty records.
    if (this.iv !== null && type === ContentType.application_data && plaintext.length > 1) {
      return [...this.sealOne(type, version, plaintext.subarray(0, 1)), ...this.sealOne(type, version, plaintext.subarray(1))]
    }
    return this.sealOne(type, version, plaintext)
  }

  private sealOne (type: number, version: number, plaintext: Uint8Array): Buffer[] {
    const seq = this.seq++
    const mac = crypto.createHmac('sha1', this.macKey).update(this.macHeader(seq, type, version, plaintext.length)).update(plaintext).digest()
    // padding: padLen+1 bytes each equal to padLen, the total a multiple of the block (section 6.2.3.2); minimal.
    const padLen = (BLOCK - ((plaintext.length + MAC_LEN + 1) % BLOCK)) % BLOCK
    const body = Buffer.allocUnsafe(plaintext.length + MAC_LEN + padLen + 1)
    body.set(plaintext, 0)
    mac.copy(body, plaintext.length)
    body.fill(padLen, plaintext.length + MAC_LEN)
    const explicit = this.iv === null
    const iv = this.iv ?? crypto.randomBytes(BLOCK)
    const c = crypto.createCipheriv(this.cipher, this.key, iv)
    c.setAutoPadding(false)
    const ct = c.update(body)
    c.final()
    if (!explicit) this.iv = Buffer.from(ct.subarray(ct.length - BLOCK))
    const header = Buffer.allocUnsafe(5)
    header[0] = type
    header[1] = version >> 8
    header[2] = version & 0xff
    header.writeUInt16BE((explicit ? BLOCK : 0) + ct.length, 3)
    return explicit ? [header, iv, ct] : [header, ct]
  }

  open (type: number, version: number, fragment: Buffer): Buffer {
    const ivLen = this.iv === null ? BLOCK : 0
    const ctLen = fragment.length - ivLen
    // The length is on the wire for anyone to see, so refusing a malformed one at once tells an attacker nothing
    // new; it is still bad_record_mac, the one alert every CBC failure gets (RFC 5246 section 7.2.2).
    if (ctLen < MIN_CT || ctLen % BLOCK !== 0) throw new TlsError(Alert.bad_record_mac, 'record MAC or padding check failed')
    const iv = this.iv ?? fragment.subarray(0, BLOCK)
    const ct = fragment.subarray(ivLen)
    const d = crypto.createDecipheriv(this.cipher, this.key, iv)
    d.setAutoPadding(false)
    const pt = d.update(ct)
    d.final()
    if (this.iv !== null) this.iv = Buffer.from(ct.subarray(ct.length - BLOCK))
    const seq = this.seq++
    const n = pt.length

    // Padding and MAC are both checked before either result is looked at, and a failure of either is the same
    // bad_record_mac from the same place (RFC 5246 section 6.2.3.2: a distinguishable padding error is the
    // Vaudenay 2002 / Canvel 2003 padding oracle). The padding check reads the last min(256, n) bytes whatever
    // padLen says, selecting with masks rather than branches.
    const padLen = pt[n - 1]
    let bad = ((n - (padLen + 1 + MAC_LEN)) >> 31) & 1 // 1 when padding + MAC do not fit
    const span = Math.min(256, n)
    let diff = 0
    for (let i = 1; i <= span; i++) {
      const inPad = -(((i - padLen - 2) >> 31) & 1) // all ones for the padLen+1 last bytes
      diff |= inPad & (pt[n - i] ^ padLen)
    }
    bad |= ((diff | -diff) >>> 31)
    // With bad padding the MAC is taken as if there were no padding (padLen 0), so the MAC is always computed and
    // over a plaintext of almost the same length (the approach of RFC 5246 section 6.2.3.2's implementation note).
    const effPad = padLen * (1 - bad)
    const contentLen = n - MAC_LEN - effPad - 1
    const expected = crypto.createHmac('sha1', this.macKey).update(this.macHeader(seq, type, version, contentLen)).update(pt.subarray(0, contentLen)).digest()
    // Lucky 13 (AlFardan and Paterson 2013): the MAC's timing leaks how many SHA-1 blocks it hashed, i.e. padLen.
    // Feeding the bytes the padding took away into a throwaway SHA-1 makes the compression-function work about
    // equal to the maximum-length plaintext's. This is the OpenSSL/NSS fix in spirit only: node:crypto call
    // overheads and the JS engine are not constant-time, so this narrows the signal rather than removing it.
    crypto.createHash('sha1').update(DUMMY.subarray(0, effPad + 1)).digest()
    const received = pt.subarray(contentLen, contentLen + MAC_LEN)
    const macBad = crypto.timingSafeEqual(expected, received) ? 0 : 1
    if ((bad | macBad) !== 0) throw new TlsError(Alert.bad_record_mac, 'record MAC or padding check failed')
    return pt.subarray(0, contentLen)
  }
}
