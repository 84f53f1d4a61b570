/**
 * Shared helpers for attacks over real sockets (test/hostile/, test/server/): a Fastify app with the plugin on
 * loopback, a raw SPDY peer (our client session on a bare TCP or Node TLS socket, so a test controls every frame
 * and whether it reads), bare sockets for floods, and a well-behaved client (lib/client) to check that others are
 * still served. Nothing here asserts timing: helpers wait for an outcome up to a bound and report what they saw.
 */
import net from 'node:net'
import tls from 'node:tls'
import { Writable } from 'node:stream'
import { fork, type ChildProcess } from 'node:child_process'
import type { Test } from 'tap'
import { join } from 'node:path'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import spdy, { generateSelfSigned } from '../../lib/index'
import type { FastifySpdyOptions } from '../../lib/options'
import { SpdySession, type SessionEvent } from '../../lib/session/session'
import type { HeaderList, SpdyVersion } from '../../lib/codec/types'
import { requestHeaderList } from '../../lib/session/headers'
import { connect as spdyConnect } from '../../lib/client'
import { FrameDecoder } from '../../lib/codec/decoder'

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
/** For Promise.race bounds: an unref'd timer, so a race already won does not keep the test process alive. */
export const bound = (ms: number): Promise<void> => new Promise((resolve) => { setTimeout(resolve, ms).unref() })

let certificate: { cert: string, key: string } | null = null
/** One self-signed certificate per test process (key generation is the slow part). */
export const testCertificate = (): { cert: string, key: string } =>
  (certificate ??= generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'], keyType: 'ec' }))

export interface LogLine { level: number, msg: string, remoteAddress?: string, [k: string]: unknown }

export interface TestServer {
  app: FastifyInstance
  port: number
  tls: boolean
  /** Every log line the app wrote (level >= the logger level given), parsed. */
  logs: LogLine[]
  close: () => Promise<void>
}

/** The routes every attack test's well-behaved client uses. */
export function addRoutes (app: FastifyInstance): void {
  app.get('/', async () => 'ok')
  app.get('/big/:kb', async (req, reply) => {
    reply.type('application/octet-stream')
    return Buffer.alloc(Number((req.params as { kb: string }).kb) * 1024, 0x61)
  })
  app.post('/echo', async (req) => req.body)
}

export async function startServer (opts: { tls?: boolean | 'engine', spdy?: Partial<FastifySpdyOptions>, fastify?: FastifyServerOptions, logLevel?: string, routes?: (app: FastifyInstance) => void } = {}): Promise<TestServer> {
  const logs: LogLine[] = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as LogLine)
      cb()
    }
  })
  const app = Fastify({ ...opts.fastify, logger: { level: opts.logLevel ?? 'warn', stream } })
  // 'engine': every TLS client gets our own TLS 1.2 engine (tls.openssl: false), as NPN clients do; with true, the
  // ALPN-only clients of these tests (Node's tls) get OpenSSL (lib/server/tls-select.ts).
  const useTls = opts.tls === true || opts.tls === 'engine'
  await app.register(spdy, { tls: useTls ? { ...testCertificate(), openssl: opts.tls !== 'engine' } : false, port: 0, alternateProtocol: false, ...opts.spdy })
  addRoutes(app)
  opts.routes?.(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, port: app.spdy.port!, tls: useTls, logs, close: () => app.close() }
}

/** A bare socket to the listener: TCP, or TLS with ALPN (Node's TLS client, not ours) when `tls` is true. */
export function rawSocket (port: number, useTls = false, alpn: string[] = ['spdy/3.1']): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s: net.Socket = useTls
      ? tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: alpn }, () => resolve(s))
      : net.connect(port, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
  })
}

/** Opens `n` sockets that send nothing (TCP only: a TLS client would start a handshake). */
export async function idleSockets (port: number, n: number): Promise<net.Socket[]> {
  const out: net.Socket[] = []
  for (let i = 0; i < n; i++) {
    const s = await rawSocket(port)
    s.on('error', () => {})
    out.push(s)
  }
  return out
}

