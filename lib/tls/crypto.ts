/**
 * Every primitive comes from node:crypto: PRF (RFC 5246 section 5), AEAD record protection (RFC 5288, RFC 7905),
 * ECDHE (RFC 8422, RFC 7748), signatures. Suites are described once, with per-suite constants precomputed.
 */
import * as crypto from 'node:crypto'
import { TlsError } from '../errors'
import { Alert, Group, SigScheme } from './constants'

export type Aead = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305'
export interface Suite {
  id: number
  /** OpenSSL name, reported in the handshake event (matches what `openssl s_client` prints). */
  name: string
  auth: 'rsa' | 'ecdsa'
  cipher: Aead
  keyLen: number
  /** Fixed IV bytes from the key block: the 4-byte GCM salt (RFC 5288 section 3) or 12-byte ChaCha IV (RFC 7905 section 2). */
  fixedIvLen: number
  /** Explicit nonce carried in each record: 8 for GCM, 0 for ChaCha20-Poly1305. */
  explicitNonceLen: number
  /** PRF hash (RFC 5246 section 5; RFC 5289 section 3 for the SHA-384 suites). */
  hash: 'sha256' | 'sha384'
}

/** Server preference order: AES-GCM first (hardware AES on servers), ChaCha20 for clients that ask only for it. */
export const SUITES: Suite[] = [
  { id: 0xc02f, name: 'ECDHE-RSA-AES128-GCM-SHA256', auth: 'rsa', cipher: 'aes-128-gcm', keyLen: 16, fixedIvLen: 4, explicitNonceLen: 8, hash: 'sha256' },
  { id: 0xc02b, name: 'ECDHE-ECDSA-AES128-GCM-SHA256', auth: 'ecdsa', cipher: 'aes-128-gcm', keyLen: 16, fixedIvLen: 4, explicitNonceLen: 8, hash: 'sha256' },
  { id: 0xc030, name: 'ECDHE-RSA-AES256-GCM-SHA384', auth: 'rsa', cipher: 'aes-256-gcm', keyLen: 32, fixedIvLen: 4, explicitNonceLen: 8, hash: 'sha384' },
  { id: 0xc02c, name: 'ECDHE-ECDSA-AES256-GCM-SHA384', auth: 'ecdsa', cipher: 'aes-256-gcm', keyLen: 32, fixedIvLen: 4, explicitNonceLen: 8, hash: 'sha384' },
  { id: 0xcca8, name: 'ECDHE-RSA-CHACHA20-POLY1305', auth: 'rsa', cipher: 'chacha20-poly1305', keyLen: 32, fixedIvLen: 12, explicitNonceLen: 0, hash: 'sha256' },
  { id: 0xcca9, name: 'ECDHE-ECDSA-CHACHA20-POLY1305', auth: 'ecdsa', cipher: 'chacha20-poly1305', keyLen: 32, fixedIvLen: 12, explicitNonceLen: 0, hash: 'sha256' }
]
export const suiteById = new Map(SUITES.map((s) => [s.id, s]))

/** P_hash of RFC 5246 section 5: HMAC chained on A(i), output truncated to `length`. */
export const prf = (hash: string, secret: Uint8Array, label: string, seed: Uint8Array, length: number): Buffer => {
  const labelSeed = Buffer.concat([Buffer.from(label, 'latin1'), seed])
  const out: Buffer[] = []
  let total = 0
  let a: Buffer = labelSeed
  while (total < length) {
    a = crypto.createHmac(hash, secret).update(a).digest()
    const block = crypto.createHmac(hash, secret).update(a).update(labelSeed).digest()
    out.push(block)
    total += block.length
  }
  return Buffer.concat(out, total).subarray(0, length)
}

/**
 * One direction of record protection: AEAD key, fixed IV and the 64-bit sequence number (RFC 5246 section 6.1).
 * The sequence number is a JS number: 2^53 records of 16 KB is far beyond any connection's life, and numbers keep
 * BigInt arithmetic off the per-record path.
 */
export class AeadState {
  seq = 0
  private readonly nonce: Buffer
  private readonly aad = Buffer.alloc(13)
  private readonly gcm: boolean
  private readonly ivHi: number
  private readonly ivLo: number
  /**
   * The key as a KeyObject, made once: createCipheriv runs once per record (GCM and ChaCha20-Poly1305 take a fresh
   * nonce per record and node:crypto cannot re-key an existing cipher), and a KeyObject spares it re-importing
   * raw key bytes each time (bench/tls.ts profile: cipher setup is a third of the per-record cost).
   */
  private readonly key: crypto.KeyObject
  constructor (readonly suite: Suite, key: Buffer, iv: Buffer) {
    this.key = crypto.createSecretKey(key)
    this.nonce = Buffer.alloc(12)
    iv.copy(this.nonce, 0)
    this.gcm = suite.explicitNonceLen > 0
    this.ivHi = this.gcm ? 0 : iv.readUInt32BE(4)
    this.ivLo = this.gcm ? 0 : iv.readUInt32BE(8)
  }

