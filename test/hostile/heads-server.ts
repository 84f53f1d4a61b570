/**
 * The server of test/hostile/heads.test.ts, in its own process (not a test file: tap runs *.test.ts only): a plain
 * SPDY app whose onRequest hook records every request it sees, GET /stats reports that list and the RSS.
 * Prints `READY <spdy port>`.
 */
import Fastify from 'fastify'
import spdy from '../../lib/index'

async function main (): Promise<void> {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0, alternateProtocol: false, protocols: ['spdy/3.1', 'spdy/3', 'spdy/2'] })
  const seen: string[] = []
  app.addHook('onRequest', async (req) => { if (req.url !== '/stats') seen.push(`${req.method} ${req.url}`) })
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => { done(null, body) })
  app.all('/ok', async () => 'ok')
  app.post('/up', async (req) => ({ got: req.body }))
  app.get('/stats', async () => ({ rss: process.memoryUsage().rss, seen }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  process.stdout.write(`READY ${app.spdy.port}\n`)
}
main().catch((err) => { console.error(err); process.exit(1) })