/** Resolves true once the socket is closed (by either side), false if still open after `ms`. */
export function closedWithin (s: net.Socket, ms: number): Promise<boolean> {
  if (s.destroyed || s.closed) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => { s.off('close', onClose); resolve(false) }, ms)
    const onClose = (): void => { clearTimeout(timer); resolve(true) }
    s.once('close', onClose)
    // Reading is what lets us see the server's FIN ('end', then 'close' since allowHalfOpen is off).
    s.resume()
  })
}

/**
 * A SPDY peer we steer frame by frame: our client session over a raw socket. It reads (and answers) unless
 * `read: false`, and records every session event, so a test sees the server's RST_STREAMs and GOAWAYs.
 */
export class RawSpdy {
  readonly events: SessionEvent[] = []
  /** Frames received, by type, decoded a second time (our session ignores some, e.g. RST_STREAM for unknown ids). */
  readonly frames = new Map<string, number>()
  private readonly wire: FrameDecoder
  readonly session: SpdySession
  closed = false
  private readonly closedP: Promise<void>

  private constructor (readonly socket: net.Socket, readonly version: SpdyVersion, readonly port: number) {
    this.session = new SpdySession({ role: 'client', version }, Date.now())
    this.wire = new FrameDecoder({ version: version === 2 ? 2 : 3 })
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.wire.push(chunk)) this.frames.set(f.type, (this.frames.get(f.type) ?? 0) + 1)
      for (const ev of this.session.receive(chunk, Date.now())) this.events.push(ev)
      this.flush()
    })
    this.closedP = new Promise((resolve) => socket.once('close', () => { this.closed = true; resolve() }))
    this.flush()
  }

  static async connect (port: number, opts: { tls?: boolean, version?: SpdyVersion } = {}): Promise<RawSpdy> {
    const version = opts.version ?? 3.1
    const s = await rawSocket(port, opts.tls, [version === 2 ? 'spdy/2' : version === 3 ? 'spdy/3' : 'spdy/3.1'])
    return new RawSpdy(s, version, port)
  }

  /** Opens a stream with these exact headers (no checks), FIN unless a body follows. */
  requestRaw (headers: HeaderList, fin = true): number {
    const id = this.session.request(headers, { fin })
    this.flush()
    return id
  }

  get (path: string): number {
    return this.requestRaw(requestHeaderList(this.version, { method: 'GET', path, authority: `127.0.0.1:${this.port}`, scheme: 'http' }))
  }

  /** Bytes straight onto the socket, bypassing our session (its compression state is then out of step). */
  write (bytes: Uint8Array): void { this.socket.write(bytes) }

  flush (): void {
    const out = this.session.takeOutbound()
    for (const b of out) if (!this.socket.destroyed) this.socket.write(b)
  }

  goaway (): Extract<SessionEvent, { type: 'goaway' }> | undefined {
    return this.events.find((e): e is Extract<SessionEvent, { type: 'goaway' }> => e.type === 'goaway')
  }

  reset (streamId: number): Extract<SessionEvent, { type: 'streamReset' }> | undefined {
    return this.events.find((e): e is Extract<SessionEvent, { type: 'streamReset' }> => e.type === 'streamReset' && e.streamId === streamId)
  }

  /** GETs `path` and waits (up to `ms`) for its SYN_REPLY: true if the server answered. */
  async served (path = '/', ms = 5000): Promise<boolean> {
    const id = this.get(path)
    return await this.until(() => this.events.some((e) => e.type === 'response' && e.streamId === id), ms)
  }

  /** Waits until `pred` holds or the socket closes, up to `ms`; returns whether `pred` holds. */
  async until (pred: () => boolean, ms = 5000): Promise<boolean> {
    const end = Date.now() + ms
    while (!pred() && !this.closed && Date.now() < end) await sleep(10)
    return pred()
  }

  whenClosed (ms: number): Promise<boolean> {
    return Promise.race([this.closedP.then(() => true), bound(ms).then(() => false)])
  }

  destroy (): void { this.socket.destroy() }
}

