/**
 * Every primitive comes from node:crypto: PRF (RFC 5246 section 5), AEAD record protection (RFC 5288, RFC 7905),
 * ECDHE (RFC 8422, RFC 7748), signatures. Suites are described once, with per-suite constants precomputed.
 */
import * as crypto from 'node:crypto'
import { TlsError } from '../errors'
import { Alert, Group, SigScheme, Version } from './constants'
import { CbcState } from './cbc'
import { writeSeqHeader } from './wire'

export type Aead = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305'
export type Cbc = 'aes-128-cbc' | 'aes-256-cbc'
export interface Suite {
  id: number
  /** OpenSSL name, reported in the handshake event (matches what `openssl s_client` prints). */
  name: string
  auth: 'rsa' | 'ecdsa'
  /** 'ecdhe' (RFC 8422 section 2.1/2.2) or 'rsa': the client encrypts the premaster to the certificate (RFC 5246 section 7.4.7.1). */
  kx: 'ecdhe' | 'rsa'
  cipher: Aead | Cbc
  /** Only offered/accepted with `legacy` (the CBC-SHA suites of RFC 5246 appendix A.5 and RFC 8422 section 6). */
  legacy: boolean
  keyLen: number
  /** Fixed IV bytes from the key block: the 4-byte GCM salt (RFC 5288 section 3) or 12-byte ChaCha IV (RFC 7905 section 2). */
  fixedIvLen: number
  /** Explicit nonce carried in each record: 8 for GCM, 0 for ChaCha20-Poly1305. */
  explicitNonceLen: number
  /**
   * PRF hash in TLS 1.2 (RFC 5246 section 5; RFC 5289 section 3 for the SHA-384 suites). The CBC-SHA suites use
   * SHA-256 in 1.2 like every RFC 5246 suite; TLS 1.0/1.1 always use the MD5/SHA-1 PRF (see prfHashFor).
   */
  hash: 'sha256' | 'sha384'
}

/** A record protection state for one direction: AeadState (RFC 5246 section 6.2.3.3) or CbcState (6.2.3.2). */
export interface RecordProtection {
  seq: number
  /** The record(s) as buffers to write in order: header first, nothing copied into one buffer. */
  seal: (type: number, version: number, plaintext: Uint8Array) => Buffer[]
  open: (type: number, version: number, fragment: Buffer) => Buffer
}

/** The PRF (and Finished/EMS transcript hash) of a connection: 'md5sha1' is the RFC 2246 section 5 construction. */
export type PrfHash = 'sha256' | 'sha384' | 'md5sha1'
export const prfHashFor = (suite: Suite, version: number): PrfHash => version < Version.TLS12 ? 'md5sha1' : suite.hash

/** Server preference order: AES-GCM first (hardware AES on servers), ChaCha20 for clients that ask only for it. */
export const SUITES: Suite[] = [
  { id: 0xc02f, name: 'ECDHE-RSA-AES128-GCM-SHA256', auth: 'rsa', kx: 'ecdhe', legacy: false, cipher: 'aes-128-gcm', keyLen: 16, fixedIvLen: 4, explicitNonceLen: 8, hash: 'sha256' },
  { id: 0xc02b, name: 'ECDHE-ECDSA-AES128-GCM-SHA256', auth: 'ecdsa', kx: 'ecdhe', legacy: false, cipher: 'aes-128-gcm', keyLen: 16, fixedIvLen: 4, explicitNonceLen: 8, hash: 'sha256' },
  { id: 0xc030, name: 'ECDHE-RSA-AES256-GCM-SHA384', auth: 'rsa', kx: 'ecdhe', legacy: false, cipher: 'aes-256-gcm', keyLen: 32, fixedIvLen: 4, explicitNonceLen: 8, hash: 'sha384' },
  { id: 0xc02c, name: 'ECDHE-ECDSA-AES256-GCM-SHA384', auth: 'ecdsa', kx: 'ecdhe', legacy: false, cipher: 'aes-256-gcm', keyLen: 32, fixedIvLen: 4, explicitNonceLen: 8, hash: 'sha384' },
  { id: 0xcca8, name: 'ECDHE-RSA-CHACHA20-POLY1305', auth: 'rsa', kx: 'ecdhe', legacy: false, cipher: 'chacha20-poly1305', keyLen: 32, fixedIvLen: 12, explicitNonceLen: 0, hash: 'sha256' },
  { id: 0xcca9, name: 'ECDHE-ECDSA-CHACHA20-POLY1305', auth: 'ecdsa', kx: 'ecdhe', legacy: false, cipher: 'chacha20-poly1305', keyLen: 32, fixedIvLen: 12, explicitNonceLen: 0, hash: 'sha256' }
]

