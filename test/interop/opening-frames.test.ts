/**
 * A new session's opening frames (SETTINGS, SPDY/3 section 2.6.4) go out with the first answer, in the same TLS
 * record, when the request came with the handshake's last flight (issue 14: a repeat visit paid 29 bytes for a
 * record of its own). The peer is not ours: `openssl s_client -tls1_2 -nextprotoneg spdy/3.1` resuming a session
 * (our TLS engine with NPN), with spdy-transport speaking SPDY over its stdin/stdout. The test feeds s_client's stdin
 * (so it decides which frames share a record), and a TCP proxy between s_client and the server counts the server's
 * records by content type and joins the client's last handshake flight (ChangeCipherSpec, NextProtocol, Finished)
 * with its first application data in one write: what a browser's resumed or False Start handshake puts in one
 * segment, and what s_client, writing its request only once its handshake is done, sends a moment apart.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import { spawn } from 'node:child_process'
import { Duplex } from 'node:stream'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { sClientOutput } from './s-client-run'
import { spdyGet, type SpdyConnection } from './spdy-over-s-client'
// eslint-disable-next-line @typescript-eslint/no-require-imports
const transport = require('spdy-transport')

const CCS = 20
const APPLICATION_DATA = 23

interface Proxy {
  port: number
  /** Content types of the server's records, in order. */
  serverTypes: number[]
  /** The client's last handshake flight and its first `join` application-data records reached the server in one write. */
  joined: boolean
  /** Resolves when the client's first application-data record is held. */
  firstAppData: Promise<void>
}

/** Complete TLS records at the front of `buf`: their content types and where each ends (RFC 5246 section 6.2.1). */
function recordsIn (buf: Buffer): Array<{ type: number, end: number }> {
  const out: Array<{ type: number, end: number }> = []
  let at = 0
  while (buf.length - at >= 5) {
    const end = at + 5 + buf.readUInt16BE(at + 3)
    if (end > buf.length) break
    out.push({ type: buf[at], end })
    at = end
  }
  return out
}

/**
 * A TCP proxy to `target` for one connection. On a resumed handshake (the server's ChangeCipherSpec came first) it
 * holds the client's records from its ChangeCipherSpec on until `join` application-data records have come, then
 * writes them to the server at once. In a full handshake the client waits for ours: nothing is held.
 */
async function proxy (t: Test, target: number, join: number): Promise<Proxy> {
  let firstAppData: () => void = () => {}
  const p: Proxy = { port: 0, serverTypes: [], joined: false, firstAppData: new Promise((resolve) => { firstAppData = resolve }) }
  const server = net.createServer((client) => {
    const up = net.connect(target, '127.0.0.1')
    up.setNoDelay(true)
    client.setNoDelay(true)
    let fromServer = Buffer.alloc(0)
    let fromClient = Buffer.alloc(0)
    let serverCcs = false
    let held: Buffer[] | null = null
    let appData = 0
    let done = false
    up.on('data', (c: Buffer) => {
      fromServer = Buffer.concat([fromServer, c])
      const rs = recordsIn(fromServer)
      for (const r of rs) {
        p.serverTypes.push(r.type)
        if (r.type === CCS) serverCcs = true
      }
      if (rs.length > 0) fromServer = fromServer.subarray(rs[rs.length - 1].end)
      client.write(c)
    })
    client.on('data', (c: Buffer) => {
      fromClient = Buffer.concat([fromClient, c])
      const rs = recordsIn(fromClient)
      let taken = 0
      for (const r of rs) {
        const rec = fromClient.subarray(taken, r.end)
        taken = r.end
        if (!done && held === null && r.type === CCS && serverCcs) held = []
        if (held === null) { up.write(rec); continue }
        held.push(rec)
        if (r.type !== APPLICATION_DATA) continue
        if (++appData === 1) firstAppData()
        if (appData === join) { up.write(Buffer.concat(held)); held = null; done = true; p.joined = true }
      }
      fromClient = fromClient.subarray(taken)
    })
    const close = (): void => { client.destroy(); up.destroy() }
    client.on('error', close); up.on('error', close); client.on('close', close); up.on('close', close)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  p.port = (server.address() as net.AddressInfo).port
  return p
}

/**
 * spdy-transport's client over `openssl s_client -quiet`, with s_client's stdin fed by the test: what spdy-transport
 * writes is kept until feed() hands it over in one pipe write, which s_client reads at once and sends as one record
 * (a pipe write under PIPE_BUF is atomic). So the test decides how the client's SPDY frames fall into records.
 */
function sClientPeer (t: Test, port: number, args: string[]): { conn: SpdyConnection, feed: (until: number, then?: 'pass' | 'hold') => Promise<void> } {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-quiet', ...args], { stdio: ['pipe', 'pipe', 'ignore'] })
  child.stdin.on('error', () => {})
  t.teardown(() => { child.kill() })
  let pending: Buffer[] = []
  let waiting: (() => void) | null = null
  let wanted = -1
  /** After the last feed: later writes (the request's FIN, say) go straight through. */
  let through = false
  /** SPDY control frame types among the bytes kept so far (SPDY/3 section 2.2: the type is in bytes 2-3). */
  const types = (): number[] => {
    const b = Buffer.concat(pending)
    const out: number[] = []
    for (let at = 0; b.length - at >= 8; at += 8 + b.readUIntBE(at + 5, 3)) if ((b[at] & 0x80) !== 0) out.push(b.readUInt16BE(at + 2))
    return out
  }
  const check = (): void => {
    if (waiting === null || !types().includes(wanted)) return
    child.stdin.write(Buffer.concat(pending))
    pending = []
    through = last
    const w = waiting
    waiting = null
    w()
  }
  const pipe = new Duplex({
    read () {},
    write (chunk: Buffer, _enc, cb) {
      if (through) child.stdin.write(chunk)
      else { pending.push(chunk); check() }
      cb()
    },
    final (cb) { cb() }
  })
  child.stdout.on('data', (c: Buffer) => pipe.push(c))
  child.stdout.on('end', () => pipe.push(null))
  const conn = transport.connection.create(pipe, { protocol: 'spdy', isServer: false }) as SpdyConnection & { start: (v: number) => void }
  conn.start(3.1)
  let last = false
  /**
   * Hands s_client all that is kept, in one write, once a frame of type `until` is among it; `then` 'pass': what
   * spdy-transport writes later goes straight through, 'hold': it is kept for the next feed.
   */
  const feed = async (until: number, then: 'pass' | 'hold' = 'pass'): Promise<void> => await new Promise((resolve) => { wanted = until; last = then === 'pass'; waiting = resolve; check() })
  return { conn, feed }
}

async function setup (t: Test, route: (app: ReturnType<typeof Fastify>) => void, records = 1): Promise<{ p: Proxy, conn: SpdyConnection, feed: (until: number, then?: 'pass' | 'hold') => Promise<void> }> {
  const app = Fastify()
  await app.register(spdy, { tls: generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] }), port: 0 })
  route(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const port = app.spdy.port!
  const sess = join(mkdtempSync(join(tmpdir(), 'fastify-spdy-opening-')), 's.sess')
  const npn = ['-tls1_2', '-nextprotoneg', 'spdy/3.1', '-servername', 'localhost']
  t.match(await sClientOutput(port, 'localhost', [...npn, '-sess_out', sess]), /Next protocol: \(1\) spdy\/3\.1/, 'a session to resume')
  const p = await proxy(t, port, records)
  const { conn, feed } = sClientPeer(t, p.port, [...npn, '-sess_in', sess])
  return { p, conn, feed }
}

