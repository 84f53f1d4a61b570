/**
 * The per-connection crash barrier (lib/server/connection.ts run()): an unexpected throw in any layer under one
 * connection (codec, session, TLS engine, dispatch glue, a session call made from the app's reply, the timer) ends
 * that connection only. The attacker gets GOAWAY INTERNAL_ERROR where the session can still send it, the socket
 * is closed, one `error` line names its address, and the process and the other connections live on: a throw
 * that escaped would end this test process.
 *
 * Throws are injected by patching a prototype in this process, armed for one server-side call only (the raw
 * peers here run the same session and codec classes, so their own instances are excluded).
 */
import t, { type Test } from 'tap'
import { FrameDecoder } from '../../lib/codec/decoder'
import { SpdySession } from '../../lib/session/session'
import { TlsServerConnection } from '../../lib/tls/server'
import { SpdyIncomingMessage } from '../../lib/server/request'
import { GoawayStatus, RstStatus } from '../../lib/errors'
import { RawSpdy, startServer, normalGet, type TestServer } from '../hostile/harness'

type Proto = Record<string, (...args: unknown[]) => unknown>

/** Makes proto[method] throw once, on the first call whose `this` is not excluded; returns the undo. */
function injectThrow (proto: object, method: string, excluded: (self: unknown) => boolean): { undo: () => void, fired: () => boolean } {
  const p = proto as Proto
  const orig = p[method]
  let fired = false
  p[method] = function (this: unknown, ...args: unknown[]) {
    if (!fired && !excluded(this)) {
      fired = true
      throw new Error(`injected failure in ${method}`)
    }
    return orig.apply(this, args)
  }
  return { undo: () => { p[method] = orig }, fired: () => fired }
}

/** The client-side instances of our own classes that the raw peers use: never the injection's target. */
function clientSide (...peers: RawSpdy[]): (self: unknown) => boolean {
  const set = new Set<unknown>()
  for (const p of peers) {
    set.add(p.session)
    set.add((p.session as unknown as { decoder: FrameDecoder }).decoder)
  }
  return (self) => set.has(self)
}

const errorLines = (s: TestServer): number => s.logs.filter((l) => l.level >= 50 && l.remoteAddress === '127.0.0.1').length

interface Layer {
  name: string
  proto: object
  method: string
  /** Path requested by the victim (the reply layer needs a route that answers). */
  path?: string
  /** What the victim can expect to hear before the close: GOAWAY INTERNAL_ERROR, or nothing (no session yet). */
  goaway: boolean
}

const layers: Layer[] = [
  { name: 'codec (FrameDecoder.push)', proto: FrameDecoder.prototype, method: 'push', goaway: true },
  { name: 'session (SpdySession.receive)', proto: SpdySession.prototype, method: 'receive', goaway: true },
  { name: 'dispatch glue (SpdyIncomingMessage.pushEnd)', proto: SpdyIncomingMessage.prototype, method: 'pushEnd', goaway: true },
  { name: 'session call from the reply (SpdySession.respond)', proto: SpdySession.prototype, method: 'respond', goaway: true }
]

async function layerCase (t: Test, useTls: boolean, layer: Layer): Promise<void> {
  const s = await startServer({ tls: useTls })
  t.teardown(s.close)
  const healthy = await RawSpdy.connect(s.port, { tls: useTls })
  t.teardown(() => healthy.destroy())
  t.ok(await healthy.served(), 'healthy connection served before')

  const victim = await RawSpdy.connect(s.port, { tls: useTls })
  t.teardown(() => victim.destroy())
  // Let the TLS handshake and the SETTINGS exchange finish, so the throw lands on the request itself.
  await victim.until(() => victim.events.some((e) => e.type === 'settings'), 2000)
  const inj = injectThrow(layer.proto, layer.method, clientSide(healthy, victim))
  victim.get(layer.path ?? '/')
  const closed = await victim.whenClosed(5000)
  inj.undo()
  t.ok(inj.fired(), 'the injected throw happened on the server')
  t.ok(closed, 'the victim connection was closed')
  if (layer.goaway) t.equal(victim.goaway()?.status, GoawayStatus.INTERNAL_ERROR, 'victim got GOAWAY INTERNAL_ERROR')
  t.equal(errorLines(s), 1, 'one error log line with the address')

  t.ok(await healthy.served(), 'the other connection is still served')
  t.notOk(healthy.closed, 'the other connection is still open')
  t.equal(await normalGet(s.port, useTls), 200, 'a new connection is served')
}

