/**
 * A small promise-based SPDY client on our own engines: a net.Socket, optionally our TLS 1.2 client (NPN and/or
 * ALPN) or Node's TLS (`tlsStack: 'openssl'`, openssl.ts), and the session engine in the client role. It buffers
 * whole responses (and the streams the server pushes with them) in memory, up to maxResponseBytes: it is for the
 * CLI, tests and page-load benchmarks, not for streaming large bodies. Published as `fastify-spdy/client`.
 *
 *   const client = await connect({ host: '127.0.0.1', port: 8443, tls: true, ca })
 *   const res = await client.request({ path: '/' })   // { status, headers, body, pushes }
 *   await client.close()
 */
import * as net from 'node:net'
import { TLSSocket } from 'node:tls'
import { FrameDecoder } from '../codec/decoder'
import type { Frame, HeaderList, SpdyVersion } from '../codec/types'
import { GoawayStatus, goawayStatusName, RstStatus, rstStatusName, type TlsError } from '../errors'
import { replyHeaders, replyStatus, requestHeaderList, type HttpHeaders, type OutgoingHeaders } from '../session/headers'
import { SpdySession, type SessionEvent } from '../session/session'
import { TlsClientConnection, type TlsClientSession, type TlsEvent, type TlsHandshakeEvent } from '../tls/client'
import { Alert, alertName } from '../tls/constants'
import { EngineDriver, type PullEngine } from '../server/engine-driver'
import { DeadlineHeap, type Deadline } from './deadlines'
import { openSslFailure, openSslHandshake, openSslSocket, type OpenSslTlsVersion } from './openssl'
import {
  ClientCertificateError,
  ClientClosedError,
  ClientConnectError,
  ClientNoProtocolError,
  ClientProtocolError,
  ClientResponseTooLargeError,
  ClientTimeoutError,
  ClientTlsError,
  SpdyClientError
} from './errors'

export * from './errors'
export type { TlsClientSession, OpenSslTlsVersion }

export type FrameDirection = 'in' | 'out'

/** DATA bytes taken from the session per driver round (outbound): four of the session's 16 KiB DATA frames. */
const OUTBOUND_SLICE = 64 * 1024

export interface ConnectOptions {
  host: string
  port: number
  /** true: SPDY over TLS with NPN/ALPN; false: plain SPDY on TCP (the version then comes from `version`). */
  tls: boolean
  /**
   * Which TLS implementation: 'engine' (default), the package's own TLS 1.2 client (NPN and/or ALPN, False Start,
   * `legacy`-era servers); or 'openssl', Node's `tls.connect`: TLS 1.3 (or 1.2), ALPN only (Node has no NPN, so
   * `negotiation` must not be 'npn'), no False Start. The SPDY session above it is the same.
   */
  tlsStack?: 'engine' | 'openssl'
  /** tlsStack 'openssl': pin the TLS version (default: the best both sides have, TLS 1.3 against OpenSSL). */
  tlsVersion?: OpenSslTlsVersion
  /** Name sent as SNI and checked against the certificate; defaults to `host`. */
  servername?: string
  /** PEM trust anchors for the server's certificate; required with TLS unless `insecure`. */
  ca?: string | string[]
  /** Skip certificate verification. */
  insecure?: boolean
  /** How to offer protocols over TLS; 'both' (default) sends NPN and ALPN, and the server then uses ALPN. */
  negotiation?: 'npn' | 'alpn' | 'both'
  /** TLS: offer only this SPDY version (default: 3.1, 3, 2). Plain: the version spoken (default 3.1). */
  version?: SpdyVersion
  /**
   * ms for the TCP connect plus the TLS handshake (default 10000; 0 = none). With False Start that ends at our
   * Finished; the server's Finished is then awaited within each request's own `timeout`.
   */
  timeout?: number
  /**
   * Most bytes buffered for one request: its body plus the bodies pushed with it (default 64 MiB). Past it the
   * request fails with ClientResponseTooLargeError and its streams are cancelled; requests can override it.
   */
  maxResponseBytes?: number
  /** Every SPDY frame, both ways, decoded once more for display (costs a second zlib context per direction). */
  onFrame?: (direction: FrameDirection, frame: Frame) => void
  /** Called once the connection is ready, before our first frame (SETTINGS) goes out: for logging. */
  onConnect?: (client: SpdyClient) => void
  /**
   * TLS: resume this session (an earlier client's `tlsSession`): an RFC 5077 ticket if the server issued one, else
   * the session id. `client.tls.resumed` tells whether the server took it. With tlsStack 'openssl' it is Node's
   * session (a Buffer, RFC 8446 section 4.6.1 ticket or TLS 1.2 session); each stack takes only its own kind.
   */
  session?: TlsClientSession | Buffer | null
  /**
   * TLS False Start (RFC 7918), default true: with ECDHE, an AEAD suite and a protocol agreed by NPN/ALPN, connect()
   * resolves after our Finished, so SETTINGS and the first SYN_STREAM leave one round trip before the server's
   * Finished (which is still verified: a bad one fails the requests). `client.tls.falseStart` tells if it happened.
   */
  falseStart?: boolean
}