const SETTINGS = 4
const SYN_STREAM = 1

t.test('resumed NPN session, request with the Finished: SETTINGS and the answer in one record', async (t) => {
  const { p, conn, feed } = await setup(t, (app) => app.get('/', async () => 'from memory'))
  const res = spdyGet(conn, '/')
  await feed(SYN_STREAM) // its SETTINGS and the request in one record
  t.same(await res, { status: 200, body: 'from memory' }, 'spdy-transport got the answer')
  t.ok(p.joined, 'resumed: the client\'s Finished and its first application data reached the server in one write')
  t.equal(p.serverTypes.filter((x) => x === APPLICATION_DATA).length, 1, 'the server\'s SETTINGS, SYN_REPLY and DATA came in one application-data record')
})

t.test('the same, a handler that does not answer: SETTINGS go alone once the bound passes, not with the late answer', async (t) => {
  let release: () => void = () => {}
  const answered = new Promise<void>((resolve) => { release = resolve })
  let handlerDone = false
  const { p, conn, feed } = await setup(t, (app) => app.get('/slow', async () => { await answered; handlerDone = true; return 'late' }))
  const settings = new Promise<Record<string, unknown>>((resolve) => {
    ;(conn as unknown as NodeJS.EventEmitter).on('frame', (f: { type: string, settings: Record<string, unknown> }) => { if (f.type === 'SETTINGS') resolve(f.settings) })
  })
  const res = spdyGet(conn, '/slow')
  await feed(SYN_STREAM)
  t.match(await settings, { max_concurrent_streams: 100 }, 'the server\'s SETTINGS arrived')
  t.notOk(handlerDone, 'while the handler still waits')
  t.ok(p.joined, 'and the request had come with the handshake (the wait applied)')
  release()
  t.same(await res, { status: 200, body: 'late' }, 'the answer follows')
  t.equal(p.serverTypes.filter((x) => x === APPLICATION_DATA).length, 2, 'SETTINGS in a record of their own, then the answer')
})

t.test('the client\'s SETTINGS and its request in two records of one write: still one record back', async (t) => {
  // TLS hands the session each record by itself: the first carries only the peer's SETTINGS (no request yet), and
  // ours must not go then, since the next record of the same read is the request (lib/client writes so). s_client
  // sends spdy-transport's SETTINGS in a record of their own; the request is made once the proxy holds that record,
  // and goes in a second one; the proxy hands the Finished and both records to the server in one write.
  const { p, conn, feed } = await setup(t, (app) => app.get('/', async () => 'from memory'), 2)
  await feed(SETTINGS, 'hold')
  await p.firstAppData
  const res = spdyGet(conn, '/')
  await feed(SYN_STREAM)
  t.same(await res, { status: 200, body: 'from memory' })
  t.ok(p.joined, 'the Finished, the SETTINGS record and the request record reached the server in one write')
  t.equal(p.serverTypes.filter((x) => x === APPLICATION_DATA).length, 1, 'SETTINGS, SYN_REPLY and DATA in one record')
})
