/**
 * Sans-IO TLS 1.2 server (RFC 5246), and with `legacy` TLS 1.0 (RFC 2246) and 1.1 (RFC 4346), with NPN (draft-agl-tls-nextprotoneg-04) and ALPN (RFC 7301).
 *
 * Usage by a socket loop:
 * ```ts
 * const conn = new TlsServerConnection(options, Date.now())   // reuse ONE options object for every connection:
 *                                                             // the session cache and ticket keys hang off it
 * socket.on('data', (b) => { handle(conn.receive(b, Date.now())); flush() })
 * // flush(): const out = conn.takeOutbound(); if (out.length) socket.write(out)
 * // timer: when conn.deadline !== null, at that time call handle(conn.tick(Date.now())); flush()
 * // events: 'handshake' -> protocol chosen; 'data' -> app bytes; 'close' -> peer close_notify (ours is queued);
 * //         'error' -> a fatal alert is queued: flush, then destroy the socket.
 * conn.write(bytes); conn.close(); flush()
 * ```
 */
import * as crypto from 'node:crypto'
import { TlsError } from '../errors'
import {
  Alert, AlertLevel, Ext, Group, HandshakeType, SigScheme, TLS_EMPTY_RENEGOTIATION_INFO_SCSV, TLS_FALLBACK_SCSV,
  Version, versionName
} from './constants'
import {
  deriveKeys, Ephemeral, ephemeral, KeyPair, LEGACY_SUITES, prf, PrfHash, prfHashFor, rsaPremaster, sign, signLegacy, Suite,
  SUITES, suiteById
} from './crypto'
import { TlsCertificate, nameMatches } from './certificates'
import { HandshakeMessage, TlsEngine } from './engine'
import { DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_SESSION_LIFETIME, MAX_CLIENT_HELLO_SIZE, MAX_RENEGOTIATION_REFUSALS } from './limits'
import { SessionCache, SessionState, TicketKeys } from './session'
import { encodeProtocolList, ext, handshake, Reader, u16, u8, vec16, vec8 } from './wire'
import { parseClientHello } from './hello'

export type { TlsEvent, TlsHandshakeEvent } from './engine'
export type { TlsCertificate } from './certificates'

export const DEFAULT_PROTOCOLS = ['spdy/3.1', 'spdy/3', 'spdy/2', 'http/1.1']

export interface TlsServerOptions {
  /** First one is the default; the others are chosen when the SNI name matches one of their names (incl. `*.x`). */
  certificates: TlsCertificate[]
  /** NPN and ALPN offer, in preference order. Default DEFAULT_PROTOCOLS. */
  protocols?: string[]
  /**
   * Also speak TLS 1.0 and 1.1 and offer the CBC-SHA suites (ECDHE-RSA/ECDSA-AES128/256-SHA, AES128/256-SHA with
   * RSA key exchange), after the AEAD suites, for SPDY-era clients (Chrome and Firefox of 2010-2013). Weak: CBC
   * MAC-then-encrypt, SHA-1, RSA key exchange without forward secrecy. Default false: below 1.2 is protocol_version.
   */
  legacy?: boolean
  /** Largest handshake message body taken; default MAX_CLIENT_HELLO_SIZE (limits.ts), the largest legal ClientHello. */
  maxHandshakeMessageSize?: number
  /** ms from construction to a finished handshake; default DEFAULT_HANDSHAKE_TIMEOUT; 0 disables. */
  handshakeTimeout?: number
  /** RFC 5077 ticket key material (>= 32 bytes each); the first seals, all open. Random and auto-rotated if absent. */
  ticketKeys?: Uint8Array | Uint8Array[]
  /** NSS key log lines (`CLIENT_RANDOM <client_random> <master_secret>`) for Wireshark. */
  onKeylog?: (line: string) => void
}

