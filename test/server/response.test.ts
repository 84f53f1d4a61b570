/**
 * SpdyServerResponse as the stream utilities of Node see it (stream.pipeline, stream.finished, Readable.pipe) and
 * as Node's ServerResponse behaves: it is a legacy Stream with its own write/end/cork/destroy, not a Writable, so
 * these check the contract Node's own stream code and Fastify rely on, against a recording sink that can apply
 * backpressure (the session's queue for the stream).
 */
import t from 'tap'
import { Readable, finished, pipeline } from 'node:stream'
import Fastify from 'fastify'
import { exchange, dispatch } from '../../lib/server/dispatch'
import { RecordingSink, counted, head } from './dispatch-sink'
import { responseHeaderList } from '../../lib/session/headers'
import { arrayMoves } from '../array-moves'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const ticks = async (n: number): Promise<void> => { for (let i = 0; i < n; i++) await tick() }

/** A request/response pair for a GET without the app: the response is driven by the test alone. */
function pair (sink = new RecordingSink(), method = 'GET'): ReturnType<typeof exchange> & { sink: RecordingSink } {
  const h = head(method, '/x')
  const d = exchange(h, sink)
  d.req.pushEnd()
  return { ...d, sink }
}

t.test("Readable.pipe into it with backpressure: the source pauses while the sink is full, 'finish' then 'close'", async (t) => {
  const { res, sink } = pair()
  sink.blocked = true
  sink.keepChunks = false
  const source = counted(2 * 1024 * 1024)
  const events: string[] = []
  res.on('finish', () => events.push('finish'))
  res.on('close', () => events.push('close'))
  source.pipe(res)
  let rounds = 0
  let maxAhead = 0
  while (!sink.done) {
    await ticks(4)
    if (sink.done) break
    t.ok(sink.waitingDrain, 'the response waits for the sink')
    const before = sink.bytes
    await ticks(4)
    t.equal(sink.bytes, before, 'nothing written while the sink is full')
    maxAhead = Math.max(maxAhead, source.produced - sink.bytes)
    rounds++
    sink.drain()
  }
  await ticks(2)
  t.equal(sink.bytes, 2 * 1024 * 1024)
  t.ok(rounds > 10, `backpressure applied (${rounds} rounds)`)
  t.ok(maxAhead <= 64 * 1024, `the source never ran more than 64 KiB ahead of the sink (${maxAhead})`)
  t.equal(sink.calls.at(-1)?.type, 'end', 'FIN after the last DATA')
  t.same(events, ['finish', 'close'])
})

t.test('stream.pipeline(source, res): called back without error after the last byte; a failing source resets the stream', async (t) => {
  const ok = pair()
  const err = await new Promise<Error | null | undefined>((resolve) => pipeline(Readable.from([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]), ok.res, resolve))
  t.equal(err, undefined, 'no error')
  t.equal(ok.sink.body, 'abc')
  t.equal(ok.sink.types(), 'respond,write,write,write,end')
  t.ok(ok.res.writableFinished)

  const bad = pair()
  const source = new Readable({ read () {} })
  source.push('start;')
  setImmediate(() => source.destroy(new Error('source failed')))
  const err2 = await new Promise<Error | null | undefined>((resolve) => pipeline(source, bad.res, resolve))
  t.equal(err2?.message, 'source failed', "pipeline reports the source's error")
  await ticks(2)
  t.ok(bad.res.destroyed, 'pipeline destroyed the response')
  t.same(bad.sink.calls.at(-1), { type: 'reset', status: 'INTERNAL_ERROR' }, 'a truncated body is reset, not finished')
  t.notOk(bad.sink.calls.some((c) => c.type === 'end' || (c.type === 'write' && c.fin)), 'no FIN')
})

t.test("stream.finished(res): success after 'finish', ERR_STREAM_PREMATURE_CLOSE on destroy mid-body, at once when already closed", async (t) => {
  const a = pair()
  const done = new Promise<Error | null | undefined>((resolve) => finished(a.res, resolve))
  a.res.write('x')
  a.res.end('y')
  t.equal(await done, undefined)

  const late = await new Promise<Error | null | undefined>((resolve) => finished(a.res, resolve))
  t.equal(late, undefined, 'finished() on a response already closed calls back')

  const b = pair()
  const doneB = new Promise<Error | null | undefined>((resolve) => finished(b.res, resolve))
  b.res.write('partial')
  b.res.destroy(new Error('app failed'))
  const errB = await doneB
  t.equal((errB as { code?: string } | undefined)?.code, 'ERR_STREAM_PREMATURE_CLOSE', 'as with Node\'s ServerResponse')
  t.equal(b.res.errored?.message, 'app failed', 'the error is kept as errored')
})

