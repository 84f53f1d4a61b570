/**
 * What can go wrong for a SPDY client, one class per cause a user acts on differently: the port is closed, the
 * certificate is not trusted, the server speaks no SPDY, the server broke the protocol, nothing came in time, the
 * server hung up. Codes are stable (FST_SPDY_CLIENT_*); messages are one line, fit for a CLI.
 */
import { errorClass, SpdyError } from '../errors'

/** Base of the client's errors: thrown (rejected) by `connect()` and `request()`, shown in one line by the CLI. */
export class SpdyClientError extends errorClass<string>('FST_SPDY_CLIENT_ERROR', SpdyError) {}
const clientError = <C extends string>(code: C) => errorClass(code, SpdyClientError)

/** The TCP connection could not be made (refused, unreachable, unknown host). `errno` is Node's code. */
export class ClientConnectError extends clientError('FST_SPDY_CLIENT_CONNECT') {
  readonly errno: string
  constructor (message: string, errno: string) {
    super(message)
    this.errno = errno
  }
}

/** The server's certificate was refused by us: unknown CA, name mismatch, expired (alert we sent, RFC 5246 7.2.2). */
export class ClientCertificateError extends clientError('FST_SPDY_CLIENT_CERTIFICATE') {
  readonly alert: string
  constructor (message: string, alert: string) {
    super(message)
    this.alert = alert
  }
}

/** Any other TLS failure: a fatal alert from the server, or one we sent for a malformed handshake. */
export class ClientTlsError extends clientError('FST_SPDY_CLIENT_TLS') {
  readonly alert: string
  /** True when the server sent the alert, false when we did. */
  readonly fromPeer: boolean
  constructor (message: string, alert: string, fromPeer: boolean) {
    super(message)
    this.alert = alert
    this.fromPeer = fromPeer
  }
}

/** TLS finished but NPN/ALPN chose no SPDY version (the server picked http/1.1, or nothing). */
export class ClientNoProtocolError extends clientError('FST_SPDY_CLIENT_NO_PROTOCOL') {
  /** What the server chose, null when it chose nothing. */
  readonly chosen: string | null
  constructor (message: string, chosen: string | null) {
    super(message)
    this.chosen = chosen
  }
}

/**
 * The SPDY exchange failed: the server sent GOAWAY with an error status or reset our stream (`frame` and
 * `status` say which and why), or sent bytes our session answered with a protocol error (`frame` null).
 */
export class ClientProtocolError extends clientError('FST_SPDY_CLIENT_PROTOCOL') {
  readonly frame: 'GOAWAY' | 'RST_STREAM' | null
  readonly status: string
  /**
   * True when the server never processed the request: its stream was above GOAWAY's last-good-stream-id, or it was
   * never sent because the server had sent GOAWAY (SPDY/3 section 2.6.6). Retrying it elsewhere is safe, whatever
   * the method; SpdyAgent does so for idempotent ones.
   */
  readonly unprocessed: boolean
  constructor (message: string, frame: 'GOAWAY' | 'RST_STREAM' | null, status: string, unprocessed = false) {
    super(message)
    this.frame = frame
    this.status = status
    this.unprocessed = unprocessed
  }
}

/** Nothing (or not enough) arrived within the timeout; `phase` says what we were waiting for. */
export class ClientTimeoutError extends clientError('FST_SPDY_CLIENT_TIMEOUT') {
  readonly phase: 'connect' | 'handshake' | 'response'
  constructor (message: string, phase: 'connect' | 'handshake' | 'response') {
    super(message)
    this.phase = phase
  }
}

/**
 * The response (its body and the bodies of the streams pushed with it) grew past `maxResponseBytes`: the client
 * buffers whole responses, so it cancels the streams (RST_STREAM CANCEL) instead of holding more. The connection
 * stays usable.
 */
export class ClientResponseTooLargeError extends clientError('FST_SPDY_CLIENT_RESPONSE_TOO_LARGE') {
  readonly limit: number
  constructor (message: string, limit: number) {
    super(message)
    this.limit = limit
  }
}

/** The server closed the connection before the exchange finished, without saying why. */
export class ClientClosedError extends clientError('FST_SPDY_CLIENT_CLOSED') {
  constructor (message: string) {
    super(message)
  }
}
