/**
 * The PROXY protocol stage of a connection (option `proxyProtocol`): reads the header a balancer puts in front of
 * the client's bytes, before TLS or SPDY see anything, then hands the rest to the usual handler with the client's
 * address on the Connection (request.ip, request.socket.remoteAddress, app.spdy.sessions()).
 *
 * - Required (`true`, or a source in the trusted list): until a complete header has arrived nothing is processed
 *   (haproxy doc/proxy-protocol.txt section 2: "The receiver MUST NOT start processing the connection before it
 *   receives a complete and valid PROXY protocol header"). No header, a malformed one, one over
 *   maxProxyHeaderBytes, or none within handshakeTimeout: the connection is closed.
 * - Untrusted source with a trusted list: the connection is a direct client's. One that starts with a PROXY
 *   signature is closed: the header is never honoured from there (section 5, only known sources may use it), and
 *   never passed on as data either.
 * The parsing itself is sans-IO, in ./proxy-protocol.ts.
 */
import { BlockList, isIPv4 } from 'node:net'
import type { ConnectionContext as Connection, StageHandler } from './contracts'
import type { SpdyVersion } from '../codec/types'
import type { ProxyProtocolSetting } from '../options'
import { parseProxyHeader, type ProxyHeader } from './proxy-protocol'
import { rememberProxyHeader } from './proxy-peer'
import { Prelude } from './prelude'

export { presentPeer, proxyHeaderOf } from './proxy-peer'
import { ProtocolHandler } from './protocol'
import { TlsLayer } from './tls-layer'
import { TlsSelect } from './tls-select'

export type { StageHandler } from './contracts'

const VERSIONS: Record<string, SpdyVersion> = { 'spdy/3.1': 3.1, 'spdy/3': 3, 'spdy/2': 2 }

const trustLists = new WeakMap<object, BlockList>()

/**
 * The first handler of a new connection: TLS or plain detection, or the PROXY stage when configured, which hands
 * the connection over to one of them through `replace` once the header is read.
 */
export function firstHandler (conn: Connection, replace: (next: StageHandler) => void): StageHandler {
  const mode = proxyMode(conn.listener.options.proxyProtocol, conn.socket.remoteAddress)
  return mode === 'off' ? startHandler(conn, null, replace) : new ProxyHeaderStage(conn, mode, replace)
}

/** 'required' from trusted sources; 'refuse' (a header is refused, a direct client is served) from others. */
export function proxyMode (setting: ProxyProtocolSetting, remote: string | undefined): 'off' | 'required' | 'refuse' {
  if (setting === false) return 'off'
  if (setting === 'all') return 'required'
  let list = trustLists.get(setting)
  if (list === undefined) {
    list = new BlockList()
    for (const s of setting) list.addSubnet(s.address, s.prefix, s.family)
    trustLists.set(setting, list)
  }
  if (remote === undefined) return 'refuse'
  // A dual-stack listener shows IPv4 peers as ::ffff:a.b.c.d: check them against the IPv4 entries.
  const v4 = remote.startsWith('::ffff:') && isIPv4(remote.slice(7)) ? remote.slice(7) : null
  const trusted = v4 !== null ? list.check(v4, 'ipv4') : list.check(remote, isIPv4(remote) ? 'ipv4' : 'ipv6')
  return trusted ? 'required' : 'refuse'
}

/** The handler after the header: TLS, or plain SPDY/HTTP detection (pinned by the v2 ALPN TLV when it names SPDY). */
function startHandler (conn: Connection, header: ProxyHeader | null, replace: (next: StageHandler) => void): StageHandler {
  const tls = conn.listener.tlsOptions
  // TLS: our engine for NPN clients, OpenSSL for the rest (tls-select.ts), unless tls.openssl is false.
  if (tls !== null) return conn.listener.openssl !== null ? new TlsSelect(conn, tls, conn.listener.openssl, replace) : new TlsLayer(conn, tls)
  // Plain listener behind a TLS-terminating balancer: the client spoke TLS to it (PP2_TYPE_SSL, or an ALPN TLV,
  // which only TLS carries), so its requests are https.
  const encrypted = header !== null && (header.ssl !== null || header.alpn !== null)
  const handler = encrypted ? new BalancerTlsHandler(conn) : new ProtocolHandler(conn)
  const version = header?.alpn != null ? VERSIONS[header.alpn] : undefined
  if (version !== undefined && conn.listener.options.protocols.includes(header!.alpn as 'spdy/3')) {
    // The balancer negotiated the version with NPN/ALPN: no need to guess it from the first frames, and 3 vs 3.1 is
    // known (SPDY/3.1 is version 3 on the wire).
    handler.startSpdy(version, conn, encrypted)
  }
  return handler
}