t.test("destroy mid-body: RST_STREAM INTERNAL_ERROR, 'close' without 'finish', the request aborted, later writes refused", async (t) => {
  const { req, res, sink } = pair(new RecordingSink(), 'POST')
  const events: string[] = []
  res.on('finish', () => events.push('finish'))
  res.on('close', () => events.push('close'))
  res.on('error', () => events.push('error'))
  res.write('part')
  res.destroy()
  t.equal(res.destroyed, true)
  t.same(events, [], "'close' comes a tick later")
  const writeErr = await new Promise<Error | null | undefined>((resolve) => { t.equal(res.write('more', resolve), false) })
  t.equal((writeErr as { code?: string }).code, 'ERR_STREAM_DESTROYED', "a write after destroy gets an error in its callback, no 'error' event")
  t.same(events, ['close'])
  t.same(sink.calls.at(-1), { type: 'reset', status: 'INTERNAL_ERROR' })
  t.equal(sink.types(), 'respond,write,reset')
  t.ok(req.destroyed, 'the request went with it')
  const endErr = await new Promise<Error | null | undefined>((resolve) => res.end('ignored', resolve))
  t.equal((endErr as { code?: string }).code, 'ERR_STREAM_DESTROYED', 'end(chunk, cb) after the close calls back with an error')
  t.equal(sink.types(), 'respond,write,reset', 'nothing more reached the sink')
  t.notOk(events.includes('error'))
})

t.test("'finish' then 'close', a tick after end(), so listeners added after end() hear both; end(cb), added first, first", async (t) => {
  const { res, sink } = pair()
  const events: string[] = []
  res.end('body', () => events.push('end cb'))
  t.equal(res.writableEnded, true)
  t.equal(res.finished, true)
  res.on('finish', () => events.push(`finish closed=${String(res.closed)}`))
  res.on('close', () => events.push(`close destroyed=${String(res.destroyed)}`))
  t.same(events, [], 'nothing is emitted inside end()')
  await ticks(1)
  t.same(events, ['end cb', 'finish closed=false', 'close destroyed=true'])
  t.equal(sink.types(), 'respond,write+fin')
  const again = await new Promise<Error | null | undefined>((resolve) => res.end(resolve))
  t.equal((again as { code?: string }).code, 'ERR_STREAM_ALREADY_FINISHED')
  const afterEnd = await new Promise<Error | null | undefined>((resolve) => res.write('x', resolve))
  t.equal((afterEnd as { code?: string }).code, 'ERR_STREAM_WRITE_AFTER_END')
})

t.test('write() answers false past the mark, holds later writes in order, then their callbacks and one drain', async (t) => {
  const { res, sink } = pair()
  sink.blocked = true
  const order: string[] = []
  t.equal(res.writableHighWaterMark, 16 * 1024)
  t.equal(res.write(Buffer.alloc(70 * 1024, 1), () => order.push('cb1')), false, 'over the sink\'s mark')
  t.equal(res.writableNeedDrain, true)
  t.equal(res.write('two', () => order.push('cb2')), false)
  t.equal(res.write('three'), false)
  t.equal(res.writableLength, 8, 'what the response holds')
  res.on('drain', () => order.push('drain'))
  await ticks(2)
  t.same(order, [], 'no callback before the sink takes the bytes')
  t.equal(sink.types(), 'respond,write')
  sink.blocked = false
  sink.drain()
  t.same(order, [], 'a tick later: behind the callbacks write() scheduled for earlier chunks, as Node orders them')
  await ticks(1)
  t.same(order, ['cb1', 'cb2', 'drain'])
  t.equal(res.writableLength, 0)
  t.equal(res.writableNeedDrain, false)
  t.equal(sink.body.slice(70 * 1024), 'twothree', 'held writes go in order')
  res.end()
  await ticks(1)
  t.equal(sink.types(), 'respond,write,write,write,end')
})

