/**
 * Clients that write each frame in pieces (issue 14: Go's spdystream writes a SYN_STREAM as ~7 segments with
 * TCP_NODELAY). A read that completes no frame takes a short path through the server (nothing routed, flushed or
 * re-armed); these check what that path must keep: the request is answered once its last piece arrives, and the
 * idle deadline follows the pieces (each one is activity) without closing a session that is still receiving, and
 * still closes it once the peer goes silent.
 */
import t from 'tap'
import net from 'node:net'
import { SpdySession, type SessionEvent } from '../../lib/session/session'
import { requestHeaderList } from '../../lib/session/headers'
import { startServer, sleep, closedWithin } from '../hostile/harness'
import { CLOSE_LINGER_MS } from '../../lib/server/linger'

/** A client session over a raw socket whose output is written in pieces of `piece` bytes, `gapMs` apart. */
async function pieceClient (port: number): Promise<{ socket: net.Socket, session: SpdySession, events: SessionEvent[], body: () => string, send: (piece: number, gapMs: number) => Promise<number> }> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.setNoDelay(true)
  socket.on('error', () => {})
  const session = new SpdySession({ role: 'client', version: 3.1 }, Date.now())
  const events: SessionEvent[] = []
  const chunks: Uint8Array[] = []
  socket.on('data', (chunk: Buffer) => {
    for (const ev of session.receive(chunk, Date.now())) {
      events.push(ev)
      if (ev.type === 'data') chunks.push(Buffer.from(ev.data))
    }
  })
  const send = async (piece: number, gapMs: number): Promise<number> => {
    const bytes = Buffer.concat(session.takeOutbound())
    let writes = 0
    for (let o = 0; o < bytes.length; o += piece) {
      socket.write(bytes.subarray(o, o + piece))
      writes++
      await sleep(gapMs)
    }
    return writes
  }
  return { socket, session, events, body: () => Buffer.concat(chunks).toString(), send }
}

async function until (pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!pred() && Date.now() < end) await sleep(10)
  return pred()
}

const statusOf = (events: SessionEvent[], id: number): string | undefined => {
  const r = events.find((e): e is Extract<SessionEvent, { type: 'response' }> => e.type === 'response' && e.streamId === id)
  return r?.headers.find(([n]) => n === ':status')?.[1]
}

t.test('a request written a byte at a time is answered once its last byte arrives', async (t) => {
  const s = await startServer()
  t.teardown(s.close)
  const c = await pieceClient(s.port)
  t.teardown(() => c.socket.destroy())
  const id = c.session.request(requestHeaderList(3.1, { method: 'GET', path: '/', authority: `127.0.0.1:${s.port}`, scheme: 'http' }), { fin: true })
  const writes = await c.send(1, 1)
  t.ok(writes > 50, `the opening frames went as ${writes} one-byte writes`)
  t.ok(await until(() => c.body() === 'ok', 5000), 'the response arrived in full')
  t.equal(statusOf(c.events, id), '200 OK')
  // A second request on the same session, in 3-byte pieces: the decoder's carried-over state is clean between frames.
  const id2 = c.session.request(requestHeaderList(3.1, { method: 'GET', path: '/', authority: `127.0.0.1:${s.port}`, scheme: 'http' }), { fin: true })
  await c.send(3, 1)
  t.ok(await until(() => statusOf(c.events, id2) !== undefined, 5000), 'the second request is answered too')
  t.equal(statusOf(c.events, id2), '200 OK')
})

t.test('pieces spread over more than idleTimeout keep the session open; silence after them closes it', async (t) => {
  const IDLE = 300
  const s = await startServer({ spdy: { idleTimeout: IDLE } })
  t.teardown(s.close)
  const c = await pieceClient(s.port)
  t.teardown(() => c.socket.destroy())
  const id = c.session.request(requestHeaderList(3.1, { method: 'GET', path: '/', authority: `127.0.0.1:${s.port}`, scheme: 'http' }), { fin: true })
  // About 10 pieces, 100 ms apart: the whole request takes three idle timeouts to arrive, no gap is one.
  const total = Buffer.concat(c.session.takeOutbound())
  const piece = Math.ceil(total.length / 10)
  const started = Date.now()
  for (let o = 0; o < total.length; o += piece) {
    c.socket.write(total.subarray(o, o + piece))
    await sleep(IDLE / 3)
  }
  t.ok(Date.now() - started > 2 * IDLE, 'the request took longer than the idle timeout to arrive')
  t.notOk(c.socket.destroyed, 'the session stayed open while pieces kept arriving')
  t.ok(await until(() => statusOf(c.events, id) !== undefined, 5000), 'the request was answered')
  t.equal(statusOf(c.events, id), '200 OK')
  t.notOk(c.events.some((e) => e.type === 'goaway'), 'no GOAWAY while the request was arriving')
  // Then nothing more: the idle deadline closes it (GOAWAY, FIN, and the linger if we did not close).
  t.ok(await closedWithin(c.socket, IDLE + CLOSE_LINGER_MS + 3000), 'closed once the peer went silent')
})

t.test('an answer does not wait for the rest of a frame the peer has begun', async (t) => {
  // Any batching of answers for a peer that writes in pieces (holding them while its bytes end inside a frame, say,
  // so the next answer shares the write) must stay bounded by the server: never wait for the rest of that frame.
  const s = await startServer()
  t.teardown(s.close)
  const c = await pieceClient(s.port)
  t.teardown(() => c.socket.destroy())
  const head = (): ReturnType<typeof requestHeaderList> => requestHeaderList(3.1, { method: 'GET', path: '/', authority: `127.0.0.1:${s.port}`, scheme: 'http' })
  const id = c.session.request(head(), { fin: true })
  const first = Buffer.concat(c.session.takeOutbound())
  const id2 = c.session.request(head(), { fin: true })
  const second = Buffer.concat(c.session.takeOutbound())
  // The opening frames and the first request whole, then 10 bytes of the second (its header and stream id), in one write.
  c.socket.write(Buffer.concat([first, second.subarray(0, 10)]))
  t.ok(await until(() => c.body() === 'ok', 5000), 'the first request was answered while the second was unfinished')
  t.equal(statusOf(c.events, id), '200 OK')
  t.equal(statusOf(c.events, id2), undefined, 'the second, incomplete, was not')
  c.socket.write(second.subarray(10))
  t.ok(await until(() => statusOf(c.events, id2) !== undefined, 5000), 'the second was answered once its rest arrived')
  t.equal(statusOf(c.events, id2), '200 OK')
})
