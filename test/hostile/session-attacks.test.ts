/**
 * Session-side attacks through the plugin over real sockets (plain SPDY/3 on 127.0.0.1, port 0, in this process),
 * each bounded to a few seconds. The attacker is a raw socket writing frames; the well-behaved client is npm spdy's
 * agent (spdy-transport, an independent implementation).
 * - rapid reset: SYN_STREAM + RST_STREAM pairs in one write start no app request;
 * - a client that never sends WINDOW_UPDATE: RST_STREAM CANCEL after streamWindowTimeout, GOAWAY when that was its
 *   only stream;
 * - fat header blocks: streams past maxSessionHeaderBytes get REFUSED_STREAM;
 * - a zlib bomb (60 KB heads in ~100 bytes) refused again and again: GOAWAY past maxHeaderRefusalsPerWindow, while a
 *   client with 16 KB cookies is served;
 * - a WINDOW_UPDATE flood: GOAWAY past maxWorklessFramesPerWindow;
 * - a HEADERS flood, on a stream the server reset too: GOAWAY past maxInflatedHeaderBytesPerWindow;
 * - a POST whose body stops coming: reset after requestBodyTimeout, the app's request aborted;
 * - 20 streams on a 1-byte window never opened further: the session's queue held near maxSessionBufferedBytes
 *   (the routes' sources wait), then GOAWAY after streamWindowTimeout and the socket closed.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import { Readable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../../lib/index'
import { FrameDecoder, FrameEncoder, type Frame, type HeaderList } from '../../lib/codec'
import { requestHeaderList } from '../../lib/session/headers'
import { StClient } from '../interop/spdy-transport-peer'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface Server { app: FastifyInstance, port: number, handled: () => number, release: () => void }

async function server (t: Test, opts: Record<string, unknown> = {}): Promise<Server> {
  const app = Fastify()
  let handled = 0
  const waiting: Array<() => void> = []
  await app.register(spdy, { tls: false, port: 0, ...opts })
  app.get('/small', async () => { handled++; return 'ok' })
  app.get('/big', async () => { handled++; return Buffer.alloc(4 << 20, 0x61) })
  app.get('/hold', async () => { handled++; await new Promise<void>((resolve) => waiting.push(resolve)); return 'held' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const release = (): void => { for (const w of waiting.splice(0)) w() }
  t.teardown(async () => { release(); await app.close() })
  return { app, port: app.spdy.port!, handled: () => handled, release }
}

/** A raw SPDY/3 peer: frames out with our encoder, the server's frames read back with our decoder. */
class Attacker {
  readonly frames: Frame[] = []
  closed = false
  private readonly enc = new FrameEncoder({ version: 3 })
  private readonly dec = new FrameDecoder({ version: 3 })
  readonly socket: net.Socket
  constructor (port: number) {
    this.socket = net.connect(port, '127.0.0.1')
    this.socket.on('data', (c: Buffer) => {
      for (const e of this.dec.push(c)) {
        if (e.type === 'STREAM_ERROR' || e.type === 'SESSION_ERROR') continue
        this.frames.push(e)
        // PINGs are answered, as any SPDY/3 client does: the server's probe for a session window (plain TCP guesses
        // 3 vs 3.1 that way) must not be what stalls us.
        if (e.type === 'PING') this.send(e)
      }
    })
    this.socket.on('error', () => {})
    this.socket.on('close', () => { this.closed = true })
  }

  send (...frames: Frame[]): void { this.socket.write(Buffer.concat(frames.map((f) => this.enc.encode(f)))) }
  syn (id: number, path: string, fin = true, extra: HeaderList = []): Frame {
    return { type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin, unidirectional: false, headers: [...requestHeaderList(3, { method: 'GET', path, authority: '127.0.0.1' }), ...extra] }
  }

  /** Streams 1, 3 ... lastId on /hold, each head with a 60 KB value that deflates to ~100 bytes (a zlib bomb). */
  fatStreams (lastId: number): Frame[] {
    const pad: HeaderList = [['x-pad', 'p'.repeat(60_000)]]
    const frames: Frame[] = []
    for (let id = 1; id <= lastId; id += 2) frames.push(this.syn(id, '/hold', true, pad))
    return frames
  }

  async until (what: (f: Frame[]) => boolean, ms = 5000): Promise<boolean> {
    for (let waited = 0; waited < ms; waited += 20) { if (what(this.frames)) return true; await sleep(20) }
    return what(this.frames)
  }

  destroy (): void { this.socket.destroy() }
}

/** A GET by a client we did not write (spdy-transport, plain SPDY/3.1): its status. */
async function get (client: StClient, _port: number, path: string): Promise<number> {
  return (await client.request({ method: 'GET', path })).status
}

