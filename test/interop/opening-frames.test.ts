/**
 * A new session's opening frames (SETTINGS, SPDY/3 section 2.6.4) go out with the first answer, in the same TLS
 * record, when the request came with the handshake's last flight (issue 14: a repeat visit paid 29 bytes for a
 * record of its own). The peer is not ours: `openssl s_client -tls1_2 -nextprotoneg spdy/3.1` resuming a session
 * (our TLS engine with NPN), with spdy-transport speaking SPDY over its stdin/stdout. Between them and the server a
 * TCP proxy counts the server's records by content type, and joins the client's last handshake flight (its
 * ChangeCipherSpec, NextProtocol and Finished) with its first application data in one write, which is what a
 * browser's resumed or False Start handshake puts in one segment and what s_client, writing its request only once
 * its handshake is done, sends a moment apart.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { sClientOutput } from './s-client-run'
import { spdyOverSClient, spdyGet, type SpdyConnection } from './spdy-over-s-client'

const CCS = 20
const APPLICATION_DATA = 23

interface Proxy { port: number, serverTypes: number[], clientTypes: number[], joined: boolean }

/** Complete TLS records at the front of `buf`: their content types and lengths (RFC 5246 section 6.2.1). */
function records (buf: Buffer): Array<{ type: number, end: number }> {
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

async function proxy (t: Test, target: number): Promise<Proxy> {
  const p: Proxy = { port: 0, serverTypes: [], clientTypes: [], joined: false }
  const server = net.createServer((client) => {
    const up = net.connect(target, '127.0.0.1')
    up.setNoDelay(true)
    client.setNoDelay(true)
    let fromServer = Buffer.alloc(0)
    let fromClient = Buffer.alloc(0)
    let serverCcs = false
    let held: Buffer[] | null = null
    let done = false
    up.on('data', (c: Buffer) => {
      fromServer = Buffer.concat([fromServer, c])
      for (const r of records(fromServer)) {
        p.serverTypes.push(r.type)
        if (r.type === CCS) serverCcs = true
        fromServer = fromServer.subarray(r.end)
      }
      client.write(c)
    })
    client.on('data', (c: Buffer) => {
      fromClient = Buffer.concat([fromClient, c])
      const rs = records(fromClient)
      let taken = 0
      for (const r of rs) {
        const rec = fromClient.subarray(taken, r.end)
        taken = r.end
        p.clientTypes.push(r.type)
        // Resumed (the server's ChangeCipherSpec came first): hold the client's from its ChangeCipherSpec on, until
        // its first application data. In a full handshake the client waits for ours: nothing is held.
        if (!done && held === null && r.type === CCS && serverCcs) held = []
        if (held !== null) {
          held.push(rec)
          if (r.type === APPLICATION_DATA) { up.write(Buffer.concat(held)); held = null; done = true; p.joined = true }
        } else {
          up.write(rec)
        }
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

async function setup (t: Test, route: (app: ReturnType<typeof Fastify>) => void): Promise<{ p: Proxy, conn: SpdyConnection }> {
  const app = Fastify()
  await app.register(spdy, { tls: generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] }), port: 0 })
  route(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const port = app.spdy.port!
  const sess = join(mkdtempSync(join(tmpdir(), 'fastify-spdy-opening-')), 's.sess')
  const npn = ['-tls1_2', '-nextprotoneg', 'spdy/3.1', '-servername', 'localhost']
  t.match(await sClientOutput(port, 'localhost', [...npn, '-sess_out', sess]), /Next protocol: \(1\) spdy\/3\.1/, 'a session to resume')
  const p = await proxy(t, port)
  const { conn } = spdyOverSClient(t, p.port, 3.1, [...npn, '-sess_in', sess])
  t.teardown(() => conn.end())
  return { p, conn }
}

t.test('resumed NPN session, request with the Finished: SETTINGS and the answer in one record', async (t) => {
  const { p, conn } = await setup(t, (app) => app.get('/', async () => 'from memory'))
  const res = await spdyGet(conn, '/')
  t.same(res, { status: 200, body: 'from memory' }, 'spdy-transport got the answer')
  t.ok(p.joined, 'resumed: the client\'s Finished and its first application data reached the server in one write')
  t.equal(p.serverTypes.filter((x) => x === APPLICATION_DATA).length, 1, 'the server\'s SETTINGS, SYN_REPLY and DATA came in one application-data record')
})

t.test('the same, a handler that does not answer: SETTINGS go alone once the bound passes, not with the late answer', async (t) => {
  let release: () => void = () => {}
  const answered = new Promise<void>((resolve) => { release = resolve })
  let handlerDone = false
  const { p, conn } = await setup(t, (app) => app.get('/slow', async () => { await answered; handlerDone = true; return 'late' }))
  const settings = new Promise<Record<string, unknown>>((resolve) => {
    ;(conn as unknown as NodeJS.EventEmitter).on('frame', (f: { type: string, settings: Record<string, unknown> }) => { if (f.type === 'SETTINGS') resolve(f.settings) })
  })
  const res = spdyGet(conn, '/slow')
  t.match(await settings, { max_concurrent_streams: 100 }, 'the server\'s SETTINGS arrived')
  t.notOk(handlerDone, 'while the handler still waits')
  t.ok(p.joined, 'and the request had come with the handshake (the wait applied)')
  release()
  t.same(await res, { status: 200, body: 'late' }, 'the answer follows')
  t.equal(p.serverTypes.filter((x) => x === APPLICATION_DATA).length, 2, 'SETTINGS in a record of their own, then the answer')
})
