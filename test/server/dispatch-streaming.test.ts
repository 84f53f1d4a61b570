/**
 * dispatch(): streaming both ways with backpressure, and streams that end early (peer reset, app destroy).
 */
import t from 'tap'
import { Readable } from 'node:stream'
import Fastify from 'fastify'
import { dispatch } from '../../lib/server/dispatch'
import { RecordingSink, counted, head } from './dispatch-sink'

const MB = 1024 * 1024
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

t.test('reply.send(stream) of 5 MB honours the sink: writes pause while it says false, memory bounded', async (t) => {
  const app = Fastify()
  let source: ReturnType<typeof counted> | null = null
  app.get('/big', (_req, reply) => { source = counted(5 * MB); reply.header('content-type', 'application/octet-stream').send(source) })
  await app.ready()
  t.teardown(() => app.close())
  const sink = new RecordingSink()
  sink.blocked = true
  sink.keepChunks = false
  dispatch(app, head('GET', '/big'), sink)
  let rounds = 0
  let maxAhead = 0
  while (!sink.done) {
    // Let the route run as far as it can while the sink is full.
    for (let i = 0; i < 5; i++) await tick()
    if (sink.done) break
    t.ok(sink.waitingDrain, `round ${rounds}: the response waits for the sink's drain`)
    const before = sink.bytes
    for (let i = 0; i < 5; i++) await tick()
    t.equal(sink.bytes, before, 'nothing written while the sink is full')
    // What the route produced but the sink has not taken: bounded by the small stream buffers on the way.
    maxAhead = Math.max(maxAhead, source!.produced - sink.bytes)
    rounds++
    sink.drain()
  }
  t.equal(sink.bytes, 5 * MB)
  t.equal(sink.status, 200)
  t.ok(rounds > 20, `the sink applied backpressure many times (${rounds})`)
  t.ok(sink.maxQueued <= 64 * 1024 + 16 * 1024, `the sink never held more than its mark plus one chunk (${sink.maxQueued})`)
  t.ok(maxAhead <= 128 * 1024, `the producer never ran more than 128 KiB ahead of the sink (${maxAhead})`)
  t.equal(sink.calls.at(-1)?.type, 'end', 'FIN after the last DATA')
})

t.test('large upload read by the route: onConsumed totals the body size, granted only as the route reads', async (t) => {
  const app = Fastify()
  const SIZE = 3 * MB + 123
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => { done(null, payload) })
  app.post('/upload', async (req) => {
    await gate
    let n = 0
    for await (const c of req.body as AsyncIterable<Buffer>) n += c.length
    return { n }
  })
  await app.ready()
  t.teardown(() => app.close())
  const sink = new RecordingSink()
  const { req } = dispatch(app, head('POST', '/upload', { 'content-type': 'application/octet-stream' }, { fin: false }), sink)
  let granted = 0
  req.onConsumed = (n) => { granted += n }
  // The session pushes only what the window allows; emulate a 64 KiB window refilled by onConsumed.
  const WINDOW = 64 * 1024
  let sent = 0
  const pump = (): void => {
    while (sent < SIZE && sent - granted < WINDOW) {
      const n = Math.min(16 * 1024, SIZE - sent, WINDOW - (sent - granted))
      req.pushData(Buffer.alloc(n, 1))
      sent += n
    }
    if (sent === SIZE && !req.complete) req.pushEnd()
  }
  pump()
  await tick(); await tick()
  t.equal(granted, 0, 'nothing granted while the route has not read')
  t.equal(sent, WINDOW, 'the peer is held to one window')
  release()
  while (!sink.done) { await tick(); pump() }
  t.equal(JSON.parse(sink.body).n, SIZE)
  t.equal(granted, SIZE, 'onConsumed totals the body size')
  t.ok(req.readableLength === 0)
})

t.test('peer reset mid-body: no crash, onRequestAbort runs, no response goes out', async (t) => {
  const app = Fastify()
  const seen: string[] = []
  app.addHook('onRequestAbort', async (_req) => { seen.push('onRequestAbort') })
  app.addHook('onResponse', async () => { seen.push('onResponse') })
  app.setErrorHandler((err: Error, _req, reply) => { seen.push(`error ${(err as { code?: string }).code ?? err.message}`); reply.send(err) })
  app.post('/upload', async (req) => ({ got: (req.body as string).length }))
  await app.ready()
  t.teardown(() => app.close())
  const sink = new RecordingSink()
  const { req, res } = dispatch(app, head('POST', '/upload', { 'content-type': 'text/plain' }, { fin: false }), sink)
  req.pushData(Buffer.from('partial'))
  await tick()
  req.abort()
  await tick(); await tick()
  t.ok(req.aborted)
  t.ok(res.destroyed)
  t.ok(seen.includes('onRequestAbort'), 'onRequestAbort ran')
  t.notOk(seen.includes('onResponse'), 'onResponse does not run for a response that never finished (as over HTTP)')
  t.notOk(sink.calls.some((c) => c.type === 'respond' || c.type === 'reset'), `nothing is sent on a reset stream (${sink.types()})`)
  req.pushData(Buffer.from('late'))
  req.abort()
  t.pass('late data and a second reset are ignored')
})

