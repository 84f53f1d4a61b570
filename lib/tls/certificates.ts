/**
 * Certificates: node-forge splits and reads PEM chains and builds X.509 structures; node:crypto holds every key
 * and does every signature. A TlsCertificate is parsed once and shared by every connection (hot path: nothing is
 * re-parsed per handshake).
 */
import * as crypto from 'node:crypto'
import forge from 'node-forge'
import { TlsError } from '../errors'
import { Alert } from './constants'

export interface TlsCertificate {
  /** DER certificates, leaf first, as sent in the Certificate message (RFC 5246 section 7.4.2). */
  chain: Buffer[]
  key: crypto.KeyObject
  keyType: 'rsa' | 'ec'
  /** For EC keys: the named curve of the key ('prime256v1' | 'secp384r1'), which decides the ECDSA scheme. */
  curve: string | null
  /** DNS names the leaf is valid for (subjectAltName dNSName, else the CN), lower-case, may start with '*.'. */
  names: string[]
  /** The pre-encoded Certificate handshake body, built once. */
  readonly message: Buffer
}

const pemBlocks = (pem: string, wanted: (type: string) => boolean): Array<{ type: string, der: Buffer }> =>
  forge.pem.decode(pem).filter((b) => wanted(b.type)).map((b) => ({ type: b.type, der: Buffer.from(b.body, 'binary') }))

const u24 = (n: number): Buffer => { const b = Buffer.allocUnsafe(3); b.writeUIntBE(n, 0, 3); return b }
const certificateMessageBody = (chain: Buffer[]): Buffer => {
  const list = Buffer.concat(chain.flatMap((c) => [u24(c.length), c]))
  return Buffer.concat([u24(list.length), list])
}

const namesOf = (leaf: crypto.X509Certificate): string[] => {
  const san = leaf.subjectAltName
  const dns = san === undefined ? [] : san.split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4).toLowerCase())
  if (dns.length > 0) return dns
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)
  return cn === null ? [] : [cn[1].toLowerCase()]
}

/** Load a PEM chain (leaf first) and its PEM key (PKCS#1 "RSA PRIVATE KEY", PKCS#8 "PRIVATE KEY", or SEC1 "EC PRIVATE KEY"). */
export const loadCertificate = (opts: { cert: string, key: string }): TlsCertificate => {
  const chain = pemBlocks(opts.cert, (t) => t === 'CERTIFICATE').map((b) => b.der)
  if (chain.length === 0) throw new TlsError(Alert.internal_error, 'no CERTIFICATE block in cert PEM')
  const key = crypto.createPrivateKey(opts.key)
  const leaf = new crypto.X509Certificate(chain[0])
  if (!leaf.checkPrivateKey(key)) throw new TlsError(Alert.internal_error, 'private key does not match the leaf certificate')
  const type = key.asymmetricKeyType
  if (type !== 'rsa' && type !== 'ec') throw new TlsError(Alert.internal_error, `unsupported key type ${String(type)}`)
  const curve = type === 'ec' ? (key.asymmetricKeyDetails?.namedCurve ?? null) : null
  if (type === 'ec' && curve !== 'prime256v1' && curve !== 'secp384r1') throw new TlsError(Alert.internal_error, `unsupported EC curve ${String(curve)}`)
  return { chain, key, keyType: type, curve, names: namesOf(leaf), message: certificateMessageBody(chain) }
}

/** Does `name` match a certificate pattern (exact, or '*.' covering exactly one left-most label, RFC 6125 section 6.4.3)? */
export const nameMatches = (pattern: string, name: string): boolean => {
  const p = pattern.toLowerCase()
  const n = name.toLowerCase()
  if (p === n) return true
  if (!p.startsWith('*.')) return false
  const dot = n.indexOf('.')
  return dot > 0 && n.slice(dot + 1) === p.slice(2)
}

// ---- self-signed certificates: X.509 built with forge's ASN.1, signed by node:crypto (forge has no ECDSA) ----

const asn1 = forge.asn1
const seq = (...v: forge.asn1.Asn1[]): forge.asn1.Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, v)
const oid = (o: string): forge.asn1.Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(o).getBytes())
const toBinary = (b: Buffer): string => b.toString('binary')
const fromDer = (b: Buffer): forge.asn1.Asn1 => asn1.fromDer(toBinary(b))
const derOf = (a: forge.asn1.Asn1): Buffer => Buffer.from(asn1.toDer(a).getBytes(), 'binary')
const nameOf = (cn: string): forge.asn1.Asn1 => seq(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
  seq(oid('2.5.4.3'), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(cn)))
]))

/**
 * Generate a key and a self-signed certificate for tests, demos and benchmarks. RSA is 2048-bit, EC is P-256.
 * Returns PEM strings usable by loadCertificate and by Node's tls (`ca: cert`).
 */
export const generateSelfSigned = (opts: { commonName: string, altNames?: string[], keyType?: 'rsa' | 'ec', days?: number }): { cert: string, key: string } => {
  const keyType = opts.keyType ?? 'rsa'
  const { privateKey, publicKey } = keyType === 'rsa'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const sigAlg = keyType === 'rsa'
    ? seq(oid('1.2.840.113549.1.1.11'), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')) // sha256WithRSAEncryption, RFC 4055
    : seq(oid('1.2.840.10045.4.3.2')) // ecdsa-with-SHA256, RFC 5758 section 3.2: parameters absent
  const now = Date.now()
  const notBefore = new Date(now - 60_000)
  const notAfter = new Date(now + (opts.days ?? 365) * 86_400_000)
  const serial = crypto.randomBytes(16)
  serial[0] &= 0x7f // positive INTEGER
  const altNames = opts.altNames ?? [opts.commonName]
  const sanEntries = altNames.map((n) => {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(n)) {
      // iPAddress [7] OCTET STRING (RFC 5280 section 4.2.1.6)
      return asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, String.fromCharCode(...n.split('.').map(Number)))
    }
    return asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, n) // dNSName [2] IA5String
  })
  const extensions = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [seq(
    seq(oid('2.5.29.17'), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, asn1.toDer(seq(...sanEntries)).getBytes()))
  )])
  const tbs = seq(
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, '\x02')]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, toBinary(serial)),
    sigAlg,
    nameOf(opts.commonName),
    seq(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(notBefore)),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(notAfter))),
    nameOf(opts.commonName),
    fromDer(publicKey.export({ format: 'der', type: 'spki' })),
    extensions
  )
  const tbsDer = derOf(tbs)
  const signature = crypto.sign('sha256', tbsDer, privateKey)
  const cert = seq(fromDer(tbsDer), sigAlg, asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\x00' + toBinary(signature)))
  const certPem = forge.pem.encode({ type: 'CERTIFICATE', body: toBinary(derOf(cert)) })
  const keyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  return { cert: certPem, key: keyPem }
}
