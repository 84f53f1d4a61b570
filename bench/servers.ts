/**
 * Benchmark servers, one per process so each can be pinned to its own core:
 *   tsx bench/servers.ts <kind>     prints `READY <port>` when listening, exits on SIGTERM.
 * Every kind serves the same routes so only the protocol stack differs:
 *   GET /small -> 11-byte text body;  GET /big -> 100 MiB (one preallocated buffer, no per-request copy); GET /big8 -> its first 8 MiB.
 * TLS kinds use one self-signed RSA-2048 certificate made at start (clients do not verify it). The HTTPS/1.1 kinds
 * count the TLS versions their connections negotiated and print them on SIGTERM (`TLS {"TLSv1.3":50}`), so the
 * bench can show which version a load generator it cannot configure (wrk) used; fastify-https1-tls12 is the same
 * server held to TLS 1.2 (maxVersion), since wrk cannot pin a version.
 * js-floor and js-floor-tls are not Fastify and serve only GET /small's answer: see jsFloor().
 */
import http from 'node:http'
import net from 'node:net'
import tls, { type TLSSocket } from 'node:tls'
import Fastify, { type FastifyInstance } from 'fastify'
import type srcPlugin from '../lib/index'
import { generateSelfSigned } from '../lib/tls/certificates'

/**
 * `--dist`: the plugin as it ships (tsc's dist/cjs, what `require('fastify-spdy')` loads) instead of lib/ through
 * tsx's loader; bench/throughput.ts builds and uses it, so CPU per request is that of the code users run.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const spdy = (process.argv.includes('--dist') ? require('../dist/cjs/index.js') : require('../lib/index').default) as typeof srcPlugin

const BODY = 'hello world'
const BIG = Buffer.alloc(100 * 2 ** 20, 0x61)
/** For the --quick smoke run. */
const BIG8 = BIG.subarray(0, 8 * 2 ** 20)
const kind = process.argv[2]

function routes (app: FastifyInstance): void {
  app.get('/small', async () => BODY)
  app.get('/big', async (_req, reply) => reply.type('application/octet-stream').send(BIG))
  app.get('/big8', async (_req, reply) => reply.type('application/octet-stream').send(BIG8))
}

const cert = (): { cert: string, key: string } => generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'], keyType: 'rsa' })

/** TLS versions negotiated, per version name: printed at exit. */
const tlsVersions: Record<string, number> = {}