/** First-frame detection as on any plain listener, but the SPDY session is marked encrypted (scheme https). */
class BalancerTlsHandler extends ProtocolHandler {
  override startSpdy (version: SpdyVersion, transport: Parameters<ProtocolHandler['startSpdy']>[1], _encrypted: boolean, sessionFlowControl: 'on' | 'auto' = 'on'): void {
    super.startSpdy(version, transport, true, sessionFlowControl)
  }
}

/** Until the header is read: nothing negotiated, no streams. Then the Connection drives what follows directly. */
export class ProxyHeaderStage extends Prelude implements StageHandler {
  private pending: Uint8Array | null = null
  private readonly deadline: number
  private done = false

  constructor (private readonly conn: Connection, private readonly mode: 'required' | 'refuse', private readonly replace: (next: StageHandler) => void) {
    super()
    this.deadline = Date.now() + conn.listener.options.handshakeTimeout
    conn.schedule(this.deadline)
  }

  receive (chunk: Uint8Array): void {
    if (this.done) return
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk])
    const max = this.conn.listener.options.maxProxyHeaderBytes
    const r = parseProxyHeader(buf, max)
    switch (r.kind) {
      case 'need-more':
        // parseProxyHeader never asks for more past the cap, so this stays under maxProxyHeaderBytes.
        this.pending = buf === chunk ? Buffer.from(chunk) : buf
        return
      case 'none':
        if (this.mode === 'refuse') { this.start(null, buf); return }
        this.refuse('no PROXY protocol header', buf)
        return
      case 'malformed':
        this.refuse(`malformed PROXY protocol header: ${r.reason}`, buf)
        return
      case 'header':
        if (this.mode === 'refuse') { this.refuse('PROXY protocol header from a source not in options.proxyProtocol', buf); return }
        rememberProxyHeader(this.conn, r.header)
        if (r.header.source !== null) {
          this.conn.remoteAddress = r.header.source.address
          this.conn.remotePort = r.header.source.port
        }
        this.start(r.header, r.rest)
    }
  }

  private start (header: ProxyHeader | null, rest: Uint8Array): void {
    this.done = true
    this.pending = null
    // The connection's timer stays armed: a plain handler still owes its first byte by the same deadline, and a
    // TLS layer re-arms it for its handshake.
    const next = startHandler(this.conn, header, this.replace)
    this.replace(next)
    if (rest.length > 0) next.receive(rest)
  }

  private refuse (why: string, buf: Uint8Array): void {
    this.done = true
    this.pending = null
    // Through the connection's log budgets (lib/server/log-limit.ts), like every line about a peer.
    this.conn.logLine('warn', 'PROXY protocol header', { remoteAddress: this.conn.socket.remoteAddress, firstBytes: Buffer.from(buf.subarray(0, 16)).toString('hex') }, `fastify-spdy: ${why}; closing`)
    this.conn.destroy()
  }

  tick (now: number): void {
    if (!this.done && now >= this.deadline) {
      this.refuse(`no complete PROXY protocol header within handshakeTimeout (${this.conn.listener.options.handshakeTimeout} ms)`, this.pending ?? new Uint8Array(0))
    }
  }

  onEnd (): void {
    // The peer half-closed before a complete header: nothing will complete it.
    if (!this.done) { this.done = true; this.conn.destroy() }
  }

  onClose (): void { this.done = true }

  /** Nothing of ours was sent yet: the crash barrier just closes the socket. */
  fail (): void { this.done = true }

  /** Nothing in flight yet. */
  shutdown (): void { this.conn.destroy() }
}