/** State shared by all connections made with one options object: session cache and ticket keys. */
export class TlsServerContext {
  readonly sessions = new SessionCache()
  readonly tickets: TicketKeys
  readonly protocols: string[]
  readonly npnBody: Buffer
  /** Versions we speak, best first. */
  readonly versions: number[]
  /** Suites in server preference order: AEAD first; the CBC suites only with `legacy`. */
  readonly suites: Suite[]
  constructor (readonly options: TlsServerOptions, now: number) {
    if (options.certificates.length === 0) throw new RangeError('certificates: at least one certificate is required')
    this.tickets = new TicketKeys(options.ticketKeys, DEFAULT_SESSION_LIFETIME, now)
    this.protocols = options.protocols ?? DEFAULT_PROTOCOLS
    this.npnBody = encodeProtocolList(this.protocols)
    const legacy = options.legacy === true
    this.versions = legacy ? [Version.TLS12, Version.TLS11, Version.TLS10] : [Version.TLS12]
    this.suites = legacy ? [...SUITES, ...LEGACY_SUITES] : SUITES
  }

  /** Replace the ticket keys (rotation): the first seals new tickets, all open tickets. */
  setTicketKeys (keys: Uint8Array | Uint8Array[]): void { this.tickets.set(keys) }

  certificateFor (servername: string | null): TlsCertificate {
    const certs = this.options.certificates
    if (servername !== null) {
      for (const c of certs) if (c.names.some((n) => nameMatches(n, servername))) return c
    }
    return certs[0]
  }
}
const contexts = new WeakMap<TlsServerOptions, TlsServerContext>()
/** The context of an options object, created on first use. */
export const serverContext = (opts: TlsServerOptions, now: number): TlsServerContext => {
  let c = contexts.get(opts)
  if (c === undefined) { c = new TlsServerContext(opts, now); contexts.set(opts, c) }
  return c
}

/** Groups and schemes in server preference order. */
const GROUPS: number[] = [Group.x25519, Group.secp256r1, Group.secp384r1]
const RSA_SCHEMES: number[] = [SigScheme.rsa_pss_rsae_sha256, SigScheme.rsa_pkcs1_sha256, SigScheme.rsa_pss_rsae_sha384, SigScheme.rsa_pkcs1_sha384]

type State = 'client_hello' | 'client_key_exchange' | 'change_cipher_spec' | 'next_protocol' | 'finished' | 'done'

export class TlsServerConnection extends TlsEngine {
  private readonly ctx: TlsServerContext
  private state: State = 'client_hello'
  private clientRandom: Buffer = Buffer.alloc(0)
  private serverRandom: Buffer = Buffer.alloc(0)
  private suite: Suite | null = null
  private cert: TlsCertificate | null = null
  private eph: Ephemeral | null = null
  private master: Buffer = Buffer.alloc(0)
  private ems = false
  private secureRenegotiation = false
  private servername: string | null = null
  private protocol: string | null = null
  private negotiatedBy: 'npn' | 'alpn' | null = null
  private npnOffered = false
  private resumed = false
  private sessionId: Buffer = Buffer.alloc(0)
  private issueTicket = false
  private keys: KeyPair | null = null
  private clientVersion = 0
  private prfHash: PrfHash = 'sha256'
  private pointFormatsOffered = false
  private refusals = 0
  private created = 0

  constructor (opts: TlsServerOptions, now: number) {
    super(opts.maxHandshakeMessageSize ?? MAX_CLIENT_HELLO_SIZE, opts.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT, now)
    this.ctx = serverContext(opts, now)
    this.created = now
  }

