/**
 * The SPDY listener: a net.Server whose connections are each driven by a Connection (lib/server/connection.ts).
 * This and connection.ts are the only places with sockets and timers; the protocol lives in the sans-IO layers.
 */
import net, { type AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { ResolvedOptions } from '../options'
import { Connection, type ConnectionStats } from './connection'
import type { ListenerContext, OpenSslStack, StageHandler } from './contracts'
import { buildOpenSslStack } from './tls-select'
import { loadCertificate, type TlsCertificate } from '../tls/certificates'
import type { TlsServerOptions } from '../tls/server'
import { SpdyOptionsError } from '../errors'
import { ListenerLog } from './log-limit'

export type { SpdyRequestInfo } from './contracts'

export type SpdySessionStats = ConnectionStats

export interface SpdyListenerInfo {
  /** Bound address, null until the app listens. */
  readonly address: AddressInfo | null
  /** Bound port, null until the app listens. */
  readonly port: number | null
  /** One entry per open connection. */
  sessions (): SpdySessionStats[]
  /** The underlying net.Server. */
  readonly server: net.Server
}

/** Connections looked at per accept when looking for an idle one to close at maxSessions. */
const EVICT_SCAN = 64

export class SpdyListener implements ListenerContext {
  readonly server: net.Server
  readonly connections = new Set<Connection>()
  /** The 'close' listener track() put on each connection's socket, taken off again by release(). */
  private readonly closeListeners = new WeakMap<Connection, () => void>()
  readonly info: SpdyListenerInfo
  /** One options object for every TLS connection: the engine hangs its session cache and ticket keys off it. */
  readonly tlsOptions: TlsServerOptions | null
  /** OpenSSL (node:tls) for the clients that do not need NPN; null with `tls: false` or `tls.openssl: false`. */
  readonly openssl: OpenSslStack | null
  /** The per-listener budget of log lines about peers (lib/server/log-limit.ts). */
  readonly log: ListenerLog
  private closing = false
  private onEmpty: (() => void) | null = null

  constructor (readonly fastify: FastifyInstance, readonly options: ResolvedOptions) {
    this.tlsOptions = options.tls === false ? null : buildTlsOptions(options)
    this.openssl = wrapCertError(() => buildOpenSslStack(options))
    this.log = new ListenerLog(fastify.log, options.maxLogLinesPerSecond)
    // No net.Server maxConnections: at capacity an idle connection makes room (accept()), as nginx reuses idle
    // keep-alive connections, so sockets that send nothing cannot lock the port for everyone.
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket))
    // A listening error after bind (rare: EMFILE on accept) must not crash the app.
    this.server.on('error', (err) => fastify.log.error({ err }, 'fastify-spdy: listener error'))
    const self = this
    this.info = {
      get address () { return self.address },
      get port () { return self.port },
      sessions: () => [...this.connections].map((c) => c.stats()),
      server: this.server
    }
  }

  get address (): AddressInfo | null {
    const a = this.server.address()
    return a !== null && typeof a === 'object' ? a : null
  }

  get port (): number | null {
    return this.address?.port ?? null
  }

  listen (host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err)
      this.server.once('error', onError)
      this.server.listen({ host, port }, () => {
        this.server.off('error', onError)
        const a = this.address
        this.fastify.log.info(`fastify-spdy: SPDY ${this.options.tls === false ? 'plain' : 'TLS'} listener on ${a?.address ?? host}:${a?.port ?? port}`)
        resolve()
      })
    })
  }

  private accept (socket: net.Socket): void {
    if (this.closing) { socket.destroy(); return }
    if (this.connections.size >= this.options.maxSessions && !this.evictIdle()) {
      // Every connection is answering something: the newcomer is the one turned away.
      socket.destroy()
      return
    }
    this.track(new Connection(this, socket))
  }

  private track (conn: Connection): void {
    this.connections.add(conn)
    const onClose = (): void => this.release(conn)
    this.closeListeners.set(conn, onClose)
    conn.socket.once('close', onClose)
  }

  /** The connection is no longer ours to close (handed to the app's HTTP server, or re-made over another socket). */
  release (conn: Connection): void {
    if (!this.connections.delete(conn)) return
    // A socket handed to the app's HTTP server lives on for its keep-alive: our listener on it would keep this
    // Connection (and what it references) alive as long.
    const onClose = this.closeListeners.get(conn)
    if (onClose !== undefined) { conn.socket.off('close', onClose); this.closeListeners.delete(conn) }
    if (this.connections.size === 0) this.onEmpty?.()
  }

  /**
   * A connection re-made over another socket that wraps `from`'s (OpenSSL's TLS socket, lib/server/tls-select.ts):
   * it takes `from`'s place, with its client address (which may come from a PROXY protocol header).
   */
  adopt (socket: net.Socket, from: Connection, start: (conn: Connection) => StageHandler): void {
    if (this.closing) { socket.destroy(); return }
    this.release(from)
    this.track(new Connection(this, socket, start, { remoteAddress: from.remoteAddress, remotePort: from.remotePort }))
  }

  /**
   * At maxSessions: closes the oldest connection that has nothing in flight (no byte yet, still handshaking, a
   * SPDY session with no stream open, or already closing) so a new one can be accepted. A Set iterates in
   * insertion order, so the first idle one found is the oldest; busy ones met on the way are moved to the back,
   * and at most EVICT_SCAN are looked at, so one accept costs O(1) however many connections are busy.
   */
  private evictIdle (): boolean {
    let looked = 0
    const busy: Connection[] = []
    let found: Connection | null = null
    for (const c of this.connections) {
      if (c.idle) { found = c; break }
      busy.push(c)
      if (++looked >= EVICT_SCAN) break
    }
    for (const c of busy) { this.connections.delete(c); this.connections.add(c) }
    if (found === null) return false
    this.connections.delete(found)
    found.evict()
    return true
  }

  /** GOAWAY to every session, in-flight streams finish within gracefulTimeout, then every socket is closed. */
  async close (): Promise<void> {
    if (this.closing) return
    this.closing = true
    // Stop accepting now. close()'s callback is not awaited: it waits for every socket the server ever accepted,
    // including HTTP/1.1 ones handed to the app's server, which Fastify closes only after this preClose hook.
    if (this.server.listening) this.server.close()
    for (const c of this.connections) c.shutdown()
    if (this.connections.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const c of this.connections) c.destroy()
        }, this.options.gracefulTimeout)
        this.onEmpty = () => { clearTimeout(timer); resolve() }
      })
    }
    this.log.flush()
  }
}

