/**
 * An independent SPDY peer for the plugin's and the client's tests: npm `spdy-transport` (the engine under the npm
 * `spdy` package), driven directly on a real socket, plain TCP or Node's TLS with ALPN.
 *
 * Why not npm `spdy` itself: it cannot load on Node 24 (its http-deceiver calls `process.binding('http_parser')`,
 * which Node 24 removed). What it added on top of spdy-transport was only Node's http.Agent/http.Server facade; the
 * SPDY on the wire (framing, zlib header compression, flow control, push) was spdy-transport's, and that is what
 * these helpers run, set up the way npm `spdy` set it up: the client starts its connection at the version ALPN (TLS)
 * or the caller (plain) names, sends `:host` as the host it connected to, and reads a request body as Node's
 * http.request would send it (content-length for a whole body); the server starts at the ALPN version over TLS, and
 * on plain TCP lets spdy-transport read 2 or 3 from the first frame.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import net from 'node:net'
import tls from 'node:tls'
import type { Duplex } from 'node:stream'

const transport = require('spdy-transport')

export type StVersion = 2 | 3 | 3.1
export type StHeaders = Record<string, string | string[]>

/** The part of spdy-transport's (untyped) Stream used here: a Duplex carrying one SPDY stream's body. */
export type StStream = Duplex & {
  id: number
  method: string
  path: string
  host: string
  headers: StHeaders
  respond: (status: number, headers: Record<string, string>, cb?: (err?: Error) => void) => void
  pushPromise: (uri: Record<string, unknown>, cb?: (err: Error | null, push: StStream) => void) => StStream
}
export interface StConnection extends NodeJS.EventEmitter {
  start: (version: number) => void
  request: (uri: Record<string, unknown>, cb?: (err: Error | null, s: StStream) => void) => StStream
  ping: (cb: (err: Error | null) => void) => void
  end: (cb?: () => void) => void
  getVersion: () => number
}

const VERSIONS: Record<string, StVersion> = { 'spdy/2': 2, 'spdy/3': 3, 'spdy/3.1': 3.1 }

export interface StHead { status: number, headers: StHeaders }
/**
 * `promised`: the pushed SYN_STREAM's headers as spdy-transport keeps them (SPDY/3 section 3.3.1: the response's
 * headers travel there; its 'response' event gives only :status).
 */
export interface StPush { path: string, promised: StHeaders, head: Promise<StHead>, body: Promise<Buffer> }
export interface StResult extends StHead { body: Buffer, pushes: Array<StHead & { path: string, promised: StHeaders, body: Buffer }> }
export interface StOpened { stream: StStream, head: Promise<StHead>, pushes: StPush[] }
export interface StRequest {
  method?: string
  path: string
  headers?: Record<string, string>
  /** Written once the SYN_STREAM is out, in pieces of `chunk` bytes (default 64 KB), honouring backpressure. */
  body?: Buffer | string
  chunk?: number
}

/** Reads a stream to its end. */
export function collect (s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('end', () => resolve(Buffer.concat(chunks)))
    s.on('error', reject)
  })
}

export interface StClientOptions {
  port: number
  host?: string
  /** Plain TCP: the version to start at (no NPN/ALPN to tell it). */
  version?: StVersion
  /** Over Node's TLS: ALPN offer (the version is what the server picks), and the certificate to trust. */
  tls?: { protocols: string[], ca?: string | Buffer, servername?: string, rejectUnauthorized?: boolean }
}

export class StClient {
  private failure: Error | null = null
  private readonly failed = new Set<(err: Error) => void>()

  private constructor (readonly socket: net.Socket, readonly connection: StConnection, readonly protocol: string, readonly host: string) {
    connection.on('error', (err: Error) => {
      this.failure = err
      for (const f of this.failed) f(err)
    })
  }

  /** Connects and starts a client connection; rejects when TLS picks no SPDY version. */
  static async connect (opts: StClientOptions): Promise<StClient> {
    const host = opts.host ?? '127.0.0.1'
    let socket: net.Socket
    let protocol: string
    if (opts.tls === undefined) {
      socket = net.connect(opts.port, host)
      await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
      protocol = `spdy/${opts.version ?? 3.1}`
    } else {
      const s = tls.connect({ host, port: opts.port, ca: opts.tls.ca, servername: opts.tls.servername ?? 'localhost', ALPNProtocols: opts.tls.protocols, rejectUnauthorized: opts.tls.rejectUnauthorized ?? true })
      await new Promise<void>((resolve, reject) => { s.once('secureConnect', resolve); s.once('error', reject) })
      socket = s
      protocol = typeof s.alpnProtocol === 'string' ? s.alpnProtocol : ''
    }
    const version = VERSIONS[protocol]
    if (version === undefined) { socket.destroy(); throw new Error(`no SPDY version negotiated (${protocol || 'none'})`) }
    socket.setNoDelay(true)
    const connection = transport.connection.create(socket, { protocol: 'spdy', isServer: false }) as StConnection
    connection.start(version)
    return new StClient(socket, connection, protocol, host)
  }