t.test('55,000 small writes held (corked, then behind a full sink): sent in order, callbacks in order, one drain, linear', async (t) => {
  const { res, sink } = pair()
  sink.blocked = true
  sink.keepChunks = true
  const chunk = (i: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(i); return b }
  const called: number[] = []
  const events: string[] = []
  res.on('drain', () => events.push(`drain after ${called.length} callbacks`))
  let total = 0
  const write = (n: number): void => { for (const end = total + n; total < end; total++) { const i = total; res.write(chunk(i), () => called.push(i)) } }
  res.cork()
  write(50_000)
  t.equal(sink.calls.length, 0, 'nothing goes while corked')
  // The sink takes 64 KiB (32,768 chunks) and asks to wait: the rest stays held, from where it stopped.
  let moves = arrayMoves(() => res.uncork()).moves
  t.equal(sink.bytes, 64 * 1024, 'up to the sink\'s mark')
  t.ok(sink.waitingDrain)
  t.equal(res.writableLength, 2 * 50_000 - 64 * 1024, 'the rest is held')
  // The route keeps writing while the response waits: behind what is held.
  write(5_000)
  t.same(called, [], 'no callback before its chunk is in the sink')
  while (sink.waitingDrain) moves += arrayMoves(() => sink.drain()).moves
  t.equal(res.writableLength, 0)
  await ticks(2)
  const body = Buffer.concat(sink.chunks)
  t.equal(body.length, 2 * total, 'every chunk once')
  t.equal(sink.calls.filter((c) => c.type === 'write').length, total, 'one sink write per chunk')
  let inOrder = true
  for (let i = 0; i < total && inOrder; i++) inOrder = body.readUInt16BE(2 * i) === i
  t.ok(inOrder, 'in write order')
  t.equal(called.length, total, 'every callback once')
  t.ok(called.every((v, i) => v === i), 'callbacks in write order')
  t.same(events, [`drain after ${total} callbacks`], "one 'drain', after the callbacks")
  t.ok(moves <= 2 * total, `array entries moved while sending the held chunks: ${moves}, linear bound ${2 * total}`)
  res.end()
  await ticks(2)
  t.equal(sink.calls.at(-1)?.type, 'end')
})

t.test('end(chunk) while the sink is full: FIN goes with the held chunk once it drains, then finish', async (t) => {
  const { res, sink } = pair()
  sink.blocked = true
  res.write(Buffer.alloc(70 * 1024, 1))
  res.end('tail')
  t.equal(res.writableFinished, false)
  let fin = false
  res.on('finish', () => { fin = true })
  await ticks(2)
  t.equal(fin, false, "no 'finish' while the tail is held")
  sink.blocked = false
  sink.drain()
  t.equal(res.writableFinished, true)
  await ticks(1)
  t.equal(fin, true)
  t.equal(sink.types(), 'respond,write,write+fin')
})

t.test('cork()/uncork() hold writes and send them in order; end() uncorks', async (t) => {
  const { res, sink } = pair()
  res.cork()
  res.write('a')
  res.cork()
  res.write('b')
  t.equal(res.writableCorked, 2)
  t.equal(sink.calls.length, 0, 'nothing goes while corked')
  res.uncork()
  t.equal(sink.calls.length, 0)
  res.uncork()
  t.equal(sink.types(), 'respond,write,write')
  res.cork()
  res.write('c')
  res.end('d')
  t.equal(sink.types(), 'respond,write,write,write,write+fin')
  t.equal(sink.body, 'abcd')
})

t.test('HEAD and 204: writes are dropped (headers still go), one SYN_REPLY with FIN', async (t) => {
  const h = pair(new RecordingSink(), 'HEAD')
  t.equal(h.res.write('ignored'), true)
  h.res.end('also ignored')
  t.equal(h.sink.types(), 'respond,end', 'SYN_REPLY at the first write, FIN at end')
  const n = pair()
  n.res.statusCode = 204
  n.res.end('dropped')
  t.equal(n.sink.types(), 'respond+fin')
  t.equal(n.sink.bytes, 0)
})

t.test("reply.send(stream) through Fastify: onResponse runs after the stream's 'finish'", async (t) => {
  const app = Fastify()
  const seen: string[] = []
  app.addHook('onResponse', async (req) => { seen.push(`onResponse ${req.url}`) })
  app.get('/ok', (_req, reply) => { reply.send(Readable.from(['x', 'y'])) })
  await app.ready()
  t.teardown(() => app.close())
  const ok = new RecordingSink()
  const { res } = dispatch(app, head('GET', '/ok'), ok)
  await ok.finished()
  await ticks(3)
  t.equal(ok.body, 'xy')
  t.equal(ok.types(), 'respond,write,write,end')
  t.ok(res.closed)
  t.same(seen, ['onResponse /ok'])
})