  /** Write the 64-bit sequence number big-endian at `off` (optionally XORed with the IV's last 8 bytes). */
  private static put64 (b: Buffer, off: number, seq: number, xhi: number, xlo: number): void {
    const hi = Math.floor(seq / 0x100000000)
    b.writeUInt32BE(((hi ^ xhi) >>> 0), off)
    b.writeUInt32BE((((seq >>> 0) ^ xlo) >>> 0), off + 4)
  }

  /** Nonce for this record: salt||explicit (GCM, explicit = seq, RFC 5288 section 3) or IV XOR padded seq (RFC 7905 section 2). */
  private nonceFor (seq: number): Buffer {
    AeadState.put64(this.nonce, 4, seq, this.ivHi, this.ivLo)
    return this.nonce
  }

  /** additional_data = seq_num + type + version + length (RFC 5246 section 6.2.3.3). */
  private aadFor (seq: number, type: number, version: number, length: number): Buffer {
    const a = this.aad
    AeadState.put64(a, 0, seq, 0, 0)
    a[8] = type
    a[9] = version >> 8
    a[10] = version & 0xff
    a[11] = length >> 8
    a[12] = length & 0xff
    return a
  }

  /**
   * Protect one record. Returns [header, ciphertext, tag]: the 5-byte record header (RFC 5246 section 6.2) with the
   * explicit nonce appended for GCM, so the caller writes three buffers and nothing is copied.
   */
  seal (type: number, version: number, plaintext: Uint8Array): Buffer[] {
    const seq = this.seq++
    const nonce = this.nonceFor(seq)
    const c = crypto.createCipheriv(this.suite.cipher, this.key, nonce, { authTagLength: 16 } as crypto.CipherGCMOptions) as crypto.CipherGCM
    c.setAAD(this.aadFor(seq, type, version, plaintext.length))
    const body = c.update(plaintext)
    c.final()
    const tag = c.getAuthTag()
    const explicit = this.suite.explicitNonceLen
    const header = Buffer.allocUnsafe(5 + explicit)
    header[0] = type
    header[1] = version >> 8
    header[2] = version & 0xff
    header.writeUInt16BE(explicit + body.length + 16, 3)
    if (explicit > 0) AeadState.put64(header, 5, seq, 0, 0)
    return [header, body, tag]
  }

  open (type: number, version: number, fragment: Buffer): Buffer {
    const overhead = this.suite.explicitNonceLen + 16
    if (fragment.length < overhead) throw new TlsError(Alert.bad_record_mac, 'record shorter than AEAD overhead')
    const seq = this.seq++
    let nonce: Buffer
    if (this.gcm) {
      nonce = this.nonce
      fragment.copy(nonce, 4, 0, 8)
    } else {
      nonce = this.nonceFor(seq)
    }
    const ctLen = fragment.length - overhead
    const d = crypto.createDecipheriv(this.suite.cipher, this.key, nonce, { authTagLength: 16 } as crypto.CipherGCMOptions) as crypto.DecipherGCM
    d.setAAD(this.aadFor(seq, type, version, ctLen))
    d.setAuthTag(fragment.subarray(fragment.length - 16))
    const pt = d.update(fragment.subarray(this.suite.explicitNonceLen, fragment.length - 16))
    try {
      d.final()
    } catch {
      throw new TlsError(Alert.bad_record_mac, 'record authentication failed')
    }
    return pt
  }
}

/** Key block split for AEAD suites (RFC 5246 section 6.3; no MAC keys for AEAD, RFC 5288 section 3). */
export const deriveKeys = (suite: Suite, master: Buffer, clientRandom: Buffer, serverRandom: Buffer): { client: AeadState, server: AeadState } => {
  const k = suite.keyLen
  const iv = suite.fixedIvLen
  const block = prf(suite.hash, master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 2 * k + 2 * iv)
  return {
    client: new AeadState(suite, block.subarray(0, k), block.subarray(2 * k, 2 * k + iv)),
    server: new AeadState(suite, block.subarray(k, 2 * k), block.subarray(2 * k + iv, 2 * k + 2 * iv))
  }
}

// ---- ECDHE (RFC 8422 section 5.4, RFC 7748 for x25519) ----