/**
 * `legacy` suites, after every AEAD suite in preference: ECDHE first (forward secrecy), RSA key exchange last.
 * The MAC is HMAC-SHA1 (20-byte key and tag), the cipher AES-CBC with 16-byte blocks; no fixed IV in the key block
 * except in TLS 1.0, where CbcState takes it (RFC 2246 section 6.3).
 */
export const LEGACY_SUITES: Suite[] = [
  { id: 0xc013, name: 'ECDHE-RSA-AES128-SHA', auth: 'rsa', kx: 'ecdhe', legacy: true, cipher: 'aes-128-cbc', keyLen: 16, fixedIvLen: 0, explicitNonceLen: 0, hash: 'sha256' },
  { id: 0xc009, name: 'ECDHE-ECDSA-AES128-SHA', auth: 'ecdsa', kx: 'ecdhe', legacy: true, cipher: 'aes-128-cbc', keyLen: 16, fixedIvLen: 0, explicitNonceLen: 0, hash: 'sha256' },
  { id: 0xc014, name: 'ECDHE-RSA-AES256-SHA', auth: 'rsa', kx: 'ecdhe', legacy: true, cipher: 'aes-256-cbc', keyLen: 32, fixedIvLen: 0, explicitNonceLen: 0, hash: 'sha256' },
  { id: 0xc00a, name: 'ECDHE-ECDSA-AES256-SHA', auth: 'ecdsa', kx: 'ecdhe', legacy: true, cipher: 'aes-256-cbc', keyLen: 32, fixedIvLen: 0, explicitNonceLen: 0, hash: 'sha256' },
  { id: 0x002f, name: 'AES128-SHA', auth: 'rsa', kx: 'rsa', legacy: true, cipher: 'aes-128-cbc', keyLen: 16, fixedIvLen: 0, explicitNonceLen: 0, hash: 'sha256' },
  { id: 0x0035, name: 'AES256-SHA', auth: 'rsa', kx: 'rsa', legacy: true, cipher: 'aes-256-cbc', keyLen: 32, fixedIvLen: 0, explicitNonceLen: 0, hash: 'sha256' }
]
export const ALL_SUITES: Suite[] = [...SUITES, ...LEGACY_SUITES]
export const suiteById = new Map(ALL_SUITES.map((s) => [s.id, s]))
export const isCbc = (suite: Suite): boolean => suite.cipher === 'aes-128-cbc' || suite.cipher === 'aes-256-cbc'

/**
 * The PRF of RFC 5246 section 5 (P_hash: HMAC chained on A(i), truncated to `length`), or with 'md5sha1' the TLS
 * 1.0/1.1 PRF of RFC 2246 section 5: the secret split in two halves (sharing the middle byte when its length is
 * odd), P_MD5 on the first XOR P_SHA1 on the second.
 */
export const prf = (hash: string, secret: Uint8Array, label: string, seed: Uint8Array, length: number): Buffer => {
  const labelSeed = Buffer.concat([Buffer.from(label, 'latin1'), seed])
  if (hash === 'md5sha1') {
    const half = Math.ceil(secret.length / 2)
    const md5 = pHash('md5', secret.subarray(0, half), labelSeed, length)
    const sha1 = pHash('sha1', secret.subarray(secret.length - half), labelSeed, length)
    for (let i = 0; i < length; i++) md5[i] ^= sha1[i]
    return md5
  }
  return pHash(hash, secret, labelSeed, length)
}

const pHash = (hash: string, secret: Uint8Array, labelSeed: Buffer, length: number): Buffer => {
  // Its own ArrayBuffer, never a slice of Node's shared 8 KiB pool (what Buffer.concat returns under 4 KiB): a
  // master secret lives in the session cache for hours and would pin a whole pool (issue 12: 10,000 cached
  // sessions held 57 MB).
  const out = Buffer.allocUnsafeSlow(length)
  let filled = 0
  let a: Buffer = labelSeed
  while (filled < length) {
    a = crypto.createHmac(hash, secret).update(a).digest()
    const block = crypto.createHmac(hash, secret).update(a).update(labelSeed).digest()
    filled += block.copy(out, filled)
  }
  return out
}

