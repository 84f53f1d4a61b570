/**
 * A small SPDY load generator built on our own session engine (client role), over plain TCP:
 *   tsx bench/spdy-load.ts --port P [--version 3.1] [--connections 1] [--streams 100] [--seconds 5] [--path /small]
 * Keeps `streams` requests in flight on each connection; prints one JSON line: { requests, seconds, rps, errors }.
 */
import net from 'node:net'
import { SpdySession } from '../lib/session/session'
import { requestHeaderList, replyStatus } from '../lib/session/headers'
import type { SpdyVersion } from '../lib/codec/types'

function arg (name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : dflt
}

const port = Number(arg('port', '0'))
const version = Number(arg('version', '3.1')) as SpdyVersion
const connections = Number(arg('connections', '1'))
const streams = Number(arg('streams', '100'))
const seconds = Number(arg('seconds', '5'))
const path = arg('path', '/small')

let done = 0
let errors = 0
let measuring = false

function runConnection (deadline: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    const session = new SpdySession({ role: 'client', version, maxConcurrentStreams: 1000, initialWindowSize: 1 << 20 }, Date.now())
    const headers = requestHeaderList(version, { method: 'GET', path, authority: `127.0.0.1:${port}`, scheme: 'http' }, { 'user-agent': 'fastify-spdy-bench' })
    let inflight = 0
    let stopping = false
    const flush = (): void => {
      const out = session.takeOutbound()
      if (out.length === 1) socket.write(out[0])
      else if (out.length > 1) socket.write(Buffer.concat(out))
    }
    const fill = (): void => {
      while (!stopping && inflight < streams) {
        if (session.request(headers, { fin: true }) === 0) break
        inflight++
      }
    }
    socket.on('connect', () => { fill(); flush() })
    socket.on('data', (chunk) => {
      for (const ev of session.receive(chunk, Date.now())) {
        if (ev.type === 'response' && replyStatus(version, ev.headers) !== 200) errors++
        if ((ev.type === 'data' && ev.fin) || (ev.type === 'response' && ev.fin)) {
          inflight--
          if (measuring) done++
          if (ev.type === 'data' && ev.data.length > 0) session.consume(ev.streamId, ev.data.length)
        } else if (ev.type === 'data') {
          session.consume(ev.streamId, ev.data.length)
        } else if (ev.type === 'streamReset') {
          inflight--
          errors++
        }
      }
      if (Date.now() >= deadline) stopping = true
      fill()
      flush()
      if (stopping && inflight === 0) { socket.end(); resolve() }
    })
    socket.on('error', () => { errors++; resolve() })
    socket.on('close', () => resolve())
  })
}

async function main (): Promise<void> {
  // One second of warm-up (JIT, zlib contexts) before counting.
  const start = Date.now()
  const warm = start + 1000
  const end = warm + seconds * 1000
  setTimeout(() => { measuring = true }, 1000)
  await Promise.all(Array.from({ length: connections }, () => runConnection(end)))
  const elapsed = (Date.now() - warm) / 1000
  process.stdout.write(JSON.stringify({ requests: done, seconds: elapsed, rps: Math.round(done / elapsed), errors }) + '\n')
}

main().catch((err) => { console.error(err); process.exit(1) })
