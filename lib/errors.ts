/**
 * Error classes with stable codes (FST_SPDY_*), made with @fastify/error as every Fastify plugin's are: each has a
 * fixed `code`, a `statusCode` (500: none of them is an HTTP answer) and its class's `name`; `instanceof` works
 * on the class and on its group (SpdyError > SpdyStreamError / SpdySessionError / TlsError / SpdyClientError).
 * Only classes that reach a user are here; README "Errors" says where each one surfaces:
 * - at register: SpdyOptionsError, SpdyAlreadyRegisteredError (register()/ready()/listen() rejects with them);
 * - protocol errors: the decoder's STREAM_ERROR / SESSION_ERROR events carry a SpdyStreamError / SpdySessionError
 *   (answered with RST_STREAM / GOAWAY), the TLS engine's `error` event a TlsError (answered with its alert); the
 *   server logs them, the client turns them into its own errors (lib/client/errors.ts).
 */
import createError, { type FastifyError } from '@fastify/error'

/** RST_STREAM status codes. SPDY/2 section 2.6.3 defines 1-7; SPDY/3 section 2.6.3 adds 8-11. */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  INVALID_CREDENTIALS: 10,
  FRAME_TOO_LARGE: 11
} as const
export type RstStatusCode = (typeof RstStatus)[keyof typeof RstStatus]

/** GOAWAY status codes, SPDY/3 section 2.6.6 (SPDY/2 GOAWAY carries no status on the wire). */
export const GoawayStatus = {
  OK: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2
} as const
export type GoawayStatusCode = (typeof GoawayStatus)[keyof typeof GoawayStatus]

export const rstStatusName = (code: number): string =>
  (Object.keys(RstStatus) as Array<keyof typeof RstStatus>).find((k) => RstStatus[k] === code) ?? `UNKNOWN_${code}`

export const goawayStatusName = (code: number): string =>
  (Object.keys(GoawayStatus) as Array<keyof typeof GoawayStatus>).find((k) => GoawayStatus[k] === code) ??
  `UNKNOWN_${code}`

/** What errorClass() makes; named so the declarations refer to @fastify/error's FastifyError instead of spelling it out. */
export type ErrorClass<C extends string> = new (message: string) => FastifyError & { code: C }

/**
 * A class made by @fastify/error with a fixed code, on top of `Base`, whose message is the text the constructor is
 * given. Not exported from the package: lib/client/errors.ts makes its classes with it too.
 */
export function errorClass<C extends string> (code: C, Base: abstract new (...args: never[]) => Error): ErrorClass<C> {
  const made = createError<C, [message: string]>(code, '%s', 500, Base as unknown as ErrorConstructor)
  // @fastify/error chains the prototypes (instanceof works) but makes a plain function: chain the constructors too,
  // as `class extends` would, so Error.isPrototypeOf(ErrorClass) holds (assertion libraries test that to tell an
  // error class from a predicate).
  Object.setPrototypeOf(made, Base)
  return class extends made {
    constructor (...args: [message: string]) {
      super(...args)
      // The class's own name ('TlsError [FST_SPDY_TLS]: ...' in a stack) rather than @fastify/error's 'FastifyError':
      // it says more, it is what these errors were named before, and tap's t.throws(fn, Class) compares it.
      this.name = new.target.name
    }
  }
}

/** Base of every error this package throws or reports. `code` is stable and safe to match on. */
export class SpdyError extends errorClass<string>('FST_SPDY_ERROR', Error) {}

/** Invalid plugin options, thrown at register; the message names the option path and what is accepted. */
export class SpdyOptionsError extends errorClass('FST_SPDY_INVALID_OPTION', SpdyError) {}

/** The plugin was registered a second time on the same app (in any context): one app has one SPDY listener. */
export class SpdyAlreadyRegisteredError extends errorClass('FST_SPDY_ALREADY_REGISTERED', SpdyError) {}

/**
 * A protocol violation confined to one stream: answered with RST_STREAM(status), the session goes on. A group:
 * the errors made are the classes below it, which set `streamId` and `status`.
 */
export class SpdyStreamError extends errorClass<string>('FST_SPDY_STREAM_ERROR', SpdyError) {
  declare readonly streamId: number
  declare readonly status: RstStatusCode
}

/** A protocol violation that poisons the connection: answered with GOAWAY(status), then close. A group, as above. */
export class SpdySessionError extends errorClass<string>('FST_SPDY_SESSION_ERROR', SpdyError) {
  declare readonly status: GoawayStatusCode
}

/** Malformed frame or header block on a stream (RST_STREAM PROTOCOL_ERROR). */
export class ProtocolError extends errorClass('FST_SPDY_STREAM_PROTOCOL_ERROR', SpdyStreamError) {
  readonly status = RstStatus.PROTOCOL_ERROR
  constructor (readonly streamId: number, message: string) { super(message) }
}
/** SYN_STREAM of another SPDY version than the session's (RST_STREAM UNSUPPORTED_VERSION). */
export class UnsupportedVersionError extends errorClass('FST_SPDY_STREAM_UNSUPPORTED_VERSION', SpdyStreamError) {
  readonly status = RstStatus.UNSUPPORTED_VERSION
  constructor (readonly streamId: number, message: string) { super(message) }
}
/** A DATA frame or header block over its limit (maxFrameLength, maxHeaderPairs): RST_STREAM FRAME_TOO_LARGE. */
export class FrameTooLargeError extends errorClass('FST_SPDY_STREAM_FRAME_TOO_LARGE', SpdyStreamError) {
  readonly status = RstStatus.FRAME_TOO_LARGE
  constructor (readonly streamId: number, message: string) { super(message) }
}

/** A frame that breaks the session (bad control frame, wrong version, oversized control frame): GOAWAY PROTOCOL_ERROR. */
export class SessionProtocolError extends errorClass('FST_SPDY_SESSION_PROTOCOL_ERROR', SpdySessionError) {
  readonly status = GoawayStatus.PROTOCOL_ERROR
}

/**
 * TLS failures carry the alert they were (or will be) answered with, RFC 5246 section 7.2. `code` is FST_SPDY_TLS,
 * or the more precise one the TLS engine gives (FST_SPDY_TLS_PEER_ALERT: the peer sent the alert).
 */
export class TlsError extends errorClass<string>('FST_SPDY_TLS', SpdyError) {
  readonly alert: number
  constructor (alert: number, message: string, code?: string) {
    super(message)
    this.alert = alert
    if (code !== undefined) this.code = code
  }
}
