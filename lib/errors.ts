/**
 * Error classes with stable codes (FST_SPDY_*).
 *
 * Protocol errors carry the wire answer they map to, so the session layer never has to guess:
 * - a stream error is answered with RST_STREAM(status) on that stream and the session goes on;
 * - a session error is answered with GOAWAY(status) and the connection is closed.
 * One class per wire status code, after python-hyper/h2, so callers can `instanceof` the cause.
 */

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

/** Base of every error this package throws or reports. `code` is stable and safe to match on. */
export class SpdyError extends Error {
  readonly code: string
  constructor (code: string, message: string) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}

/** Invalid plugin options; the message names the option path and what is accepted. */
export class SpdyOptionsError extends SpdyError {
  constructor (message: string) {
    super('FST_SPDY_INVALID_OPTION', message)
  }
}

/** The plugin was registered a second time on the same app (in any context): one app has one SPDY listener. */
export class SpdyAlreadyRegisteredError extends SpdyError {
  constructor (message: string) {
    super('FST_SPDY_ALREADY_REGISTERED', message)
  }
}

/** A protocol violation confined to one stream: answer RST_STREAM(status) and keep the session. */
export class SpdyStreamError extends SpdyError {
  readonly streamId: number
  readonly status: RstStatusCode
  constructor (streamId: number, status: RstStatusCode, message: string, code = `FST_SPDY_STREAM_${rstStatusName(status)}`) {
    super(code, message)
    this.streamId = streamId
    this.status = status
  }
}

/** A protocol violation that poisons the connection: answer GOAWAY(status), then close. */
export class SpdySessionError extends SpdyError {
  readonly status: GoawayStatusCode
  constructor (status: GoawayStatusCode, message: string, code = `FST_SPDY_SESSION_${goawayStatusName(status)}`) {
    super(code, message)
    this.status = status
  }
}

export class ProtocolError extends SpdyStreamError {
  constructor (streamId: number, message: string) { super(streamId, RstStatus.PROTOCOL_ERROR, message) }
}
export class InvalidStreamError extends SpdyStreamError {
  constructor (streamId: number, message: string) { super(streamId, RstStatus.INVALID_STREAM, message) }
}
export class RefusedStreamError extends SpdyStreamError {
  constructor (streamId: number, message: string) { super(streamId, RstStatus.REFUSED_STREAM, message) }
}
export class UnsupportedVersionError extends SpdyStreamError {
  constructor (streamId: number, message: string) { super(streamId, RstStatus.UNSUPPORTED_VERSION, message) }
}
export class CancelError extends SpdyStreamError {
  constructor (streamId: number, message: string) { super(streamId, RstStatus.CANCEL, message) }
}
export class InternalStreamError extends SpdyStreamError {
  constructor (streamId: number, message: string) { super(streamId, RstStatus.INTERNAL_ERROR, message) }
}
export class FlowControlError extends SpdyStreamError {
  constructor (streamId: number, message: string) { super(streamId, RstStatus.FLOW_CONTROL_ERROR, message) }
}
export class StreamInUseError extends SpdyStreamError {
  constructor (streamId: number, message: string) { super(streamId, RstStatus.STREAM_IN_USE, message) }
}
export class StreamAlreadyClosedError extends SpdyStreamError {
  constructor (streamId: number, message: string) { super(streamId, RstStatus.STREAM_ALREADY_CLOSED, message) }
}
export class FrameTooLargeError extends SpdyStreamError {
  constructor (streamId: number, message: string) { super(streamId, RstStatus.FRAME_TOO_LARGE, message) }
}

export class SessionProtocolError extends SpdySessionError {
  constructor (message: string) { super(GoawayStatus.PROTOCOL_ERROR, message) }
}
export class SessionInternalError extends SpdySessionError {
  constructor (message: string) { super(GoawayStatus.INTERNAL_ERROR, message) }
}

/** TLS failures carry the alert they were (or will be) answered with, RFC 5246 section 7.2. */
export class TlsError extends SpdyError {
  readonly alert: number
  constructor (alert: number, message: string, code = 'FST_SPDY_TLS') {
    super(code, message)
    this.alert = alert
  }
}
