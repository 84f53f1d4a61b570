/**
 * The demo blog on several cores: node:cluster forks WORKERS processes (default 2), which all listen on the same
 * HTTP port and the same SPDY port; the primary accepts and hands each new connection to a worker in turn
 * (round-robin, Node's default on Linux). A connection stays with its worker: each worker's app.spdy.sessions()
 * lists its own connections only. The workers share one TLS ticket key (made here, passed in the environment), so a
 * client resumes its TLS session whichever worker it lands on.
 *   npx tsx example-app/cluster.mts        (PORT, SPDY_PORT, HOST, WORKERS, SPDY_TLS=0 as for server.mts)
 * GET /_worker answers which worker served it and how many SPDY sessions that worker holds.
 */
import cluster from 'node:cluster'
import { randomBytes } from 'node:crypto'
import spdy from 'fastify-spdy'
import { buildBlog } from './blog.mjs'
import { ensureCertificate } from './certificate.mjs'

const port = Number(process.env.PORT ?? 8080)
const spdyPort = Number(process.env.SPDY_PORT ?? 8443)
const host = process.env.HOST ?? '127.0.0.1'
const useTls = process.env.SPDY_TLS !== '0'
const workers = Number(process.env.WORKERS ?? 2)

if (cluster.isPrimary) {
  // Made once, before the workers start, so they do not race to write it.
  if (useTls) await ensureCertificate(host)
  const ticketKey = randomBytes(48).toString('hex')
  let stopping = false
  let ready = 0
  const fork = (): void => {
    const w = cluster.fork({ FASTIFY_SPDY_TICKET_KEY: ticketKey })
    w.on('message', (m: { ready?: boolean }) => {
      if (m.ready !== true || ++ready !== workers) return
      const shown = host.includes(':') ? `[${host}]` : host
      process.stdout.write(`\nfastify-spdy demo blog, ${workers} workers\n  HTTP:  http://${shown}:${port}/\n` +
        `  SPDY:  ${useTls ? 'https' : 'spdy'}://${shown}:${spdyPort}/\n\n`)
    })
  }
  for (let i = 0; i < workers; i++) fork()
  cluster.on('exit', (w, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
      return
    }
    // A worker that dies is replaced; its connections are gone, the other workers' are not affected.
    process.stderr.write(`worker ${w.id} exited (${signal ?? code}); starting another\n`)
    fork()
  })
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      stopping = true
      // Each worker closes its app: GOAWAY to its SPDY sessions, in-flight requests finish, then it exits.
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM')
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
    })
  }
} else {
  const app = buildBlog({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })
  const id = cluster.worker?.id ?? 0
  app.addHook('onSend', async (_req, reply) => { reply.header('x-worker', String(id)) })
  app.get('/_worker', async () => ({ worker: id, pid: process.pid, sessions: app.spdy.sessions().length }))
  const ticketKeys = process.env.FASTIFY_SPDY_TICKET_KEY !== undefined ? [Buffer.from(process.env.FASTIFY_SPDY_TICKET_KEY, 'hex')] : undefined
  await app.register(spdy, {
    port: spdyPort,
    tls: useTls ? { ...await ensureCertificate(host), ticketKeys } : false
  })
  await app.listen({ port, host })
  process.send?.({ ready: true })
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
