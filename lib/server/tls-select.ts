/**
 * One TLS port, two TLS stacks, chosen per connection (issue 12).
 *
 * Only NPN needs our own TLS: Node's TLS (OpenSSL) does ALPN with any protocol name and TLS 1.3, it just has no NPN
 * (draft-agl-tls-nextprotoneg-04). So the first flight is read up to the complete ClientHello and checked by the
 * same strict parser our engine uses (lib/tls/peek.ts), then:
 * - a hello that offers NPN (extension 13172), or one that cannot do TLS 1.2 (SPDY-era clients; our engine serves
 *   them with `tls.legacy` and answers protocol_version without), goes to our TLS 1.2 engine (tls-layer.ts);
 * - every other client gets OpenSSL through a `tls.TLSSocket` on the same socket, with the bytes already read put
 *   back: TLS 1.2 and 1.3, ALPN from `options.protocols`. `spdy/*` then runs a SPDY session on a Connection over
 *   that TLS socket, through the same driver as every other connection; `http/1.1` or no ALPN goes to the app's own
 *   HTTP server, as the fallback over our engine does.
 * `tls.openssl: false` sends every client to our engine (for tests, and for deployments that want one stack).
 */
import tls from 'node:tls'
import { hkdfSync } from 'node:crypto'
import type { ConnectionContext as Connection, OpenSslStack, StageHandler } from './contracts'
import { presentPeer } from './proxy-peer'
import { Prelude } from './prelude'
import type { SpdyVersion } from '../codec/types'
import type { ResolvedOptions, SpdyTlsOptions } from '../options'
import type { TlsServerOptions } from '../tls/server'
import { HelloReader } from '../tls/peek'
import { ContentType } from '../tls/constants'
import { ProtocolHandler } from './protocol'
import { TlsLayer } from './tls-layer'

const VERSIONS: Record<string, SpdyVersion> = { 'spdy/3.1': 3.1, 'spdy/3': 3, 'spdy/2': 2 }

/**
 * TLS 1.2 suites on the OpenSSL side: the same policy as our engine's default (ECDHE with AEAD only, README
 * "Security notes"); TLS 1.3 keeps OpenSSL's own three suites, all AEAD.
 */
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305'
].join(':')

export type { OpenSslStack } from './contracts'

export function buildOpenSslStack (options: ResolvedOptions): OpenSslStack | null {
  const t = options.tls
  if (t === false || t.openssl === false) return null
  const make = (pair: { cert: string | Buffer, key: string | Buffer }): tls.SecureContext => tls.createSecureContext({
    cert: pair.cert,
    key: pair.key,
    minVersion: 'TLSv1.2',
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
    ticketKeys: opensslTicketKey(t)
  })
  const context = make(t)
  const byName = new Map<string, tls.SecureContext>()
  for (const [name, pair] of Object.entries(t.sni ?? {})) byName.set(name.toLowerCase(), make(pair))
  return {
    context,
    protocols: [...options.protocols],
    // The same choice as our engine's certificate pick: an exact name, then a wildcard one label up, else the default.
    sni: (servername, cb) => {
      const name = servername.toLowerCase()
      const dot = name.indexOf('.')
      cb(null, byName.get(name) ?? (dot > 0 ? byName.get('*' + name.slice(dot)) : undefined) ?? context)
    },
    keylog: t.keylog
  }
}

/**
 * OpenSSL takes one 48-byte ticket key (name, HMAC and AES keys: Node's `ticketKeys`). With `tls.ticketKeys` it is
 * derived from the first (sealing) key with HKDF, so instances that share the keys also resume each other's
 * OpenSSL sessions; without, Node makes a random one per process. OpenSSL cannot also open tickets under the
 * previous key: after a rotation, clients of the OpenSSL side make one full handshake (README "Deployment").
 */
function opensslTicketKey (t: SpdyTlsOptions): Buffer | undefined {
  const first = t.ticketKeys?.[0]
  if (first === undefined) return undefined
  return Buffer.from(hkdfSync('sha256', first, Buffer.alloc(0), 'fastify-spdy openssl ticket key', 48))
}

/**
 * The stage before either stack: reads the connection's first bytes until the ClientHello is complete (peek.ts
 * holds the hello's bytes only, however finely it is cut into records) or handshakeTimeout passes.
 */