export interface RequestOptions {
  method?: string
  /** Path and query. */
  path: string
  headers?: OutgoingHeaders
  body?: Uint8Array | string
  /** Defaults to host:port as connected. */
  authority?: string
  /** ms until the response and its pushed streams are complete (default 10000; 0 = none). */
  timeout?: number
  /** 0 (highest) to 7; SPDY/2 uses 0-3. Default 3. */
  priority?: number
  /** This request's limit instead of the connection's `maxResponseBytes`. */
  maxResponseBytes?: number
}

export interface PushedResponse {
  streamId: number
  /** Absolute URL the server announced. */
  url: string
  /** Its path (and query). */
  path: string
  /** 0 when the server never sent one. */
  status: number
  headers: HttpHeaders
  body: Buffer
  /** Set when the server reset the pushed stream (e.g. 'CANCEL'); body then holds what came before. */
  reset: string | null
}

export interface SpdyResponse {
  streamId: number
  status: number
  headers: HttpHeaders
  /** The reply's header block as it came (pseudo headers included), for display. */
  rawHeaders: HeaderList
  body: Buffer
  pushes: PushedResponse[]
}

const DEFAULT_TIMEOUT = 10_000

/** A NaN or negative limit would let every comparison pass and the buffer grow without bound: refuse it. */
function checkMaxBytes (where: string, n: number | undefined): void {
  if (n !== undefined && !(Number.isSafeInteger(n) && n >= 0)) throw new TypeError(`${where} must be a non-negative integer number of bytes, not ${String(n)}`)
}
/** Whole responses are held in memory until complete: a page and its pushed assets fit many times over in 64 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
const PROTOCOL_OF: Record<string, SpdyVersion> = { 'spdy/3.1': 3.1, 'spdy/3': 3, 'spdy/2': 2 }
/** Alerts we raise when the server's certificate fails our checks (lib/tls/client.ts verifyChain/onCertificate). */
const CERTIFICATE_ALERTS = new Set<number>([Alert.bad_certificate, Alert.unsupported_certificate, Alert.certificate_expired, Alert.certificate_unknown, Alert.unknown_ca])
interface PushState {
  id: number
  url: string
  path: string
  headers: HeaderList
  chunks: Buffer[]
  done: boolean
  reset: string | null
}

interface Pending {
  id: number
  version: SpdyVersion
  resolve: (r: SpdyResponse) => void
  reject: (e: Error) => void
  headers: HeaderList | null
  chunks: Buffer[]
  done: boolean
  pushes: PushState[]
  /** Its `timeout`, a deadline of the connection's driver (SpdyClient.deadline/tick); null for none. */
  timeout: Deadline | null
  /** Why our own session reset this stream (a protocolError event precedes the streamReset). */
  ownError: string | null
  /** Body bytes held for this request, pushed streams included, and the most allowed. */
  bytes: number
  maxBytes: number
}

/** Headers of a pushed stream: the URL (v2 `url`; v3 `:scheme :host :path`, SPDY/3 section 3.3.1). */
function pushUrl (version: SpdyVersion, list: HeaderList, fallbackAuthority: string, scheme: string): { url: string, path: string } {
  const get = (n: string): string | undefined => list.find(([k]) => k === n)?.[1]
  if (version === 2) {
    const url = get('url') ?? ''
    try { const u = new URL(url); return { url, path: u.pathname + u.search } } catch { return { url, path: url } }
  }
  const path = get(':path') ?? ''
  return { url: `${get(':scheme') ?? scheme}://${get(':host') ?? fallbackAuthority}${path}`, path }
}

export class SpdyClient {
  /** The protocol spoken: 'spdy/3.1', 'spdy/3' or 'spdy/2'. */
  readonly negotiated: string
  /** How it was agreed: 'npn', 'alpn', or null for plain SPDY (no negotiation). */
  readonly negotiatedBy: 'npn' | 'alpn' | null
  readonly version: SpdyVersion
  /** The TLS handshake summary (cipher, version), null for plain SPDY. */
  readonly tls: TlsHandshakeEvent | null
  private readonly session: SpdySession
  private readonly pending = new Map<number, Pending>()
  private readonly pushes = new Map<number, { push: PushState, owner: Pending }>()
  /** Requests' timeouts: the driver's one timer is armed at the earliest (deadline), none has a timer of its own. */
  private readonly timeouts = new DeadlineHeap()
  /** Inside receive() or tick(): the driver pumps once they return, so flush() leaves it to the driver. */
  private inDriver = false
  /** Requests waiting for a stream slot (peer's MAX_CONCURRENT_STREAMS). */
  private readonly waiting: Array<() => void> = []
  private failure: SpdyClientError | null = null
  private closing = false
  private readonly closedPromise: Promise<void>
  private readonly tapOut: FrameDecoder | null
  private readonly tapIn: FrameDecoder | null

