/**
 * SPDY frames as a typed union, named as in the drafts (SPDY/2 and SPDY/3 section 2.6).
 *
 * SPDY/3.1 uses version 3 on the wire: its only differences (a session flow-control window on stream 0,
 * no SETTINGS_CLEAR_SETTINGS persistence) live in the session layer, so the codec knows versions 2 and 3 only.
 *
 * Header values are byte strings decoded as latin1 (one char per byte), so no byte is lost or rewritten;
 * several values of one name are joined by NUL ("\0") exactly as they travel on the wire.
 */
import type { SpdyStreamError, SpdySessionError } from '../errors'

/** The version field of control frames. 3.1 is 3 on the wire. */
export type WireVersion = 2 | 3
/** The protocol a session speaks, as negotiated by NPN/ALPN (`spdy/2`, `spdy/3`, `spdy/3.1`). */
export type SpdyVersion = 2 | 3 | 3.1

export const wireVersionOf = (v: SpdyVersion): WireVersion => (v === 2 ? 2 : 3)

/** Control frame type numbers (SPDY/3 section 2.6). NOOP exists in v2 only, CREDENTIAL in v3 only. */
export const ControlType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  NOOP: 5,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
  CREDENTIAL: 10
} as const

/** Frame flags (SPDY/3 section 2.6). */
export const Flag = {
  FIN: 0x01,
  UNIDIRECTIONAL: 0x02,
  /** SETTINGS frame flag. */
  CLEAR_SETTINGS: 0x01
} as const

/** Per-setting flags inside a SETTINGS frame (SPDY/3 section 2.6.4). */
export const SettingFlag = {
  PERSIST_VALUE: 0x01,
  PERSISTED: 0x02
} as const

/** SETTINGS ids (SPDY/3 section 2.6.4). */
export const SettingId = {
  UPLOAD_BANDWIDTH: 1,
  DOWNLOAD_BANDWIDTH: 2,
  ROUND_TRIP_TIME: 3,
  MAX_CONCURRENT_STREAMS: 4,
  CURRENT_CWND: 5,
  DOWNLOAD_RETRANS_RATE: 6,
  INITIAL_WINDOW_SIZE: 7,
  CLIENT_CERTIFICATE_VECTOR_SIZE: 8
} as const

/** An ordered list of header pairs; a value may hold several values separated by "\0". */
export type HeaderList = Array<[name: string, value: string]>

export interface DataFrame {
  type: 'DATA'
  streamId: number
  fin: boolean
  data: Uint8Array
}

export interface SynStreamFrame {
  type: 'SYN_STREAM'
  streamId: number
  /** 0 when not associated (i.e. not a server push). */
  associatedStreamId: number
  /** 0 is highest. v2: 0-3 (2 bits); v3: 0-7 (3 bits). */
  priority: number
  /** v3 CREDENTIAL slot; always 0 in v2. */
  slot: number
  fin: boolean
  unidirectional: boolean
  headers: HeaderList
}

export interface SynReplyFrame {
  type: 'SYN_REPLY'
  streamId: number
  fin: boolean
  headers: HeaderList
}

export interface RstStreamFrame {
  type: 'RST_STREAM'
  streamId: number
  status: number
}

export interface SettingsEntry {
  id: number
  /** PERSIST_VALUE / PERSISTED bits. */
  flags: number
  value: number
}

export interface SettingsFrame {
  type: 'SETTINGS'
  clearSettings: boolean
  entries: SettingsEntry[]
}

export interface NoopFrame {
  type: 'NOOP'
}

export interface PingFrame {
  type: 'PING'
  id: number
}

export interface GoawayFrame {
  type: 'GOAWAY'
  lastGoodStreamId: number
  /** v3 status code; always 0 (OK) for v2, which has no status field on the wire. */
  status: number
}

export interface HeadersFrame {
  type: 'HEADERS'
  streamId: number
  fin: boolean
  headers: HeaderList
}

export interface WindowUpdateFrame {
  type: 'WINDOW_UPDATE'
  /** 0 is the session window (SPDY/3.1). */
  streamId: number
  deltaWindowSize: number
}

/** SPDY/3 CREDENTIAL: parsed enough to skip, its contents are ignored (no client certificate slots). */
export interface CredentialFrame {
  type: 'CREDENTIAL'
  slot: number
}

/** A control frame of a type this version does not define: the drafts say to ignore it. */
export interface UnknownControlFrame {
  type: 'UNKNOWN'
  controlType: number
  flags: number
  length: number
}

export type Frame =
  | DataFrame
  | SynStreamFrame
  | SynReplyFrame
  | RstStreamFrame
  | SettingsFrame
  | NoopFrame
  | PingFrame
  | GoawayFrame
  | HeadersFrame
  | WindowUpdateFrame
  | CredentialFrame
  | UnknownControlFrame

export type FrameType = Frame['type']

/**
 * What the decoder yields besides frames.
 * A stream error leaves the decoder usable (the frame was consumed, its header block inflated so the shared
 * zlib context stays in step); a session error is terminal: the decoder yields nothing more afterwards.
 */
export interface StreamErrorEvent {
  type: 'STREAM_ERROR'
  error: SpdyStreamError
}
export interface SessionErrorEvent {
  type: 'SESSION_ERROR'
  error: SpdySessionError
}
export type DecodeEvent = Frame | StreamErrorEvent | SessionErrorEvent