for (const useTls of [false, true]) {
  t.test(useTls ? 'TLS' : 'plain', async (t) => {
    for (const layer of layers) await t.test(layer.name, (t) => layerCase(t, useTls, layer))
  })
}

t.test('TLS engine (TlsServerConnection.receive) during the handshake', async (t) => {
  const s = await startServer({ tls: true })
  t.teardown(s.close)
  const healthy = await RawSpdy.connect(s.port, { tls: true })
  t.teardown(() => healthy.destroy())
  t.ok(await healthy.served(), 'healthy connection served before')
  // Only the victim's ClientHello reaches a TlsServerConnection while armed: the healthy peer sends nothing now.
  const inj = injectThrow(TlsServerConnection.prototype, 'receive', () => false)
  let victimClosed: boolean
  try {
    const victim = await RawSpdy.connect(s.port, { tls: true })
    victimClosed = await victim.whenClosed(5000)
  } catch {
    victimClosed = true // the handshake failed: Node's TLS client saw the close first
  }
  inj.undo()
  t.ok(inj.fired(), 'the injected throw happened')
  t.ok(victimClosed, 'the victim connection was closed')
  t.equal(errorLines(s), 1, 'one error log line with the address')
  t.ok(await healthy.served(), 'the other connection is still served')
  t.equal(await normalGet(s.port, true), 200, 'a new connection is served')
})

t.test('the connection timer (SpdySession.tick)', async (t) => {
  // compressionIdleTimeout 50 ms: the session asks for a tick soon after the request, and that tick throws.
  const s = await startServer({ spdy: { compressionIdleTimeout: 50 } })
  t.teardown(s.close)
  const victim = await RawSpdy.connect(s.port)
  t.teardown(() => victim.destroy())
  const inj = injectThrow(SpdySession.prototype, 'tick', clientSide(victim))
  victim.get('/')
  const closed = await victim.whenClosed(5000)
  inj.undo()
  t.ok(inj.fired(), 'the injected throw happened in the timer')
  t.ok(closed, 'the victim connection was closed')
  t.equal(victim.goaway()?.status, GoawayStatus.INTERNAL_ERROR, 'victim got GOAWAY INTERNAL_ERROR')
  t.equal(errorLines(s), 1, 'one error log line')
  t.equal(await normalGet(s.port, false), 200, 'a new connection is served')
})

// The real thing the barrier was first needed for: new URL() on a SPDY/2 `url` throws TypeError (issue 11).
// Whether the head parser answers it with RST_STREAM PROTOCOL_ERROR or the barrier ends the connection with
// GOAWAY INTERNAL_ERROR, the process and the other connections live.
for (const useTls of [false, true]) {
  t.test(`SPDY/2 url "http://[bad/" (${useTls ? 'TLS' : 'plain'})`, async (t) => {
    const s = await startServer({ tls: useTls })
    t.teardown(s.close)
    const healthy = await RawSpdy.connect(s.port, { tls: useTls })
    t.teardown(() => healthy.destroy())
    const victim = await RawSpdy.connect(s.port, { tls: useTls, version: 2 })
    t.teardown(() => victim.destroy())
    const id = victim.requestRaw([['method', 'GET'], ['url', 'http://[bad/'], ['version', 'HTTP/1.1']])
    await victim.until(() => victim.reset(id) !== undefined || victim.goaway() !== undefined)
    const rst = victim.reset(id)
    // SPDY/2's GOAWAY has no status field (SPDY/2 section 2.7.6): any GOAWAY is the connection-level answer there.
    const answered = rst?.byPeer === true ? rst.status === RstStatus.PROTOCOL_ERROR : victim.goaway() !== undefined
    t.ok(answered, 'RST_STREAM PROTOCOL_ERROR, or GOAWAY and the close')
    t.ok(await healthy.served(), 'the other connection is still served')
    t.equal(await normalGet(s.port, useTls), 200, 'a new connection is served')
  })
}