  /** Our last frames are queued: the driver ends the socket once it has written them (ClientLink.done). */
  ending = false

  /** @internal use connect() */
  constructor (
    private readonly link: ClientLink,
    private readonly tlsConn: TlsClientConnection | null,
    handshake: TlsHandshakeEvent | null,
    version: SpdyVersion,
    private readonly opts: ConnectOptions
  ) {
    this.version = version
    this.negotiated = `spdy/${version}`
    this.negotiatedBy = handshake?.negotiatedBy ?? null
    this.tls = handshake
    // 1 MiB stream windows (announced in SETTINGS, SPDY/3 section 2.6.4) let a page's body flow without waiting for
    // our WINDOW_UPDATEs. SPDY/2 has no INITIAL_WINDOW_SIZE setting to announce it with, yet spdy-transport holds v2
    // peers to 64 KB windows anyway: keep the 64 KB default there, so our updates come every 32 KB as it expects.
    this.session = new SpdySession({ role: 'client', version, idleTimeout: 0, ...(version === 2 ? {} : { initialWindowSize: 1 << 20 }) }, Date.now())
    const wire = version === 2 ? 2 : 3
    this.tapOut = opts.onFrame !== undefined ? new FrameDecoder({ version: wire }) : null
    this.tapIn = opts.onFrame !== undefined ? new FrameDecoder({ version: wire }) : null
    this.closedPromise = new Promise((resolve) => link.socket.once('close', () => resolve()))
    opts.onConnect?.(this)
    this.flush()
  }

  get authority (): string { return `${this.opts.servername ?? this.opts.host}:${this.opts.port}` }

  /**
   * The TLS session to resume with on a later connection (`connect({ session })`); null for plain SPDY. tlsStack
   * 'openssl': Node's session Buffer, once the server sent one (TLS 1.3 tickets come after the handshake).
   */
  get tlsSession (): TlsClientSession | Buffer | null { return this.tlsConn?.session ?? this.nodeSession }

  private nodeSession: Buffer | null = null

  /** @internal tlsStack 'openssl': the latest session Node gave (its 'session' event). */
  setNodeSession (session: Buffer): void { this.nodeSession = session }

  /** Sends one request; resolves when its response and every stream pushed with it are complete. */
  async request (r: RequestOptions): Promise<SpdyResponse> {
    if (this.failure !== null) throw this.failure
    if (this.closing) throw new ClientClosedError('the client is closed')
    const head = { method: r.method ?? 'GET', path: r.path, authority: r.authority ?? this.authority, scheme: this.opts.tls ? 'https' : 'http' }
    const body = typeof r.body === 'string' ? Buffer.from(r.body) : r.body
    const headers: OutgoingHeaders = { ...r.headers }
    if (body !== undefined && body.length > 0 && headers['content-length'] === undefined) headers['content-length'] = body.length
    const list = requestHeaderList(this.version, head, headers)
    const timeout = r.timeout ?? DEFAULT_TIMEOUT
    checkMaxBytes('request maxResponseBytes', r.maxResponseBytes)
    const maxBytes = r.maxResponseBytes ?? this.opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
    return await new Promise<SpdyResponse>((resolve, reject) => {
      let timer: Deadline | null = null
      let p: Pending | null = null
      let gaveUp = false
      let queued = false
      if (timeout > 0) {
        timer = {
          until: Date.now() + timeout,
          slot: -1,
          fire: () => {
            if (p !== null) this.finishRequest(p, new ClientTimeoutError(`timed out after ${timeout} ms waiting for the response to ${head.method} ${head.path}`, 'response'))
            else { gaveUp = true; reject(new ClientTimeoutError(`timed out after ${timeout} ms waiting for a stream slot for ${head.method} ${head.path}`, 'response')) }
          }
        }
        this.timeouts.add(timer)
      }
      const open = (): void => {
        if (gaveUp) return
        if (this.failure !== null) { if (timer !== null) this.timeouts.remove(timer); reject(this.failure); return }
        const hasBody = body !== undefined && body.length > 0
        if (this.goawayStatus !== null) {
          // The server said GOAWAY: it takes no new stream on this connection, so this request was never sent.
          if (timer !== null) this.timeouts.remove(timer)
          reject(this.unprocessed(`the server sent GOAWAY ${goawayStatusName(this.goawayStatus)} before ${head.method} ${head.path} could be sent`))
          return
        }
        const id = this.session.request(list, { fin: !hasBody, priority: this.version === 2 ? Math.min(3, r.priority ?? 3) : r.priority })
        if (id === 0) {
          if (this.session.closed || this.closing) {
            if (timer !== null) this.timeouts.remove(timer)
            reject(this.failure ?? new ClientClosedError('the session is closed: the server sent GOAWAY'))
            return
          }
          this.waiting.push(open)
          // Nothing to send yet, but the driver's timer must cover this request's deadline (once: a request sent
          // back to wait when a slot went to another keeps the deadline it had).
          if (timer !== null && !queued) { queued = true; this.flush() }
          return
        }
        p = { id, version: this.version, resolve, reject, headers: null, chunks: [], done: false, pushes: [], timeout: timer, ownError: null, bytes: 0, maxBytes }
        this.pending.set(id, p)
        if (hasBody) this.session.write(id, body, true)
        this.flush()
      }
      // open() pumps the driver once (flush): the SYN_STREAM goes out and the timer is re-armed at this deadline.
      open()
    })
  }

