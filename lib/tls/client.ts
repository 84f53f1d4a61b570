/**
 * Sans-IO TLS 1.2 client, same engine and event shape as the server. Used by our tests, benchmarks and CLI to talk
 * to our server and to Node's native TLS. NPN or ALPN (or both) is selectable.
 */
import * as crypto from 'node:crypto'
import { isIP } from 'node:net'
import { TlsError } from '../errors'
import { Alert, Ext, Group, HandshakeType, SigScheme, TLS_EMPTY_RENEGOTIATION_INFO_SCSV, TLS_FALLBACK_SCSV, Version, versionName } from './constants'
import {
  ALL_SUITES, deriveKeys, Ephemeral, ephemeral, KeyPair, LEGACY_SUITES, prf, PrfHash, prfHashFor, schemeIsEcdsa, schemeIsRsa, Suite, SUITES,
  suiteById, verify, verifyLegacy
} from './crypto'
import { HandshakeMessage, TlsEngine, type TlsHandshakeEvent } from './engine'
import { DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HANDSHAKE_MESSAGE_SIZE } from './limits'
import { encodeProtocolList, ext, handshake, parseExtensions, parseProtocolList, Reader, u16, u8, vec16, vec8 } from './wire'

export type { TlsEvent, TlsHandshakeEvent } from './engine'

/** What a client keeps to resume: pass it back as `session` on the next connection. */
export interface TlsClientSession {
  id: Buffer
  ticket: Buffer | null
  master: Buffer
  suiteId: number
  ems: boolean
  servername: string | null
  /** Protocol version of the session (resumption keeps it, RFC 5246 section 7.4.1.3). */
  version: number
}

export interface TlsClientOptions {
  /** SNI name and the name the certificate must match (an IP address is matched but not sent as SNI, RFC 6066 section 3). */
  servername?: string
  /** Protocols to offer, in preference order. */
  protocols?: string[]
  /** How to offer `protocols`: 'alpn' (default), 'npn', or 'both' (the server then uses ALPN). */
  negotiation?: 'alpn' | 'npn' | 'both'
  /** PEM trust anchors; the chain must end at one of them. Required unless `insecure`. */
  ca?: string | string[]
  /** Skip certificate verification (benchmarks, debugging). The ServerKeyExchange signature is still checked. */
  insecure?: boolean
  /** A session from an earlier connection's `session` to resume (RFC 5077 ticket or session id). */
  session?: TlsClientSession | null
  /**
   * Highest version to offer as client_version: 'TLSv1.2' (default), or 'TLSv1.1' / 'TLSv1' to act as a SPDY-era
   * client (tests of the server's `legacy` mode). Any version from TLS 1.0 up to it is accepted from the server.
   */
  version?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2'
  /** Send TLS_FALLBACK_SCSV (RFC 7507), as a client retrying with a lower version does. */
  fallbackScsv?: boolean
  /**
   * OpenSSL suite names to offer, in order; default all six ECDHE AEAD suites (TLS 1.2), or the six CBC-SHA
   * suites when `version` is below 1.2.
   */
  ciphers?: string[]
  /** Groups to offer, in order; default x25519, P-256, P-384. */
  groups?: Array<'x25519' | 'P-256' | 'P-384'>
  /**
   * False Start (RFC 7918), as SPDY-era Chrome did it: in a full handshake with an ECDHE key exchange, an AEAD suite,
   * TLS 1.2 and a protocol agreed by ALPN or NPN, the 'handshake' event (with `falseStart: true`) comes right after
   * our Finished is queued, so the first application data leaves in the same flight, one round trip before the
   * server's Finished. That Finished is still verified; a bad one is an 'error' event. Default false here (tests
   * read `session` at the handshake event); lib/client turns it on.
   */
  falseStart?: boolean
  maxHandshakeMessageSize?: number
  handshakeTimeout?: number
  onKeylog?: (line: string) => void
}

const GROUP_IDS: Record<string, number> = { x25519: Group.x25519, 'P-256': Group.secp256r1, 'P-384': Group.secp384r1 }
const SCHEMES: number[] = [
  SigScheme.ecdsa_secp256r1_sha256, SigScheme.ecdsa_secp384r1_sha384, SigScheme.rsa_pss_rsae_sha256,
  SigScheme.rsa_pss_rsae_sha384, SigScheme.rsa_pkcs1_sha256, SigScheme.rsa_pkcs1_sha384
]
const caCache = new Map<string, crypto.X509Certificate[]>()
const parseCa = (ca: string | string[]): crypto.X509Certificate[] => {
  const pem = Array.isArray(ca) ? ca.join('\n') : ca
  let out = caCache.get(pem)
  if (out === undefined) {
    out = (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new crypto.X509Certificate(p))
    caCache.set(pem, out)
  }
  return out
}