/**
 * A well-behaved client on a fresh connection (lib/client, over our TLS client when `tls`): GET `path`, return the
 * status, or the error's message if it failed.
 */
export async function normalGet (port: number, useTls: boolean, path = '/', timeout = 5000): Promise<number | string> {
  try {
    const c = await spdyConnect({ host: '127.0.0.1', port, tls: useTls, insecure: true, servername: 'localhost', timeout })
    try {
      const r = await c.request({ path, timeout })
      return r.status
    } finally {
      await c.close()
    }
  } catch (err) {
    return (err as Error).message
  }
}

export interface ChildStats { rss: number, peakRss: number, sessions: number, heapUsed: number, logLines: number }

export interface ChildServer {
  port: number
  stats: () => Promise<ChildStats>
  /** True while the server process runs (an attack that killed it makes this false). */
  alive: () => boolean
  close: () => Promise<void>
}

/** startServer() in a child process (test/hostile/server-child.ts), so its RSS is the server's alone. */
export async function spawnServer (opts: { tls?: boolean | 'engine', spdy?: Partial<FastifySpdyOptions> } = {}): Promise<ChildServer> {
  // tsx (a devDependency) runs the TypeScript child: it starts in ~4 s where tap's own loader outside tap took 49 s.
  const child: ChildProcess = fork(join(__dirname, 'server-child.ts'), [JSON.stringify(opts)],
    { cwd: join(__dirname, '..', '..'), execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let exited = false
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve() }))
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port))
    child.once('exit', (code) => reject(new Error(`server child exited (${String(code)})`)))
  })
  const ask = (): Promise<ChildStats> => new Promise((resolve, reject) => {
    if (exited) { reject(new Error('server process is gone')); return }
    child.once('message', (m) => resolve(m as ChildStats))
    child.send('stats')
  })
  return {
    port,
    stats: ask,
    alive: () => !exited,
    close: async () => {
      if (exited) return
      child.send('close')
      await Promise.race([exit, bound(10_000)])
      if (!exited) child.kill('SIGKILL')
    }
  }
}

/**
 * Floods PINGs (SPDY/3, odd ids as a client's) on a socket that never reads, for up to `ms` or `maxBytes`; returns
 * the bytes written and whether the server closed the connection meanwhile. Our own writes wait for the drain, so
 * the attacker's memory stays small whatever the server does. `perWrite` (default 4096) PINGs go in each write;
 * below 4096 the flooder waits a millisecond between writes, so the server tends to read fewer PINGs at a time
 * than its per-read answer budget (a paced flood).
 */
export async function pingFlood (port: number, opts: { tls?: boolean, ms: number, maxBytes: number, perWrite?: number }): Promise<{ sent: number, cut: boolean }> {
  const sock = await rawSocket(port, opts.tls)
  let cut = false
  let onCut: () => void = () => {}
  const cutP = new Promise<void>((resolve) => { onCut = resolve })
  sock.on('error', () => { cut = true; onCut() })
  sock.on('close', () => { cut = true; onCut() })
  const c = new SpdySession({ role: 'client', version: 3.1 }, Date.now())
  for (const b of c.takeOutbound()) sock.write(b)
  sock.pause() // never read: the answers pile up on the server's side
  const batch = Buffer.alloc(12 * 4096)
  for (let i = 0; i < 4096; i++) {
    batch.set([0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04], i * 12)
    batch.writeUInt32BE((i * 2 + 1) >>> 0, i * 12 + 8)
  }
  const perWrite = Math.min(4096, opts.perWrite ?? 4096)
  const unit = batch.subarray(0, perWrite * 12)
  const end = Date.now() + opts.ms
  let sent = 0
  while (!cut && Date.now() < end && sent < opts.maxBytes) {
    sent += unit.length
    if (!sock.write(unit)) {
      await Promise.race([new Promise((resolve) => sock.once('drain', resolve)), cutP, bound(Math.max(0, end - Date.now()))])
    } else if (perWrite < 4096) await sleep(1)
  }
  sock.destroy()
  return { sent, cut }
}