  /** @internal The earliest request deadline (ms since epoch), or null: the driver's timer is armed at it. */
  get deadline (): number | null { return this.timeouts.earliest }

  /** @internal A deadline passed: requests past their timeout fail. */
  tick (now: number): void {
    this.inDriver = true
    try {
      for (let x = this.timeouts.takeDue(now); x !== null; x = this.timeouts.takeDue(now)) x.fire()
    } finally { this.inDriver = false }
  }

  /** GOAWAY, TLS close_notify, end of the socket; resolves when the socket is closed. */
  async close (): Promise<void> {
    if (!this.closing && !this.link.socket.destroyed) {
      this.closing = true
      this.session.goaway(GoawayStatus.OK)
      this.endSocket()
    }
    await this.closedPromise
  }

  /** @internal Bytes from the socket (or decrypted by TLS). */
  receive (bytes: Uint8Array): void {
    if (this.tapIn !== null) this.tap('in', this.tapIn, bytes)
    // Called from the driver's read (ClientLink.receive), which pumps once this returns.
    this.inDriver = true
    try { this.handle(this.session.receive(bytes, Date.now())) } finally { this.inDriver = false }
  }

  private tap (direction: FrameDirection, decoder: FrameDecoder, bytes: Uint8Array): void {
    for (const ev of decoder.push(bytes)) {
      if (ev.type === 'STREAM_ERROR' || ev.type === 'SESSION_ERROR') continue // the session reports these itself
      this.opts.onFrame?.(direction, ev)
    }
  }

  /** Write what the session queued: the driver takes it through outbound(). */
  private flush (): void {
    if (!this.inDriver) this.link.driver.wake()
  }

  /**
   * @internal The session's frames, through TLS if on (ClientLink.takeOutbound), at most OUTBOUND_SLICE bytes of
   * DATA a call: the driver takes again only while the socket is not congested, so a request body waits in the
   * session, where a RST_STREAM still drops it, not in the socket's buffer, where nothing can. Without it a SPDY/2
   * upload (no window) went into the socket whole: 64 MiB refused with a 413 still crossed the link.
   */
  outbound (): Uint8Array[] {
    const out = this.session.takeOutbound(OUTBOUND_SLICE)
    if (out.length > 0) {
      const bytes = out.length === 1 ? out[0] : Buffer.concat(out)
      if (this.tapOut !== null) this.tap('out', this.tapOut, bytes)
      if (this.tlsConn === null) return [bytes]
      this.tlsConn.write(bytes)
    }
    return this.tlsConn === null ? out : this.tlsConn.takeOutboundChunks()
  }

  /** @internal A TLS event after the handshake: data, close_notify, or a fatal alert. */
  onTlsEvent (e: TlsEvent): void {
    if (e.type === 'data') this.receive(e.data)
    else if (e.type === 'close') this.onSocketGone(null)
    else if (e.type === 'error') this.fail(tlsFailure(e.error))
  }

