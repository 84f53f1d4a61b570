/**
 * The demo blog on several cores: node:cluster forks WORKERS processes (default 2), which all listen on the same
 * HTTP port and the same SPDY port; the primary accepts and hands each new connection to a worker in turn
 * (round-robin, Node's default on Linux). A connection stays with its worker: each worker's app.spdy.sessions()
 * lists its own connections only. The workers share one TLS ticket key (made here, passed in the environment), so a
 * client resumes its TLS session whichever worker it lands on.
 * A worker that dies is replaced after a back-off (100 ms doubling to 5 s); when MAX_START_FAILURES (default 5)
 * workers in a row die before listening, the primary prints the last one's error and exits 1.
 *   npx tsx example-app/cluster.mts        (PORT, SPDY_PORT, HOST, WORKERS, SPDY_TLS=0 as for server.mts; the banner
 *                                          shows the ports bound, which PORT=0 leaves to the system)
 * GET /_worker answers which worker served it and how many SPDY sessions that worker holds.
 */
import cluster, { type Worker } from 'node:cluster'
import { randomBytes } from 'node:crypto'
import spdy from 'fastify-spdy'
import { buildBlog } from './blog.mjs'
import { ensureCertificate } from './certificate.mjs'

const port = Number(process.env.PORT ?? 8080)
const spdyPort = Number(process.env.SPDY_PORT ?? 8443)
const host = process.env.HOST ?? '127.0.0.1'
const useTls = process.env.SPDY_TLS !== '0'
const workers = Number(process.env.WORKERS ?? 2)

// A worker that dies is replaced after a back-off that doubles from BACKOFF_MIN_MS up to BACKOFF_MAX_MS, so a worker
// that crashes again and again costs a fork every few seconds, not a tight loop of forks and log lines. The back-off
// starts over at BACKOFF_MIN_MS when the worker that died had been listening for STABLE_MS or more.
const BACKOFF_MIN_MS = 100
const BACKOFF_MAX_MS = 5000
const STABLE_MS = 10_000
// MAX_START_FAILURES workers in a row that die before listening (port taken, bad certificate, ...): no replacement
// will do better, so the primary says why and exits 1 (a supervisor sees the failure) instead of retrying forever.
const maxStartFailures = Number(process.env.MAX_START_FAILURES ?? 5)
if (!Number.isInteger(maxStartFailures) || maxStartFailures < 1) throw new Error(`MAX_START_FAILURES must be a positive integer, not ${process.env.MAX_START_FAILURES}`)

// listening: the ports a worker bound, which the banner shows (with PORT=0 and SPDY_PORT=0 the system picks them,
// the same for every worker: node:cluster shares each listen(0) of a worker with the same call in the others).
interface WorkerMessage { listening?: { port: number, spdyPort: number }, startError?: string }

if (cluster.isPrimary) {
  // Made once, before the workers start, so they do not race to write it.
  if (useTls) await ensureCertificate(host)
  const ticketKey = randomBytes(48).toString('hex')
  let exitCode: number | undefined // set once the primary stops: every worker is told to close, then it exits with it
  let ready = 0
  let deaths = 0 // in a row, for the back-off
  let startFailures = 0 // workers in a row that died before listening
  let lastStartError: string | undefined
  const listeningSince = new Map<number, number>()
  const startErrors = new Map<number, string>()
  const fork = (): void => {
    const w = cluster.fork({ FASTIFY_SPDY_TICKET_KEY: ticketKey })
    w.on('message', (m: WorkerMessage) => {
      if (typeof m.startError === 'string') startErrors.set(w.id, m.startError)
      if (m.listening === undefined) return
      listeningSince.set(w.id, Date.now())
      startFailures = 0
      if (++ready !== workers) return
      const shown = host.includes(':') ? `[${host}]` : host
      process.stdout.write(`\nfastify-spdy demo blog, ${workers} workers\n  HTTP:  http://${shown}:${m.listening.port}/\n` +
        `  SPDY:  ${useTls ? 'https' : 'spdy'}://${shown}:${m.listening.spdyPort}/\n\n`)
    })
  }
  const stop = (code: number): void => {
    exitCode = code
    // Each worker closes its app: GOAWAY to its SPDY sessions, in-flight requests finish, then it exits.
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM')
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(code)
  }
  for (let i = 0; i < workers; i++) fork()
  const died = (w: Worker, code: number | null, signal: string | null): void => {
    const since = listeningSince.get(w.id)
    const startError = startErrors.get(w.id)
    listeningSince.delete(w.id)
    startErrors.delete(w.id)
    if (exitCode !== undefined) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode)
      return
    }
    if (since === undefined) {
      startFailures++
      lastStartError = startError ?? lastStartError
      if (startFailures >= maxStartFailures) {
        process.stderr.write(`worker ${w.id} exited (${signal ?? code}) before listening, ${startFailures} in a row; giving up: ` +
          `${lastStartError ?? 'no error reported, see the workers\' output above'}\n`)
        stop(1)
        return
      }
    }
    if (since !== undefined && Date.now() - since >= STABLE_MS) deaths = 0
    const delay = Math.min(BACKOFF_MIN_MS * 2 ** deaths, BACKOFF_MAX_MS)
    deaths++
    // A worker that dies is replaced; its connections are gone, the other workers' are not affected.
    process.stderr.write(`worker ${w.id} exited (${signal ?? code}); starting another in ${delay} ms\n`)
    setTimeout(() => { if (exitCode === undefined) fork() }, delay)
  }
  cluster.on('exit', (w, code, signal) => {
    // The worker's last message (why it failed to start) can still be in the IPC channel when its exit is seen;
    // the channel closes after the messages in it have been read.
    if (w.isConnected()) w.once('disconnect', () => died(w, code, signal))
    else died(w, code, signal)
  })
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { if (exitCode === undefined) stop(0) })
} else {
  const app = buildBlog({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })
  const id = cluster.worker?.id ?? 0
  app.addHook('onSend', async (_req, reply) => { reply.header('x-worker', String(id)) })
  app.get('/_worker', async () => ({ worker: id, pid: process.pid, sessions: app.spdy.sessions().length }))
  const ticketKeys = process.env.FASTIFY_SPDY_TICKET_KEY !== undefined ? [Buffer.from(process.env.FASTIFY_SPDY_TICKET_KEY, 'hex')] : undefined
  try {
    await app.register(spdy, {
      port: spdyPort,
      tls: useTls ? { ...await ensureCertificate(host), ticketKeys } : false
    })
    await app.listen({ port, host })
  } catch (err) {
    // Tell the primary why, so that it can say it if every worker fails the same way; then die as before.
    const message = err instanceof Error ? err.message : String(err)
    app.log.error({ err }, `worker ${id} failed to start`)
    if (process.send === undefined) process.exit(1)
    process.send({ startError: message } satisfies WorkerMessage, () => process.exit(1))
    await new Promise(() => {}) // exits in the callback above
  }
  const bound = app.server.address()
  const listening = { port: bound !== null && typeof bound === 'object' ? bound.port : port, spdyPort: app.spdy.port ?? spdyPort }
  process.send?.({ listening } satisfies WorkerMessage)
  // SIGTERM from the primary; SIGINT reaches every process of the group on Ctrl-C.
  let closing = false
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (closing) return
      closing = true
      app.close().then(() => process.exit(0), () => process.exit(1))
    })
  }
}