  protected onHandshake (msg: HandshakeMessage): void {
    if (this.state === 'done') {
      if (msg.type === HandshakeType.client_hello) {
        // RFC 5746 section 4.4 allows refusing renegotiation with a no_renegotiation warning.
        if (++this.refusals > MAX_RENEGOTIATION_REFUSALS) throw new TlsError(Alert.unexpected_message, 'repeated renegotiation attempts')
        this.sendAlert(AlertLevel.warning, Alert.no_renegotiation)
        return
      }
      throw new TlsError(Alert.unexpected_message, `handshake message ${msg.type} after the handshake`)
    }
    const expected = this.state === 'client_hello'
      ? HandshakeType.client_hello
      : this.state === 'client_key_exchange'
        ? HandshakeType.client_key_exchange
        : this.state === 'next_protocol'
          ? HandshakeType.next_protocol
          : this.state === 'finished' ? HandshakeType.finished : -1
    if (msg.type !== expected) throw new TlsError(Alert.unexpected_message, `handshake message ${msg.type} in state ${this.state}`)
    switch (msg.type) {
      case HandshakeType.client_hello: return this.onClientHello(msg)
      case HandshakeType.client_key_exchange: return this.onClientKeyExchange(msg)
      case HandshakeType.next_protocol: return this.onNextProtocol(msg)
      case HandshakeType.finished: return this.onFinished(msg)
    }
  }

  protected onChangeCipherSpec (): void {
    if (this.state !== 'change_cipher_spec' || this.keys === null) throw new TlsError(Alert.unexpected_message, `ChangeCipherSpec in state ${this.state}`)
    this.setReadCipher(this.keys.client)
    this.state = this.negotiatedBy === 'npn' ? 'next_protocol' : 'finished'
  }

