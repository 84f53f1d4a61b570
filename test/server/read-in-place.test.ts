/**
 * Driver.readInPlace (lib/server/driver.ts): a socket switched to net.Socket's `onread` path, on real loopback
 * sockets. Each read must still reach the engine as bytes of its own (the shared read buffer is overwritten by the
 * next read), in order; holds must pause and resume reading; the peer's FIN, a reset, our end -> linger -> destroy
 * and the unread-output check must work as on the stream path. Then through the plugin: plain SPDY and our TLS
 * engine switch (the accepted socket emits no 'data' after the first read) and answer requests written in pieces,
 * while HTTP/1.1 on the plain port (handed to the app's server) keeps its stream.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import https from 'node:https'
import tls from 'node:tls'
import http from 'node:http'
import { once } from 'node:events'
import { EngineDriver, type EngineDriverOptions, type PullEngine } from '../../lib/server/engine-driver'
import { HOLD_BRIDGE } from '../../lib/server/read-holds'
import { loopbackServer } from './loopback'
import { startServer, sleep, RawSpdy, normalGet, testCertificate } from '../hostile/harness'
import { SpdySession } from '../../lib/session/session'
import { requestHeaderList } from '../../lib/session/headers'

/** Keeps every chunk it is given, as given (no copy), and echoes `reply(chunk)`. */
class Keeper implements PullEngine<string> {
  deadline: number | null = null
  readonly chunks: Uint8Array[] = []
  private out: Uint8Array[] = []
  constructor (private readonly reply: (b: Uint8Array) => Uint8Array | null = () => null) {}
  receive (b: Uint8Array): string[] {
    this.chunks.push(b)
    const r = this.reply(b)
    if (r !== null) this.out.push(r)
    return []
  }

  tick (): string[] { return [] }
  takeOutbound (): Uint8Array[] { const o = this.out; this.out = []; return o }
  get received (): number { return this.chunks.reduce((n, c) => n + c.length, 0) }
}

interface Served { driver: EngineDriver<string>, engine: Keeper, socket: net.Socket, inPlace: boolean, dataEvents: () => number }

/** A loopback server whose accepted sockets run a Keeper on the driver, switched in place at once. */
async function server (t: Test, opts: EngineDriverOptions<string> = {}, reply?: (b: Uint8Array) => Uint8Array | null): Promise<{ port: number, next: () => Promise<Served> }> {
  return await loopbackServer(t, (socket) => {
    const engine = new Keeper(reply)
    const driver = new EngineDriver(socket, engine, opts)
    let data = 0
    socket.on('data', () => { data++ })
    return { driver, engine, socket, inPlace: driver.readInPlace(), dataEvents: () => data }
  })
}

async function dial (t: Test, port: number, allowHalfOpen = false): Promise<net.Socket> {
  const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen })
  c.on('error', () => {})
  c.setNoDelay(true)
  t.teardown(() => { c.destroy() })
  await once(c, 'connect')
  return c
}

async function until (pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!pred() && Date.now() < end) await sleep(5)
  return pred()
}

/** events.once would reject on the 'error' (ECONNRESET) that comes before a reset socket's 'close'. */
const closed = async (s: net.Socket): Promise<void> => { if (!s.destroyed) await new Promise((resolve) => s.once('close', resolve)) }

t.test('every read reaches the engine as bytes of its own, in order, with no \'data\' event', async (t) => {
  const { port, next } = await server(t)
  const c = await dial(t, port)
  const s = await next()
  t.ok(s.inPlace, 'the accepted socket switched to reading in place')
  // 150 pieces, each a different byte pattern, a millisecond apart: many reads, each overwriting the shared buffer.
  const sent: Buffer[] = []
  for (let i = 0; i < 150; i++) {
    const piece = Buffer.alloc(1 + (i % 37), i)
    sent.push(piece)
    c.write(piece)
    await sleep(1)
  }
  const total = Buffer.concat(sent)
  t.ok(await until(() => s.engine.received >= total.length, 5000), 'every byte arrived')
  t.ok(s.engine.chunks.length > 10, `in many reads (${s.engine.chunks.length})`)
  // The chunks were kept without copying: a later read into the shared buffer must not have changed them.
  t.same(Buffer.concat(s.engine.chunks), total, 'the kept chunks still hold what was sent, in order')
  t.equal(s.dataEvents(), 0, 'no read went through the stream (\'data\')')
  t.equal(s.driver.bytesRead, total.length, 'bytesRead counts them')
})

t.test('a hold pauses reading in place and its release resumes it', async (t) => {
  const { port, next } = await server(t)
  const c = await dial(t, port)
  const s = await next()
  t.ok(s.inPlace)
  s.driver.hold(HOLD_BRIDGE, true)
  c.write('while held')
  await sleep(150)
  t.equal(s.engine.received, 0, 'nothing read while held')
  s.driver.hold(HOLD_BRIDGE, false)
  t.ok(await until(() => s.engine.received === 10, 2000), 'read once released')
  t.equal(Buffer.concat(s.engine.chunks).toString(), 'while held')
})

