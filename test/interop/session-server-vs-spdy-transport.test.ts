/**
 * Our session engine in the server role, on a tiny socket loop, against an independent client: npm spdy-transport's
 * Connection over real TCP (127.0.0.1, port 0), started for spdy/2, spdy/3 and spdy/3.1 as npm spdy's agent does.
 * Covers small GETs, multi-MB bodies both ways (our write()/drain and consume() against their windows), a pushed
 * stream, PING both ways, and GOAWAY drain (the in-flight stream finishes, then our session reports closed).
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import t from 'tap'
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { SpdySession, type SessionEvent } from '../../lib/session'
import { requestHead, responseHeaderList, pushHeaderList } from '../../lib/session/headers'
import type { SpdyVersion } from '../../lib/codec/types'
import { SessionSocket } from '../session/socket-loop'

const transport = require('spdy-transport')

interface StStream extends NodeJS.EventEmitter {
  id: number
  path: string
  headers: Record<string, string>
  write (b: Buffer | string): boolean
  end (b?: Buffer | string): void
  resume (): void
}
interface StConnection extends NodeJS.EventEmitter {
  start (version: number): void
  request (uri: Record<string, unknown>, cb?: (err: Error | null, s: StStream) => void): StStream
  ping (cb: (err: Error | null) => void): void
  end (cb?: () => void): void
}

const SIZE = 4 * 1024 * 1024
const chunk = randomBytes(64 * 1024)
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const bigBody = Buffer.concat(Array.from({ length: SIZE / chunk.length }, () => chunk))
const bigSha = sha(bigBody)

/** Our server: one SpdySession per accepted socket, a few routes written straight on the engine. */
async function ourServer (version: SpdyVersion): Promise<{ port: number, sessions: Array<{ s: SpdySession, loop: SessionSocket, events: SessionEvent[] }>, release: () => void, close: () => Promise<void> }> {
  const sessions: Array<{ s: SpdySession, loop: SessionSocket, events: SessionEvent[] }> = []
  const sockets = new Set<net.Socket>()
  let slow: Array<() => void> = []
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    const s = new SpdySession({ role: 'server', version }, Date.now())
    const events: SessionEvent[] = []
    const uploads = new Map<number, { path: string, chunks: Buffer[] }>()
    const writers = new Map<number, () => void>()
    const reply = (id: number, status: number, headers: Record<string, string>, body: Buffer | string): void => {
      s.respond(id, responseHeaderList(version, status, headers), false)
      s.write(id, typeof body === 'string' ? Buffer.from(body) : body, true)
    }
    const loop: SessionSocket = new SessionSocket(socket, s, (ev) => {
      if (ev.type !== 'data') events.push(ev)
      if (ev.type === 'request') {
        const head = requestHead(version, ev.headers)
        if (typeof head === 'string') { s.reset(ev.streamId, 1); return }
        const id = ev.streamId
        if (head.path === '/small') reply(id, 200, { 'x-served-by': 'fastify-spdy-session', 'x-method': head.method }, 'hello from our session')
        else if (head.path === '/big') {
          s.respond(id, responseHeaderList(version, 200, { 'content-type': 'application/octet-stream' }))
          let i = 0
          const more = (): void => {
            while (i < SIZE / chunk.length) {
              i++
              const last = i === SIZE / chunk.length
              if (!s.write(id, chunk, last) && !last) { writers.set(id, more); return }
            }
            writers.delete(id)
          }
          more()
        } else if (head.path === '/upload') uploads.set(id, { path: head.path, chunks: [] })
        else if (head.path === '/push') {
          const pid = s.push(id, pushHeaderList(version, { scheme: 'http', authority: head.authority, path: '/pushed.js' }, 200, { 'content-type': 'application/javascript' }))
          if (pid !== 0) s.write(pid, Buffer.from('console.log("pushed")'), true)
          reply(id, 200, { 'x-pushed': String(pid) }, '<script src=/pushed.js></script>')
        } else if (head.path === '/slow') slow.push(() => { reply(id, 200, {}, 'slow done'); loop.pump() })
        else reply(id, 404, {}, '')
      } else if (ev.type === 'data') {
        const u = uploads.get(ev.streamId)
        if (u !== undefined) u.chunks.push(Buffer.from(ev.data))
        // The route read it: only now does the peer get window back (backpressure follows the application).
        s.consume(ev.streamId, ev.data.length)
        if (ev.fin && u !== undefined) {
          uploads.delete(ev.streamId)
          const b = Buffer.concat(u.chunks)
          reply(ev.streamId, 200, { 'x-length': String(b.length), 'x-sha': sha(b) }, '')
        }
      } else if (ev.type === 'drain') writers.get(ev.streamId)?.()
    })
    sessions.push({ s, loop, events })
    loop.pump()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    sessions,
    release: () => { const r = slow; slow = []; for (const f of r) f() },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

interface Res { status: number, headers: Record<string, string>, body: Buffer, pushes: Array<{ path: string, body: Promise<Buffer> }> }

function collect (s: NodeJS.EventEmitter): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('end', () => resolve(Buffer.concat(chunks)))
    s.on('error', reject)
  })
}