t.test('peer reset mid-response: the route stream is destroyed, writes dropped, close emitted', async (t) => {
  const app = Fastify()
  const seen: string[] = []
  let source: ReturnType<typeof counted> | null = null
  app.addHook('onRequestAbort', async (_req) => { seen.push('onRequestAbort') })
  app.addHook('onResponse', async () => { seen.push('onResponse') })
  app.get('/big', (_req, reply) => { source = counted(50 * MB); reply.send(source) })
  await app.ready()
  t.teardown(() => app.close())
  const sink = new RecordingSink()
  sink.blocked = true
  const { req, res } = dispatch(app, head('GET', '/big'), sink)
  let closed = false
  res.on('close', () => { closed = true })
  for (let i = 0; i < 5; i++) await tick()
  t.ok(sink.waitingDrain)
  const written = sink.calls.length
  req.abort()
  for (let i = 0; i < 5; i++) await tick()
  t.ok(closed, "the response emitted 'close'")
  t.ok(source!.destroyed, 'the route stream was destroyed')
  t.ok(source!.produced < 1 * MB, 'the route stopped producing')
  t.equal(sink.calls.length, written, 'nothing reached the sink after the reset')
  sink.drain() // a drain the session had registered before the reset: it must not revive the response
  await tick()
  t.equal(sink.calls.length, written, 'a late drain callback writes nothing')
  t.equal(res.write('x'), false, 'writes after the reset are dropped')
  t.same(seen, ['onRequestAbort'], 'as over HTTP: onRequestAbort, no onResponse')
})

t.test('the app destroys the response mid-way: RST_STREAM INTERNAL_ERROR', async (t) => {
  const app = Fastify()
  app.get('/fail', (_req, reply) => {
    const body = new Readable({ read () {} })
    body.push('start;')
    setImmediate(() => body.destroy(new Error('source failed')))
    reply.send(body)
  })
  await app.ready()
  t.teardown(() => app.close())
  const sink = new RecordingSink()
  dispatch(app, head('GET', '/fail'), sink)
  await sink.finished()
  t.equal(sink.types(), 'respond,write,reset')
  t.same(sink.calls.at(-1), { type: 'reset', status: 'INTERNAL_ERROR' })
  t.equal(sink.body, 'start;')
})

t.test('response complete before the upload: the rest is cancelled, not received for nothing', async (t) => {
  const app = Fastify({ bodyLimit: 1024 })
  app.post('/small', async () => 'never')
  await app.ready()
  t.teardown(() => app.close())
  const sink = new RecordingSink()
  const { req } = dispatch(app, head('POST', '/small', { 'content-type': 'text/plain' }, { fin: false }), sink)
  let granted = 0
  req.onConsumed = (n) => { granted += n }
  req.pushData(Buffer.alloc(2048))
  await sink.finished()
  for (let i = 0; i < 3; i++) await tick()
  t.equal(sink.status, 413)
  t.notOk('connection' in sink.headers, "Fastify's connection: close is not sent")
  t.same(sink.calls.at(-1), { type: 'reset', status: 'CANCEL' }, 'FIN, then RST_STREAM CANCEL')
  t.equal(granted, 2048, 'what was received is given back to the window')
  req.pushData(Buffer.alloc(100))
  t.equal(granted, 2148, 'data still in flight is accounted, not buffered')
  t.equal(req.readableLength, 0)
})

t.test('res.write() returns false while the sink is full and emits drain after it drains', async (t) => {
  const app = Fastify()
  const events: string[] = []
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => { done = resolve })
  app.get('/manual', (_req, reply) => {
    const res = reply.raw
    reply.hijack()
    res.writeHead(200, { 'content-type': 'text/plain' })
    const ok1 = res.write(Buffer.alloc(80 * 1024, 0x62))
    const ok2 = res.write('more')
    events.push(`write ${String(ok1)} ${String(ok2)}`)
    res.once('drain', () => {
      events.push('drain')
      res.end('end', () => { events.push('end cb'); done() })
    })
    res.on('finish', () => events.push('finish'))
    res.on('close', () => events.push('close'))
  })
  await app.ready()
  t.teardown(() => app.close())
  const sink = new RecordingSink()
  sink.blocked = true
  dispatch(app, head('GET', '/manual'), sink)
  for (let i = 0; i < 5; i++) await tick()
  t.same(events, ['write false false'])
  t.equal(sink.types(), 'respond,write', 'the second write waits in the response until the sink drains')
  sink.blocked = false
  sink.drain()
  await finished
  for (let i = 0; i < 3; i++) await tick()
  // Node's OutgoingMessage.end(cb) adds cb as a 'finish' listener: after the one this route added before end().
  t.same(events, ['write false false', 'drain', 'finish', 'end cb', 'close'], "Node's order: the earlier 'finish' listener, then end()'s callback")
  t.equal(sink.types(), 'respond,write,write,write+fin')
  t.equal(sink.bytes, 80 * 1024 + 7)
})
