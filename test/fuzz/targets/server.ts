/**
 * Fuzz target: the whole server path in one process. The input is written, in varied slices, to a real loopback
 * connection to the plugin's listener in front of a real Fastify app with a few routes (a JSON GET, a body echo, a
 * streamed response, a push, a thrown error): plain SPDY, or our TLS engine when the input starts like a TLS record
 * (0x16). After the last byte the client half-closes and reads until the server has been quiet for 30 ms.
 *
 * Crashes caught here: an exception that escapes to the process (uncaughtException / unhandledRejection, which in
 * production would end the server), and a server that is still sending 1 s after the input ended with nothing
 * more to say (a hang or an unbounded loop). The process-wide handlers are installed once, by this module. Memory is
 * bounded by jsfuzz's --rss-limit-mb over the whole run (scripts/fuzz.mjs).
 */
import net from 'node:net'
import { Readable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../../../lib/index'
import { generateSelfSigned } from '../../../lib/tls/certificates'
import { FuzzInvariantError, slices } from '../invariants'

const escaped: unknown[] = []
process.on('uncaughtException', (err) => { escaped.push(err) })
process.on('unhandledRejection', (err) => { escaped.push(err) })

async function app (tls: false | { cert: string, key: string }): Promise<{ app: FastifyInstance, port: number }> {
  const a = Fastify({ logger: false })
  await a.register(spdy, { tls, port: 0, host: '127.0.0.1', alternateProtocol: false, idleTimeout: 2000, handshakeTimeout: 2000 })
  a.get('/', async (req) => ({ spdy: req.spdy, url: req.url, host: req.hostname }))
  a.post('/echo', async (req) => req.body ?? null)
  a.get('/stream', async (_req, reply) => reply.send(Readable.from([Buffer.alloc(70_000, 1), Buffer.alloc(10, 2)])))
  a.get('/push', async (_req, reply) => { await reply.push('/'); return 'pushed' })
  a.get('/boom', async () => { throw new Error('route error') })
  await a.listen({ port: 0, host: '127.0.0.1' })
  return { app: a, port: a.spdy.port! }
}

let servers: Promise<{ plain: number, tls: number, close: () => Promise<void> }> | null = null
/** Both apps, started on first use and kept for the whole run (stop() closes them). */
export function start (): Promise<{ plain: number, tls: number, close: () => Promise<void> }> {
  servers ??= (async () => {
    const plain = await app(false)
    const secure = await app(generateSelfSigned({ commonName: 'localhost', altNames: ['localhost'], keyType: 'ec' }))
    return { plain: plain.port, tls: secure.port, close: async () => { await plain.app.close(); await secure.app.close() } }
  })()
  return servers
}

const QUIET_MS = 30
/** 1 s under `npm run fuzz` (FUZZ_HANG_MS); the replay test only bounds a real hang (10 s), nothing timed. */
const HANG_MS = Number(process.env.FUZZ_HANG_MS ?? 10_000)

export async function fuzz (buf: Buffer): Promise<void> {
  const { plain, tls } = await start()
  const socket = net.connect(buf[0] === 0x16 ? tls : plain, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.on('error', () => { /* a reset from the server is a fine answer */ })
  let last = Date.now()
  socket.on('data', () => { last = Date.now() })
  for (const chunk of slices(buf)) {
    if (socket.destroyed) break
    if (!socket.write(chunk)) await new Promise((resolve) => { socket.once('drain', resolve); socket.once('close', resolve) })
  }
  if (!socket.destroyed) socket.end()
  const ended = Date.now()
  last = ended
  // Read until closed or quiet. The server's answer to any input is finite: a response stream of at most the
  // routes' sizes, an alert, a GOAWAY. Still sending past HANG_MS means it is looping.
  while (!socket.destroyed && Date.now() - last < QUIET_MS) {
    if (Date.now() - ended > HANG_MS) {
      socket.destroy()
      throw new FuzzInvariantError(`server still sending ${HANG_MS} ms after the input ended`)
    }
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  socket.destroy()
  // Let the server see the close (and run whatever it runs on close) before checking the process.
  await new Promise((resolve) => setImmediate(resolve))
  if (escaped.length > 0) throw escaped.splice(0)[0]
}

/** Closes both apps if they were started. */
export async function stop (): Promise<void> {
  const s = servers
  servers = null
  if (s !== null) await (await s).close()
}