/** What the ServerHello settled, fixed for the rest of the handshake. */
interface ClientNegotiated {
  readonly version: number
  readonly suite: Suite
  readonly prfHash: PrfHash
  readonly serverRandom: Buffer
  readonly sessionId: Buffer
  readonly ems: boolean
  /** The server will send NewSessionTicket before its ChangeCipherSpec (RFC 5077 section 3.3). */
  readonly expectTicket: boolean
  readonly protocol: string | null
  readonly negotiatedBy: 'npn' | 'alpn' | null
  /** NPN: what the server advertised. */
  readonly npnList: string[] | null
}

/** Once the keys are derived (full handshake after ServerHelloDone, resumption at ServerHello). */
interface Keyed {
  hs: ClientNegotiated
  master: Buffer
  keys: KeyPair
  /** Resumed: our ChangeCipherSpec and Finished follow the server's Finished. */
  resumed: boolean
  /** The ticket to keep: the resumed session's, or a new one from NewSessionTicket. */
  ticket: Buffer | null
  /** RFC 7918: our application data may already be out, before the server's Finished (the event was given). */
  falseStarted: boolean
}

/** The client's side of the RFC 5246 section 7.3 message flow, one type per state with what its next step needs. */
type ClientState =
  | { kind: 'server_hello' }
  | { kind: 'certificate', hs: ClientNegotiated }
  | { kind: 'server_key_exchange', hs: ClientNegotiated, peerKey: crypto.KeyObject }
  | { kind: 'server_hello_done', hs: ClientNegotiated, kx: { kind: 'ecdhe', eph: Ephemeral, serverPoint: Buffer } | { kind: 'rsa', peerKey: crypto.KeyObject } }
  | ({ kind: 'new_session_ticket' } & Keyed)
  | ({ kind: 'change_cipher_spec' } & Keyed)
  | ({ kind: 'finished' } & Keyed)
  | { kind: 'done' }

export class TlsClientConnection extends TlsEngine {
  private state: ClientState = { kind: 'server_hello' }
  private readonly clientRandom = crypto.randomBytes(32)
  /** Our ClientHello's session id: empty, a resumed session's id, or random beside a ticket (RFC 5077 section 3.4). */
  private helloSessionId: Buffer = Buffer.alloc(0)
  private readonly maxVersion: number
  private readonly servername: string | null
  private readonly offeredSuites: Suite[]
  private readonly offeredGroups: number[]
  private now: number
  private _session: TlsClientSession | null = null

  constructor (private readonly opts: TlsClientOptions, now: number) {
    super(opts.maxHandshakeMessageSize ?? DEFAULT_MAX_HANDSHAKE_MESSAGE_SIZE, opts.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT, now)
    this.now = now
    this.servername = opts.servername ?? null
    this.maxVersion = opts.version === 'TLSv1' ? Version.TLS10 : opts.version === 'TLSv1.1' ? Version.TLS11 : Version.TLS12
    this.offeredSuites = opts.ciphers === undefined
      ? (this.maxVersion === Version.TLS12 ? SUITES : LEGACY_SUITES)
      : opts.ciphers.map((n) => { const s = ALL_SUITES.find((x) => x.name === n); if (s === undefined) throw new RangeError(`unknown cipher ${n}`); return s })
    this.offeredGroups = (opts.groups ?? ['x25519', 'P-256', 'P-384']).map((g) => GROUP_IDS[g])
    if (opts.ca === undefined && opts.insecure !== true) throw new RangeError('ca is required unless insecure is true')
    this.sendClientHello()
  }

  /** The session to resume with, once the handshake finished (updated if a new ticket arrives). */
  get session (): TlsClientSession | null { return this._session }

  override receive (bytes: Uint8Array, now: number): ReturnType<TlsEngine['receive']> {
    this.now = now
    return super.receive(bytes, now)
  }