t.test('the peer\'s FIN reaches the engine and the socket closes; a reset closes it too', async (t) => {
  let ended = 0
  let errors = 0
  let closes = 0
  const { port, next } = await server(t, { peerEnded: () => { ended++ }, socketError: () => { errors++ }, closed: () => { closes++ } })
  const c = await dial(t, port)
  const s = await next()
  c.write('last words')
  c.end()
  await closed(s.socket)
  t.equal(ended, 1, 'peerEnded once')
  t.equal(Buffer.concat(s.engine.chunks).toString(), 'last words', 'the bytes before the FIN were read')
  t.equal(closes, 1, 'closed')

  const c2 = await dial(t, port)
  const s2 = await next()
  t.ok(s2.inPlace)
  c2.write('x')
  await until(() => s2.engine.received === 1, 2000)
  c2.resetAndDestroy()
  await closed(s2.socket)
  t.ok(s2.socket.destroyed, 'a reset peer\'s socket is closed')
  t.equal(closes, 2, 'closed once more')
  t.ok(errors <= 1, 'at most one socket error (ECONNRESET)')
})

t.test('after our end(), bytes are dropped and the socket is destroyed past lingerDiscardBytes', async (t) => {
  const { port, next } = await server(t, { lingerMs: 5000, lingerDiscardBytes: 1000 })
  // Half-open: the peer keeps sending after our FIN instead of closing its side in answer.
  const c = await dial(t, port, true)
  const s = await next()
  t.ok(s.inPlace)
  s.driver.end()
  await once(c, 'end')
  c.write(Buffer.alloc(500))
  await sleep(100)
  t.notOk(s.socket.destroyed, '500 bytes after our FIN are dropped, the socket lingers')
  c.write(Buffer.alloc(1000))
  await closed(s.socket)
  t.equal(s.engine.received, 0, 'the engine saw none of them')
})

t.test('a peer that sends but never reads is paused in place, then closed after unreadOutputTimeout', async (t) => {
  const big = Buffer.alloc(256 * 1024, 1)
  const { port, next } = await server(t, { maxUnreadOutputBytes: 64 * 1024, unreadOutputTimeout: 200 }, () => big)
  const c = await dial(t, port)
  c.pause()
  const s = await next()
  t.ok(s.inPlace)
  // Keep sending: each read queues 256 KiB we owe; reading stops (socket paused) once we owe more than 64 KiB.
  const writer = setInterval(() => { if (!c.destroyed) c.write('more') }, 5)
  t.teardown(() => clearInterval(writer))
  await closed(s.socket)
  clearInterval(writer)
  t.ok(s.engine.chunks.length < 50, `reading stopped early (${s.engine.chunks.length} reads)`)
})

t.test('a socket whose reading is held is switched on a later read, after the bytes the stream holds', async (t) => {
  const got: Uint8Array[] = []
  let inPlace: boolean | null = null
  let data = 0
  let driver: EngineDriver<string> | null = null
  const srv = net.createServer((socket) => {
    const d = driver = new EngineDriver<string>(socket, { deadline: null, receive: (b: Uint8Array) => { got.push(b) }, tick: () => {}, takeOutbound: () => [] })
    socket.on('data', () => { data++ })
    d.hold(HOLD_BRIDGE, true)
    inPlace = d.readInPlace()
    d.hold(HOLD_BRIDGE, false)
  })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  t.teardown(() => { srv.close() })
  const c = await dial(t, (srv.address() as net.AddressInfo).port)
  t.ok(await until(() => driver !== null, 2000))
  t.equal(inPlace, false, 'readInPlace() waited while reading was held')
  c.write('first')
  t.ok(await until(() => Buffer.concat(got).toString() === 'first', 3000), 'the first read arrives, through \'data\'')
  for (const piece of ['sec', 'ond', ' and ', 'more']) { c.write(piece); await sleep(2) }
  t.ok(await until(() => Buffer.concat(got).toString() === 'firstsecond and more', 3000), 'later reads arrive, in order')
  t.equal(data, 1, 'only the first read came as \'data\': the switch was made after it')
})

