/**
 * Our session engine in the client role against an independent server: npm spdy-transport's Connection on a real
 * TCP socket (127.0.0.1, port 0, plain mode), for spdy/2, spdy/3 and spdy/3.1. Covers small GETs, multi-MB bodies
 * both ways (flow control: our consume() grants window as the test reads; their server grants window as it reads),
 * a pushed stream, PING round trip, and a GOAWAY drain where the in-flight stream still completes.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import t from 'tap'
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { SpdySession, type SessionEvent } from '../../lib/session'
import { requestHeaderList, replyStatus, replyHeaders } from '../../lib/session/headers'
import type { HeaderList, SpdyVersion } from '../../lib/codec/types'
import { SessionSocket } from '../session/socket-loop'

const transport = require('spdy-transport')

// The bit of spdy-transport's untyped API used here.
interface StStream extends NodeJS.EventEmitter {
  path: string
  method: string
  headers: Record<string, string>
  respond (status: number, headers: Record<string, string>): void
  write (b: Buffer | string): boolean
  end (b?: Buffer | string): void
  resume (): void
  pushPromise (uri: Record<string, unknown>, cb?: (err: Error | null, push: StStream) => void): StStream
}
interface StConnection extends NodeJS.EventEmitter {
  start (version: number): void
  end (cb?: () => void): void
}

const SIZE = 4 * 1024 * 1024
const chunk = randomBytes(64 * 1024)
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const bigBody = Buffer.concat(Array.from({ length: SIZE / chunk.length }, () => chunk))
const bigSha = sha(bigBody)

/** An independent SPDY server: spdy-transport's Connection per accepted socket. */
async function theirServer (version: SpdyVersion): Promise<{ port: number, conns: StConnection[], close: () => Promise<void>, release: () => void }> {
  const conns: StConnection[] = []
  const sockets = new Set<net.Socket>()
  let releaseSlow: Array<() => void> = []
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    const conn = transport.connection.create(socket, { protocol: 'spdy', isServer: true, windowSize: 1 << 20 }) as StConnection
    // As npm spdy's server does once NPN has picked the protocol: without it, spdy-transport guesses 2 or 3 from the
    // first frame and never does 3.1's session flow control (unless autoSpdy31).
    conn.start(version)
    conns.push(conn)
    conn.on('error', () => { /* socket teardown at the end of a test */ })
    conn.on('stream', (stream: StStream) => {
      stream.on('error', () => {})
      const body: Buffer[] = []
      stream.on('data', (c: Buffer) => body.push(c))
      const path = stream.path
      if (path === '/small') {
        stream.respond(200, { 'content-type': 'text/plain', 'x-served-by': 'spdy-transport' })
        stream.end('hello from spdy-transport')
      } else if (path === '/big') {
        stream.respond(200, { 'content-type': 'application/octet-stream' })
        let i = 0
        const more = (): void => {
          while (i < SIZE / chunk.length) {
            i++
            if (i === SIZE / chunk.length) { stream.end(chunk); return }
            if (!stream.write(chunk)) { stream.once('drain', more); return }
          }
        }
        more()
      } else if (path === '/upload') {
        stream.on('end', () => {
          const b = Buffer.concat(body)
          stream.respond(200, { 'x-length': String(b.length), 'x-sha': sha(b) })
          stream.end()
        })
      } else if (path === '/push') {
        stream.pushPromise({ path: '/pushed.css', method: 'GET', host: 'localhost', status: 200, priority: { weight: 8 }, headers: {}, response: { 'content-type': 'text/css' } }, (err, push) => {
          if (err !== null) return
          push.on('error', () => {})
          push.end('body { color: red }')
          stream.respond(200, { 'content-type': 'text/html' })
          stream.end('<link rel=stylesheet href=/pushed.css>')
        })
      } else if (path === '/slow') {
        releaseSlow.push(() => { stream.respond(200, {}); stream.end('slow done') })
      } else {
        stream.respond(404, {})
        stream.end()
      }
      stream.resume()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    conns,
    release: () => { const r = releaseSlow; releaseSlow = []; for (const f of r) f() },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

interface Reply { status: number, headers: Record<string, string | string[]>, body: Buffer, reset?: number }

/** Our client session on a socket, with per-stream collectors. */
async function ourClient (port: number, version: SpdyVersion): Promise<{
  session: SpdySession
  loop: SessionSocket
  get: (path: string, body?: Buffer) => Promise<Reply>
  pushes: Array<{ streamId: number, associatedStreamId: number, headers: HeaderList, body: Promise<Buffer> }>
  events: SessionEvent[]
  closed: Promise<void>
}> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  const session = new SpdySession({ role: 'client', version }, Date.now())
  const pending = new Map<number, { status: number, headers: HeaderList, chunks: Buffer[], done: (r: Reply) => void }>()
  const pushBodies = new Map<number, { chunks: Buffer[], done: (b: Buffer) => void }>()
  const pushes: Array<{ streamId: number, associatedStreamId: number, headers: HeaderList, body: Promise<Buffer> }> = []
  const events: SessionEvent[] = []
  const uploads = new Map<number, () => void>()
  let onClosed: () => void = () => {}
  const closed = new Promise<void>((resolve) => { onClosed = resolve })
  const finish = (id: number, reset?: number): void => {
    const p = pending.get(id)
    if (p !== undefined) {
      pending.delete(id)
      p.done({ status: replyStatus(version, p.headers), headers: replyHeaders(p.headers), body: Buffer.concat(p.chunks), reset })
    }
    const pb = pushBodies.get(id)
    if (pb !== undefined) { pushBodies.delete(id); pb.done(Buffer.concat(pb.chunks)) }
  }
  const loop = new SessionSocket(socket, session, (ev) => {
    if (ev.type !== 'data') events.push(ev)
    switch (ev.type) {
      case 'response': {
        const p = pending.get(ev.streamId)
        if (p !== undefined) p.headers = ev.headers
        if (ev.fin) finish(ev.streamId)
        break
      }
      case 'push': {
        let done: (b: Buffer) => void = () => {}
        const body = new Promise<Buffer>((resolve) => { done = resolve })
        pushBodies.set(ev.streamId, { chunks: [], done })
        pushes.push({ streamId: ev.streamId, associatedStreamId: ev.associatedStreamId, headers: ev.headers, body })
        if (ev.fin) finish(ev.streamId)
        break
      }
      case 'data': {
        const target = pending.get(ev.streamId)?.chunks ?? pushBodies.get(ev.streamId)?.chunks
        target?.push(Buffer.from(ev.data))
        // The application read it: grant the window back (this is what makes multi-MB downloads move).
        session.consume(ev.streamId, ev.data.length)
        if (ev.fin) finish(ev.streamId)
        break
      }
      case 'streamReset': finish(ev.streamId, ev.status); break
      case 'drain': uploads.get(ev.streamId)?.(); break
      case 'closed': onClosed(); break
    }
  })
  loop.pump()
  const get = (path: string, body?: Buffer): Promise<Reply> => new Promise((resolve, reject) => {
    const headers = requestHeaderList(version, { method: body === undefined ? 'GET' : 'POST', path, authority: `127.0.0.1:${port}`, scheme: 'http' }, {})
    const id = session.request(headers, { fin: body === undefined })
    if (id === 0) { reject(new Error('request refused by the session')); return }
    pending.set(id, { status: 0, headers: [], chunks: [], done: resolve })
    if (body !== undefined) {
      let off = 0
      const more = (): void => {
        while (off < body.length) {
          const piece = body.subarray(off, off + 16384)
          off += piece.length
          if (!session.write(id, piece)) { uploads.set(id, more); loop.pump(); return }
        }
        uploads.delete(id)
        session.end(id)
        loop.pump()
      }
      more()
    }
    loop.pump()
  })
  return { session, loop, get, pushes, events, closed }
}

for (const V of [2, 3, 3.1] as const) {
  t.test(`our client vs spdy-transport server, spdy/${V}`, async (t) => {
    const srv = await theirServer(V)
    t.teardown(srv.close)
    const c = await ourClient(srv.port, V)
    t.teardown(() => c.loop.socket.destroy())

    const small = await c.get('/small')
    t.equal(small.status, 200)
    t.equal(small.headers['x-served-by'], 'spdy-transport')
    t.equal(small.body.toString(), 'hello from spdy-transport')
    t.equal(c.events.find((e) => e.type === 'settings')?.type, 'settings', 'their SETTINGS reached us')

    const [big, up] = await Promise.all([c.get('/big'), c.get('/upload', bigBody)])
    t.equal(big.body.length, SIZE, '4 MB download arrives whole')
    t.equal(sha(big.body), bigSha, 'download bytes intact')
    t.equal(up.headers['x-length'], String(SIZE), '4 MB upload arrives whole (their window, our scheduler)')
    t.equal(up.headers['x-sha'], bigSha, 'upload bytes intact')

    const page = await c.get('/push')
    t.equal(page.body.toString(), '<link rel=stylesheet href=/pushed.css>')
    t.equal(c.pushes.length, 1, 'one pushed stream')
    const p = c.pushes[0]
    t.equal(p.streamId % 2, 0, 'pushed stream id is even (server-initiated)')
    const pushedBody = await p.body
    t.equal(pushedBody.toString(), 'body { color: red }')
    const names = new Map(p.headers)
    if (V === 2) t.match(names.get('url'), /\/pushed\.css$/, 'v2 push carries url')
    else t.equal(names.get(':path'), '/pushed.css', 'v3 push carries :path')

    // PING: ours carries an odd id (client), their echo comes back and is measured.
    t.ok(c.session.ping(Date.now()))
    c.loop.pump()
    await new Promise<void>((resolve) => {
      const iv = setInterval(() => { if (c.events.some((e) => e.type === 'pingAck')) { clearInterval(iv); resolve() } }, 5)
    })
    const ack = c.events.find((e) => e.type === 'pingAck')
    t.ok(ack !== undefined && ack.type === 'pingAck' && ack.id % 2 === 1 && ack.rtt >= 0, 'pingAck with our odd id')

    // GOAWAY drain: a stream in flight when their server says GOAWAY still completes, then the session closes.
    const slow = c.get('/slow')
    await new Promise<void>((resolve) => {
      const iv = setInterval(() => { if (srv.conns[0] !== undefined) { clearInterval(iv); resolve() } }, 5)
    })
    await new Promise((resolve) => setTimeout(resolve, 50)) // let the SYN_STREAM reach them (not a timed assertion)
    srv.conns[0].end()
    await new Promise<void>((resolve) => {
      const iv = setInterval(() => { if (c.events.some((e) => e.type === 'goaway')) { clearInterval(iv); resolve() } }, 5)
    })
    const ga = c.events.find((e) => e.type === 'goaway')
    t.ok(ga !== undefined && ga.type === 'goaway' && ga.status === 0, 'GOAWAY(OK) received')
    t.equal(c.session.request(requestHeaderList(V, { method: 'GET', path: '/small', authority: 'x' }), { fin: true }), 0, 'no new stream after GOAWAY')
    srv.release()
    const slowReply = await slow
    t.equal(slowReply.body.toString(), 'slow done', 'in-flight stream finished after GOAWAY')
    await c.closed
    t.ok(c.session.closed, 'session closed once drained')
  })
}