  get version (): StVersion { return VERSIONS[this.protocol] }

  /** Opens a stream: its response head, the body as the stream itself (read at the caller's pace), its pushes. */
  open (req: StRequest): StOpened {
    const pushes: StPush[] = []
    const body = req.body === undefined ? undefined : Buffer.from(req.body)
    const headers: Record<string, string> = { ...req.headers }
    // As Node's http.request does for a body given whole to end().
    if (body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) headers['content-length'] = String(body.length)
    // The body goes once the SYN_STREAM is out: spdy-transport sends a stream's SYN_STREAM on its first write, so
    // writing at once could put this stream's SYN ahead of an earlier one's, and ids must increase (SPDY/3 2.3.2).
    let onSent: (s: StStream) => void = () => {}
    let fail: (err: Error) => void = () => {}
    const stream = this.connection.request({ method: req.method ?? 'GET', path: req.path, host: this.host, headers }, (err, s) => {
      if (err !== null) fail(err)
      else onSent(s)
    })
    const head = new Promise<StHead>((resolve, reject) => {
      fail = reject
      if (this.failure !== null) { reject(this.failure); return }
      this.failed.add(reject)
      stream.on('error', reject)
      stream.on('response', (status: number, h: StHeaders) => { this.failed.delete(reject); resolve({ status, headers: h }) })
    })
    head.catch(() => { /* the caller sees it through head or the body */ })
    stream.on('pushPromise', (push: StStream) => {
      const pushHead = new Promise<StHead>((resolve) => push.on('response', (status: number, h: StHeaders) => resolve({ status, headers: h })))
      pushes.push({ path: push.path, promised: push.headers, head: pushHead, body: collect(push) })
    })
    onSent = () => {
      if (body === undefined) { stream.end(); return }
      const size = req.chunk ?? 65536
      let off = 0
      const more = (): void => {
        while (off < body.length) {
          const piece = body.subarray(off, off + size)
          off += piece.length
          if (off >= body.length) { stream.end(piece); return }
          if (!stream.write(piece)) { stream.once('drain', more); return }
        }
        stream.end()
      }
      more()
    }
    return { stream, head, pushes }
  }

  /** A whole exchange: response head, body and every pushed stream (head and body) announced before it ended. */
  async request (req: StRequest): Promise<StResult> {
    const { stream, head, pushes } = this.open(req)
    const [h, body] = await Promise.all([head, collect(stream)])
    const pushed = await Promise.all(pushes.map(async (p) => ({ path: p.path, promised: p.promised, ...(await p.head), body: await p.body })))
    return { ...h, body, pushes: pushed }
  }

  /** GOAWAY, let open streams finish, then close the socket (destroyed after 2 s if the peer keeps it). */
  async close (): Promise<void> {
    if (this.socket.destroyed) return
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()))
    const timer = setTimeout(() => this.socket.destroy(), 2000)
    try { this.connection.end(() => this.socket.destroy()) } catch { this.socket.destroy() }
    await closed
    clearTimeout(timer)
  }
}

export interface StServerOptions {
  /** Node's TLS with ALPN; without it, plain TCP where spdy-transport reads 2 or 3 from the first frame. */
  tls?: { cert: string | Buffer, key: string | Buffer, protocols: string[] }
  /** spdy-transport connection options (e.g. autoSpdy31). */
  connection?: Record<string, unknown>
  onStream: (stream: StStream) => void
}

/** An independent SPDY server on 127.0.0.1, port 0: spdy-transport's Connection per accepted socket. */
export async function stServer (opts: StServerOptions): Promise<{ port: number, close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const serve = (socket: net.Socket, protocol: string | undefined): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => { /* the client side of the test sees it */ })
    socket.setNoDelay(true)
    const version = protocol === undefined ? undefined : VERSIONS[protocol]
    if (protocol !== undefined && version === undefined) { socket.destroy(); return }
    const connection = transport.connection.create(socket, { protocol: 'spdy', isServer: true, ...opts.connection }) as StConnection
    if (version !== undefined) connection.start(version)
    connection.on('error', () => socket.destroy())
    connection.on('stream', (stream: StStream) => {
      stream.on('error', () => { /* a reset stream; the client side of the test sees it */ })
      opts.onStream(stream)
    })
  }
  const t = opts.tls
  const server: net.Server = t === undefined
    ? net.createServer((s) => serve(s, undefined))
    : tls.createServer({ cert: t.cert, key: t.key, ALPNProtocols: t.protocols }, (s) => serve(s, typeof s.alpnProtocol === 'string' ? s.alpnProtocol : ''))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