  private sendClientHello (): void {
    const o = this.opts
    const s = o.session ?? null
    const exts: Buffer[] = []
    if (this.servername !== null && isIP(this.servername) === 0) {
      exts.push(ext(Ext.server_name, vec16(u8(0), vec16(Buffer.from(this.servername, 'latin1')))))
    }
    exts.push(ext(Ext.supported_groups, vec16(...this.offeredGroups.map(u16))))
    exts.push(ext(Ext.ec_point_formats, vec8(u8(0))))
    // RFC 5246 section 7.4.1.4.1: not sent when offering an older version (1.0/1.1 signatures are fixed).
    if (this.maxVersion === Version.TLS12) exts.push(ext(Ext.signature_algorithms, vec16(...SCHEMES.map(u16))))
    exts.push(ext(Ext.extended_master_secret, Buffer.alloc(0)))
    exts.push(ext(Ext.session_ticket, s?.ticket ?? Buffer.alloc(0)))
    const neg = o.negotiation ?? 'alpn'
    if (o.protocols !== undefined && o.protocols.length > 0) {
      if (neg !== 'npn') exts.push(ext(Ext.alpn, vec16(encodeProtocolList(o.protocols))))
      if (neg !== 'alpn') exts.push(ext(Ext.next_protocol_negotiation, Buffer.alloc(0)))
    }
    // With a ticket we send a fresh session id: an echo of it tells us the server resumed (RFC 5077 section 3.4).
    this.helloSessionId = s === null ? Buffer.alloc(0) : s.ticket !== null ? crypto.randomBytes(32) : s.id
    const suites = [...this.offeredSuites.map((x) => x.id), TLS_EMPTY_RENEGOTIATION_INFO_SCSV]
    if (o.fallbackScsv === true) suites.push(TLS_FALLBACK_SCSV)
    const body = Buffer.concat([
      u16(this.maxVersion), this.clientRandom, vec8(this.helloSessionId), vec16(...suites.map(u16)), vec8(u8(0)), vec16(...exts)
    ])
    // RFC 5246 appendix E.1: the first record says {3,1} for compatibility with old servers.
    this.recordVersion = Version.TLS10
    this.sendHandshake(handshake(HandshakeType.client_hello, body))
    this.recordVersion = this.maxVersion
  }

  protected override onWarningAlert (_desc: number): void {}

  protected onHandshake (msg: HandshakeMessage): void {
    const st = this.state
    if (st.kind === 'done') {
      // HelloRequest (RFC 5246 section 7.4.1.1): refuse renegotiation with a warning (RFC 5746 section 4.2).
      if (msg.type === HandshakeType.hello_request && msg.body.length === 0) { this.sendAlert(1, Alert.no_renegotiation); return }
      if (msg.type === HandshakeType.new_session_ticket) return
      throw new TlsError(Alert.unexpected_message, `handshake message ${msg.type} after the handshake`)
    }
    if (msg.type === HandshakeType.hello_request) return // ignored during a handshake (section 7.4.1.1)
    const expect = (type: number): void => {
      if (msg.type !== type) throw new TlsError(Alert.unexpected_message, `handshake message ${msg.type} in state ${st.kind}`)
    }
    switch (st.kind) {
      case 'server_hello': expect(HandshakeType.server_hello); this.state = this.onServerHello(msg); return
      case 'certificate': expect(HandshakeType.certificate); this.state = this.onCertificate(st, msg); return
      case 'server_key_exchange': expect(HandshakeType.server_key_exchange); this.state = this.onServerKeyExchange(st, msg); return
      case 'server_hello_done': expect(HandshakeType.server_hello_done); this.state = this.onServerHelloDone(st, msg); return
      case 'new_session_ticket': expect(HandshakeType.new_session_ticket); this.state = this.onNewSessionTicket(st, msg); return
      case 'finished': expect(HandshakeType.finished); this.state = this.onFinished(st, msg); return
      case 'change_cipher_spec': throw new TlsError(Alert.unexpected_message, `handshake message ${msg.type} in state ${st.kind}`)
    }
  }

  protected onChangeCipherSpec (): void {
    const st = this.state
    if (st.kind !== 'change_cipher_spec') throw new TlsError(Alert.unexpected_message, `ChangeCipherSpec in state ${st.kind}`)
    this.setReadCipher(st.keys.server)
    this.state = { ...st, kind: 'finished' }
  }