export class TlsSelect extends Prelude implements StageHandler {
  private reader: HelloReader | null = new HelloReader()
  private readonly deadline: number

  constructor (private readonly conn: Connection, private readonly engine: TlsServerOptions, private readonly stack: OpenSslStack,
    private readonly replace: (next: StageHandler) => void) {
    super()
    this.deadline = Date.now() + conn.listener.options.handshakeTimeout
    conn.schedule(this.deadline)
  }

  private get done (): boolean { return this.reader === null }

  receive (chunk: Uint8Array): void {
    const reader = this.reader
    if (reader === null) return
    const p = reader.push(chunk)
    switch (p.kind) {
      case 'need-more': return
      case 'malformed': {
        this.reader = null
        this.conn.listener.fastify.log.debug({ remoteAddress: this.conn.remoteAddress, alert: p.alert, err: p.reason }, 'fastify-spdy: TLS error')
        // A plaintext fatal alert (RFC 5246 section 7.2), in the record version the hello used, then close.
        const minor = reader.recordMinor
        this.conn.send(Buffer.from([ContentType.alert, 3, minor <= 3 ? Math.max(1, minor) : 3, 0, 2, 2, p.alert]))
        this.conn.end()
        return
      }
      case 'complete': {
        this.reader = null
        const h = p.hello
        const tls12 = h.version >= 0x0303 || (h.supportedVersions?.some((v) => v >= 0x0303) ?? false)
        if (p.npn || !tls12) {
          const next = new TlsLayer(this.conn, this.engine)
          this.replace(next)
          next.receive(p.replay)
          return
        }
        this.toOpenSsl(p.replay)
      }
    }
  }

  /** The socket goes to OpenSSL with the hello put back; this connection waits for the handshake's outcome. */
  private toOpenSsl (hello: Buffer): void {
    const conn = this.conn
    const listener = conn.listener
    const raw = conn.detach()
    raw.unshift(hello)
    const s = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: this.stack.context,
      SNICallback: this.stack.sni,
      ALPNProtocols: this.stack.protocols
    })
    const keylog = this.stack.keylog
    if (keylog !== undefined) s.on('keylog', (line: Buffer) => keylog(line.toString('latin1').trimEnd()))
    s.on('error', (err) => {
      listener.fastify.log.debug({ remoteAddress: conn.remoteAddress, err: err.message }, 'fastify-spdy: TLS error (OpenSSL)')
      s.destroy()
    })
    // The handshake keeps the deadline the hello had; this connection stays counted (and closable) until then.
    const timer = setTimeout(() => s.destroy(), Math.max(0, this.deadline - Date.now()))
    timer.unref()
    this.pending = s
    s.once('close', () => clearTimeout(timer))
    s.once('secure', () => {
      clearTimeout(timer)
      this.pending = null
      conn.run(() => {
        const version = typeof s.alpnProtocol === 'string' ? VERSIONS[s.alpnProtocol] : undefined
        if (version !== undefined) {
          listener.adopt(s, conn, (next) => {
            const h = new ProtocolHandler(next)
            h.startSpdy(version, next, true)
            // A SPDY session on OpenSSL's socket stays there: its decrypted reads need not go through Node's stream
            // (issue 14: spdystream writes each frame in pieces, each its own TLS record and read).
            next.readInPlace()
            return h
          })
          return
        }
        // http/1.1 or no ALPN: the app's own HTTP server takes the TLS socket (request.protocol is https).
        listener.release(conn)
        presentPeer(conn, s)
        listener.fastify.server.emit('connection', s)
      })
    })
  }

  private pending: tls.TLSSocket | null = null

  tick (now: number): void {
    if (!this.done && now >= this.deadline) {
      this.reader = null
      this.conn.listener.fastify.log.debug({ remoteAddress: this.conn.remoteAddress }, 'fastify-spdy: no complete ClientHello before handshakeTimeout; closing')
      this.conn.destroy()
    }
  }

  onEnd (): void {
    if (!this.done) { this.reader = null; this.conn.destroy() }
  }

  onClose (): void {
    this.reader = null
    this.pending?.destroy()
  }

  /** Nothing in flight before the handshake: closing is all there is to do. */
  shutdown (): void {
    if (this.pending !== null) this.pending.destroy()
    else this.conn.destroy()
  }

  fail (): void { this.reader = null }
}