  private handle (events: SessionEvent[]): void {
    // 'closed' is acted on after the rest of the batch: after a GOAWAY the session can report itself closed (its
    // last stream finished) before the 'data' event carrying that stream's final bytes.
    let closed: string | null = null
    for (const ev of events) {
      switch (ev.type) {
        case 'response': {
          const p = this.pending.get(ev.streamId)
          if (p === undefined) break
          p.headers = ev.headers
          if (ev.fin) this.mainDone(p)
          break
        }
        case 'headers': {
          const p = this.pending.get(ev.streamId)
          const q = this.pushes.get(ev.streamId)
          if (p !== undefined) p.headers = [...(p.headers ?? []), ...ev.headers]
          if (q !== undefined) q.push.headers.push(...ev.headers)
          if (ev.fin) {
            if (p !== undefined) this.mainDone(p)
            if (q !== undefined) this.pushDone(q.push, q.owner, null)
          }
          break
        }
        case 'data': {
          if (ev.data.length > 0) this.session.consume(ev.streamId, ev.data.length)
          const p = this.pending.get(ev.streamId)
          const q = this.pushes.get(ev.streamId)
          const owner = p ?? q?.owner
          if (owner !== undefined && owner.bytes + ev.data.length > owner.maxBytes) {
            this.finishRequest(owner, new ClientResponseTooLargeError(`the response to stream ${owner.id} passed maxResponseBytes (${owner.maxBytes} bytes); its streams were cancelled`, owner.maxBytes))
            break
          }
          if (owner !== undefined) owner.bytes += ev.data.length
          // DATA may be a view of the socket's chunk (lib/codec/decoder.ts): copy what we keep.
          if (p !== undefined) {
            if (ev.data.length > 0) p.chunks.push(Buffer.from(ev.data))
            if (ev.fin) this.mainDone(p)
          } else if (q !== undefined) {
            if (ev.data.length > 0) q.push.chunks.push(Buffer.from(ev.data))
            if (ev.fin) this.pushDone(q.push, q.owner, null)
          }
          break
        }
        case 'push': {
          const owner = this.pending.get(ev.associatedStreamId)
          if (owner === undefined) { this.session.reset(ev.streamId, RstStatus.CANCEL); break }
          const { url, path } = pushUrl(this.version, ev.headers, this.authority, this.opts.tls ? 'https' : 'http')
          const push: PushState = { id: ev.streamId, url, path, headers: [...ev.headers], chunks: [], done: false, reset: null }
          owner.pushes.push(push)
          this.pushes.set(ev.streamId, { push, owner })
          if (ev.fin) this.pushDone(push, owner, null)
          break
        }
        case 'streamReset': {
          const p = this.pending.get(ev.streamId)
          const q = this.pushes.get(ev.streamId)
          const name = rstStatusName(ev.status)
          if (p !== undefined) {
            let err: ClientProtocolError
            if (p.ownError !== null) {
              err = new ClientProtocolError(`SPDY protocol error on stream ${ev.streamId}: ${p.ownError} (we sent RST_STREAM ${name})`, null, name)
            } else if (ev.byPeer && ev.status === RstStatus.REFUSED_STREAM) {
              // REFUSED_STREAM: "the stream was not processed" (SPDY/3 section 2.4.2), e.g. past the server's limit.
              err = new ClientProtocolError(`server refused stream ${ev.streamId}: RST_STREAM REFUSED_STREAM`, 'RST_STREAM', name, true)
            } else {
              err = new ClientProtocolError(`${ev.byPeer ? 'server reset' : 'reset'} stream ${ev.streamId}: RST_STREAM ${name}`, 'RST_STREAM', name)
            }
            this.finishRequest(p, err)
          } else if (q !== undefined) {
            this.pushDone(q.push, q.owner, name)
          }
          break
        }
        case 'protocolError': {
          if (ev.answer === 'RST_STREAM') {
            const p = this.pending.get(ev.streamId)
            if (p !== undefined) p.ownError = ev.message
          } else {
            this.fail(new ClientProtocolError(`SPDY protocol error from the server: ${ev.message} (we sent GOAWAY ${goawayStatusName(ev.status)})`, null, goawayStatusName(ev.status)))
          }
          break
        }
        case 'goaway': {
          this.goawayStatus = ev.status
          // SPDY/3 section 2.6.6: streams above last-good-stream-id were never processed, whatever the status; requests
          // still waiting for a stream slot were never sent. Both fail as `unprocessed`, safe to send elsewhere.
          const g = goawayStatusName(ev.status)
          for (const p of [...this.pending.values()]) {
            if (p.id > ev.lastGoodStreamId) this.finishRequest(p, this.unprocessed(`server sent GOAWAY ${g} before stream ${p.id} was processed`))
          }
          for (const open of this.waiting.splice(0)) open()
          if (ev.status !== GoawayStatus.OK) {
            this.fail(new ClientProtocolError(`server sent GOAWAY ${goawayStatusName(ev.status)} (last good stream ${ev.lastGoodStreamId})`, 'GOAWAY', goawayStatusName(ev.status)))
          }
          break
        }
        case 'closed': closed = ev.reason; break
        default: break
      }
    }
    if (closed !== null) {
      // Flush our last frames (a GOAWAY answer), then the session is over.
      this.flush()
      if (this.pending.size > 0) this.fail(new ClientClosedError(`the SPDY session ended: ${closed}`))
      this.endSocket()
    }
  }

