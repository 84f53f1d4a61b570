/**
 * lib/client's failure reports, each from a server that really misbehaves that way on the wire:
 * - refused port -> ClientConnectError; our TLS server offering only http/1.1 over NPN and over ALPN ->
 *   ClientNoProtocolError naming what it chose; a server certificate from another CA -> ClientCertificateError;
 * - a SPDY server (our session engine, server role, on a socket) that resets the stream, sends GOAWAY
 *   PROTOCOL_ERROR, hangs up mid-response, resets a pushed stream, or never answers;
 * - the plugin with maxConcurrentStreams 2: 12 requests queue for stream slots and all complete.
 */
import t from 'tap'
import net from 'node:net'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned, loadCertificate } from '../../lib/tls/certificates'
import { SpdySession } from '../../lib/session/session'
import { pushHeaderList, responseHeaderList, requestHead } from '../../lib/session/headers'
import { GoawayStatus, RstStatus } from '../../lib/errors'
import {
  connect,
  ClientCertificateError,
  ClientClosedError,
  ClientConnectError,
  ClientNoProtocolError,
  ClientProtocolError,
  ClientTimeoutError
} from '../../lib/client'
import { startServer } from '../tls/harness'

const good = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
const stranger = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })

t.test('connection refused', async (t) => {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  const err = await connect({ host: '127.0.0.1', port, tls: false }).then(() => null, (e: unknown) => e)
  t.type(err, ClientConnectError)
  t.equal((err as ClientConnectError).errno, 'ECONNREFUSED')
  t.equal((err as Error).message, `connection refused by 127.0.0.1:${port}`)
})

t.test('no protocol in common: our TLS server offering only http/1.1', async (t) => {
  const server = await startServer({ certificates: [loadCertificate(good)], protocols: ['http/1.1'] })
  t.teardown(() => server.close())
  for (const negotiation of ['npn', 'alpn', 'both'] as const) {
    const err = await connect({ host: '127.0.0.1', port: server.port, tls: true, ca: good.cert, negotiation }).then(() => null, (e: unknown) => e)
    t.type(err, ClientNoProtocolError, negotiation)
    t.equal((err as ClientNoProtocolError).chosen, 'http/1.1', `${negotiation}: the server's choice is reported`)
  }
  // With False Start connect() rejects after our Finished, before the server has read it: wait (bounded) for it.
  const deadline = Date.now() + 5000
  while (server.events.filter((e) => e.type === 'handshake').length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  const handshakes = server.events.filter((e) => e.type === 'handshake')
  t.same(handshakes.map((e) => e.type === 'handshake' && [e.protocol, e.negotiatedBy]), [['http/1.1', 'npn'], ['http/1.1', 'alpn'], ['http/1.1', 'alpn']], 'the server agreed on http/1.1 each time')
})

t.test('certificate from a CA we do not trust', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: good, port: 0 })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const err = await connect({ host: '127.0.0.1', port: app.spdy.port!, tls: true, ca: stranger.cert }).then(() => null, (e: unknown) => e)
  t.type(err, ClientCertificateError)
  t.equal((err as ClientCertificateError).alert, 'unknown_ca')
})

/** A plain SPDY/3.1 server on our session engine whose behaviour per path is scripted. */
async function scripted (): Promise<{ port: number, close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    const session = new SpdySession({ role: 'server', version: 3.1 }, Date.now())
    const flush = (): void => { for (const b of session.takeOutbound()) socket.write(b) }
    socket.on('data', (chunk) => {
      for (const ev of session.receive(chunk, Date.now())) {
        if (ev.type !== 'request') continue
        const head = requestHead(3.1, ev.headers)
        const path = typeof head === 'string' ? '' : head.path
        if (path === '/rst') session.reset(ev.streamId, RstStatus.INTERNAL_ERROR)
        else if (path === '/goaway') { session.goaway(GoawayStatus.PROTOCOL_ERROR); flush(); socket.end() }
        else if (path === '/hangup') { session.respond(ev.streamId, responseHeaderList(3.1, 200, {})); session.write(ev.streamId, Buffer.from('part')); flush(); socket.destroy() }
        else if (path === '/push-reset') {
          session.respond(ev.streamId, responseHeaderList(3.1, 200, {}))
          const kept = session.push(ev.streamId, pushHeaderList(3.1, { scheme: 'http', authority: 'x', path: '/kept.css' }, 200, {}))
          const dropped = session.push(ev.streamId, pushHeaderList(3.1, { scheme: 'http', authority: 'x', path: '/dropped.css' }, 200, {}))
          session.write(kept, Buffer.from('kept'), true)
          session.write(dropped, Buffer.from('half'))
          flush()
          session.reset(dropped, RstStatus.CANCEL)
          session.write(ev.streamId, Buffer.from('page'), true)
        }
        // '/silent': no answer at all
      }
      flush()
    })
    flush()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => { for (const s of sockets) s.destroy(); await new Promise<void>((resolve) => server.close(() => resolve())) }
  }
}