  private onClientHello (msg: HandshakeMessage): void {
    const now = this.created
    // Syntax first, all of it (lib/tls/hello.ts): a malformed hello is decode_error whatever else is wrong with it.
    const hello = parseClientHello(msg.body)
    const clientVersion = hello.version
    this.clientVersion = clientVersion
    this.clientRandom = Buffer.from(hello.random)
    const sessionId = hello.sessionId
    const offered = new Set<number>(hello.cipherSuites)

    // Version: a 1.3 ClientHello says 0x0303 and lists versions in supported_versions (RFC 8446 section 4.2.1).
    // Otherwise the highest of ours not above client_version (RFC 5246 appendix E.1).
    const ours = this.ctx.versions
    const theirs = hello.supportedVersions
    const version = theirs !== null ? ours.find((v) => theirs.includes(v)) : ours.find((v) => v <= clientVersion)
    // RFC 7507 section 3: a fallback retry (SCSV) below our best version means something in the path made the
    // client's first attempt fail; refusing it stops a downgrade to a weaker protocol than both sides speak.
    if (offered.has(TLS_FALLBACK_SCSV) && clientVersion < ours[0]) {
      throw new TlsError(Alert.inappropriate_fallback, `fallback to 0x${clientVersion.toString(16)} below our TLS 1.2`)
    }
    if (version === undefined) throw new TlsError(Alert.protocol_version, `client does not offer a version we speak (0x${clientVersion.toString(16)})`)
    this.version = version
    this.recordVersion = version

    // RFC 5746 section 3.6: SCSV or an empty renegotiation_info marks a secure client.
    if (hello.renegotiationInfo !== null) {
      if (hello.renegotiationInfo.length !== 0) throw new TlsError(Alert.handshake_failure, 'non-empty renegotiation_info in the initial handshake')
      this.secureRenegotiation = true
    }
    if (offered.has(TLS_EMPTY_RENEGOTIATION_INFO_SCSV)) this.secureRenegotiation = true

    this.servername = hello.servername
    const pf = hello.ecPointFormats
    this.pointFormatsOffered = pf !== null
    if (pf !== null && !pf.includes(0)) throw new TlsError(Alert.illegal_parameter, 'uncompressed point format not offered') // RFC 8422 section 5.1.2
    this.ems = hello.extendedMasterSecret

    // ALPN (RFC 7301 section 3.2): server preference; no overlap is fatal. ALPN wins over NPN when both are sent.
    if (hello.alpn !== null) {
      const list = hello.alpn
      const pick = this.ctx.protocols.find((p) => list.includes(p))
      if (pick === undefined) throw new TlsError(Alert.no_application_protocol, `no common protocol in ALPN ${list.join(',')}`)
      this.protocol = pick
      this.negotiatedBy = 'alpn'
    } else if (hello.npn) {
      this.npnOffered = true
      this.negotiatedBy = 'npn'
    }

    // Resumption: a ticket first (RFC 5077 section 3.4), then the session id cache.
    const ticketExt = hello.sessionTicket
    let resume: SessionState | null = null
    if (ticketExt !== null && ticketExt.length > 0) resume = this.ctx.tickets.open(ticketExt, now)
    if (resume === null && sessionId.length > 0) resume = this.ctx.sessions.get(sessionId, now)
    if (resume !== null) {
      const s = suiteById.get(resume.suiteId)
      // RFC 7627 section 5.3: an EMS session resumed without EMS must abort; a non-EMS session gets a full handshake.
      if (resume.ems && !this.ems) throw new TlsError(Alert.handshake_failure, 'resuming an extended-master-secret session without the extension')
      if (s === undefined || !offered.has(s.id) || !this.ctx.suites.includes(s) || resume.version !== this.version || resume.ems !== this.ems ||
        resume.servername !== this.servername) resume = null
    }
    this.serverRandom = crypto.randomBytes(32)
    this.issueTicket = ticketExt !== null && resume === null

    if (resume !== null) {
      this.resumed = true
      this.suite = suiteById.get(resume.suiteId) as Suite
      this.prfHash = prfHashFor(this.suite, this.version)
      this.master = resume.master
      this.sessionId = Buffer.from(sessionId)
      this.startTranscriptHash(this.prfHash)
      this.addTranscript(msg.raw)
      this.sendServerHello()
      this.keys = deriveKeys(this.suite, this.version, this.master, this.clientRandom, this.serverRandom)
      this.keylog()
      this.sendChangeCipherSpec(this.keys.server)
      this.sendFinished()
      this.state = 'change_cipher_spec'
      return
    }

    this.cert = this.ctx.certificateFor(this.servername)
    const cert = this.cert
    const theirGroups = hello.supportedGroups // RFC 8422 section 4: no extension means any curve is fine
    const group = theirGroups === null ? Group.secp256r1 : GROUPS.find((g) => theirGroups?.includes(g) === true)
    if (group === undefined) throw new TlsError(Alert.handshake_failure, 'no supported group in common')
    // RFC 8422 section 5.1: an ECDSA certificate's curve must be one the client listed in supported_groups.
    const certGroup = cert.curve === 'secp384r1' ? Group.secp384r1 : Group.secp256r1
    const ecdsaOk = cert.keyType === 'ec' && (theirGroups === null || theirGroups.includes(certGroup))
    // RFC 9155 section 2: a TLS 1.2 hello without signature_algorithms is aborted with handshake_failure "except
    // when digital signatures are not used": of our suites, only RSA key exchange (`legacy`) signs nothing.
    const sigAlgs = hello.signatureAlgorithms
    const unsigned = version === Version.TLS12 && sigAlgs === null
    // AEAD suites exist only from TLS 1.2 on (RFC 5288 section 4).
    const suite = this.ctx.suites.find((s) => offered.has(s.id) && (s.legacy || version === Version.TLS12) &&
      (s.auth === 'rsa' ? cert.keyType === 'rsa' : ecdsaOk) && (!unsigned || s.kx === 'rsa'))
    if (suite === undefined) {
      throw new TlsError(Alert.handshake_failure, unsigned ? 'TLS 1.2 hello without signature_algorithms (RFC 9155 section 2)' : 'no cipher suite in common')
    }
    this.suite = suite
    this.prfHash = prfHashFor(suite, version)
    // signature_algorithms is a TLS 1.2 extension; 1.0/1.1 signatures have a fixed algorithm (signLegacy).
    const scheme = version === Version.TLS12 && suite.kx === 'ecdhe' ? this.pickScheme(sigAlgs ?? [], cert) : -1
    this.sessionId = crypto.randomBytes(32)

    this.startTranscriptHash(this.prfHash)
    this.addTranscript(msg.raw)
    this.sendServerHello()
    this.sendHandshake(handshake(HandshakeType.certificate, cert.message))
    if (suite.kx === 'ecdhe') {
      // ServerECDHParams (RFC 8422 section 5.4): curve_type named_curve(3), group, point; signed with both randoms.
      this.eph = ephemeral(group)
      const params = Buffer.concat([u8(3), u16(group), vec8(this.eph.pub)])
      const signed = Buffer.concat([this.clientRandom, this.serverRandom, params])
      const body = scheme === -1
        ? Buffer.concat([params, vec16(signLegacy(cert.key, signed))])
        : Buffer.concat([params, u16(scheme), vec16(sign(scheme, cert.key, signed))])
      this.sendHandshake(handshake(HandshakeType.server_key_exchange, body))
    }
    // RSA key exchange sends no ServerKeyExchange (RFC 5246 section 7.4.3): the certificate's key is the one used.
    this.sendHandshake(handshake(HandshakeType.server_hello_done, Buffer.alloc(0)))
    this.state = 'client_key_exchange'
  }

