/**
 * Benchmark servers, one per process so each can be pinned to its own core:
 *   tsx bench/servers.ts <kind>     prints `READY <port>` when listening, exits on SIGTERM.
 * Every kind serves the same route (GET /small -> 11-byte text body) so only the protocol stack differs.
 */
import http from 'node:http'
import Fastify from 'fastify'
import spdy from '../lib/index'

const BODY = 'hello world'
const kind = process.argv[2]

async function main (): Promise<number> {
  switch (kind) {
    case 'fastify-http1': {
      const app = Fastify()
      app.get('/small', async () => BODY)
      await app.listen({ port: 0, host: '127.0.0.1' })
      return (app.server.address() as { port: number }).port
    }
    case 'fastify-spdy': {
      const app = Fastify()
      await app.register(spdy, { tls: false, port: 0, alternateProtocol: false, maxConcurrentStreams: 1000 })
      app.get('/small', async () => BODY)
      await app.listen({ port: 0, host: '127.0.0.1' })
      return app.spdy.port!
    }
    case 'npm-spdy': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const npmSpdy = require('spdy') as { createServer (o: unknown, h: http.RequestListener): http.Server }
      const server = npmSpdy.createServer({ spdy: { plain: true, ssl: false, protocols: ['spdy/3.1', 'spdy/3', 'spdy/2'] } }, (_req, res) => {
        res.setHeader('content-type', 'text/plain; charset=utf-8')
        res.end(BODY)
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      return (server.address() as { port: number }).port
    }
    default:
      throw new Error(`unknown server kind ${kind}; one of fastify-http1, fastify-spdy, npm-spdy`)
  }
}

main().then((port) => {
  process.stdout.write(`READY ${port}\n`)
  process.on('SIGTERM', () => process.exit(0))
}, (err) => { console.error(err); process.exit(1) })