t.test('SPDY-level failures', async (t) => {
  const server = await scripted()
  t.teardown(() => server.close())
  const open = async (): Promise<Awaited<ReturnType<typeof connect>>> => await connect({ host: '127.0.0.1', port: server.port, tls: false })

  t.test('RST_STREAM from the server', async (t) => {
    const c = await open()
    t.teardown(() => c.close())
    const err = await c.request({ path: '/rst' }).then(() => null, (e: unknown) => e)
    t.type(err, ClientProtocolError)
    t.equal((err as ClientProtocolError).frame, 'RST_STREAM')
    t.equal((err as ClientProtocolError).status, 'INTERNAL_ERROR')
    t.equal((err as Error).message, 'server reset stream 1: RST_STREAM INTERNAL_ERROR')
  })

  t.test('GOAWAY PROTOCOL_ERROR from the server', async (t) => {
    const c = await open()
    t.teardown(() => c.close())
    const err = await c.request({ path: '/goaway' }).then(() => null, (e: unknown) => e)
    t.type(err, ClientProtocolError)
    t.equal((err as ClientProtocolError).frame, 'GOAWAY')
    t.equal((err as ClientProtocolError).status, 'PROTOCOL_ERROR')
    const again = await c.request({ path: '/' }).then(() => null, (e: unknown) => e)
    t.equal(again, err, 'later requests fail with the same cause')
  })

  t.test('the server hangs up mid-response', async (t) => {
    const c = await open()
    t.teardown(() => c.close())
    const err = await c.request({ path: '/hangup' }).then(() => null, (e: unknown) => e)
    t.type(err, ClientClosedError)
  })

  t.test('a pushed stream reset by the server is reported, the page and the other push complete', async (t) => {
    const c = await open()
    t.teardown(() => c.close())
    const res = await c.request({ path: '/push-reset' })
    t.equal(res.body.toString(), 'page')
    t.same(res.pushes.map((p) => [p.path, p.body.toString(), p.reset]), [['/kept.css', 'kept', null], ['/dropped.css', 'half', 'CANCEL']])
  })

  t.test('no answer: timeout, and the stream is cancelled', async (t) => {
    const c = await open()
    t.teardown(() => c.close())
    const err = await c.request({ path: '/silent', timeout: 200 }).then(() => null, (e: unknown) => e)
    t.type(err, ClientTimeoutError)
    t.equal((err as ClientTimeoutError).phase, 'response')
    const res = await c.request({ path: '/push-reset' })
    t.equal(res.body.toString(), 'page', 'the session is still usable')
  })
})

t.test('requests beyond the server\'s MAX_CONCURRENT_STREAMS wait for a slot', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0, maxConcurrentStreams: 2 })
  let inFlight = 0
  let most = 0
  app.get('/n/:n', async (req) => {
    inFlight++
    most = Math.max(most, inFlight)
    await new Promise((resolve) => setImmediate(resolve))
    inFlight--
    return (req.params as { n: string }).n
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const c = await connect({ host: '127.0.0.1', port: app.spdy.port!, tls: false })
  t.teardown(() => c.close())
  // The server's SETTINGS must have arrived before we open more than 2 streams: one request first.
  t.equal((await c.request({ path: '/n/first' })).body.toString(), 'first')
  const all = await Promise.all(Array.from({ length: 12 }, (_, i) => c.request({ path: `/n/${i}` })))
  t.same(all.map((r) => r.body.toString()), Array.from({ length: 12 }, (_, i) => String(i)))
  t.ok(most <= 2, `never more than 2 in the app at once (saw ${most})`)
})