/** Certificates are parsed once here, at registration, so a bad PEM fails `register()` and not the first client. */
function buildTlsOptions (options: ResolvedOptions): TlsServerOptions {
  const tls = options.tls
  if (tls === false) throw new Error('unreachable')
  const load = (pair: { cert: string | Buffer, key: string | Buffer }, path: string): TlsCertificate => {
    try {
      return loadCertificate({ cert: pair.cert.toString(), key: pair.key.toString() })
    } catch (err) {
      throw new SpdyOptionsError(`fastify-spdy: options.${path} could not be loaded: ${(err as Error).message}`)
    }
  }
  const certificates = [load(tls, 'tls')]
  for (const [name, pair] of Object.entries(tls.sni ?? {})) certificates.push(load(pair, `tls.sni[${JSON.stringify(name)}]`))
  return {
    certificates,
    protocols: options.protocols,
    legacy: tls.legacy === true,
    handshakeTimeout: options.handshakeTimeout,
    ticketKeys: tls.ticketKeys,
    onKeylog: tls.keylog
  }
}

/** node:tls refuses a key or certificate at registration, like our own loader: name the option in the error. */
function wrapCertError<T> (make: () => T): T {
  try {
    return make()
  } catch (err) {
    throw new SpdyOptionsError(`fastify-spdy: options.tls could not be loaded by node:tls: ${(err as Error).message}`)
  }
}
