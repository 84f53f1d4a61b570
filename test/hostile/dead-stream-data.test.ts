/**
 * DATA on streams the server reset, over a real socket (plain SPDY/3.1 on 127.0.0.1), the server being the plugin:
 * - a flood of DATA on a stream the server cancelled ends in one RST_STREAM INVALID_STREAM, GOAWAY PROTOCOL_ERROR,
 *   a log line and the socket closed, within a bounded number of frames (before, every frame was ignored and its
 *   session window given back: a peer could stream DATA at a dead stream for ever);
 * - a client whose upload was cancelled by an early answer, with its whole window of DATA in flight (what any
 *   uploading client has), is not punished: no INVALID_STREAM, no GOAWAY, over many such uploads, and it is
 *   still served on the same connection; spdy-transport (an independent implementation) uploading 1 MB bodies to
 *   a route that answers without reading them is served again and again too.
 * The attacker is our client session on a raw socket; its DATA for the dead stream is written as raw frames.
 */
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { FrameEncoder } from '../../lib/codec'
import { requestHeaderList } from '../../lib/session/headers'
import { RawSpdy, startServer, type TestServer } from './harness'
import { StClient } from '../interop/spdy-transport-peer'

const enc = new FrameEncoder({ version: 3 })
const dataFrame = (streamId: number, n: number): Uint8Array => enc.encode({ type: 'DATA', streamId, fin: false, data: new Uint8Array(n) })

/** POST /early answers at once without reading its body: the server cancels the rest of the upload. */
function early (app: FastifyInstance): void {
  app.addContentTypeParser('application/x-upload', (_req, _payload, done) => { done(null, null) })
  app.post('/early', async (_req, reply) => reply.code(202).send('early'))
}

async function server (t: Test): Promise<TestServer> {
  const s = await startServer({ routes: early })
  t.teardown(() => s.close())
  return s
}

/** Opens POST /early (no FIN) and waits for the server's answer and its RST_STREAM CANCEL. */
async function cancelledUpload (t: Test, c: RawSpdy, inFlight = 0): Promise<number> {
  const id = c.requestRaw([...requestHeaderList(3.1, { method: 'POST', path: '/early', authority: '127.0.0.1', scheme: 'http' }), ['content-type', 'application/x-upload']], false)
  // What an uploading client sends before it hears anything: up to the stream's initial window.
  for (let sent = 0; sent < inFlight; sent += 16384) c.write(dataFrame(id, Math.min(16384, inFlight - sent)))
  t.ok(await c.until(() => c.reset(id) !== undefined), `stream ${id}: answered and reset`)
  t.match(c.reset(id), { status: 5 }, 'CANCEL')
  return id
}

t.test('a DATA flood on a stream the server cancelled: INVALID_STREAM once, GOAWAY, log line, socket closed', async (t) => {
  const s = await server(t)
  const c = await RawSpdy.connect(s.port)
  t.teardown(() => c.destroy())
  const id = await cancelledUpload(t, c)
  const batch = Buffer.concat(Array.from({ length: 100 }, () => dataFrame(id, 1024)))
  let frames = 0
  const pongs = (): number => c.events.filter((e) => e.type === 'pingAck').length
  // 1 KB frames, 100 a write, each write followed by a PING whose answer says the server read it all (TCP keeps
  // order); without a bound this goes on until the 20,000th frame (20 MB).
  while (!c.closed && c.goaway() === undefined && frames < 20_000) {
    c.write(batch)
    frames += 100
    const before = pongs()
    c.session.ping(Date.now())
    c.flush()
    await c.until(() => pongs() > before || c.goaway() !== undefined)
  }
  t.match(c.goaway(), { status: 1 }, `GOAWAY PROTOCOL_ERROR after ${frames} frames`)
  // The stream's window (64 KiB: 64 frames) is the race's allowance, then maxWorklessFramesPerWindow (1000, our
  // PINGs included), one write of 100 the granularity.
  t.ok(frames <= 64 + 1000 + 100, 'cut within the window and the workless budget')
  t.ok(await c.whenClosed(5000), 'socket closed')
  t.equal(c.frames.get('RST_STREAM'), 2, 'our CANCEL, then one INVALID_STREAM: not one answer per frame')
  t.ok(s.logs.some((l) => /beyond what was in flight|doing no work/.test(l.msg)), 'a log line says why')
})

t.test('uploads cancelled with their whole window in flight are not punished, and the client is still served', async (t) => {
  const s = await server(t)
  const c = await RawSpdy.connect(s.port)
  t.teardown(() => c.destroy())
  for (let i = 0; i < 40; i++) {
    const id = await cancelledUpload(t, c, 65536)
    // Our FIN went before our CANCEL: the response is whole (the RST used to drop its queued DATA).
    t.ok(c.events.some((e) => e.type === 'data' && e.streamId === id && e.fin), `stream ${id}: its response body ended`)
  }
  t.ok(await c.served('/'), 'a GET on the same connection after 40 cancelled uploads (2.5 MB of late DATA)')
  t.equal(c.goaway(), undefined, 'no GOAWAY')
  t.equal(c.frames.get('RST_STREAM'), 40, 'only the 40 CANCELs: no INVALID_STREAM for DATA in flight')
  t.notOk(s.logs.some((l) => /beyond what was in flight|doing no work/.test(l.msg)), 'nothing logged against the client')
})

t.test('spdy-transport (2, 3, 3.1) uploading 1 MB to a route that answers without reading: whole answers, again and again', async (t) => {
  const s = await server(t)
  for (const version of [2, 3, 3.1] as const) {
    const client = await StClient.connect({ port: s.port, version })
    t.teardown(() => client.close())
    for (let i = 0; i < 10; i++) {
      const r = await client.request({ method: 'POST', path: '/early', headers: { 'content-type': 'application/x-upload' }, body: Buffer.alloc(1 << 20, 0x62) })
      t.same([r.status, r.body.toString()], [202, 'early'], `spdy/${version} upload ${i + 1}: the whole answer`)
    }
    t.equal((await client.request({ method: 'GET', path: '/' })).status, 200, `spdy/${version}: the session is still good`)
  }
  t.same([...new Set(s.app.spdy.sessions().map((x) => x.openStreams))], [0], 'no stream left open')
})