t.test("a body-less request nobody read ends after the response: 'end' then 'close', readableEnded, not aborted", async (t) => {
  const app = Fastify()
  app.get('/small', async () => 'hello')
  await app.ready()
  t.teardown(() => app.close())
  const sink = new RecordingSink()
  const { req, res } = dispatch(app, head('GET', '/small'), sink)
  const events: string[] = []
  req.on('end', () => events.push('req end'))
  req.on('close', () => events.push('req close'))
  req.on('aborted', () => events.push('req aborted'))
  res.on('close', () => events.push('res close'))
  await sink.finished()
  await ticks(3)
  t.equal(sink.body, 'hello')
  t.same(events.filter((e) => e.startsWith('req')), ['req end', 'req close'])
  t.ok(events.includes('res close'))
  t.equal(req.readableEnded, true)
  t.equal(req.aborted, false)
  t.equal(req.complete, true)
  const err = await new Promise<Error | null | undefined>((resolve) => finished(req, resolve))
  t.equal(err, undefined, 'stream.finished() sees a request that ended')
  req.abort()
  t.equal(req.aborted, false, 'a session dying afterwards does not abort it')
})

t.test('a body-less GET schedules three process.nextTick from end() to the request\'s close; Node\'s order kept', async (t) => {
  // What each tick costs is per request (issue 14): the response's finish+close, the request's 'end', its 'close'.
  // The Readable's 'readable' tick for the end of a body nobody reads is not paid.
  const { req, res } = pair()
  const events: string[] = []
  res.on('finish', () => events.push('finish'))
  res.on('close', () => events.push('close'))
  req.on('end', () => events.push('req end'))
  const names: string[] = []
  const real = process.nextTick
  const closed = new Promise<void>((resolve) => req.on('close', () => { events.push('req close'); resolve() }))
  process.nextTick = function (fn: (...a: unknown[]) => void, ...args: unknown[]) {
    names.push(fn.name)
    real.call(process, fn, ...args)
  } as typeof process.nextTick
  try {
    res.end('x')
    await closed
  } finally { process.nextTick = real }
  t.ok(names.length <= 3, `ticks: ${names.join(', ')}`)
  t.same(events, ['finish', 'close', 'req end', 'req close'])
  t.equal(req.readableEnded, true)
})

t.test("a body-less request the route listens to ('readable', 'data') still ends once, after the response", async (t) => {
  for (const how of ['readable', 'data', 'paused'] as const) {
    const { req, res } = pair()
    const events: string[] = []
    if (how === 'readable') req.on('readable', () => { events.push('readable'); req.read() })
    else if (how === 'data') req.on('data', () => events.push('data'))
    else req.pause()
    req.on('end', () => events.push('end'))
    const closed = new Promise<void>((resolve) => req.on('close', () => { events.push('close'); resolve() }))
    res.end('x')
    await closed
    await ticks(2)
    t.same(events, how === 'readable' ? ['readable', 'end', 'close'] : ['end', 'close'], how)
    t.equal(req.aborted, false, how)
  }
})

t.test('header names that are Object.prototype members are fields like any other: absent until set, then sent', async (t) => {
  const { res, sink } = pair()
  const names = ['constructor', 'tostring', '__proto__', 'hasownproperty', 'valueof']
  for (const n of names) {
    t.equal(res.hasHeader(n), false, `${n} not there before it is set`)
    t.equal(res.getHeader(n), undefined, n)
  }
  t.same(res.getHeaderNames(), [])
  for (const n of names) res.setHeader(n, `v-${n}`)
  t.same(res.getHeaderNames(), names)
  t.equal(res.getHeader('__proto__'), 'v-__proto__')
  t.same(Object.keys(res.getHeaders()), names)
  res.removeHeader('constructor')
  t.equal(res.hasHeader('constructor'), false)
  res.end()
  await sink.finished()
  for (const n of names.slice(1)) t.equal(sink.given[n], `v-${n}`, `${n} in the SYN_REPLY`)
  t.equal(Object.prototype.hasOwnProperty.call(sink.given, 'constructor'), false, 'removed: not given')
  // What goes on the wire: the SYN_REPLY's header list, as the session layer makes it from what respond() got.
  const r = sink.calls.find((c) => c.type === 'respond')
  const list = r?.type === 'respond' ? responseHeaderList(3.1, r.status, r.headers) : []
  for (const n of names.slice(1)) t.ok(list.some(([k, v]) => k === n && v === `v-${n}`), `${n} in the SYN_REPLY's header list`)
})