t.test('a TLSSocket is switched too, and a hold on it loses nothing', async (t) => {
  const got: Uint8Array[] = []
  let data = 0
  let served: { driver: EngineDriver<string>, inPlace: boolean } | null = null
  const srv = tls.createServer(testCertificate(), (socket) => {
    const driver = new EngineDriver<string>(socket, { deadline: null, receive: (b: Uint8Array) => { got.push(b) }, tick: () => {}, takeOutbound: () => [] })
    socket.on('data', () => { data++ })
    served = { driver, inPlace: driver.readInPlace() }
  })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  t.teardown(() => { srv.close() })
  const c = tls.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false })
  c.on('error', () => {})
  t.teardown(() => { c.destroy() })
  await once(c, 'secureConnect')
  t.ok(await until(() => served !== null, 2000))
  const s = served as unknown as { driver: EngineDriver<string>, inPlace: boolean }
  t.ok(s.inPlace, 'switched')
  const sent: Buffer[] = []
  const send = async (n: number, from: number): Promise<void> => {
    for (let i = from; i < from + n; i++) { const p = Buffer.alloc(1 + (i % 29), i); sent.push(p); c.write(p); await sleep(1) }
  }
  await send(40, 0)
  s.driver.hold(HOLD_BRIDGE, true)
  await sleep(50)
  const before = got.reduce((n, b) => n + b.length, 0)
  await send(40, 40)
  await sleep(100)
  t.equal(got.reduce((n, b) => n + b.length, 0), before, 'nothing read while held')
  s.driver.hold(HOLD_BRIDGE, false)
  const total = Buffer.concat(sent)
  t.ok(await until(() => got.reduce((n, b) => n + b.length, 0) >= total.length, 3000), 'everything arrives once released')
  t.same(Buffer.concat(got), total, 'in order, each chunk still intact')
  t.equal(data, 0, 'no \'data\' event')
})

t.test('detach() after readInPlace() is refused', async (t) => {
  const { port, next } = await server(t)
  await dial(t, port)
  const s = await next()
  t.ok(s.inPlace)
  t.throws(() => s.driver.detach(), /readInPlace/)
})

/** The server sockets the plugin's listener accepts, each with a count of its 'data' events. */
function countData (server: net.Server): Array<{ socket: net.Socket, data: number }> {
  const seen: Array<{ socket: net.Socket, data: number }> = []
  server.prependListener('connection', (socket: net.Socket) => {
    const e = { socket, data: 0 }
    seen.push(e)
    socket.on('data', () => { e.data++ })
  })
  return seen
}

t.test('plain SPDY: a request written a byte at a time is answered, and reads after the first skip the stream', async (t) => {
  const s = await startServer()
  t.teardown(s.close)
  const seen = countData(s.app.spdy.server)
  const socket = net.connect(s.port, '127.0.0.1')
  socket.setNoDelay(true)
  socket.on('error', () => {})
  t.teardown(() => socket.destroy())
  await once(socket, 'connect')
  const session = new SpdySession({ role: 'client', version: 3.1 }, Date.now())
  let answered = false
  socket.on('data', (chunk: Buffer) => {
    for (const ev of session.receive(chunk, Date.now())) if (ev.type === 'response') answered = true
  })
  for (let round = 0; round < 2; round++) {
    answered = false
    session.request(requestHeaderList(3.1, { method: 'GET', path: '/', authority: `127.0.0.1:${s.port}`, scheme: 'http' }), { fin: true })
    const bytes = Buffer.concat(session.takeOutbound())
    for (let o = 0; o < bytes.length; o++) { socket.write(bytes.subarray(o, o + 1)); await sleep(1) }
    t.ok(await until(() => answered, 5000), `request ${round + 1} answered`)
  }
  t.equal(seen.length, 1)
  t.equal(seen[0].data, 1, 'only the first read (which told SPDY from HTTP/1.1) came as \'data\'')
})

t.test('plain port: HTTP/1.1 is still handed to the app\'s server, keep-alive requests included', async (t) => {
  const s = await startServer()
  t.teardown(s.close)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  for (let i = 0; i < 2; i++) {
    const status = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: s.port, path: '/', agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)) }).on('error', reject)
    })
    t.equal(status, 200, `HTTP/1.1 request ${i + 1}`)
  }
})

t.test('our TLS engine: SPDY and the HTTP/1.1 bridge work on a socket read in place', async (t) => {
  const s = await startServer({ tls: 'engine' })
  t.teardown(s.close)
  const seen = countData(s.app.spdy.server)
  t.equal(await normalGet(s.port, true), 200, 'SPDY over our TLS engine (lib/client)')
  const raw = await RawSpdy.connect(s.port, { tls: true })
  t.teardown(() => raw.destroy())
  t.ok(await raw.served('/'), 'SPDY over Node\'s TLS client (ALPN) on our engine')
  t.ok(await raw.served('/'), 'and a second request on it')
  const status = await new Promise<number>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: s.port, path: '/', rejectUnauthorized: false, agent: new https.Agent({ ALPNProtocols: ['http/1.1'] } as https.AgentOptions) }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)) }).on('error', reject)
  })
  t.equal(status, 200, 'HTTP/1.1 over our TLS engine (the bridge)')
  t.equal(seen.length, 3)
  for (const e of seen) t.equal(e.data, 0, 'no read of an engine connection came as \'data\'')
})

t.test('OpenSSL\'s side: a SPDY session on the TLSSocket (switched once adopted) answers request after request', async (t) => {
  const s = await startServer({ tls: true })
  t.teardown(s.close)
  const raw = await RawSpdy.connect(s.port, { tls: true })
  t.teardown(() => raw.destroy())
  for (let i = 0; i < 3; i++) t.ok(await raw.served('/'), `request ${i + 1} answered`)
})