/** What an attack's connections got: each was answered (a protocol answer reached it) or cut (closed by us). */
export interface AttackOutcome {
  connections: number
  /** Got the protocol-correct answer (RST_STREAM, GOAWAY, a TLS alert, an HTTP 400) before or while being cut. */
  answered: number
  /** Closed by the server. */
  cut: number
  /** Connections answered or cut (or both): must be all of them. */
  settled: number
}

/**
 * Waits (up to `ms`) for every socket to be closed by the server, reading and dropping what it sends; a socket
 * counts as answered when `answered(bytes)` holds for what it received.
 */
export async function settle (socks: net.Socket[], ms: number, answered: (received: Buffer) => boolean = () => false): Promise<AttackOutcome> {
  const got = socks.map(() => [] as Buffer[])
  socks.forEach((sk, i) => { sk.on('data', (b: Buffer) => { if (got[i].length < 64) got[i].push(b) }) })
  const closed = await Promise.all(socks.map((sk) => closedWithin(sk, ms)))
  let a = 0
  let c = 0
  let settled = 0
  socks.forEach((_sk, i) => {
    const ans = answered(Buffer.concat(got[i]))
    if (ans) a++
    if (closed[i]) c++
    if (ans || closed[i]) settled++
  })
  for (const sk of socks) sk.destroy()
  return { connections: socks.length, answered: a, cut: c, settled }
}

export interface AttackCase {
  tls?: boolean | 'engine'
  spdy?: Partial<FastifySpdyOptions>
  /** Most the server's RSS may grow over its value before the attack, peak against before. */
  rssBoundMB: number
  /** Runs the attack to its end (every attacker connection settled, within its own bound). */
  attack: (port: number) => Promise<AttackOutcome>
  /** When, into the attack, the well-behaved client makes its request on another connection (default 300 ms). */
  probeAfterMs?: number
}

/**
 * The four checks of every hostile case (issue 11): the server process lives, a well-behaved client on another
 * connection is served before, during and after, the server's RSS stays under the stated bound, and every attacker
 * connection got the protocol answer or was cut. The server runs in a child process (spawnServer).
 */
export async function runAttack (t: Test, c: AttackCase): Promise<{ outcome: AttackOutcome, stats: ChildStats, rssGrowthMB: number }> {
  const s = await spawnServer({ tls: c.tls, spdy: c.spdy })
  t.teardown(s.close)
  const useTls = c.tls === true || c.tls === 'engine'
  t.equal(await normalGet(s.port, useTls), 200, 'a normal client is served before')
  const before = await s.stats()
  const attack = c.attack(s.port)
  await sleep(c.probeAfterMs ?? 300)
  t.equal(await normalGet(s.port, useTls, '/', 10_000), 200, 'a normal client on another connection is served during the attack')
  const outcome = await attack
  t.ok(s.alive(), 'the server process lives')
  const stats = await s.stats()
  const rssGrowthMB = (stats.peakRss - before.rss) / 2 ** 20
  t.ok(rssGrowthMB < c.rssBoundMB, `server RSS grew ${rssGrowthMB.toFixed(1)} MB at its peak (bound ${c.rssBoundMB} MB)`)
  t.equal(outcome.settled, outcome.connections,
    `every attacker connection answered or cut (${outcome.connections} connections: ${outcome.answered} answered, ${outcome.cut} cut)`)
  t.equal(await normalGet(s.port, useTls), 200, 'a normal client is served after')
  return { outcome, stats, rssGrowthMB }
}

/** Opens n TCP sockets (a TLS listener gets raw bytes too), `batch` at a time, each set up by `start`. */
export async function openSockets (port: number, n: number, start: (s: net.Socket, i: number) => void, batch = 100): Promise<net.Socket[]> {
  const out: net.Socket[] = []
  for (let i = 0; i < n; i += batch) {
    const socks = await Promise.all(Array.from({ length: Math.min(batch, n - i) }, () => rawSocket(port).catch(() => null)))
    for (const s of socks) {
      if (s === null) continue
      s.on('error', () => {})
      start(s, out.length)
      out.push(s)
    }
  }
  return out
}