  /**
   * Our first scheme in the client's signature_algorithms (RFC 5246 section 7.4.1.4.1). SHA-1 is ours only with
   * `legacy` and then last, so only a client that lists nothing better gets it: RFC 9155 section 4 deprecates it
   * in 1.2, but a SPDY-era TLS 1.2 client that signs only with SHA-1 is what `legacy` exists for.
   */
  private pickScheme (theirs: number[], cert: TlsCertificate): number {
    const ours = cert.keyType === 'rsa'
      ? RSA_SCHEMES
      : cert.curve === 'secp384r1'
        ? [SigScheme.ecdsa_secp384r1_sha384, SigScheme.ecdsa_secp256r1_sha256]
        : [SigScheme.ecdsa_secp256r1_sha256, SigScheme.ecdsa_secp384r1_sha384]
    const sha1 = this.ctx.options.legacy === true ? [cert.keyType === 'rsa' ? SigScheme.rsa_pkcs1_sha1 : SigScheme.ecdsa_sha1] : []
    const pick = [...ours, ...sha1].find((s) => theirs.includes(s))
    if (pick === undefined) throw new TlsError(Alert.handshake_failure, 'no signature algorithm in common')
    return pick
  }

  private sendServerHello (): void {
    const suite = this.suite as Suite
    const exts: Buffer[] = []
    if (this.secureRenegotiation) exts.push(ext(Ext.renegotiation_info, u8(0)))
    if (this.ems) exts.push(ext(Ext.extended_master_secret, Buffer.alloc(0)))
    // RFC 8422 section 5.2: only with an ECC suite, and only as an answer (a client offering just RSA key exchange
    // sends no ec_point_formats, and OpenSSL refuses the unsolicited one).
    if (!this.resumed && suite.kx === 'ecdhe' && this.pointFormatsOffered) exts.push(ext(Ext.ec_point_formats, vec8(u8(0))))
    if (this.issueTicket) exts.push(ext(Ext.session_ticket, Buffer.alloc(0)))
    if (this.negotiatedBy === 'alpn' && this.protocol !== null) exts.push(ext(Ext.alpn, vec16(vec8(Buffer.from(this.protocol, 'latin1')))))
    if (this.npnOffered) exts.push(ext(Ext.next_protocol_negotiation, this.ctx.npnBody))
    const body = Buffer.concat([
      u16(this.version), this.serverRandom, vec8(this.sessionId), u16(suite.id), u8(0),
      ...(exts.length > 0 ? [vec16(...exts)] : [])
    ])
    this.sendHandshake(handshake(HandshakeType.server_hello, body))
  }