  private goawayStatus: number | null = null

  /** True once the server sent GOAWAY (it takes no new request here) or the connection failed or was closed. */
  get goingAway (): boolean { return this.goawayStatus !== null || this.failure !== null || this.closing || this.link.socket.destroyed }

  /** Resolves once the socket is closed. */
  get closed (): Promise<void> { return this.closedPromise }

  private unprocessed (message: string): ClientProtocolError {
    return new ClientProtocolError(message, 'GOAWAY', goawayStatusName(this.goawayStatus ?? GoawayStatus.OK), true)
  }

  private mainDone (p: Pending): void {
    p.done = true
    this.maybeComplete(p)
  }

  private pushDone (push: PushState, owner: Pending, reset: string | null): void {
    if (push.done) return
    push.done = true
    push.reset = reset
    this.pushes.delete(push.id)
    this.maybeComplete(owner)
  }

  /** A page is complete once its own stream and every stream pushed with it ended (pushes come before its FIN). */
  private maybeComplete (p: Pending): void {
    if (!p.done || p.pushes.some((q) => !q.done)) return
    const list = p.headers ?? []
    this.finishRequest(p, {
      streamId: p.id,
      status: replyStatus(p.version, list),
      headers: replyHeaders(list),
      rawHeaders: list,
      body: Buffer.concat(p.chunks),
      pushes: p.pushes.map((q) => ({
        streamId: q.id,
        url: q.url,
        path: q.path,
        status: replyStatus(p.version, q.headers),
        headers: replyHeaders(q.headers),
        body: Buffer.concat(q.chunks),
        reset: q.reset
      }))
    })
  }

  private finishRequest (p: Pending, result: SpdyResponse | Error): void {
    if (this.pending.get(p.id) !== p) return
    this.pending.delete(p.id)
    if (p.timeout !== null) this.timeouts.remove(p.timeout)
    for (const q of p.pushes) {
      if (!q.done) { this.pushes.delete(q.id); this.session.reset(q.id, RstStatus.CANCEL) }
    }
    if (result instanceof Error) {
      if (this.session.streamState(p.id) !== null) this.session.reset(p.id, RstStatus.CANCEL)
      p.reject(result)
    } else {
      p.resolve(result)
    }
    this.flush()
    // A slot may have opened for a waiting request.
    const next = this.waiting.splice(0)
    for (const open of next) open()
  }

  private fail (err: SpdyClientError): void {
    if (this.failure === null) this.failure = err
    for (const p of [...this.pending.values()]) this.finishRequest(p, this.failure)
    for (const open of this.waiting.splice(0)) open()
    this.flush()
    this.endSocket()
  }

  /** GOAWAY (if queued) and close_notify go out, then the driver ends the socket: FIN, linger, destroy. */
  private endSocket (): void {
    if (this.link.socket.destroyed || this.ending) return
    this.ending = true
    this.tlsConn?.close()
    this.flush()
  }

  /** @internal The socket closed or failed (or the driver's crash barrier caught a throw: `failure`). */
  onSocketGone (err: NodeJS.ErrnoException | null, failure?: SpdyClientError): void {
    if (failure !== undefined) { this.fail(failure); return }
    if (this.pending.size === 0 && this.waiting.length === 0) return
    const why = err === null ? 'the server closed the connection' : `connection error: ${err.code ?? err.message}`
    this.fail(new ClientClosedError(`${why} before the response was complete`))
  }
}

function tlsFailure (error: TlsError): SpdyClientError {
  const name = alertName(error.alert)
  if (error.code === 'FST_SPDY_TLS_PEER_ALERT') {
    if (error.alert === Alert.no_application_protocol) return new ClientNoProtocolError('no protocol in common: the server answered no_application_protocol', null)
    return new ClientTlsError(`TLS alert from the server: ${name}`, name, true)
  }
  if (CERTIFICATE_ALERTS.has(error.alert)) return new ClientCertificateError(`certificate problem: ${error.message}`, name)
  return new ClientTlsError(`TLS failure: ${error.message} (we sent ${name})`, name, false)
}

function offered (version: SpdyVersion | undefined): string[] {
  // http/1.1 last: a server without SPDY then says so (it picks it) instead of failing the handshake or leaving
  // NPN to fall back to our first choice (draft-agl-tls-nextprotoneg-04 section 4), so we can report it clearly.
  return [...(version === undefined ? ['spdy/3.1', 'spdy/3', 'spdy/2'] : [`spdy/${version}`]), 'http/1.1']
}

