/**
 * The contracts between the parts of lib/server, in one module that imports no other module of lib/server except
 * type-only leaves (log-limit.ts), so that every part depends on these interfaces and none on another part's
 * class: listener -> connection -> stages (proxy-stage, tls-select, tls-layer, protocol) -> SPDY router ->
 * Fastify bridge (dispatch, request, response) and pusher, with no way back up (test/layout.test.ts checks it).
 */
import type net from 'node:net'
import type tls from 'node:tls'
import type { FastifyInstance } from 'fastify'
import type { SpdyVersion } from '../codec/types'
import type { ResolvedOptions } from '../options'
import type { RequestHead } from '../session/headers'
import type { TlsServerOptions } from '../tls/server'
import type { ListenerLog } from './log-limit'

// ---- connection <-> handlers ----

/** A handler consumes decrypted bytes and emits bytes to send; the connection is its transport. */
export interface Transport {
  /**
   * Runs `fn` under the connection's crash barrier: for continuations the caller defers itself (nextTick,
   * setImmediate, timers, callbacks). A throw ends this connection, never the process.
   */
  run (fn: () => void): void
  /** Bytes for the peer (already framed; encrypted by the connection if TLS is on). */
  send (chunk: Uint8Array): void
  /**
   * Several chunks in one go (one writev for the socket). `written`, if given, is called once the socket has
   * written all of them (the last write's callback: writes complete in order), with an error if it failed.
   */
  sendMany (chunks: Uint8Array[], written?: (err?: Error | null) => void): void
  /** True while the socket's buffer is over its high-water mark: producers should pause. */
  readonly congested: boolean
  /** Bytes sent that the socket has not yet written (the session's answer budget counts them: transportBacklog). */
  readonly unwrittenBytes: number
  /** Ask to be called on socket drain. */
  onWritable (cb: () => void): void
  /** Flush what was sent, then end the socket. */
  end (): void
  destroy (): void
  /** Pause (on) or resume reading the socket for `reason` (HOLD_*); reading goes on when no reason is left. */
  hold (reason: number, on: boolean): void
  /** Rearm the connection's timer: the handler wants tick() at `deadline` (ms since epoch), or never (null). */
  schedule (deadline: number | null): void
}

export interface Handler {
  receive (chunk: Uint8Array): void
  tick (now: number): void
  onEnd (): void
  onClose (): void
  shutdown (): void
  /**
   * Sends a PING of our own (SPDY/3 section 2.6.5) whose answer sets rttMs; false when there is no session yet, it
   * is closing, or maxOutstandingPings are unanswered (as Node's http2 session.ping()).
   */
  ping (): boolean
  /**
   * After an unexpected throw (Connection's crash barrier): queue and send what the peer should hear (GOAWAY
   * INTERNAL_ERROR), best effort; the connection closes the socket next and calls onClose().
   */
  fail (): void
  /** Nothing in flight: no stream open and no request being answered; the connection may be closed for another. */
  readonly idle: boolean
  readonly version: SpdyVersion | null
  readonly openStreams: number
  readonly streamsServed: number
  readonly rttMs: number | null
  readonly compressionContextsLive: boolean
}

/** What Connection drives: the stage, or what the stage hands over to (ProtocolHandler, TlsLayer). */
export type StageHandler = Handler & { readonly protocol: string | null }