  private onServerHello (msg: HandshakeMessage): ClientState {
    const r = new Reader(msg.body)
    const version = r.u16()
    if (version > this.maxVersion || version < Version.TLS10) throw new TlsError(Alert.protocol_version, `server chose 0x${version.toString(16)}`)
    this.version = version
    this.recordVersion = version
    const serverRandom = Buffer.from(r.bytes(32))
    const sid = Buffer.from(r.vec8())
    const suite = suiteById.get(r.u16())
    if (suite === undefined || !this.offeredSuites.includes(suite)) throw new TlsError(Alert.illegal_parameter, 'server chose a suite we did not offer')
    if (!suite.legacy && version !== Version.TLS12) throw new TlsError(Alert.illegal_parameter, 'AEAD suite below TLS 1.2')
    if (r.u8() !== 0) throw new TlsError(Alert.illegal_parameter, 'server chose compression')
    const exts = parseExtensions(r)
    r.end()
    const allowed = new Set<number>([Ext.server_name, Ext.ec_point_formats, Ext.extended_master_secret, Ext.session_ticket, Ext.renegotiation_info, Ext.alpn, Ext.next_protocol_negotiation])
    // RFC 5246 section 7.4.1.4: an extension we did not offer is fatal.
    for (const t of exts.keys()) if (!allowed.has(t)) throw new TlsError(Alert.unsupported_extension, `unsolicited extension ${t}`)
    const ri = exts.get(Ext.renegotiation_info)
    if (ri !== undefined && (ri.length !== 1 || ri[0] !== 0)) throw new TlsError(Alert.handshake_failure, 'bad renegotiation_info')
    const ems = exts.has(Ext.extended_master_secret)
    const expectTicket = exts.has(Ext.session_ticket)
    const neg = this.opts.negotiation ?? 'alpn'
    let protocol: string | null = null
    let negotiatedBy: 'npn' | 'alpn' | null = null
    let npnList: string[] | null = null
    const alpn = exts.get(Ext.alpn)
    if (alpn !== undefined) {
      const list = parseProtocolList(new Reader(alpn).vec16())
      if (neg === 'npn' || list.length !== 1 || !(this.opts.protocols ?? []).includes(list[0])) throw new TlsError(Alert.illegal_parameter, 'bad ALPN answer')
      protocol = list[0]
      negotiatedBy = 'alpn'
    }
    const npn = exts.get(Ext.next_protocol_negotiation)
    if (npn !== undefined && negotiatedBy === null) {
      if (neg === 'alpn') throw new TlsError(Alert.unsupported_extension, 'unsolicited NPN')
      const advertised = parseProtocolList(npn)
      npnList = advertised
      negotiatedBy = 'npn'
      // draft-agl-tls-nextprotoneg-04 section 4: our first protocol the server lists, else our first.
      const ours = this.opts.protocols ?? []
      protocol = ours.find((p) => advertised.includes(p)) ?? ours[0] ?? ''
    }
    const prfHash = prfHashFor(suite, version)
    this.startTranscriptHash(prfHash)
    this.addTranscript(msg.raw)
    const s = this.opts.session ?? null
    const resumed = s !== null && sid.length > 0 && sid.equals(this.helloSessionId)
    const hs: ClientNegotiated = { version, suite, prfHash, serverRandom, sessionId: sid, ems, expectTicket, protocol, negotiatedBy, npnList }
    if (resumed) {
      if (s.suiteId !== suite.id || s.ems !== ems || s.version !== version) throw new TlsError(Alert.illegal_parameter, 'resumed session parameters changed')
      const keys = deriveKeys(suite, version, s.master, this.clientRandom, serverRandom)
      this.keylog(s.master)
      return { kind: expectTicket ? 'new_session_ticket' : 'change_cipher_spec', hs, master: s.master, keys, resumed: true, ticket: s.ticket, falseStarted: false }
    }
    return { kind: 'certificate', hs }
  }

  private onCertificate (st: ClientState & { kind: 'certificate' }, msg: HandshakeMessage): ClientState {
    const r = new Reader(msg.body)
    const list = new Reader(r.vec24())
    r.end()
    const chain: crypto.X509Certificate[] = []
    while (list.left > 0) {
      try {
        chain.push(new crypto.X509Certificate(list.vec24()))
      } catch (err) {
        if (err instanceof TlsError) throw err
        throw new TlsError(Alert.bad_certificate, 'unparsable certificate')
      }
    }
    if (chain.length === 0) throw new TlsError(Alert.bad_certificate, 'empty certificate chain')
    if (this.opts.insecure !== true) this.verifyChain(chain)
    const peerKey = chain[0].publicKey
    const suite = st.hs.suite
    if ((suite.auth === 'rsa') !== (peerKey.asymmetricKeyType === 'rsa')) throw new TlsError(Alert.unsupported_certificate, 'certificate key does not match the suite')
    this.addTranscript(msg.raw)
    // RSA key exchange: no ServerKeyExchange (RFC 5246 section 7.4.3).
    return suite.kx === 'rsa'
      ? { kind: 'server_hello_done', hs: st.hs, kx: { kind: 'rsa', peerKey } }
      : { kind: 'server_key_exchange', hs: st.hs, peerKey }
  }

