/**
 * How a SPDY stream enters Fastify: `fastify.inject` (light-my-request; buffers the whole response) against our
 * dispatch through `fastify.routing(req, res)` with streaming compat objects, on the same app and route, in one
 * process, one after the other. No sockets, no SPDY framing: only the cost of entering the app.
 *   tsx bench/dispatch.ts [--quick]
 */
import { EventEmitter } from 'node:events'
import Fastify from 'fastify'
import { dispatch } from '../lib/server/dispatch'
import type { StreamSink } from '../lib/server/stream-sink'
import { machine, median, writeSection } from './results'

const quick = process.argv.includes('--quick')
const N = quick ? 5_000 : 100_000
const RUNS = quick ? 1 : 5
/** Let the event loop turn between batches, as socket reads do in a server (otherwise stream ticks pile up). */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function main (): Promise<void> {
  const app = Fastify()
  app.get('/small', async () => 'hello world')
  await app.ready()
  const socket = Object.assign(new EventEmitter(), { remoteAddress: '127.0.0.1', remotePort: 1, encrypted: false }) as unknown as EventEmitter & Record<string, unknown>
  const head = { method: 'GET', path: '/small', authority: 'localhost', scheme: 'http', httpVersion: 'HTTP/1.1', headers: { host: 'localhost', 'user-agent': 'bench' } }

  async function viaInject (): Promise<number> {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < N; i += 100) {
      await Promise.all(Array.from({ length: 100 }, () => app.inject({ method: 'GET', url: '/small' })))
      await yieldToLoop()
    }
    return N / (Number(process.hrtime.bigint() - t0) / 1e9)
  }

  async function viaDispatch (): Promise<number> {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < N; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, k) => new Promise<void>((resolve) => {
        const sink: StreamSink = {
          respond (_s, _h, fin) { if (fin) resolve() },
          write () { return true },
          end () { resolve() },
          reset () { resolve() },
          onDrain (cb) { cb() }
        }
        dispatch(app, { ...head, headers: { ...head.headers } }, { version: 3, streamId: 2 * (i + k) + 1, priority: 0 }, false, socket, sink)
      })))
      await yieldToLoop()
    }
    return N / (Number(process.hrtime.bigint() - t0) / 1e9)
  }

  await viaInject(); await viaDispatch() // warm-up
  const inject: number[] = []
  const routing: number[] = []
  for (let r = 0; r < RUNS; r++) { inject.push(await viaInject()); routing.push(await viaDispatch()) }
  const mi = median(inject)
  const md = median(routing)
  const table = [
    '| entry into Fastify | req/s (median) | spread | ratio |',
    '| --- | --- | --- | --- |',
    `| fastify.inject (buffers the response) | ${Math.round(mi)} | ${Math.round(Math.min(...inject))}-${Math.round(Math.max(...inject))} | 1.00x |`,
    `| dispatch via fastify.routing (streams) | ${Math.round(md)} | ${Math.round(Math.min(...routing))}-${Math.round(Math.max(...routing))} | ${(md / mi).toFixed(2)}x |`
  ].join('\n')
  process.stdout.write(table + '\n')
  if (!quick) writeSection('dispatch', `## Dispatch: inject vs routing\n\nCommand: \`npx tsx bench/dispatch.ts\` (${N} GETs per run, 100 concurrent, ${RUNS} runs, one process)\nMachine: ${machine()}\n\n${table}\n\nThe plugin uses the routing path: it is faster and it streams.\n`)
  await app.close()
}

main().catch((err) => { console.error(err); process.exit(1) })