  private onClientKeyExchange (msg: HandshakeMessage): void {
    const r = new Reader(msg.body)
    const suite = this.suite as Suite
    let pre: Buffer
    if (suite.kx === 'rsa') {
      // EncryptedPreMasterSecret is a 16-bit-length vector from TLS 1.0 on (RFC 2246 section 7.4.7.1); SSL 3.0's
      // bare form is not accepted. Decryption failures never surface here (rsaPremaster).
      const enc = r.vec16()
      r.end()
      pre = rsaPremaster((this.cert as TlsCertificate).key, enc, this.clientVersion)
    } else {
      const point = r.vec8()
      r.end()
      pre = (this.eph as Ephemeral).secret(point)
    }
    this.addTranscript(msg.raw)
    // RFC 7627 section 4: session_hash covers the transcript through ClientKeyExchange (MD5||SHA-1 in 1.0/1.1, section 3).
    this.master = this.ems
      ? prf(this.prfHash, pre, 'extended master secret', this.transcriptDigest(), 48)
      : prf(this.prfHash, pre, 'master secret', Buffer.concat([this.clientRandom, this.serverRandom]), 48)
    this.keys = deriveKeys(suite, this.version, this.master, this.clientRandom, this.serverRandom)
    this.keylog()
    this.state = 'change_cipher_spec'
  }

  /** NextProtocol (draft-agl-tls-nextprotoneg-04 section 4): selected_protocol<0..255>, padding<0..255>. */
  private onNextProtocol (msg: HandshakeMessage): void {
    const r = new Reader(msg.body)
    const proto = r.vec8()
    r.vec8()
    r.end()
    // draft-agl-tls-nextprotoneg-04 section 4 lets a client with nothing in common pick a protocol we never
    // offered. Speaking it anyway would hand, say, spdy/2 to a listener configured without it; like nginx's SPDY
    // module, treat such a pick as no protocol (the HTTP/1.1 fallback).
    const chosen = proto.toString('latin1')
    this.protocol = this.ctx.protocols.includes(chosen) ? chosen : null
    this.addTranscript(msg.raw) // it is part of the Finished hash
    this.state = 'finished'
  }

  private onFinished (msg: HandshakeMessage): void {
    const suite = this.suite as Suite
    const expected = prf(this.prfHash, this.master, 'client finished', this.transcriptDigest(), 12)
    if (msg.body.length !== 12) throw new TlsError(Alert.decode_error, 'Finished is not 12 bytes')
    if (!crypto.timingSafeEqual(expected, msg.body)) throw new TlsError(Alert.decrypt_error, 'client Finished does not verify') // section 7.4.9
    this.addTranscript(msg.raw)
    if (!this.resumed) {
      const state: SessionState = { master: this.master, suiteId: suite.id, version: this.version, ems: this.ems, servername: this.servername, created: this.created }
      this.ctx.sessions.set(this.sessionId, state)
      if (this.issueTicket) {
        // NewSessionTicket (RFC 5077 section 3.3): lifetime hint in seconds, then the opaque ticket.
        const ticket = this.ctx.tickets.seal(state, this.created)
        const hint = Buffer.allocUnsafe(4)
        hint.writeUInt32BE(Math.floor(DEFAULT_SESSION_LIFETIME / 1000))
        this.sendHandshake(handshake(HandshakeType.new_session_ticket, Buffer.concat([hint, vec16(ticket)])))
      }
      this.sendChangeCipherSpec((this.keys as KeyPair).server)
      this.sendFinished()
    }
    this.state = 'done'
    this.handshakeDone({
      type: 'handshake',
      protocol: this.protocol,
      negotiatedBy: this.protocol === null ? null : this.negotiatedBy,
      cipher: suite.name,
      version: versionName(this.version),
      servername: this.servername,
      resumed: this.resumed
    })
  }

  private sendFinished (): void {
    const verify = prf(this.prfHash, this.master, 'server finished', this.transcriptDigest(), 12)
    this.sendHandshake(handshake(HandshakeType.finished, verify))
  }

  private keylog (): void {
    this.ctx.options.onKeylog?.(`CLIENT_RANDOM ${this.clientRandom.toString('hex')} ${this.master.toString('hex')}`)
  }
}