  private verifyChain (chain: crypto.X509Certificate[]): void {
    const anchors = parseCa(this.opts.ca ?? [])
    const date = new Date(this.now)
    let cur = chain[0]
    const name = this.servername
    if (name !== null) {
      const ok = isIP(name) !== 0 ? cur.checkIP(name) !== undefined : cur.checkHost(name) !== undefined
      if (!ok) throw new TlsError(Alert.bad_certificate, `certificate does not match ${name}`)
    }
    for (let depth = 0; depth < 10; depth++) {
      if (date < new Date(cur.validFrom) || date > new Date(cur.validTo)) throw new TlsError(Alert.certificate_expired, 'certificate outside its validity period')
      const anchor = anchors.find((a) => a.raw.equals(cur.raw) || (cur.checkIssued(a) && cur.verify(a.publicKey)))
      if (anchor !== undefined) return
      const next = chain.find((c) => c !== cur && cur.checkIssued(c) && cur.verify(c.publicKey))
      if (next === undefined) break
      cur = next
    }
    throw new TlsError(Alert.unknown_ca, 'certificate chain does not lead to a trusted CA')
  }

  private onServerKeyExchange (st: ClientState & { kind: 'server_key_exchange' }, msg: HandshakeMessage): ClientState {
    const { hs, peerKey } = st
    const r = new Reader(msg.body)
    if (r.u8() !== 3) throw new TlsError(Alert.illegal_parameter, 'curve_type is not named_curve')
    const group = r.u16()
    if (!this.offeredGroups.includes(group)) throw new TlsError(Alert.illegal_parameter, 'server chose a group we did not offer')
    const serverPoint = Buffer.from(r.vec8())
    const params = msg.body.subarray(0, r.pos)
    const signed = Buffer.concat([this.clientRandom, hs.serverRandom, params])
    let ok: boolean
    if (hs.version < Version.TLS12) {
      // No SignatureAndHashAlgorithm before 1.2 (RFC 4346 section 7.4.3).
      const sig = r.vec16()
      r.end()
      ok = verifyLegacy(peerKey, signed, sig)
    } else {
      const scheme = r.u16()
      const sig = r.vec16()
      r.end()
      const rsa = hs.suite.auth === 'rsa'
      if (!SCHEMES.includes(scheme) || (rsa ? !schemeIsRsa(scheme) : !schemeIsEcdsa(scheme))) throw new TlsError(Alert.illegal_parameter, 'signature scheme we did not offer')
      ok = verify(scheme, peerKey, signed, sig)
    }
    if (!ok) {
      throw new TlsError(Alert.decrypt_error, 'ServerKeyExchange signature does not verify')
    }
    this.addTranscript(msg.raw)
    return { kind: 'server_hello_done', hs, kx: { kind: 'ecdhe', eph: ephemeral(group), serverPoint } }
  }

  private onServerHelloDone (st: ClientState & { kind: 'server_hello_done' }, msg: HandshakeMessage): ClientState {
    const { hs, kx } = st
    if (msg.body.length !== 0) throw new TlsError(Alert.decode_error, 'ServerHelloDone is not empty')
    this.addTranscript(msg.raw)
    let pre: Buffer
    if (kx.kind === 'rsa') {
      // PreMasterSecret = client_version (the one in our ClientHello) || 46 random bytes, PKCS#1 v1.5 encrypted
      // to the certificate's key, in a 16-bit-length vector (RFC 5246 section 7.4.7.1).
      pre = Buffer.concat([u16(this.maxVersion), crypto.randomBytes(46)])
      const enc = crypto.publicEncrypt({ key: kx.peerKey, padding: crypto.constants.RSA_PKCS1_PADDING }, pre)
      this.sendHandshake(handshake(HandshakeType.client_key_exchange, vec16(enc)))
    } else {
      pre = kx.eph.secret(kx.serverPoint)
      this.sendHandshake(handshake(HandshakeType.client_key_exchange, vec8(kx.eph.pub)))
    }
    const master = hs.ems
      ? prf(hs.prfHash, pre, 'extended master secret', this.transcriptDigest(), 48)
      : prf(hs.prfHash, pre, 'master secret', Buffer.concat([this.clientRandom, hs.serverRandom]), 48)
    const keys = deriveKeys(hs.suite, hs.version, master, this.clientRandom, hs.serverRandom)
    this.keylog(master)
    this.sendClientFinished(hs, master, keys)
    const falseStarted = this.mayFalseStart(hs)
    if (falseStarted) this.openWritesEarly({ ...summary(hs, this.servername, false), falseStart: true })
    return { kind: hs.expectTicket ? 'new_session_ticket' : 'change_cipher_spec', hs, master, keys, resumed: false, ticket: null, falseStarted }
  }

