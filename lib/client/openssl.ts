/**
 * The client's TLS over node:tls (OpenSSL) instead of our engine (`connect({ tlsStack: 'openssl' })`): TLS 1.3 or
 * 1.2, protocols offered by ALPN only (RFC 7301; OpenSSL as Node exposes it has no NPN). The SPDY session then runs
 * over the TLSSocket as it runs over a plain socket, so everything above TLS is the same code path.
 *
 * What it is for: measuring and testing the server's OpenSSL side (issue 12, bench/throughput, bench/pageload) with
 * the package's own SPDY client, and reaching servers our TLS 1.2 engine cannot (TLS 1.3 only). It has no False
 * Start (RFC 7918 is TLS 1.2 only; TLS 1.3's one round trip already does what it did).
 *
 * This module makes the TLSSocket, names its outcome in the client's terms (the handshake summary, the errors), and
 * does no I/O of its own: client.ts's ClientLink runs the connect, the handshake's deadline and everything after
 * on the shared driver, as for a plain socket. It knows nothing of SpdyClient, so the import graph has no cycle.
 */
import * as tls from 'node:tls'
import type { TlsHandshakeEvent } from '../tls/client'
import { ClientCertificateError, ClientClosedError, ClientConnectError, ClientNoProtocolError, ClientTlsError, type SpdyClientError } from './errors'

/** TLS versions the OpenSSL stack can be pinned to (Node's names). */
export type OpenSslTlsVersion = 'TLSv1.2' | 'TLSv1.3'

export interface OpenSslConnectOptions {
  host: string
  port: number
  servername: string
  /** ALPN list, in preference order. */
  protocols: string[]
  ca?: string | string[]
  insecure?: boolean
  /** Node's session (the 'session' event's Buffer) to resume. */
  session?: Buffer | null
  /** Pin the version; default: the best both sides have (TLS 1.3 against an OpenSSL server). */
  tlsVersion?: OpenSslTlsVersion
  /** Each new session (TLS 1.3 tickets arrive after the handshake, RFC 8446 section 4.6.1). */
  onSession: (session: Buffer) => void
}

/**
 * Node's verification errors for the server's certificate (tls.TLSSocket's `authorizationError` codes and
 * checkServerIdentity's), reported as ClientCertificateError like our engine's certificate alerts.
 */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE', 'INVALID_CA', 'ERR_TLS_CERT_ALTNAME_INVALID'
])

/** A node:tls socket error before the SPDY session, in the client's terms. */
export function openSslFailure (err: NodeJS.ErrnoException, where: string, handshaking: boolean): SpdyClientError {
  const code = err.code ?? 'ERROR'
  if (CERTIFICATE_CODES.has(code)) return new ClientCertificateError(`certificate problem: ${err.message}`, code)
  // OpenSSL names a received alert ERR_SSL_SSLV3_ALERT_<NAME> / ERR_SSL_TLSV1_ALERT_<NAME> / ERR_SSL_TLSV13_ALERT_<NAME>.
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code)
  if (alert !== null) {
    const name = alert[1].toLowerCase()
    if (name === 'no_application_protocol') return new ClientNoProtocolError('no protocol in common: the server answered no_application_protocol', null)
    return new ClientTlsError(`TLS alert from the server: ${name}`, name, true)
  }
  if (code.startsWith('ERR_SSL_')) return new ClientTlsError(`TLS failure: ${err.message}`, code.slice(8).toLowerCase(), false)
  if (handshaking) return new ClientClosedError(`connection error during the TLS handshake with ${where}: ${code}`)
  return new ClientConnectError(code === 'ECONNREFUSED' ? `connection refused by ${where}` : `cannot connect to ${where}: ${err.message}`, code)
}

/** The TLSSocket, connecting; its 'connect' is the TCP connect, its 'secureConnect' the end of the handshake. */
export function openSslSocket (o: OpenSslConnectOptions): tls.TLSSocket {
  const socket = tls.connect({
    host: o.host,
    port: o.port,
    // RFC 6066 section 3: no IP literal as SNI; Node warns for one, and checks the certificate against it anyway.
    ...(/^[\d.]+$|:/.test(o.servername) ? {} : { servername: o.servername }),
    ALPNProtocols: o.protocols,
    ca: o.ca,
    rejectUnauthorized: o.insecure !== true,
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(o.servername, cert),
    session: o.session ?? undefined,
    minVersion: o.tlsVersion ?? 'TLSv1.2',
    maxVersion: o.tlsVersion ?? 'TLSv1.3'
  })
  socket.setNoDelay(true)
  socket.on('session', (s: Buffer) => o.onSession(s))
  return socket
}

/** After 'secureConnect': the handshake in our engine's terms (TlsHandshakeEvent). */
export function openSslHandshake (socket: tls.TLSSocket, servername: string): TlsHandshakeEvent {
  const cipher = socket.getCipher()
  const alpn = typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null
  return {
    type: 'handshake',
    protocol: alpn,
    negotiatedBy: alpn === null ? null : 'alpn',
    cipher: cipher.name,
    version: socket.getProtocol() ?? cipher.version,
    servername,
    resumed: socket.isSessionReused()
  }
}