/** NPN/ALPN agreed on no SPDY version (`chosen`: what the server picked, if anything). */
function noProtocol (where: string, chosen: string | null, version: SpdyVersion | undefined): ClientNoProtocolError {
  const ours = offered(version).join(', ')
  return new ClientNoProtocolError(chosen === null
    ? `no protocol in common: ${where} negotiated no protocol (we offered ${ours})`
    : `no protocol in common: ${where} chose ${chosen} (we offered ${ours})`, chosen)
}

/**
 * The client's engine on the shared driver (lib/server/engine-driver.ts): TLS (if on) and then the SpdyClient's
 * session. Until the connection is ready it runs the connect and handshake phases, whose one deadline
 * (`timeout`) is the driver's timer; after that the bytes go to the client.
 */
class ClientLink implements PullEngine<never> {
  readonly driver: EngineDriver<never>
  client: SpdyClient | null = null
  tlsConn: TlsClientConnection | null = null
  phase: 'connect' | 'handshake' | 'open' = 'connect'
  /** The connect and handshake deadline (ms since epoch), null for none. */
  private readonly until: number | null
  private settled = false

  /** tlsStack 'openssl': `socket` is Node's TLSSocket, which does the handshake; we wait for its 'secureConnect'. */
  private readonly openssl: boolean

  constructor (readonly socket: net.Socket, private readonly opts: ConnectOptions, private readonly where: string,
    private readonly settle: (err: SpdyClientError | null, client?: SpdyClient) => void) {
    this.openssl = socket instanceof TLSSocket
    const timeout = opts.timeout ?? DEFAULT_TIMEOUT
    this.until = timeout > 0 ? Date.now() + timeout : null
    this.driver = new EngineDriver<never>(socket, this, {
      done: () => this.client?.ending === true,
      closed: () => {
        this.tlsConn?.dispose()
        if (this.client !== null) this.client.onSocketGone(null)
        else this.fail(new ClientClosedError(`${where} closed the connection during the ${this.phase === 'connect' ? 'connect' : 'TLS handshake'}`))
      },
      socketError: (err) => {
        if (this.client !== null) this.client.onSocketGone(err)
        else if (this.openssl) this.fail(openSslFailure(err, where, this.phase === 'handshake'))
        else if (this.phase === 'connect') {
          const code = err.code ?? 'ERROR'
          this.fail(new ClientConnectError(code === 'ECONNREFUSED' ? `connection refused by ${where}` : `cannot connect to ${where}: ${err.message}`, code))
        } else this.fail(new ClientClosedError(`connection error during the TLS handshake with ${where}: ${err.code ?? err.message}`))
      },
      // The crash barrier: a throw in our engines or event handling ends this connection, and its requests fail.
      failed: (err) => {
        const e = new ClientClosedError(`internal error on the connection to ${where}: ${(err as Error)?.message ?? String(err)}`)
        if (this.client !== null) this.client.onSocketGone(null, e)
        else this.fail(e)
      }
    })
    this.driver.schedule(this.until)
    if (socket instanceof TLSSocket) {
      socket.once('connect', () => { this.phase = 'handshake' })
      socket.once('secureConnect', () => this.driver.run(() => this.secured(socket)))
    } else {
      socket.once('connect', () => this.driver.run(() => this.connected()))
    }
  }

  get deadline (): number | null { return this.client !== null ? this.client.deadline : this.until }

  private connected (): void {
    if (this.settled) return
    if (!this.opts.tls) { this.open(null, null, this.opts.version ?? 3.1); return }
    this.phase = 'handshake'
    try {
      this.tlsConn = new TlsClientConnection({
        servername: this.opts.servername ?? this.opts.host,
        protocols: offered(this.opts.version),
        negotiation: this.opts.negotiation ?? 'both',
        ca: this.opts.ca,
        insecure: this.opts.insecure,
        session: Buffer.isBuffer(this.opts.session) ? null : this.opts.session ?? null,
        falseStart: this.opts.falseStart ?? true,
        // The link's deadline covers connect and handshake together.
        handshakeTimeout: 0
      }, Date.now())
    } catch (err) {
      this.fail(new ClientTlsError(`TLS setup: ${(err as Error).message}`, 'none', false))
      return
    }
    this.driver.wake()
  }

  /** tlsStack 'openssl': Node's handshake is done; the session runs over the TLSSocket as over a plain socket. */
  private secured (socket: TLSSocket): void {
    if (this.settled) return
    const handshake = openSslHandshake(socket, this.opts.servername ?? this.opts.host)
    const version = handshake.protocol === null ? undefined : PROTOCOL_OF[handshake.protocol]
    if (version === undefined) { this.fail(noProtocol(this.where, handshake.protocol, this.opts.version)); return }
    this.open(null, handshake, version)
  }