async function wellBehaved (t: Test, port: number): Promise<StClient> {
  const client = await StClient.connect({ port, version: 3.1 })
  t.teardown(() => client.close())
  return client
}

t.test('rapid reset: open+reset pairs in one write never reach the app', async (t) => {
  const s = await server(t)
  const a = new Attacker(s.port)
  t.teardown(() => a.destroy())
  let id = 1
  for (let w = 0; w < 3; w++) {
    const frames: Frame[] = []
    for (let i = 0; i < 50; i++, id += 2) frames.push(a.syn(id, '/small'), { type: 'RST_STREAM', streamId: id, status: 5 })
    a.send(...frames)
    await sleep(50)
  }
  a.send(a.syn(id, '/small'))
  t.ok(await a.until((fs) => fs.some((f) => f.type === 'SYN_REPLY' && f.streamId === id)), 'the stream after the pairs is answered')
  t.equal(s.handled(), 1, '150 cancelled streams started no app request; only the last one ran')
  const agent = await wellBehaved(t, s.port)
  t.equal(await get(agent, s.port, '/small'), 200, 'a normal client is served')
})

t.test('a client that never sends WINDOW_UPDATE: RST_STREAM CANCEL, then GOAWAY when nothing else is open', async (t) => {
  const s = await server(t, { streamWindowTimeout: 300 })
  const a = new Attacker(s.port)
  t.teardown(() => a.destroy())
  a.send(a.syn(1, '/hold'), a.syn(3, '/big'))
  t.ok(await a.until((fs) => fs.some((f) => f.type === 'RST_STREAM' && f.streamId === 3)), 'the stalled download is reset')
  const data = a.frames.filter((f): f is Extract<Frame, { type: 'DATA' }> => f.type === 'DATA' && f.streamId === 3).reduce((n, f) => n + f.data.length, 0)
  t.equal(data, 65536, 'after exactly the initial window')
  t.same(a.frames.find((f) => f.type === 'RST_STREAM'), { type: 'RST_STREAM', streamId: 3, status: 5 }, 'CANCEL')
  t.notOk(a.frames.some((f) => f.type === 'GOAWAY'), 'the other stream keeps the session')
  s.release()
  t.ok(await a.until((fs) => fs.some((f) => f.type === 'DATA' && f.streamId === 1 && f.fin)), '/hold still answered')

  const b = new Attacker(s.port)
  t.teardown(() => b.destroy())
  b.send(b.syn(1, '/big'))
  t.ok(await b.until((fs) => fs.some((f) => f.type === 'GOAWAY')), 'its only stream stalled: GOAWAY')
  t.same(b.frames.find((f) => f.type === 'GOAWAY'), { type: 'GOAWAY', lastGoodStreamId: 1, status: 0 })
})

t.test("20 streams on a 1-byte window, never opened further: the session's queue stays near maxSessionBufferedBytes, then GOAWAY and close", async (t) => {
  // The per-stream path of the session's buffer bound: each stream's queue alone may hold streamHighWaterMark
  // (64 KiB), 20 of them 1.3 MiB; maxSessionBufferedBytes (64 KiB here) must make every further write ask the
  // routes' sources to wait, however many streams share the session.
  const LIMIT = 64 << 10
  const CHUNK = 4096
  const N = 20
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0, maxSessionBufferedBytes: LIMIT, streamWindowTimeout: 500 })
  const sources: Array<Readable & { produced: number }> = []
  app.get('/stream', async (_req, reply) => {
    const block = Buffer.alloc(CHUNK, 0x62)
    const source = new Readable({
      highWaterMark: CHUNK,
      read () {
        if (source.produced >= 1 << 20) { this.push(null); return }
        source.produced += CHUNK
        this.push(block)
      }
    }) as Readable & { produced: number }
    source.produced = 0
    sources.push(source)
    return reply.type('application/octet-stream').send(source)
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const a = new Attacker(app.spdy.port!)
  t.teardown(() => a.destroy())
  const ids = Array.from({ length: N }, (_, i) => 2 * i + 1)
  a.send({ type: 'SETTINGS', clearSettings: false, entries: [{ id: 7, flags: 0, value: 1 }] }, ...ids.map((id) => a.syn(id, '/stream')))
  t.ok(await a.until((fs) => fs.some((f) => f.type === 'GOAWAY')), 'GOAWAY once every stream waited streamWindowTimeout')
  const produced = sources.reduce((n, s) => n + s.produced, 0)
  t.equal(sources.length, N, 'every stream reached its route')
  t.ok(produced >= LIMIT, `the routes filled the session's budget (${produced} bytes produced)`)
  // Past the budget each stream holds at most the chunk that crossed it, plus what its response and its source
  // buffer (one chunk each) and the chunk in flight: four chunks a stream.
  const bound = LIMIT + N * 4 * CHUNK
  t.ok(produced <= bound, `produced ${produced} <= ${bound} (maxSessionBufferedBytes + 4 chunks a stream); each queue's own mark would allow ${N * (64 << 10)}`)
  for (const id of ids) {
    const sent = a.frames.reduce((n, f) => n + (f.type === 'DATA' && f.streamId === id ? f.data.length : 0), 0)
    if (sent > 1) t.fail(`stream ${id}: ${sent} DATA bytes past a 1-byte window`)
  }
  // The answer the session intends (lib/session/session.ts checkStalls): RST_STREAM CANCEL for a stream that
  // expired while others did not, GOAWAY OK once every open stream is stalled; nothing else.
  const goaway = a.frames.find((f): f is Extract<Frame, { type: 'GOAWAY' }> => f.type === 'GOAWAY')
  t.same(goaway, { type: 'GOAWAY', lastGoodStreamId: ids[N - 1], status: 0 }, 'GOAWAY OK, every stream processed')
  t.same(a.frames.filter((f) => f.type === 'RST_STREAM' && f.status !== 5), [], 'no reset but CANCEL')
  for (let waited = 0; waited < 5000 && !a.closed; waited += 20) await sleep(20)
  t.ok(a.closed, 'the server closed the connection')
  for (let waited = 0; waited < 2000 && !sources.every((s) => s.destroyed); waited += 20) await sleep(20)
  t.ok(sources.every((s) => s.destroyed), "every route's source was destroyed with its stream")
  t.equal(sources.reduce((n, s) => n + s.produced, 0), produced, 'nothing produced after the GOAWAY')
})