async function fastify (app: FastifyInstance): Promise<number> {
  routes(app)
  app.server.on('secureConnection', (s: TLSSocket) => {
    const v = s.getProtocol() ?? 'unknown'
    tlsVersions[v] = (tlsVersions[v] ?? 0) + 1
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as { port: number }).port
}

/** The end of an HTTP/1.1 request head (RFC 9112 section 2.1: the empty line after the header fields). */
const HEAD_END = Buffer.from('\r\n\r\n')
/** /small's answer as one canned keep-alive response: the same 11-byte body, the headers Fastify's carry that matter. */
const CANNED = Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${BODY.length}\r\nconnection: keep-alive\r\n\r\n${BODY}`)

/**
 * The floor of any JavaScript protocol on a Node socket (issue 14): the least a 'data' consumer can do per request.
 * Each read arrives through Node's JS socket path (onStreamRead -> Readable push -> 'data'); the handler only counts
 * request heads ("\r\n\r\n", also when split across reads) and writes one canned 200 per head, in one write per
 * read. No parser, no Fastify, no request object: what it costs per request under a client that writes in pieces is
 * per-read cost no JS protocol implementation avoids (Node's own HTTP/1.1 server avoids most of it: its C++ parser
 * consumes the socket). Requests are assumed to be bodiless GETs, as every load in bench/throughput.ts sends.
 */
function jsFloor (socket: net.Socket): void {
  const heads = headCounter(socket)
  socket.setNoDelay(true)
  socket.on('error', () => socket.destroy())
  socket.on('data', heads)
}

/**
 * The request-head counting of jsFloor, one call per read: counts the "\r\n\r\n" in `chunk` (also split across
 * reads) and writes one canned 200 per head, in one write per read.
 */
function headCounter (socket: net.Socket): (chunk: Buffer) => void {
  /** How many bytes of HEAD_END the previous reads ended with (0-3). */
  let carry = 0
  return (chunk) => {
    let heads = 0
    let from = 0
    if (carry > 0) {
      // A head end split across reads: continue the match where the previous read left it.
      let i = 0
      while (carry < 4 && i < chunk.length && chunk[i] === HEAD_END[carry]) { carry++; i++ }
      if (carry === 4) { heads++; from = i; carry = 0 } else if (i === chunk.length) { return } else { carry = 0 }
    }
    for (let at = chunk.indexOf(HEAD_END, from); at >= 0; at = chunk.indexOf(HEAD_END, from)) { heads++; from = at + 4 }
    // Keep the longest tail of this read that begins HEAD_END ("\r", "\r\n", "\r\n\r").
    for (let n = Math.min(3, chunk.length - from); n > 0; n--) {
      if (HEAD_END.compare(chunk, chunk.length - n, chunk.length, 0, n) === 0) { carry = n; break }
    }
    if (heads === 1) socket.write(CANNED)
    else if (heads > 1) socket.write(Buffer.concat(new Array<Buffer>(heads).fill(CANNED)))
  }
}

/** One read buffer for every js-floor-onread socket: each read is consumed before its callback returns. */
const FLOOR_READ_BUFFER = Buffer.allocUnsafe(64 * 1024)

/**
 * js-floor on net.Socket's `onread` option (Node >= 12, net docs): reads land in one reused buffer and a callback
 * gets (nread, buffer): no Buffer per read, no Readable push, no 'data' emit. net.Server cannot give an accepted
 * socket that option, so the server pauses each accepted socket before its first read (pauseOnConnect) and a new
 * net.Socket takes over its handle with `onread` (Node's own net.Socket constructor accepts `handle`). Each read is
 * copied out of the shared buffer (Buffer.from: a slice of Node's 8 KiB pool below 4 KiB), as a protocol that keeps
 * views of its input must: that copy is part of what this variant measures.
 */
function jsFloorOnread (accepted: net.Socket): void {
  const handle = (accepted as unknown as { _handle: unknown })._handle
  ;(accepted as unknown as { _handle: unknown })._handle = null
  let heads: (chunk: Buffer) => void = () => {}
  const socket = new net.Socket({
    handle,
    onread: { buffer: FLOOR_READ_BUFFER, callback: (n: number, buf: Uint8Array) => { heads(Buffer.from(buf.subarray(0, n))) } }
  } as net.SocketConstructorOpts)
  heads = headCounter(socket)
  socket.setNoDelay(true)
  socket.on('error', () => socket.destroy())
  socket.on('end', () => socket.end())
  accepted.destroy()
}

async function listenFloor (server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

async function main (): Promise<number> {
  switch (kind) {
    case 'fastify-http1': return await fastify(Fastify())
    case 'fastify-https1': return await fastify(Fastify({ https: cert() }))
    case 'fastify-https1-tls12': return await fastify(Fastify({ https: { ...cert(), maxVersion: 'TLSv1.2' } }))
    // The HTTP/2 instances differ from the HTTP/1 one only in their raw server types; the routes use none of them.
    case 'fastify-h2c': return await fastify(Fastify({ http2: true }) as unknown as FastifyInstance)
    case 'fastify-h2': return await fastify(Fastify({ http2: true, https: cert() }) as unknown as FastifyInstance)
    case 'fastify-spdy':
    case 'fastify-spdy-tls':
    // Every TLS client on our own engine (ALPN-only clients otherwise get OpenSSL): bench/hostile.ts's TLS attacks.
    case 'fastify-spdy-tls-engine': {
      const app = Fastify()
      const tls = kind === 'fastify-spdy' ? false : kind === 'fastify-spdy-tls' ? cert() : { ...cert(), openssl: false }
      await app.register(spdy, { tls, port: 0, alternateProtocol: false, maxConcurrentStreams: 1000 })
      routes(app)
      await app.listen({ port: 0, host: '127.0.0.1' })
      return app.spdy.port!
    }
    case 'js-floor': return await listenFloor(net.createServer(jsFloor))
    case 'js-floor-onread': return await listenFloor(net.createServer({ pauseOnConnect: true }, jsFloorOnread))
    case 'js-floor-tls': {
      // node:tls (OpenSSL, TLS 1.2 and 1.3) with ALPN http/1.1, which go-load checks; counted like the HTTPS kinds.
      const server = tls.createServer({ ...cert(), ALPNProtocols: ['http/1.1'] }, (s) => {
        const v = s.getProtocol() ?? 'unknown'
        tlsVersions[v] = (tlsVersions[v] ?? 0) + 1
        jsFloor(s)
      })
      return await listenFloor(server)
    }
    case 'npm-spdy': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const npmSpdy = require('spdy') as { createServer (o: unknown, h: http.RequestListener): http.Server }
      const server = npmSpdy.createServer({ spdy: { plain: true, ssl: false, protocols: ['spdy/3.1', 'spdy/3', 'spdy/2'] } }, (req, res) => {
        if (req.url === '/big' || req.url === '/big8') {
          res.setHeader('content-type', 'application/octet-stream')
          res.end(req.url === '/big' ? BIG : BIG8)
          return
        }
        res.setHeader('content-type', 'text/plain; charset=utf-8')
        res.end(BODY)
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      return (server.address() as { port: number }).port
    }
    default:
      throw new Error(`unknown server kind ${kind}; one of fastify-http1, fastify-https1, fastify-https1-tls12, fastify-h2c, fastify-h2, fastify-spdy, fastify-spdy-tls, fastify-spdy-tls-engine, js-floor, js-floor-onread, js-floor-tls, npm-spdy`)
  }
}

main().then((port) => {
  process.stdout.write(`READY ${port}\n`)
  process.on('SIGTERM', () => {
    if (Object.keys(tlsVersions).length > 0) process.stdout.write(`TLS ${JSON.stringify(tlsVersions)}\n`)
    process.exit(0)
  })
}, (err) => { console.error(err); process.exit(1) })
