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
  deriveKeys, Ephemeral, ephemeral, LEGACY_SUITES, prf, PrfHash, prfHashFor, RecordProtection, rsaPremaster, sign, signLegacy, Suite,
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

/** What the ClientHello settled, fixed for the rest of the handshake. */
interface Negotiated {
  readonly version: number
  readonly suite: Suite
  readonly prfHash: PrfHash
  readonly clientRandom: Buffer
  readonly serverRandom: Buffer
  /** The session id of the ServerHello: the one resumed, or the new session's. */
  readonly sessionId: Buffer
  readonly ems: boolean
  readonly servername: string | null
  /** ALPN's pick (RFC 7301 section 3.2), or null. */
  readonly alpn: string | null
  /** NPN goes on: the client offered it without ALPN, and picks in its NextProtocol message. */
  readonly npn: boolean
}

/** How the premaster secret arrives in ClientKeyExchange (RFC 5246 section 7.4.7). */
type KeyExchange =
  | { kind: 'ecdhe', eph: Ephemeral }
  /** RSA key exchange (`legacy`): decrypted with the certificate's key; the version check uses client_version. */
  | { kind: 'rsa', key: crypto.KeyObject, clientVersion: number }

/**
 * What is left once the client's Finished verifies: a full handshake caches the session, may issue a ticket, and
 * sends our ChangeCipherSpec and Finished; a resumed one sent them right after its ServerHello.
 */
type Ending = { kind: 'full', serverKeys: RecordProtection, issueTicket: boolean } | { kind: 'resumed' }

/**
 * The server's side of the RFC 5246 section 7.3 message flow, one type per state, each carrying exactly what the
 * next step needs (as rustls does), so no state reads a field another state was supposed to have set.
 */
type ServerState =
  | { kind: 'client_hello' }
  | { kind: 'client_key_exchange', hs: Negotiated, kx: KeyExchange, issueTicket: boolean }
  | { kind: 'change_cipher_spec', hs: Negotiated, master: Buffer, clientKeys: RecordProtection, ending: Ending }
  | { kind: 'next_protocol', hs: Negotiated, master: Buffer, ending: Ending }
  | { kind: 'finished', hs: Negotiated, master: Buffer, protocol: string | null, ending: Ending }
  /** Renegotiation attempts refused so far (RFC 5746 section 4.4). */
  | { kind: 'done', refusals: number }

export class TlsServerConnection extends TlsEngine {
  private readonly ctx: TlsServerContext
  private state: ServerState = { kind: 'client_hello' }
  /** `now` at construction: the clock for session lifetimes. */
  private readonly created: number

  constructor (opts: TlsServerOptions, now: number) {
    super(opts.maxHandshakeMessageSize ?? MAX_CLIENT_HELLO_SIZE, opts.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT, now)
    this.ctx = serverContext(opts, now)
    this.created = now
  }

  protected onHandshake (msg: HandshakeMessage): void {
    const st = this.state
    const unexpected = (): TlsError => new TlsError(Alert.unexpected_message, `handshake message ${msg.type} in state ${st.kind}`)
    switch (st.kind) {
      case 'client_hello':
        if (msg.type !== HandshakeType.client_hello) throw unexpected()
        this.state = this.onClientHello(msg)
        return
      case 'client_key_exchange':
        if (msg.type !== HandshakeType.client_key_exchange) throw unexpected()
        this.state = this.onClientKeyExchange(st, msg)
        return
      case 'change_cipher_spec': throw unexpected()
      case 'next_protocol':
        if (msg.type !== HandshakeType.next_protocol) throw unexpected()
        this.state = this.onNextProtocol(st, msg)
        return
      case 'finished':
        if (msg.type !== HandshakeType.finished) throw unexpected()
        this.state = this.onFinished(st, msg)
        return
      case 'done':
        if (msg.type !== HandshakeType.client_hello) throw unexpected()
        // RFC 5746 section 4.4 allows refusing renegotiation with a no_renegotiation warning.
        if (st.refusals >= MAX_RENEGOTIATION_REFUSALS) throw new TlsError(Alert.unexpected_message, 'repeated renegotiation attempts')
        this.sendAlert(AlertLevel.warning, Alert.no_renegotiation)
        this.state = { kind: 'done', refusals: st.refusals + 1 }
    }
  }