/**
 * One direction of record protection: AEAD key, fixed IV and the 64-bit sequence number (RFC 5246 section 6.1).
 * The sequence number is a JS number: 2^53 records of 16 KB is far beyond any connection's life, and numbers keep
 * BigInt arithmetic off the per-record path.
 */
export class AeadState implements RecordProtection {
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
    return writeSeqHeader(this.aad, seq, type, version, length)
  }

  /** Record header (RFC 5246 section 6.2) at `off`, followed for GCM by the explicit nonce = seq (RFC 5288 section 3). */
  private writeHeader (out: Buffer, off: number, type: number, version: number, seq: number, plainLen: number): void {
    const explicit = this.suite.explicitNonceLen
    out[off] = type
    out[off + 1] = version >> 8
    out[off + 2] = version & 0xff
    out.writeUInt16BE(explicit + plainLen + 16, off + 3)
    if (explicit > 0) AeadState.put64(out, off + 5, seq, 0, 0)
  }

  /**
   * Protect one record: [header, ciphertext, tag], the 5-byte record header (RFC 5246 section 6.2) with GCM's
   * explicit nonce appended, so nothing is copied to join them.
   */
  seal (type: number, version: number, plaintext: Uint8Array): Buffer[] {
    const seq = this.seq++
    const nonce = this.nonceFor(seq)
    const c = crypto.createCipheriv(this.suite.cipher as Aead, this.key, nonce, { authTagLength: 16 } as crypto.CipherGCMOptions) as crypto.CipherGCM
    c.setAAD(this.aadFor(seq, type, version, plaintext.length))
    const body = c.update(plaintext)
    c.final()
    const tag = c.getAuthTag()
    const header = Buffer.allocUnsafe(5 + this.suite.explicitNonceLen)
    this.writeHeader(header, 0, type, version, seq, body.length)
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
    const aad = this.aadFor(seq, type, version, ctLen)
    const d = crypto.createDecipheriv(this.suite.cipher as Aead, this.key, nonce, { authTagLength: 16 } as crypto.CipherGCMOptions) as crypto.DecipherGCM
    d.setAAD(aad)
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

export interface KeyPair { client: RecordProtection, server: RecordProtection }

/**
 * Key block split (RFC 5246 section 6.3). AEAD suites have no MAC keys (RFC 5288 section 3). CBC suites take
 * client/server MAC keys (20 bytes, HMAC-SHA1), then the cipher keys, then in TLS 1.0 only the two IVs that start
 * the CBC chains (RFC 2246 section 6.3; TLS 1.1 dropped them for per-record explicit IVs, RFC 4346 section 6.3).
 */
export const deriveKeys = (suite: Suite, version: number, master: Buffer, clientRandom: Buffer, serverRandom: Buffer): KeyPair => {
  const k = suite.keyLen
  const seed = Buffer.concat([serverRandom, clientRandom])
  const ph = prfHashFor(suite, version)
  if (isCbc(suite)) {
    const m = 20
    const ivLen = version === Version.TLS10 ? 16 : 0
    const b = prf(ph, master, 'key expansion', seed, 2 * m + 2 * k + 2 * ivLen)
    const ivs = 2 * m + 2 * k
    return {
      client: new CbcState(suite.cipher as Cbc, b.subarray(0, m), b.subarray(2 * m, 2 * m + k), ivLen > 0 ? b.subarray(ivs, ivs + 16) : null),
      server: new CbcState(suite.cipher as Cbc, b.subarray(m, 2 * m), b.subarray(2 * m + k, 2 * m + 2 * k), ivLen > 0 ? b.subarray(ivs + 16, ivs + 32) : null)
    }
  }
  const iv = suite.fixedIvLen
  const block = prf(ph, master, 'key expansion', seed, 2 * k + 2 * iv)
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

// ---- TLS 1.0/1.1 ServerKeyExchange signatures (RFC 4346 section 7.4.3, RFC 4492 section 5.4) ----

/**
 * Before TLS 1.2 the signature carries no algorithm field. RSA signs the 36-byte MD5(data) || SHA-1(data) with
 * PKCS#1 v1.5 block type 1 and no DigestInfo (RFC 4346 section 4.7, digitally-signed), which is privateEncrypt with
 * PKCS#1 padding; ECDSA signs SHA-1(data) (RFC 4492 section 5.4).
 */
export const signLegacy = (key: crypto.KeyObject, data: Buffer): Buffer => {
  if (key.asymmetricKeyType === 'rsa') {
    const digest = Buffer.concat([crypto.createHash('md5').update(data).digest(), crypto.createHash('sha1').update(data).digest()])
    return crypto.privateEncrypt({ key, padding: crypto.constants.RSA_PKCS1_PADDING }, digest)
  }
  return crypto.sign('sha1', data, key)
}

export const verifyLegacy = (key: crypto.KeyObject, data: Buffer, signature: Buffer): boolean => {
  try {
    if (key.asymmetricKeyType === 'rsa') {
      const digest = Buffer.concat([crypto.createHash('md5').update(data).digest(), crypto.createHash('sha1').update(data).digest()])
      const got = crypto.publicDecrypt({ key, padding: crypto.constants.RSA_PKCS1_PADDING }, signature)
      return got.length === digest.length && crypto.timingSafeEqual(got, digest)
    }
    return crypto.verify('sha1', data, key, signature)
  } catch {
    return false
  }
}

// ---- RSA key exchange (RFC 5246 section 7.4.7.1) ----

/**
 * Decrypt an EncryptedPreMasterSecret without telling the client (by alert, by exception, or by a branch we can
 * avoid) whether PKCS#1 v1.5 padding or the length was wrong: Bleichenbacher's attack (CRYPTO '98) and its
 * descendants (ROBOT 2017, Marvin 2023) only need that one bit. As section 7.4.7.1 prescribes, a random 46-byte R
 * is drawn first and silently replaces the secret on any failure; the handshake then fails at Finished, the same
 * way it does for a client that encrypted a wrong secret. The two version bytes always come from the ClientHello
 * (section 7.4.7.1, the "version check" variant that cannot be turned into an oracle).
 *
 * The RSA operation is done raw (RSA_NO_PADDING) and the padding checked here with masks over every byte, since
 * node:crypto's PKCS#1 v1.5 decryption throws on bad padding (and Node 20 refuses it altogether, CVE-2023-46809).
 * JS cannot promise constant time; what is avoided is any early exit or data-dependent branch in our code.
 */
export const rsaPremaster = (key: crypto.KeyObject, encrypted: Buffer, clientVersion: number): Buffer => {
  const random = crypto.randomBytes(48)
  const k = Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 2048) / 8)
  let m: Buffer
  let bad = encrypted.length === k ? 0 : 1
  try {
    // Same-length input keeps the RSA operation running for a wrong-length ciphertext too; c >= n throws.
    m = crypto.privateDecrypt({ key, padding: crypto.constants.RSA_NO_PADDING }, bad === 0 ? encrypted : Buffer.alloc(k, 0))
  } catch {
    m = Buffer.alloc(k)
    bad = 1
  }
  if (m.length !== k) { m = Buffer.alloc(k); bad = 1 }
  // EM = 0x00 || 0x02 || PS (k-51 nonzero bytes, >= 8) || 0x00 || M (48 bytes): PKCS#1 v1.5 section 7.2.2 with
  // the message length fixed at 48 (section 7.4.7.1: any other length counts as a failure).
  bad |= m[0] | (m[1] ^ 2)
  const sep = k - 49
  for (let i = 2; i < sep; i++) bad |= ((m[i] - 1) >> 31) & 1 // a zero byte inside PS
  bad |= m[sep]
  // bad is 0 or a positive byte-sized value; mask is 0xff when bad is 0, else 0x00.
  const mask = (((bad | -bad) >> 31) & 0xff) ^ 0xff
  const out = Buffer.allocUnsafe(48)
  out[0] = clientVersion >> 8
  out[1] = clientVersion & 0xff
  for (let i = 2; i < 48; i++) out[i] = (m[sep + 1 + i] & mask) | (random[i] & ~mask & 0xff)
  return out
}
