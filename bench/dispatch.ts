/**
 * How a SPDY stream enters Fastify: `fastify.inject` (light-my-request; buffers the whole response) against our
 * dispatch() through `fastify.routing(req, res)` with streaming compat objects, on the same app and route, in one
 * process, alternating runs. No sockets, no SPDY framing: only the cost of entering the app and answering.
 * Also the bytes each path allocates per GET (V8's sampling heap profiler, counting the objects young and full GCs
 * already freed): allocation per request is what GC time grows with (bench/RESULTS.md, issue 14 method notes).
 *   npx tsx bench/dispatch.ts [--quick]
 */
import { Session } from 'node:inspector'
import Fastify from 'fastify'
import { dispatch } from '../lib/server/dispatch'
import type { StreamHead, StreamSink } from '../lib/server/contracts'
import { machine, median, writeSection } from './results'

const quick = process.argv.includes('--quick')
const N = quick ? 5_000 : 100_000
const RUNS = quick ? 1 : 5
const CONCURRENCY = 100
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** A no-op sink that reports the end of the response: one object per stream, as the session layer would have. */
class DoneSink implements StreamSink {
  constructor (private readonly done: () => void) {}
  respond (_s: number, _h: Record<string, string | string[]>, fin: boolean): void { if (fin) this.done() }
  write (_c: Uint8Array, fin: boolean): boolean { if (fin) this.done(); return true }
  end (): void { this.done() }
  reset (): void { this.done() }
  onDrain (cb: () => void): void { cb() }
}

const conn = { remoteAddress: '127.0.0.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 8443, encrypted: false }

function streamHead (id: number): StreamHead {
  return {
    head: { method: 'GET', path: '/small', authority: 'localhost', scheme: 'http', httpVersion: 'HTTP/1.1', headers: { 'user-agent': 'bench', accept: '*/*', host: 'localhost' } },
    version: 3.1, streamId: id, priority: 3,
    conn,
    fin: true
  }
}

interface HeapNode { selfSize: number, children: HeapNode[] }

/** Bytes allocated per request by one more `run` of N requests, from V8's sampling heap profiler. */
async function allocatedPerRequest (run: () => Promise<number>): Promise<number> {
  const session = new Session()
  session.connect()
  const post = (method: string, params?: object): Promise<unknown> => new Promise((resolve, reject) => {
    (session.post as (m: string, p: object | undefined, cb: (err: Error | null, r: unknown) => void) => void)(method, params, (err, r) => { if (err !== null) reject(err); else resolve(r) })
  })
  // 256-byte sampling: a small GET allocates a few KB, so each request is sampled several times over the N.
  await post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
  await run()
  const { profile } = await post('HeapProfiler.stopSampling') as { profile: { head: HeapNode } }
  session.disconnect()
  let total = 0
  const walk = (n: HeapNode): void => { total += n.selfSize; for (const c of n.children) walk(c) }
  walk(profile.head)
  return total / N
}

async function main (): Promise<void> {
  const app = Fastify()
  app.get('/small', async () => ({ hello: 'world' }))
  await app.ready()

  // Sanity: both paths give the same answer.
  const viaInject = await app.inject({ method: 'GET', url: '/small' })
  let answer = ''
  await new Promise<void>((resolve) => {
    dispatch(app, streamHead(1), { respond () {}, write (c) { answer = Buffer.from(c).toString(); return true }, end: resolve, reset: () => resolve(), onDrain (cb) { cb() } } satisfies StreamSink)
    setImmediate(resolve)
  })
  if (viaInject.body !== answer) throw new Error(`answers differ: ${viaInject.body} vs ${answer}`)

  async function runInject (): Promise<number> {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < N; i += CONCURRENCY) {
      const batch: Array<Promise<unknown>> = []
      for (let k = 0; k < CONCURRENCY; k++) batch.push(app.inject({ method: 'GET', url: '/small' }))
      await Promise.all(batch)
      // Back to the event loop between batches, as a server between socket reads: a loop made only of promise
      // continuations would never run the nextTick queue (stream cleanup) and grow without bound.
      await yieldToLoop()
    }
    return N / (Number(process.hrtime.bigint() - t0) / 1e9)
  }

  let id = 1
  async function runDispatch (): Promise<number> {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < N; i += CONCURRENCY) {
      const batch: Array<Promise<void>> = []
      for (let k = 0; k < CONCURRENCY; k++) {
        batch.push(new Promise<void>((resolve) => { dispatch(app, streamHead(id += 2), new DoneSink(resolve)) }))
      }
      await Promise.all(batch)
      await yieldToLoop()
    }
    return N / (Number(process.hrtime.bigint() - t0) / 1e9)
  }

  await runInject(); await runDispatch() // warm-up
  const inject: number[] = []
  const routing: number[] = []
  for (let r = 0; r < RUNS; r++) { inject.push(await runInject()); routing.push(await runDispatch()) }
  const mi = median(inject)
  const md = median(routing)
  const ai = await allocatedPerRequest(runInject)
  const ad = await allocatedPerRequest(runDispatch)
  const k = (x: number): string => `${(x / 1000).toFixed(1)}k`
  const b = (x: number): string => `${Math.round(x)} B (${(x / ai).toFixed(2)}x)`
  const table = [
    '| entry into Fastify (GET /small -> {"hello":"world"}) | req/s (median) | min-max | ratio | allocated per GET |',
    '| --- | --- | --- | --- | --- |',
    `| anchor: fastify.inject (light-my-request, buffers the response) | ${k(mi)} | ${k(Math.min(...inject))}-${k(Math.max(...inject))} | 1.00x | ${b(ai)} |`,
    `| dispatch() via fastify.routing, no-op sink (streams) | ${k(md)} | ${k(Math.min(...routing))}-${k(Math.max(...routing))} | ${(md / mi).toFixed(2)}x | ${b(ad)} |`
  ].join('\n')
  process.stdout.write(table + '\n')
  if (!quick) {
    writeSection('dispatch', `## Dispatch (lib/server/dispatch.ts): fastify.inject vs dispatch through fastify.routing\n\n` +
      `Command: \`npx tsx bench/dispatch.ts\` (${N} GETs per run, ${CONCURRENCY} in flight, ${RUNS} alternating runs, one process; ${machine()}).\n` +
      'Only the cost of entering the app and answering: no sockets, no SPDY framing (the sink is a no-op that notes the end).\n' +
      'Allocated per GET: one more run of each under V8\'s sampling heap profiler (HeapProfiler.startSampling, 256-byte\n' +
      'interval, objects already freed by young and full GCs counted), total sampled bytes over the requests.\n' +
      'The machine is shared with other jobs: read the ratio, measured in the same run.\n\n' + table + '\n')
  }
  await app.close()
}

main().catch((err) => { console.error(err); process.exit(1) })