/** An ephemeral key pair on one named group; `pub` is the wire form (uncompressed point or 32-byte u-coordinate). */
export interface Ephemeral { group: number, pub: Buffer, secret: (peer: Buffer) => Buffer }

/**
 * x25519 keys cross the KeyObject boundary as JWK (RFC 8037 section 2: `x` is the raw 32-byte u-coordinate of
 * RFC 7748 section 5), not as DER SubjectPublicKeyInfo: Node maps JWK straight onto OpenSSL's raw-key calls,
 * while DER goes through OpenSSL 3's generic encoder/decoder lookup, which cost about 70 us each way per handshake
 * (bench/tls.ts profile: DER export + import were 13% of full-handshake server CPU, more than ECDHE itself).
 */
export const ephemeral = (group: number): Ephemeral => {
  if (group === Group.x25519) {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('x25519')
    const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url')
    if (pub.length !== 32) throw new TlsError(Alert.internal_error, 'x25519 public key export failed')
    return {
      group,
      pub,
      secret: (peer) => {
        if (peer.length !== 32) throw new TlsError(Alert.illegal_parameter, 'x25519 key share is not 32 bytes')
        const peerKey = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: peer.toString('base64url') }, format: 'jwk' })
        // RFC 7748 section 6.1: an all-zero result means a small-order point; RFC 8422 section 5.11 says abort.
        // OpenSSL 3 already refuses to derive it (it throws), the explicit check covers a library that does not.
        let s: Buffer
        try {
          s = crypto.diffieHellman({ privateKey, publicKey: peerKey })
        } catch {
          throw new TlsError(Alert.illegal_parameter, 'x25519 key share has small order')
        }
        if (s.every((b) => b === 0)) throw new TlsError(Alert.illegal_parameter, 'x25519 shared secret is zero')
        return s
      }
    }
  }
  const curve = group === Group.secp256r1 ? 'prime256v1' : group === Group.secp384r1 ? 'secp384r1' : null
  if (curve === null) throw new TlsError(Alert.illegal_parameter, `unsupported group ${group}`)
  const ecdh = crypto.createECDH(curve)
  const pub = ecdh.generateKeys()
  return {
    group,
    pub,
    secret: (peer) => {
      // RFC 8422 section 5.1.2: only the uncompressed form (0x04) is allowed.
      if (peer.length !== pub.length || peer[0] !== 4) throw new TlsError(Alert.illegal_parameter, 'bad ECDH point')
      try {
        return ecdh.computeSecret(peer)
      } catch {
        throw new TlsError(Alert.illegal_parameter, 'ECDH point not on curve')
      }
    }
  }
}

// ---- Signatures (RFC 5246 section 4.7, RFC 8446 section 4.2.3 for rsa_pss_rsae in 1.2) ----

const schemeHash = (scheme: number): string => {
  switch (scheme) {
    case SigScheme.rsa_pkcs1_sha1: case SigScheme.ecdsa_sha1: return 'sha1'
    case SigScheme.rsa_pkcs1_sha256: case SigScheme.ecdsa_secp256r1_sha256: case SigScheme.rsa_pss_rsae_sha256: return 'sha256'
    case SigScheme.rsa_pkcs1_sha384: case SigScheme.ecdsa_secp384r1_sha384: case SigScheme.rsa_pss_rsae_sha384: return 'sha384'
    default: throw new TlsError(Alert.illegal_parameter, `unsupported signature scheme 0x${scheme.toString(16)}`)
  }
}
const isPss = (scheme: number): boolean => scheme === SigScheme.rsa_pss_rsae_sha256 || scheme === SigScheme.rsa_pss_rsae_sha384
export const schemeIsRsa = (scheme: number): boolean => (scheme & 0xff) === 0x01 || isPss(scheme)
export const schemeIsEcdsa = (scheme: number): boolean => (scheme & 0xff) === 0x03

export const sign = (scheme: number, key: crypto.KeyObject, data: Buffer): Buffer => {
  const hash = schemeHash(scheme)
  if (isPss(scheme)) {
    // RFC 8446 section 4.2.3: salt length equals the digest length.
    return crypto.sign(hash, data, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: hash === 'sha256' ? 32 : 48 })
  }
  return crypto.sign(hash, data, key)
}

export const verify = (scheme: number, key: crypto.KeyObject, data: Buffer, signature: Buffer): boolean => {
  const hash = schemeHash(scheme)
  try {
    if (isPss(scheme)) {
      return crypto.verify(hash, data, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: hash === 'sha256' ? 32 : 48 }, signature)
    }
    return crypto.verify(hash, data, key, signature)
  } catch {
    return false
  }
}