t.test('fat header blocks: streams past maxSessionHeaderBytes are refused before the app sees them', async (t) => {
  const s = await server(t, { maxSessionHeaderBytes: 256 << 10 })
  const a = new Attacker(s.port)
  t.teardown(() => a.destroy())
  a.send(...a.fatStreams(19))
  t.ok(await a.until((fs) => fs.filter((f) => f.type === 'RST_STREAM').length >= 6))
  await sleep(100)
  t.same(a.frames.filter((f) => f.type === 'RST_STREAM').map((f) => [(f as { streamId: number }).streamId, (f as { status: number }).status]),
    [[9, 3], [11, 3], [13, 3], [15, 3], [17, 3], [19, 3]], 'four 60 KB heads fit in 256 KiB; the rest get REFUSED_STREAM')
  t.equal(s.handled(), 4, 'the app saw only the four admitted')
})

t.test('zlib bomb: a peer refused again and again for header memory gets GOAWAY and is cut; big cookies are not', async (t) => {
  const s = await server(t, { maxSessionHeaderBytes: 256 << 10 })
  const a = new Attacker(s.port)
  t.teardown(() => a.destroy())
  // Four fit the budget, then maxHeaderRefusalsPerWindow (10) refusals.
  a.send(...a.fatStreams(59))
  t.ok(await a.until((fs) => fs.some((f) => f.type === 'GOAWAY')), 'GOAWAY')
  t.same(a.frames.find((f) => f.type === 'GOAWAY'), { type: 'GOAWAY', lastGoodStreamId: 29, status: 1 }, 'PROTOCOL_ERROR after the 11th refusal (stream 29)')
  t.equal(a.frames.filter((f) => f.type === 'RST_STREAM' && f.status === 3).length, 11, '11 REFUSED_STREAMs, then nothing more is inflated')
  s.release()
  for (let waited = 0; waited < 5000 && !a.closed; waited += 20) await sleep(20)
  t.ok(a.closed, 'the connection is closed')
  // A browser with a 16 KB cookie jar, 20 requests at once, five times: inside the budget, never refused.
  const agent = await wellBehaved(t, s.port)
  for (let round = 0; round < 5; round++) {
    const statuses = await Promise.all(Array.from({ length: 20 }, () => agent.request({ method: 'GET', path: '/small', headers: { cookie: 'c'.repeat(16_000) } }).then((r) => r.status)))
    t.same(new Set(statuses), new Set([200]), `round ${round}: 20 requests with 16 KB cookies served`)
  }
})