  protected onChangeCipherSpec (): void {
    const st = this.state
    if (st.kind !== 'change_cipher_spec') throw new TlsError(Alert.unexpected_message, `ChangeCipherSpec in state ${st.kind}`)
    this.setReadCipher(st.clientKeys)
    const { hs, master, ending } = st
    this.state = hs.npn ? { kind: 'next_protocol', hs, master, ending } : { kind: 'finished', hs, master, protocol: hs.alpn, ending }
  }

  private onClientHello (msg: HandshakeMessage): ServerState {
    const now = this.created
    // Syntax first, all of it (lib/tls/hello.ts): a malformed hello is decode_error whatever else is wrong with it.
    const hello = parseClientHello(msg.body)
    const clientVersion = hello.version
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
    if (hello.renegotiationInfo !== null && hello.renegotiationInfo.length !== 0) {
      throw new TlsError(Alert.handshake_failure, 'non-empty renegotiation_info in the initial handshake')
    }
    const secureRenegotiation = hello.renegotiationInfo !== null || offered.has(TLS_EMPTY_RENEGOTIATION_INFO_SCSV)
    const servername = hello.servername
    const pf = hello.ecPointFormats
    if (pf !== null && !pf.includes(0)) throw new TlsError(Alert.illegal_parameter, 'uncompressed point format not offered') // RFC 8422 section 5.1.2
    const ems = hello.extendedMasterSecret

    // ALPN (RFC 7301 section 3.2): server preference; no overlap is fatal. ALPN wins over NPN when both are sent.
    let alpn: string | null = null
    if (hello.alpn !== null) {
      const list = hello.alpn
      const pick = this.ctx.protocols.find((p) => list.includes(p))
      if (pick === undefined) throw new TlsError(Alert.no_application_protocol, `no common protocol in ALPN ${list.join(',')}`)
      alpn = pick
    }
    const npn = alpn === null && hello.npn

    // Resumption: a ticket first (RFC 5077 section 3.4), then the session id cache.
    const ticketExt = hello.sessionTicket
    let resume: SessionState | null = null
    if (ticketExt !== null && ticketExt.length > 0) resume = this.ctx.tickets.open(ticketExt, now)
    if (resume === null && hello.sessionId.length > 0) resume = this.ctx.sessions.get(hello.sessionId, now)
    let resumeSuite: Suite | undefined
    if (resume !== null) {
      resumeSuite = suiteById.get(resume.suiteId)
      // RFC 7627 section 5.3: an EMS session resumed without EMS must abort; a non-EMS session gets a full handshake.
      if (resume.ems && !ems) throw new TlsError(Alert.handshake_failure, 'resuming an extended-master-secret session without the extension')
      if (resumeSuite === undefined || !offered.has(resumeSuite.id) || !this.ctx.suites.includes(resumeSuite) || resume.version !== version ||
        resume.ems !== ems || resume.servername !== servername) resume = null
    }
    const serverRandom = crypto.randomBytes(32)
    const clientRandom = Buffer.from(hello.random)
    const hsFor = (suite: Suite, sessionId: Buffer): Negotiated =>
      ({ version, suite, prfHash: prfHashFor(suite, version), clientRandom, serverRandom, sessionId, ems, servername, alpn, npn })

    if (resume !== null && resumeSuite !== undefined) {
      const hs = hsFor(resumeSuite, Buffer.from(hello.sessionId))
      const master = resume.master
      this.startTranscriptHash(hs.prfHash)
      this.addTranscript(msg.raw)
      this.sendServerHello(hs, { resumed: true, secureRenegotiation, pointFormats: false, issueTicket: false })
      const keys = deriveKeys(hs.suite, version, master, clientRandom, serverRandom)
      this.keylog(hs, master)
      this.sendChangeCipherSpec(keys.server)
      this.sendFinished(hs, master)
      return { kind: 'change_cipher_spec', hs, master, clientKeys: keys.client, ending: { kind: 'resumed' } }
    }

    const cert = this.ctx.certificateFor(servername)
    const theirGroups = hello.supportedGroups // RFC 8422 section 4: no extension means any curve is fine
    const group = theirGroups === null ? Group.secp256r1 : GROUPS.find((g) => theirGroups.includes(g))
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
    const hs = hsFor(suite, crypto.randomBytes(32))
    // signature_algorithms is a TLS 1.2 extension; 1.0/1.1 signatures have a fixed algorithm (signLegacy).
    const scheme = version === Version.TLS12 && suite.kx === 'ecdhe' ? this.pickScheme(sigAlgs ?? [], cert) : -1
    const issueTicket = ticketExt !== null

    this.startTranscriptHash(hs.prfHash)
    this.addTranscript(msg.raw)
    this.sendServerHello(hs, { resumed: false, secureRenegotiation, pointFormats: pf !== null, issueTicket })
    this.sendHandshake(handshake(HandshakeType.certificate, cert.message))
    let kx: KeyExchange
    if (suite.kx === 'ecdhe') {
      // ServerECDHParams (RFC 8422 section 5.4): curve_type named_curve(3), group, point; signed with both randoms.
      const eph = ephemeral(group)
      const params = Buffer.concat([u8(3), u16(group), vec8(eph.pub)])
      const signed = Buffer.concat([clientRandom, serverRandom, params])
      const body = scheme === -1
        ? Buffer.concat([params, vec16(signLegacy(cert.key, signed))])
        : Buffer.concat([params, u16(scheme), vec16(sign(scheme, cert.key, signed))])
      this.sendHandshake(handshake(HandshakeType.server_key_exchange, body))
      kx = { kind: 'ecdhe', eph }
    } else {
      // RSA key exchange sends no ServerKeyExchange (RFC 5246 section 7.4.3): the certificate's key is the one used.
      kx = { kind: 'rsa', key: cert.key, clientVersion }
    }
    this.sendHandshake(handshake(HandshakeType.server_hello_done, Buffer.alloc(0)))
    return { kind: 'client_key_exchange', hs, kx, issueTicket }
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

  private sendServerHello (hs: Negotiated, o: { resumed: boolean, secureRenegotiation: boolean, pointFormats: boolean, issueTicket: boolean }): void {
    const exts: Buffer[] = []
    if (o.secureRenegotiation) exts.push(ext(Ext.renegotiation_info, u8(0)))
    if (hs.ems) exts.push(ext(Ext.extended_master_secret, Buffer.alloc(0)))
    // RFC 8422 section 5.2: only with an ECC suite, and only as an answer (a client offering just RSA key exchange
    // sends no ec_point_formats, and OpenSSL refuses the unsolicited one).
    if (!o.resumed && hs.suite.kx === 'ecdhe' && o.pointFormats) exts.push(ext(Ext.ec_point_formats, vec8(u8(0))))
    if (o.issueTicket) exts.push(ext(Ext.session_ticket, Buffer.alloc(0)))
    if (hs.alpn !== null) exts.push(ext(Ext.alpn, vec16(vec8(Buffer.from(hs.alpn, 'latin1')))))
    if (hs.npn) exts.push(ext(Ext.next_protocol_negotiation, this.ctx.npnBody))
    const body = Buffer.concat([
      u16(hs.version), hs.serverRandom, vec8(hs.sessionId), u16(hs.suite.id), u8(0),
      ...(exts.length > 0 ? [vec16(...exts)] : [])
    ])
    this.sendHandshake(handshake(HandshakeType.server_hello, body))
  }

  private onClientKeyExchange (st: ServerState & { kind: 'client_key_exchange' }, msg: HandshakeMessage): ServerState {
    const { hs, kx } = st
    const r = new Reader(msg.body)
    let pre: Buffer
    if (kx.kind === 'rsa') {
      // EncryptedPreMasterSecret is a 16-bit-length vector from TLS 1.0 on (RFC 2246 section 7.4.7.1); SSL 3.0's
      // bare form is not accepted. Decryption failures never surface here (rsaPremaster).
      const enc = r.vec16()
      r.end()
      pre = rsaPremaster(kx.key, enc, kx.clientVersion)
    } else {
      const point = r.vec8()
      r.end()
      pre = kx.eph.secret(point)
    }
    this.addTranscript(msg.raw)
    // RFC 7627 section 4: session_hash covers the transcript through ClientKeyExchange (MD5||SHA-1 in 1.0/1.1, section 3).
    const master = hs.ems
      ? prf(hs.prfHash, pre, 'extended master secret', this.transcriptDigest(), 48)
      : prf(hs.prfHash, pre, 'master secret', Buffer.concat([hs.clientRandom, hs.serverRandom]), 48)
    const keys = deriveKeys(hs.suite, hs.version, master, hs.clientRandom, hs.serverRandom)
    this.keylog(hs, master)
    return { kind: 'change_cipher_spec', hs, master, clientKeys: keys.client, ending: { kind: 'full', serverKeys: keys.server, issueTicket: st.issueTicket } }
  }

  /** NextProtocol (draft-agl-tls-nextprotoneg-04 section 4): selected_protocol<0..255>, padding<0..255>. */
  private onNextProtocol (st: ServerState & { kind: 'next_protocol' }, msg: HandshakeMessage): ServerState {
    const r = new Reader(msg.body)
    const proto = r.vec8()
    r.vec8()
    r.end()
    // draft-agl-tls-nextprotoneg-04 section 4 lets a client with nothing in common pick a protocol we never
    // offered. Speaking it anyway would hand, say, spdy/2 to a listener configured without it; like nginx's SPDY
    // module, treat such a pick as no protocol (the HTTP/1.1 fallback).
    const chosen = proto.toString('latin1')
    this.addTranscript(msg.raw) // it is part of the Finished hash
    return { kind: 'finished', hs: st.hs, master: st.master, protocol: this.ctx.protocols.includes(chosen) ? chosen : null, ending: st.ending }
  }

  private onFinished (st: ServerState & { kind: 'finished' }, msg: HandshakeMessage): ServerState {
    const { hs, master, ending } = st
    const expected = prf(hs.prfHash, master, 'client finished', this.transcriptDigest(), 12)
    if (msg.body.length !== 12) throw new TlsError(Alert.decode_error, 'Finished is not 12 bytes')
    if (!crypto.timingSafeEqual(expected, msg.body)) throw new TlsError(Alert.decrypt_error, 'client Finished does not verify') // section 7.4.9
    this.addTranscript(msg.raw)
    if (ending.kind === 'full') {
      const state: SessionState = { master, suiteId: hs.suite.id, version: hs.version, ems: hs.ems, servername: hs.servername, created: this.created }
      this.ctx.sessions.set(hs.sessionId, state)
      if (ending.issueTicket) {
        // NewSessionTicket (RFC 5077 section 3.3): lifetime hint in seconds, then the opaque ticket.
        const ticket = this.ctx.tickets.seal(state, this.created)
        const hint = Buffer.allocUnsafe(4)
        hint.writeUInt32BE(Math.floor(DEFAULT_SESSION_LIFETIME / 1000))
        this.sendHandshake(handshake(HandshakeType.new_session_ticket, Buffer.concat([hint, vec16(ticket)])))
      }
      this.sendChangeCipherSpec(ending.serverKeys)
      this.sendFinished(hs, master)
    }
    this.handshakeDone({
      type: 'handshake',
      protocol: st.protocol,
      negotiatedBy: st.protocol === null ? null : hs.alpn !== null ? 'alpn' : 'npn',
      cipher: hs.suite.name,
      version: versionName(hs.version),
      servername: hs.servername,
      resumed: ending.kind === 'resumed'
    })
    return { kind: 'done', refusals: 0 }
  }

  private sendFinished (hs: Negotiated, master: Buffer): void {
    const verify = prf(hs.prfHash, master, 'server finished', this.transcriptDigest(), 12)
    this.sendHandshake(handshake(HandshakeType.finished, verify))
  }

  private keylog (hs: Negotiated, master: Buffer): void {
    this.ctx.options.onKeylog?.(`CLIENT_RANDOM ${hs.clientRandom.toString('hex')} ${master.toString('hex')}`)
  }
}
