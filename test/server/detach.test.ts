/**
 * Driver.detach(): once a socket is handed to another layer, none of our listeners stays on it. Over real sockets:
 * - plain listener, HTTP/1.1: the app's own server serves the request; the socket carries exactly the listeners a
 *   socket accepted by that server directly carries (the listener's own 'close' one, which counted the connection,
 *   is gone too: it would keep the Connection alive for the socket's keep-alive life); a client that then resets the connection (ECONNRESET on the server's read) is the app server's to
 *   hear, not ours: no 'fastify-spdy: socket error' line, the listener counts no connection;
 * - TLS listener, OpenSSL, ALPN http/1.1: the app's server serves it, the connection is released from the
 *   listener's count once the handshake handed it over, and the socket the TLSSocket wraps carries the listeners
 *   a TLSSocket puts on any socket it wraps, and nothing of ours.
 * Both fail with detach() leaving our 'error' and 'close' listeners on (one more of each, and the debug line).
 */
import t from 'tap'
import net from 'node:net'
import https from 'node:https'
import tls from 'node:tls'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })

interface Seen { error: number, close: number, data: number, end: number }
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

async function build (tls: boolean, lines: Array<{ msg?: string }>): Promise<{ app: FastifyInstance, seen: Seen[], sockets: net.Socket[] }> {
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l)); cb() } })
  const app = Fastify({ logger: { level: 'debug', stream } })
  await app.register(spdy, { tls: tls ? { cert, key } : false, port: 0 })
  const seen: Seen[] = []
  const sockets: net.Socket[] = []
  app.get('/', async (req) => {
    // Over OpenSSL the request's socket is the TLSSocket; the socket we had is the one it wraps (its _parent).
    const s = (req.raw.socket as net.Socket & { _parent?: net.Socket | null })._parent ?? req.raw.socket
    sockets.push(s)
    seen.push({ error: s.listenerCount('error'), close: s.listenerCount('close'), data: s.listenerCount('data'), end: s.listenerCount('end') })
    return 'hi'
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, seen, sockets }
}

/** Listeners on a plain socket that a tls.TLSSocket wrapped, with nothing else on it, once its handshake is done. */
async function wrappedBaseline (): Promise<Seen> {
  const secureContext = tls.createSecureContext({ cert, key })
  let seen: Seen | null = null
  const server = net.createServer((raw) => {
    const s = new tls.TLSSocket(raw, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] })
    s.on('error', () => {})
    s.once('secure', () => { seen = { error: raw.listenerCount('error'), close: raw.listenerCount('close'), data: raw.listenerCount('data'), end: raw.listenerCount('end') } })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const c = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, ca: cert, servername: 'localhost', ALPNProtocols: ['http/1.1'] })
  c.on('error', () => {})
  await new Promise<void>((resolve) => c.once('secureConnect', () => resolve()))
  for (let i = 0; i < 100 && seen === null; i++) await sleep(10)
  c.destroy()
  server.close()
  if (seen === null) throw new Error('baseline handshake did not finish')
  return seen
}

/** One HTTP/1.1 GET on a fresh TCP connection; resolves with the response once read, the socket left open. */
async function get (port: number): Promise<{ sock: net.Socket, response: string }> {
  const sock = net.connect(port, '127.0.0.1')
  sock.on('error', () => {})
  sock.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')
  let response = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no response within 5 s')), 5000)
    sock.on('data', (b: Buffer) => { response += b.toString('latin1'); if (response.endsWith('hi')) { clearTimeout(timer); resolve() } })
  })
  return { sock, response }
}

t.test('plain listener, HTTP/1.1 handed to the app: our listeners are all off the socket', async (t) => {
  const lines: Array<{ msg?: string }> = []
  const { app, seen, sockets } = await build(false, lines)
  t.teardown(() => app.close())
  const direct = await get((app.server.address() as net.AddressInfo).port)
  const handed = await get(app.spdy.port!)
  t.match(direct.response, /^HTTP\/1\.1 200/)
  t.match(handed.response, /^HTTP\/1\.1 200/, 'the app served the request that came to the SPDY port')
  const [d, h] = seen
  t.same({ error: h.error, data: h.data, end: h.end }, { error: d.error, data: d.data, end: d.end },
    "'error', 'data' and 'end' listeners: the same as on a socket the app's server accepted itself")
  t.equal(h.close, d.close, "'close': the same; the listener's count (lib/server/listener.ts) took its own off at release")
  t.equal(app.spdy.sessions().length, 0, 'the SPDY listener counts no connection')

  // The client resets the connection: the server's read fails with ECONNRESET on the handed-off socket.
  const gone = new Promise<void>((resolve) => sockets[1].once('close', () => resolve()))
  direct.sock.destroy()
  handed.sock.resetAndDestroy()
  await Promise.race([gone, sleep(5000)])
  t.ok(sockets[1].destroyed, 'the handed-off socket closed')
  await sleep(50)
  t.same(lines.filter((l) => l.msg === 'fastify-spdy: socket error'), [], 'no socket error logged by fastify-spdy for a socket it gave away')
})

t.test('TLS listener, OpenSSL, ALPN http/1.1: served by the app, released from the listener after the handshake', async (t) => {
  const lines: Array<{ msg?: string }> = []
  const { app, seen } = await build(true, lines)
  t.teardown(() => app.close())
  const agent = new https.Agent({ keepAlive: true, ca: cert, ALPNProtocols: ['http/1.1'] } as https.AgentOptions)
  t.teardown(() => agent.destroy())
  const body = await new Promise<string>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: app.spdy.port!, path: '/', servername: 'localhost', agent }, (res) => {
      let b = ''
      res.on('data', (c: Buffer) => { b += c.toString() })
      res.on('end', () => resolve(b))
    }).on('error', reject)
  })
  t.equal(body, 'hi')
  const base = await wrappedBaseline()
  const [h] = seen
  t.same({ error: h.error, data: h.data, end: h.end }, { error: base.error, data: base.data, end: base.end },
    "the wrapped socket: 'error', 'data', 'end' listeners as on one a TLSSocket wrapped with nothing of ours before")
  t.equal(h.close, base.close, "'close': the same; the listener's count took its own off at release")
  t.equal(app.spdy.sessions().length, 0, 'the SPDY listener counts no connection: the app server owns it')
  t.same(lines.filter((l) => l.msg === 'fastify-spdy: socket error'), [])
})

t.test('TLS listener, OpenSSL: a handshake that fails after the handoff leaves the listener counting nothing', async (t) => {
  const lines: Array<{ msg?: string }> = []
  const { app } = await build(true, lines)
  t.teardown(() => app.close())
  for (let i = 0; i < 5; i++) {
    // No trust anchor: our client refuses the certificate and closes mid-handshake (alert, FIN).
    const c = tls.connect({ host: '127.0.0.1', port: app.spdy.port!, servername: 'localhost', ALPNProtocols: ['http/1.1'] })
    await new Promise<void>((resolve) => { c.once('error', () => resolve()); c.once('close', () => resolve()) })
    c.destroy()
  }
  for (let i = 0; i < 200 && app.spdy.sessions().length > 0; i++) await sleep(10)
  t.equal(app.spdy.sessions().length, 0, "every connection released: the listener's own 'close' listener on the socket OpenSSL wrapped")
})