  /**
   * RFC 7918 section 4 (client-side requirements): only a forward-secret key exchange (ECDHE) and an AEAD suite
   * (no CBC: False Start exposes data under the cipher before the handshake is authenticated), at TLS 1.2, and
   * never in a resumed handshake (our Finished already follows the server's there). Like Chrome, only when ALPN or
   * NPN agreed on a protocol (with NPN: one the server listed), so a server that cannot take early data for that
   * protocol is not sent any.
   */
  private mayFalseStart (hs: ClientNegotiated): boolean {
    if (this.opts.falseStart !== true || hs.suite.kx !== 'ecdhe' || hs.suite.legacy || hs.version !== Version.TLS12) return false
    if (hs.protocol === null || hs.negotiatedBy === null) return false
    return hs.negotiatedBy === 'alpn' || hs.npnList?.includes(hs.protocol) === true
  }

  private sendClientFinished (hs: ClientNegotiated, master: Buffer, keys: KeyPair): void {
    this.sendChangeCipherSpec(keys.client)
    if (hs.negotiatedBy === 'npn') {
      // NextProtocol with padding to a multiple of 32 bytes to hide the name's length (draft section 4).
      const p = Buffer.from(hs.protocol ?? '', 'latin1')
      const pad = 32 - ((p.length + 2) % 32)
      this.sendHandshake(handshake(HandshakeType.next_protocol, Buffer.concat([vec8(p), vec8(Buffer.alloc(pad))])))
    }
    this.sendHandshake(handshake(HandshakeType.finished, prf(hs.prfHash, master, 'client finished', this.transcriptDigest(), 12)))
  }

  private onNewSessionTicket (st: ClientState & { kind: 'new_session_ticket' }, msg: HandshakeMessage): ClientState {
    const r = new Reader(msg.body)
    r.u32hint()
    const t = Buffer.from(r.vec16())
    r.end()
    this.addTranscript(msg.raw)
    return { ...st, kind: 'change_cipher_spec', ticket: t.length > 0 ? t : null }
  }

  private onFinished (st: ClientState & { kind: 'finished' }, msg: HandshakeMessage): ClientState {
    const { hs, master } = st
    const expected = prf(hs.prfHash, master, 'server finished', this.transcriptDigest(), 12)
    if (msg.body.length !== 12) throw new TlsError(Alert.decode_error, 'Finished is not 12 bytes')
    if (!crypto.timingSafeEqual(expected, msg.body)) throw new TlsError(Alert.decrypt_error, 'server Finished does not verify')
    this.addTranscript(msg.raw)
    if (st.resumed) this.sendClientFinished(hs, master, st.keys)
    this._session = { id: hs.sessionId, ticket: st.ticket, master, suiteId: hs.suite.id, ems: hs.ems, servername: this.servername, version: hs.version }
    // After a False Start the event was already given (RFC 7918: the handshake completes as usual).
    this.handshakeDone(st.falseStarted ? null : summary(hs, this.servername, st.resumed))
    return { kind: 'done' }
  }

  private keylog (master: Buffer): void {
    this.opts.onKeylog?.(`CLIENT_RANDOM ${this.clientRandom.toString('hex')} ${master.toString('hex')}`)
  }
}

/** The handshake event for a negotiated handshake. */
function summary (hs: ClientNegotiated, servername: string | null, resumed: boolean): TlsHandshakeEvent {
  return {
    type: 'handshake',
    protocol: hs.protocol,
    negotiatedBy: hs.protocol === null ? null : hs.negotiatedBy,
    cipher: hs.suite.name,
    version: versionName(hs.version),
    servername,
    resumed,
    ...(hs.negotiatedBy === 'npn' && hs.npnList !== null ? { serverProtocols: hs.npnList } : {})
  }
}