t.test('WINDOW_UPDATE flood: 1-byte session updates past maxWorklessFramesPerWindow get GOAWAY and are cut', async (t) => {
  const s = await server(t)
  const a = new Attacker(s.port)
  t.teardown(() => a.destroy())
  const unit: Frame[] = Array.from({ length: 512 }, () => ({ type: 'WINDOW_UPDATE', streamId: 0, deltaWindowSize: 1 }))
  let writes = 0
  for (; writes < 20 && !a.closed; writes++) { a.send(...unit); await sleep(10) }
  t.ok(await a.until((fs) => fs.some((f) => f.type === 'GOAWAY')), 'GOAWAY')
  t.same(a.frames.find((f) => f.type === 'GOAWAY'), { type: 'GOAWAY', lastGoodStreamId: 0, status: 1 }, 'PROTOCOL_ERROR')
  for (let waited = 0; waited < 5000 && !a.closed; waited += 20) await sleep(20)
  t.ok(a.closed, `cut (after ${writes} writes of 512 updates; the default allows 1000 per 10 s)`)
  const agent = await wellBehaved(t, s.port)
  t.equal(await get(agent, s.port, '/small'), 200, 'a normal client is served')
})

t.test('maxWorklessFramesPerWindow at its minimum (10): spdy-transport downloading 3 x 4 MiB is not cut, its updates are earned', async (t) => {
  const s = await server(t, { maxWorklessFramesPerWindow: 10 })
  for (const V of [3, 3.1] as const) {
    const client = await StClient.connect({ port: s.port, version: V })
    t.teardown(() => client.close())
    for (let i = 0; i < 3; i++) {
      const res = await client.request({ method: 'GET', path: '/big' })
      t.same([res.status, res.body.length], [200, 4 << 20], `spdy/${V} download ${i + 1}: whole`)
    }
  }
})

t.test('HEADERS flood, on an open stream then on one we reset: GOAWAY past maxInflatedHeaderBytesPerWindow', async (t) => {
  const s = await server(t, { maxInflatedHeaderBytesPerWindow: 1 << 20 })
  const a = new Attacker(s.port)
  t.teardown(() => a.destroy())
  const big: HeaderList = [['x-pad', 'h'.repeat(60_000)]]
  a.send(a.syn(1, '/hold', false))
  // Stream 3 opens with a block the server refuses (uppercase name, a stream error), so the server resets it and
  // drops what follows for it unanswered; its HEADERS are inflated all the same.
  a.send({ type: 'SYN_STREAM', streamId: 3, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: [['X-Bad', '1']] })
  for (let i = 0; i < 10; i++) a.send({ type: 'HEADERS', streamId: 1, fin: false, headers: big })
  for (let i = 0; i < 20 && !a.closed; i++) { a.send({ type: 'HEADERS', streamId: 3, fin: false, headers: big }); await sleep(10) }
  t.ok(await a.until((fs) => fs.some((f) => f.type === 'GOAWAY')), 'GOAWAY')
  t.same(a.frames.find((f) => f.type === 'GOAWAY'), { type: 'GOAWAY', lastGoodStreamId: 1, status: 1 }, 'PROTOCOL_ERROR (stream 3 was refused by the decoder, never processed)')
  t.same(a.frames.filter((f) => f.type === 'RST_STREAM'), [{ type: 'RST_STREAM', streamId: 3, status: 1 }], 'stream 3 was reset once, its HEADERS dropped unanswered')
  const agent = await wellBehaved(t, s.port)
  t.equal(await get(agent, s.port, '/small'), 200, 'a normal client is served')
})

t.test('a POST whose body stops coming: RST_STREAM CANCEL after requestBodyTimeout, the app\'s request aborted', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0, requestBodyTimeout: 300 })
  let aborted = false
  let answered = false
  app.addContentTypeParser('application/octet-stream', (req, payload, done) => {
    payload.on('aborted', () => { aborted = true })
    payload.on('error', () => {})
    payload.on('end', () => done(null, null))
  })
  app.post('/upload', async () => { answered = true; return 'never' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const a = new Attacker(app.spdy.port!)
  t.teardown(() => a.destroy())
  const head: HeaderList = [...requestHeaderList(3, { method: 'POST', path: '/upload', authority: '127.0.0.1' }), ['content-type', 'application/octet-stream'], ['content-length', '10']]
  a.send({ type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: head },
    { type: 'DATA', streamId: 1, fin: false, data: Buffer.from('12345') })
  t.ok(await a.until((fs) => fs.some((f) => f.type === 'RST_STREAM')), 'reset')
  t.same(a.frames.find((f) => f.type === 'RST_STREAM'), { type: 'RST_STREAM', streamId: 1, status: 5 }, 'CANCEL')
  for (let i = 0; i < 50 && !aborted; i++) await sleep(20)
  t.ok(aborted, 'the app\'s request body saw the abort')
  t.notOk(answered, 'the handler never ran on half a body')
  t.notOk(a.frames.some((f) => f.type === 'GOAWAY'), 'the session goes on')
})
