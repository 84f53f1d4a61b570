/**
 * Deadlines that close: a connection the server gives up on is really gone (its socket destroyed on the server),
 * even when the peer neither reads nor closes. Short timeouts; the bounds waited for are generous (timeout plus
 * the 2 s close linger plus slack) and assert the outcome, not the time it took.
 * - plain listener, nothing sent: the first-byte deadline (handshakeTimeout);
 * - TLS listener, nothing sent: the handshake deadline;
 * - SPDY sessions with no stream open: idleTimeout, with peers that never read our GOAWAY nor send a FIN;
 * - a SPDY frame header and then silence: the same idle deadline.
 */
import t from 'tap'
import type net from 'node:net'
import { SpdySession } from '../../lib/session/session'
import { startServer, rawSocket, idleSockets, closedWithin, sleep, normalGet } from '../hostile/harness'
import { CLOSE_LINGER_MS } from '../../lib/server/linger'

const N = 20
const SHORT = 300
/** Upper bound to wait for a close: the deadline, the linger, and slack for a loaded test machine. */
const BOUND = SHORT + CLOSE_LINGER_MS + 3000

async function allClosed (sockets: net.Socket[]): Promise<number> {
  const r = await Promise.all(sockets.map((s) => closedWithin(s, BOUND)))
  return r.filter(Boolean).length
}

/** Waits until the listener holds no connection, up to BOUND; returns how many it still holds. */
async function drained (sessions: () => unknown[]): Promise<number> {
  const end = Date.now() + BOUND
  while (sessions().length > 0 && Date.now() < end) await sleep(20)
  return sessions().length
}

for (const useTls of [false, true]) {
  t.test(`${useTls ? 'TLS' : 'plain'}: sockets that send nothing are closed after handshakeTimeout`, async (t) => {
    const s = await startServer({ tls: useTls, spdy: { handshakeTimeout: SHORT } })
    t.teardown(s.close)
    const socks = await idleSockets(s.port, N)
    t.teardown(() => { for (const x of socks) x.destroy() })
    t.equal(await allClosed(socks), N, 'every silent socket closed by the server')
    t.equal(await drained(() => s.app.spdy.sessions()), 0, 'none held')
    t.equal(await normalGet(s.port, useTls), 200, 'a real client is served')
  })
}

for (const useTls of [false, true]) {
  t.test(`${useTls ? 'TLS' : 'plain'}: idle SPDY sessions whose peer never reads nor closes are destroyed after idleTimeout`, async (t) => {
    const s = await startServer({ tls: useTls, spdy: { idleTimeout: SHORT } })
    t.teardown(s.close)
    const socks: net.Socket[] = []
    t.teardown(() => { for (const x of socks) x.destroy() })
    for (let i = 0; i < N; i++) {
      const sock = await rawSocket(s.port, useTls)
      sock.on('error', () => {})
      // Our SETTINGS, as a client would open, then never read again (the GOAWAY and FIN stay unread).
      const c = new SpdySession({ role: 'client', version: 3.1 }, Date.now())
      for (const b of c.takeOutbound()) sock.write(b)
      sock.pause()
      socks.push(sock)
    }
    const end = Date.now() + 2000
    while (s.app.spdy.sessions().length < N && Date.now() < end) await sleep(10)
    t.equal(await drained(() => s.app.spdy.sessions()), 0, 'the server holds none of them')
    t.equal(await normalGet(s.port, useTls), 200, 'a real client is served')
  })
}

t.test('a frame header announcing 1000 bytes, then silence: closed after idleTimeout', async (t) => {
  const s = await startServer({ spdy: { idleTimeout: SHORT } })
  t.teardown(s.close)
  const socks: net.Socket[] = []
  t.teardown(() => { for (const x of socks) x.destroy() })
  for (let i = 0; i < N; i++) {
    const sock = await rawSocket(s.port)
    sock.on('error', () => {})
    // SPDY/3 SYN_STREAM control frame header (version 3, type 1), flags 0, length 1000: the payload never comes.
    sock.write(Buffer.from([0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0xe8]))
    socks.push(sock)
  }
  t.equal(await allClosed(socks), N, 'every stalled socket closed by the server')
  t.equal(await drained(() => s.app.spdy.sessions()), 0, 'none held')
})
