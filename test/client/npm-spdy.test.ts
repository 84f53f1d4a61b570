/**
 * lib/client against an implementation we did not write: npm `spdy` (spdy-transport) as the server, over plain
 * TCP for SPDY/2, 3 and 3.1, and over Node's TLS with ALPN. A page with two pushed resources (res.push) and a
 * 300 KB body (beyond the 64 KB windows, so WINDOW_UPDATEs must flow both ways), a POST body echoed back.
 */
import t from 'tap'
import http from 'node:http'
import type net from 'node:net'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { connect } from '../../lib/client'

interface PushRes { end (b: string): void }
type SpdyRes = http.ServerResponse & { push?: (path: string, opts: { request?: Record<string, string>, response?: Record<string, string> }) => PushRes }
// eslint-disable-next-line @typescript-eslint/no-require-imports
const npmSpdy = require('spdy') as { createServer (o: unknown, h: (req: http.IncomingMessage, res: SpdyRes) => void): http.Server }

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
const BIG = 'q'.repeat(300_000)

function handler (req: http.IncomingMessage, res: SpdyRes): void {
  if (req.url === '/page') {
    for (const [path, body] of [['/a.css', 'a{}'], ['/b.js', 'b()']]) {
      const stream = res.push?.(path, { request: { accept: '*/*' }, response: { 'content-type': 'text/plain' } })
      stream?.end(body)
    }
    res.end('page')
    return
  }
  if (req.url === '/big') { res.end(BIG); return }
  let body = ''
  req.on('data', (c: Buffer) => { body += c.toString() })
  req.on('end', () => { res.setHeader('x-method', req.method ?? ''); res.end(`echo ${body}`) })
}

async function listen (server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as net.AddressInfo).port
}

async function exercise (t: typeof import('tap').Test.prototype, client: Awaited<ReturnType<typeof connect>>): Promise<void> {
  const page = await client.request({ path: '/page' })
  t.equal(page.status, 200)
  t.equal(page.body.toString(), 'page')
  t.same(page.pushes.map((p) => [p.path, p.status, p.body.toString()]).sort(), [['/a.css', 200, 'a{}'], ['/b.js', 200, 'b()']], 'both pushes with their bodies')
  const big = await client.request({ path: '/big' })
  t.equal(big.body.toString(), BIG, '300 KB body intact')
  const echo = await client.request({ method: 'POST', path: '/echo', body: 'x'.repeat(200_000) })
  t.equal(echo.headers['x-method'], 'POST')
  t.equal(echo.body.length, 'echo '.length + 200_000, '200 KB upload went through')
}

for (const version of [2, 3, 3.1] as const) {
  t.test(`plain spdy/${version}`, async (t) => {
    // Plain mode has no NPN: npm spdy hands the socket over as 'spdy' and spdy-transport reads 2 or 3 from the
    // first frame; with autoSpdy31 our stream-0 WINDOW_UPDATE (sent right after SETTINGS) switches it to 3.1.
    const server = npmSpdy.createServer({ spdy: { plain: true, ssl: false, connection: { autoSpdy31: version === 3.1 } } }, handler)
    const port = await listen(server)
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const client = await connect({ host: '127.0.0.1', port, tls: false, version })
    t.teardown(() => client.close())
    await exercise(t, client)
  })
}

t.test('TLS (Node) with ALPN, spdy/3.1 preferred', async (t) => {
  const server = npmSpdy.createServer({ cert, key, spdy: { protocols: ['spdy/3.1', 'spdy/3', 'spdy/2', 'http/1.1'] } }, handler)
  const port = await listen(server)
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const client = await connect({ host: '127.0.0.1', port, tls: true, ca: cert, negotiation: 'alpn' })
  t.teardown(() => client.close())
  t.equal(client.negotiated, 'spdy/3.1')
  t.equal(client.negotiatedBy, 'alpn')
  await exercise(t, client)
})