/** The OpenSSL side of a TLS listener: contexts made once, at registration, so a bad PEM fails register(). */
export interface OpenSslStack {
  readonly context: tls.SecureContext
  readonly protocols: string[]
  readonly sni: (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void
  readonly keylog: ((line: string) => void) | undefined
}

/** What a connection and its stages use of the listener that accepted it (lib/server/listener.ts SpdyListener). */
export interface ListenerContext {
  readonly fastify: FastifyInstance
  readonly options: ResolvedOptions
  /** One options object for every connection of our TLS engine; null on a plain listener. */
  readonly tlsOptions: TlsServerOptions | null
  /** OpenSSL for the clients that do not need NPN; null with `tls: false` or `tls.openssl: false`. */
  readonly openssl: OpenSslStack | null
  /** The per-listener budget of log lines about peers. */
  readonly log: ListenerLog
  /** The connection is no longer ours to close (handed to the app's HTTP server, or re-made over another socket). */
  release (conn: ConnectionContext): void
  /** A connection re-made over a socket that wraps `from`'s (OpenSSL's TLS socket) takes `from`'s place. */
  adopt (socket: net.Socket, from: ConnectionContext, start: (conn: ConnectionContext) => StageHandler): void
}

/** What the stages and handlers use of their connection (lib/server/connection.ts Connection). */
export interface ConnectionContext extends Transport {
  readonly listener: ListenerContext
  readonly socket: net.Socket
  /** The socket's peer, or the client named by a PROXY protocol header. */
  remoteAddress: string | null
  remotePort: number | null
  /** A warn or error line about this peer, through the per-connection and per-listener budgets. */
  logLine (level: 'warn' | 'error', kind: string, obj: object, msg: string): void
  /** Plain listener, HTTP/1.x request: the app's own HTTP server takes the socket over. */
  handOffToHttp (firstChunk: Uint8Array): void
  /** Another layer takes the socket's bytes from here on (OpenSSL): our listeners come off. */
  detach (): net.Socket
  /**
   * The socket stays ours for good (a SPDY session on it, or our TLS engine): its reads skip Node's stream machinery
   * from here on (lib/server/driver.ts Driver.readInPlace). detach() must not follow.
   */
  readInPlace (): boolean
}

// ---- SPDY router <-> Fastify bridge ----

/** `request.spdy`: the stream a request came on. */
export interface SpdyRequestInfo {
  /** 2, 3 or 3.1 */
  version: 2 | 3 | 3.1
  streamId: number
  priority: number
}

/** Connection facts of the session a stream belongs to (one object per connection, shared by its streams). */
export interface SpdyConnectionInfo {
  remoteAddress: string | undefined
  remotePort: number | undefined
  localAddress: string | undefined
  localPort: number | undefined
  /** TLS underneath: request.protocol is 'https'. */
  encrypted: boolean
}

/**
 * A stream's request as the router hands it to the Fastify bridge (lib/server/dispatch.ts): plain data, finished
 * before the bridge sees it, and taken over (not copied) by the request object.
 */
export interface StreamHead extends SpdyRequestInfo {
  /**
   * The request as lib/session/headers.ts requestHead made and checked it: method, path and query (the url),
   * Node-style headers whose host is the authority.
   */
  head: RequestHead
  /** SYN_STREAM carried FLAG_FIN: no body follows. false = a body may follow (pushData/pushEnd will come). */
  fin: boolean
  conn: SpdyConnectionInfo
}

/** The RST_STREAM statuses a response can ask its sink for (see reset). */
export type SinkResetStatus = 'CANCEL' | 'INTERNAL_ERROR' | 'PROTOCOL_ERROR'

/**
 * What a response needs from a SPDY stream. The router implements it (one small object per stream), the pusher for
 * pushed streams; tests implement it with a recorder. Calls arrive in this order: respond once, then write* (the
 * last one may carry fin), then end() unless a respond/write already carried fin; or reset() at any point, after
 * which nothing else comes.
 */
export interface StreamSink {
  /**
   * SYN_REPLY: status and headers, as the app set them. Names are lowercased, values strings, repeated values
   * (set-cookie) as arrays. The sink makes the frame's header list with lib/session/headers.ts (responseHeaderList,
   * pushHeaderList), which NUL-joins repeated values (SPDY/3 section 2.6.10) and drops the connection-specific
   * headers (connection, keep-alive, transfer-encoding, proxy-connection, upgrade) that HTTP/1.1 code such as
   * Fastify's may set. fin: the response has no body (HEAD, 204, 304, or end() without data), so SYN_REPLY carries
   * FLAG_FIN.
   */
  respond (status: number, headers: Record<string, string | string[]>, fin: boolean): void
  /**
   * Queues a DATA payload (the sink frames it; the chunk is not copied by us and must not be kept mutable by the
   * sink beyond the write). fin: this is the last chunk (DATA with FLAG_FIN). Returns false once the stream's queue
   * is over its high-water mark: the response then waits for onDrain before writing more.
   */
  write (chunk: Uint8Array, fin: boolean): boolean
  /** FIN after what was written (an empty DATA frame with FLAG_FIN), when no write carried fin. */
  end (): void
  /**
   * RST_STREAM. INTERNAL_ERROR: the app destroyed the response before its end (a truncated body must not look
   * complete). CANCEL: the response is complete but the request body is not and nobody will read it, so the peer
   * can stop sending (SPDY has no NO_ERROR status for this). PROTOCOL_ERROR: the request's DATA broke its
   * content-length.
   */
  reset (status: SinkResetStatus): void
  /** Calls cb once, when the stream can take more after write() returned false. */
  onDrain (cb: () => void): void
  /** The response was destroyed (after its end, a reset, or a failure): nothing more will be called. Optional. */
  closed?: () => void
}