  private open (conn: TlsClientConnection | null, handshake: TlsHandshakeEvent | null, version: SpdyVersion): void {
    this.phase = 'open'
    this.client = new SpdyClient(this, conn, handshake, version, this.opts)
    this.settled = true
    this.settle(null, this.client)
  }

  private fail (err: SpdyClientError): void {
    if (this.settled) return
    this.settled = true
    // What is queued (an alert, close_notify) goes out; the socket is destroyed at once, as before the driver.
    this.driver.wake()
    this.driver.destroy()
    this.settle(err)
  }

  receive (bytes: Uint8Array, now: number): void {
    const conn = this.tlsConn
    if (conn === null) { this.client?.receive(bytes); return }
    for (const e of conn.receive(bytes, now)) {
      if (this.client !== null) { this.client.onTlsEvent(e); continue }
      if (this.settled) return
      if (e.type === 'error') { this.fail(tlsFailure(e.error)); return }
      if (e.type === 'close') { this.fail(new ClientClosedError(`${this.where} closed TLS during the handshake`)); return }
      if (e.type === 'handshake') this.handshake(conn, e)
    }
  }

  private handshake (conn: TlsClientConnection, e: TlsHandshakeEvent): void {
    const version = e.protocol === null ? undefined : PROTOCOL_OF[e.protocol]
    const where = this.where
    // NPN with nothing in common: our pick was our own first choice, which the server never offered (ours
    // answers such a pick with HTTP/1.1, others may close): report it instead of speaking into the void.
    if (e.serverProtocols !== undefined && e.protocol !== null && !e.serverProtocols.includes(e.protocol)) {
      conn.close()
      this.fail(new ClientNoProtocolError(`no protocol in common: ${where} advertised ${e.serverProtocols.join(', ') || 'nothing'} over NPN (we offered ${offered(this.opts.version).join(', ')})`, null))
      return
    }
    if (version === undefined) {
      conn.close()
      this.fail(noProtocol(where, e.protocol, this.opts.version))
      return
    }
    this.open(conn, e, version)
  }

  tick (now: number): void {
    if (this.client !== null) { this.client.tick(now); return }
    if (this.until === null || now < this.until) return
    const timeout = this.opts.timeout ?? DEFAULT_TIMEOUT
    const phase = this.phase === 'connect' ? 'connect' : 'handshake'
    this.fail(new ClientTimeoutError(phase === 'connect'
      ? `timed out connecting to ${this.where} after ${timeout} ms`
      : `timed out waiting for the TLS handshake with ${this.where} after ${timeout} ms`, phase))
  }

  takeOutbound (): Uint8Array[] {
    if (this.client !== null) return this.client.outbound()
    return this.tlsConn !== null ? this.tlsConn.takeOutboundChunks() : []
  }
}

/** Opens a connection and, over TLS, finishes the handshake and checks that a SPDY version was agreed. */
export async function connect (opts: ConnectOptions): Promise<SpdyClient> {
  checkMaxBytes('maxResponseBytes', opts.maxResponseBytes)
  const openssl = opts.tls && opts.tlsStack === 'openssl'
  if (openssl && opts.negotiation === 'npn') throw new TypeError("negotiation 'npn' needs tlsStack 'engine': Node's TLS has no NPN")
  if (openssl && opts.session != null && !Buffer.isBuffer(opts.session)) throw new TypeError("session: tlsStack 'openssl' resumes a Node session (a Buffer from its client.tlsSession)")
  if (!openssl && Buffer.isBuffer(opts.session)) throw new TypeError("session: a Node session (Buffer) resumes with tlsStack 'openssl' only")
  let made: SpdyClient | null = null
  let nodeSession: Buffer | null = null
  const socket = openssl
    ? openSslSocket({
      host: opts.host,
      port: opts.port,
      servername: opts.servername ?? opts.host,
      protocols: offered(opts.version),
      ca: opts.ca,
      insecure: opts.insecure,
      session: opts.session as Buffer | null | undefined,
      tlsVersion: opts.tlsVersion,
      // TLS 1.2 gives its session at the handshake, TLS 1.3 its tickets after it (RFC 8446 section 4.6.1).
      onSession: (s) => { nodeSession = s; made?.setNodeSession(s) }
    })
    : net.connect({ host: opts.host, port: opts.port }).setNoDelay(true)
  return await new Promise<SpdyClient>((resolve, reject) => {
    // eslint-disable-next-line no-new
    new ClientLink(socket, opts, `${opts.host}:${opts.port}`, (err, client) => {
      if (err !== null) { reject(err); return }
      made = client as SpdyClient
      if (nodeSession !== null) made.setNodeSession(nodeSession)
      resolve(made)
    })
  })
}
