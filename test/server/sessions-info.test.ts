/**
 * README Usage: "`app.spdy` exposes `address`, `port`, `sessions()` (per connection: address, protocol, version,
 * open and served streams, bytes, RTT, whether header compression contexts are live) and the underlying `server`".
 * Each field checked against what an independent client (spdy-transport over Node's TLS, ALPN, so the OpenSSL
 * side; and over plain TCP) did: its own address and port, the protocol it negotiated, a stream held open, then
 * served, byte counts the size of what went over the socket.
 */
import t from 'tap'
import net from 'node:net'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { StClient } from '../interop/spdy-transport-peer'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

for (const withTls of [true, false]) {
  t.test(`app.spdy and sessions() over ${withTls ? 'TLS (ALPN spdy/3)' : 'plain SPDY/3.1'}`, async (t) => {
    const app = Fastify()
    await app.register(spdy, { tls: withTls ? { cert, key } : false, port: 0 })
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    app.get('/held', async () => { await gate; return 'x'.repeat(10_000) })
    app.get('/', async () => 'hello')
    t.equal(app.spdy.port, null, 'port: null before listen')
    t.equal(app.spdy.address, null, 'address: null before listen')
    await app.listen({ port: 0, host: '127.0.0.1' })
    t.teardown(() => app.close())
    t.equal(app.spdy.server.listening, true, 'server: the listening net.Server')
    t.same(app.spdy.address, app.spdy.server.address(), 'address: the bound one')
    t.equal(app.spdy.port, (app.spdy.server.address() as { port: number }).port, 'port: the bound one')
    t.same(app.spdy.sessions(), [], 'no connection, no entry')

    const client = await StClient.connect(withTls
      ? { port: app.spdy.port!, tls: { protocols: ['spdy/3'], ca: cert, servername: 'localhost' } }
      : { port: app.spdy.port!, version: 3.1 })
    t.teardown(() => client.socket.destroy())
    const held = client.request({ path: '/held' })
    let s = app.spdy.sessions()
    for (let i = 0; i < 500 && s[0]?.openStreams !== 1; i++) { await sleep(10); s = app.spdy.sessions() }
    t.equal(s.length, 1, 'one entry for the one connection')
    t.equal(s[0].remoteAddress, '127.0.0.1', 'remoteAddress: the client\'s')
    t.equal(s[0].remotePort, client.socket.localPort, 'remotePort: the client\'s')
    t.equal(s[0].protocol, withTls ? 'spdy/3' : 'spdy/3.1', 'protocol: what was negotiated (plain: the version guess)')
    t.equal(s[0].version, withTls ? 3 : 3.1, 'version')
    t.equal(s[0].openStreams, 1, 'openStreams: the held request')
    t.equal(s[0].streamsServed, 1, 'streamsServed: the streams taken so far (the held one)')
    t.equal(s[0].compressionContextsLive, true, 'compression contexts live after a header block')

    release()
    t.equal((await held).body.length, 10_000)
    t.equal((await client.request({ path: '/' })).body.toString(), 'hello')
    s = app.spdy.sessions()
    // Polled until the server has read all the client wrote (its last bytes may still be in flight).
    for (let i = 0; i < 500 && (s[0]?.openStreams !== 0 || s[0]?.bytesRead !== client.socket.bytesWritten); i++) { await sleep(10); s = app.spdy.sessions() }
    t.equal(s[0].openStreams, 0, 'openStreams back to 0')
    t.equal(s[0].streamsServed, 2, 'streamsServed: both requests')
    t.ok(s[0].bytesWritten > 10_000, `bytesWritten ${s[0].bytesWritten} covers the 10,000-byte body`)
    t.ok(s[0].bytesRead > 0 && s[0].bytesRead < 10_000, `bytesRead ${s[0].bytesRead}: two small requests`)
    t.equal(s[0].bytesRead, client.socket.bytesWritten, 'bytesRead: every byte the client wrote')

    // rttMs: null until a PING of ours is answered; ping() sends one, spdy-transport echoes it (SPDY/3 2.6.5).
    t.equal(s[0].rttMs, null, 'rttMs: null before any PING of ours')
    t.equal(s[0].ping(), true, 'ping(): sent')
    for (let i = 0; i < 500 && app.spdy.sessions()[0]?.rttMs === null; i++) await sleep(10)
    const rtt = app.spdy.sessions()[0].rttMs
    t.ok(typeof rtt === 'number' && rtt >= 0, `rttMs after the peer's answer: ${String(rtt)}`)
  })
}

/** A SPDY/3 control frame: 0x8003, type, flags 0, length, payload (SPDY/3 section 2.2.1). */
function control (type: number, payload: number[]): Buffer {
  const len = payload.length
  return Buffer.from([0x80, 0x03, 0x00, type, 0x00, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff, ...payload])
}

t.test('ping() is bounded by maxOutstandingPings while the peer leaves them unanswered, and a session is needed', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0, maxOutstandingPings: 2 })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const sock = net.connect(app.spdy.port!, '127.0.0.1')
  t.teardown(() => sock.destroy())
  const got: Buffer[] = []
  sock.on('data', (b: Buffer) => got.push(b))
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()))
  for (let i = 0; i < 500 && app.spdy.sessions().length === 0; i++) await sleep(10)
  t.equal(app.spdy.sessions()[0].ping(), false, 'before the first frame the protocol is not known: no session to ping')
  // SETTINGS with no entries (type 4): the listener sees SPDY/3 and starts the session.
  sock.write(control(4, [0, 0, 0, 0]))
  for (let i = 0; i < 500 && app.spdy.sessions()[0]?.version === null; i++) await sleep(10)
  const [info] = app.spdy.sessions()
  t.equal(info.version, 3.1, 'a SPDY/3 session (3.1 until the peer shows otherwise)')
  t.same([info.ping(), info.ping(), info.ping()], [true, true, false], 'two sent, the third refused: two unanswered')
  // The two PINGs reach the peer: type 6, length 4, even ids (the server's, SPDY/3 section 2.6.5).
  const pings = (): number[] => {
    const all = Buffer.concat(got)
    const ids: number[] = []
    for (let o = 0; o + 8 <= all.length;) {
      const len = all.readUIntBE(o + 5, 3)
      if ((all[o] & 0x80) !== 0 && all.readUInt16BE(o + 2) === 6 && o + 12 <= all.length) ids.push(all.readUInt32BE(o + 8))
      o += 8 + len
    }
    return ids
  }
  for (let i = 0; i < 500 && pings().length < 2; i++) await sleep(10)
  const ids = pings()
  t.equal(ids.length, 2, 'two PING frames on the wire')
  t.ok(ids.every((id) => id % 2 === 0), `even ids ${ids.join(', ')}`)
  // Answering one frees a slot.
  sock.write(control(6, [(ids[0] >>> 24) & 0xff, (ids[0] >>> 16) & 0xff, (ids[0] >>> 8) & 0xff, ids[0] & 0xff]))
  for (let i = 0; i < 500 && app.spdy.sessions()[0]?.rttMs === null; i++) await sleep(10)
  t.type(app.spdy.sessions()[0].rttMs, 'number', 'rttMs set by the answer')
  t.equal(app.spdy.sessions()[0].ping(), true, 'a slot free again after the answer')
})

