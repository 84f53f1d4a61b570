/**
 * The demo: the blog over plain HTTP (every response advertises SPDY through Alternate-Protocol) and over SPDY on a
 * second port. Configuration is optional: PORT, SPDY_PORT, HOST, and SPDY_TLS=0 for plain SPDY. With PORT=0 or
 * SPDY_PORT=0 the system picks the port; the URLs printed once listening show the ports bound.
 *   npm start
 */
import spdy from 'fastify-spdy'
import { buildBlog, pageAssets } from './blog.mjs'
import { ensureCertificate } from './certificate.mjs'

const port = Number(process.env.PORT ?? 8080)
const spdyPort = Number(process.env.SPDY_PORT ?? 8443)
const host = process.env.HOST ?? '127.0.0.1'
const useTls = process.env.SPDY_TLS !== '0'

const app = buildBlog({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })
await app.register(spdy, {
  port: spdyPort,
  tls: useTls ? await ensureCertificate(host) : false
})
await app.listen({ port, host })
const shown = host.includes(':') ? `[${host}]` : host
process.stdout.write(`\nfastify-spdy demo blog (${pageAssets().length} assets per page)\n` +
  `  HTTP:  http://${shown}:${app.server.address() !== null && typeof app.server.address() === 'object' ? (app.server.address() as { port: number }).port : port}/\n` +
  `  SPDY:  ${useTls ? 'https' : 'spdy'}://${shown}:${app.spdy.port}/  (${useTls ? 'TLS with NPN/ALPN; HTTP/1.1 fallback on the same port' : 'plain SPDY'})\n\n`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