function theirRequest (conn: StConnection, port: number, path: string, body?: Buffer): Promise<Res> {
  return new Promise((resolve, reject) => {
    const pushes: Res['pushes'] = []
    // The body is written once the SYN_STREAM is out: spdy-transport sends a stream's SYN_STREAM on its first
    // write, so writing at once would put this stream's SYN ahead of an earlier stream's, which SPDY/3 section 2.3.2
    // makes a session error (ids must increase) and our session answers with GOAWAY.
    const stream = conn.request({ method: body === undefined ? 'GET' : 'POST', path, host: `127.0.0.1:${port}`, headers: {} }, (err) => {
      if (err !== null) reject(err)
      else if (body !== undefined) sendBody(body)
    })
    stream.on('error', reject)
    stream.on('pushPromise', (push: StStream) => { pushes.push({ path: push.path, body: collect(push) }) })
    stream.on('response', (status: number, headers: Record<string, string>) => {
      collect(stream).then((b) => resolve({ status, headers, body: b, pushes }), reject)
    })
    const sendBody = (body: Buffer): void => {
      let off = 0
      const more = (): void => {
        while (off < body.length) {
          const piece = body.subarray(off, off + 65536)
          off += piece.length
          if (off >= body.length) { stream.end(piece); return }
          if (!stream.write(piece)) { stream.once('drain', more); return }
        }
      }
      more()
    }
  })
}

for (const V of [2, 3, 3.1] as const) {
  t.test(`spdy-transport client vs our server session, spdy/${V}`, async (t) => {
    const srv = await ourServer(V)
    t.teardown(srv.close)
    const socket = net.connect(srv.port, '127.0.0.1')
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    t.teardown(() => socket.destroy())
    const conn = transport.connection.create(socket, { protocol: 'spdy', isServer: false, windowSize: 1 << 20 }) as StConnection
    conn.on('error', () => { /* a failure shows up as an unanswered request below */ })
    conn.start(V)

    const small = await theirRequest(conn, srv.port, '/small')
    t.equal(small.status, 200)
    t.equal(small.headers['x-served-by'], 'fastify-spdy-session')
    t.equal(small.headers['x-method'], 'GET')
    t.equal(small.body.toString(), 'hello from our session')
    const ours = srv.sessions[0]
    t.ok(ours.events.some((e) => e.type === 'settings'), 'their SETTINGS reached us')

    // Download and upload at once, so both directions' windows are in play together.
    const [big, up] = await Promise.all([theirRequest(conn, srv.port, '/big'), theirRequest(conn, srv.port, '/upload', bigBody)])

    t.equal(big.body.length, SIZE, '4 MB download whole (our scheduler within their windows)')
    t.equal(sha(big.body), bigSha, 'download bytes intact')
    t.equal(up.headers['x-length'], String(SIZE), '4 MB upload whole (window granted as we consume)')
    t.equal(up.headers['x-sha'], bigSha, 'upload bytes intact')

    const page = await theirRequest(conn, srv.port, '/push')
    t.equal(page.body.toString(), '<script src=/pushed.js></script>')
    t.not(page.headers['x-pushed'], '0', 'push accepted by our session')
    t.equal(page.pushes.length, 1, 'their client saw the pushed stream')
    // SPDY/2 section 3.3.1: `url` is absolute; SPDY/3: `:path` (with `:scheme` and `:host` beside it).
    t.equal(page.pushes[0]?.path, V === 2 ? `http://127.0.0.1:${srv.port}/pushed.js` : '/pushed.js', 'push URL mapped for this version')
    t.equal((await page.pushes[0].body).toString(), 'console.log("pushed")', 'pushed body')

    // PING from them (odd id): our session echoes it.
    await new Promise<void>((resolve, reject) => conn.ping((err) => err !== null && err !== undefined ? reject(err) : resolve()))
    t.pass('their PING answered by our session')
    // PING from us (even id): their echo is measured.
    t.ok(ours.s.ping(Date.now()))
    ours.loop.pump()
    await new Promise<void>((resolve) => {
      const iv = setInterval(() => { if (ours.events.some((e) => e.type === 'pingAck')) { clearInterval(iv); resolve() } }, 5)
    })
    const ack = ours.events.find((e) => e.type === 'pingAck')
    t.ok(ack?.type === 'pingAck' && ack.id % 2 === 0, 'our PING (even id) acked')

    // GOAWAY drain: a stream in flight when we send GOAWAY still completes; then our session closes.
    // Not for v2 against this peer: SPDY/2's GOAWAY is 4 bytes (section 2.7.6, last-good-stream-id only), which we
    // send, but spdy-transport 3 requires 8 (it reads a v3 status) and kills its connection with "GOAWAY OOB".
    if (V === 2) { t.comment('spdy-transport cannot parse a SPDY/2 GOAWAY (expects 8 bytes): drain checked for v3/3.1'); return }
    const slow = theirRequest(conn, srv.port, '/slow')
    await new Promise<void>((resolve) => {
      const iv = setInterval(() => { if (ours.events.some((e) => e.type === 'request' && e.streamId >= 9)) { clearInterval(iv); resolve() } }, 5)
    })
    ours.s.goaway()
    ours.loop.pump()
    t.notOk(ours.s.closed, 'not closed while a stream is open')
    srv.release()
    const slowRes = await slow
    t.equal(slowRes.body.toString(), 'slow done', 'in-flight stream finished after GOAWAY')
    await new Promise<void>((resolve) => {
      const iv = setInterval(() => { if (ours.s.closed) { clearInterval(iv); resolve() } }, 5)
    })
    t.ok(ours.events.some((e) => e.type === 'closed'), 'our session reported closed after the drain')
    await new Promise<void>((resolve) => { if (socket.destroyed) resolve(); else socket.once('close', () => resolve()) })
    t.pass('socket closed after the flush')
  })
}