/**
 * `total` idle TCP connections (sending nothing) spread over child processes of at most `perChild` each
 * (test/hostile/idle-child.ts), so no process needs more descriptors than the machine's per-process limit. Resolves
 * once every child has seen all its sockets closed by the server, or `boundMs` ran out; `opened` tells the parent
 * when every child has finished connecting. Connections that failed to open count as neither answered nor cut.
 */
export function idleInChildren (port: number, total: number, opts: { perChild: number, boundMs: number, opened?: () => void }): Promise<AttackOutcome & { failed: number }> {
  const children = Math.ceil(total / opts.perChild)
  let opening = children
  const runs = Array.from({ length: children }, (_, i) => new Promise<{ opened: number, failed: number, closed: number }>((resolve) => {
    const n = Math.min(opts.perChild, total - i * opts.perChild)
    const child = fork(join(__dirname, 'idle-child.ts'), [JSON.stringify({ port, n, boundMs: opts.boundMs })],
      { cwd: join(__dirname, '..', '..'), execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let last = { opened: 0, failed: n, closed: 0 }
    child.on('message', (m) => {
      const r = m as { phase: string, opened: number, failed: number, closed?: number }
      last = { opened: r.opened, failed: r.failed, closed: r.closed ?? 0 }
      if (r.phase === 'opened' && --opening === 0) opts.opened?.()
    })
    child.once('exit', () => resolve(last))
    // Bound: the child gives up at boundMs; this is for a child that hangs on the way.
    setTimeout(() => child.kill('SIGKILL'), opts.boundMs + 30_000).unref()
  }))
  return Promise.all(runs).then((rs) => {
    const opened = rs.reduce((a, r) => a + r.opened, 0)
    const cut = rs.reduce((a, r) => a + r.closed, 0)
    return { connections: opened, answered: 0, cut, settled: cut, failed: rs.reduce((a, r) => a + r.failed, 0) }
  })
}

/** A SPDY answer (RST_STREAM or GOAWAY) among the frames received. */
export const spdyAnswer = (bytes: Buffer): boolean => {
  try {
    return new FrameDecoder({ version: 3 }).push(bytes).some((f) => f.type === 'RST_STREAM' || f.type === 'GOAWAY')
  } catch { return false }
}
/** Anything came back (a TLS alert, an HTTP 400, a GOAWAY). */
export const anyBytes = (bytes: Buffer): boolean => bytes.length > 0


/**
 * HTTPS/1.1 pipelining behind an unread response: GET /big/8192 (8 MiB), then pipelined GETs, never reading, until
 * the server cuts the connection or `maxBytes`/`ms` run out. Returns the bytes written and whether it was cut.
 */
export async function pipelineFlood (port: number, opts: { ms: number, maxBytes: number }): Promise<{ sent: number, cut: boolean }> {
  const sock = await rawSocket(port, true, ['http/1.1'])
  let cut = false
  const cutP = new Promise<void>((resolve) => { sock.on('close', () => { cut = true; resolve() }) })
  sock.on('error', () => {})
  sock.pause()
  sock.write('GET /big/8192 HTTP/1.1\r\nHost: localhost\r\n\r\n')
  const gets = Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'.repeat(1024))
  const end = Date.now() + opts.ms
  let sent = 0
  while (!cut && sent < opts.maxBytes && Date.now() < end) {
    sent += gets.length
    if (!sock.write(gets)) await Promise.race([new Promise((resolve) => sock.once('drain', resolve)), cutP, bound(Math.max(0, end - Date.now()))])
  }
  sock.destroy()
  return { sent, cut }
}

/** Outcome of attacks whose connections report being cut. */
export const cutOutcome = (results: Array<{ cut: boolean }>): AttackOutcome => {
  const cut = results.filter((r) => r.cut).length
  return { connections: results.length, answered: 0, cut, settled: cut }
}
