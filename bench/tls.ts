/**
 * TLS engine vs Node's native TLS, same certificate (RSA 2048), same suite (ECDHE-RSA-AES128-GCM-SHA256, x25519),
 * same load generator (Node's tls client) in one run:
 *   - full handshakes/s (new connection, handshake, destroy; CONCURRENCY in flight),
 *   - resumed handshakes/s (RFC 5077 ticket from a first connection),
 *   - bulk MB/s (server -> client, 64 KB application writes, one connection).
 * Server and load generator are separate processes pinned to different cores:
 *
 *   npx tsx bench/tls.ts [seconds-per-case]
 *
 * (spawns `taskset -c 0` servers and a `taskset -c 1` client itself). Writes its section of bench/RESULTS.md.
 */
import { spawn } from 'node:child_process'
import * as net from 'node:net'
import * as tls from 'node:tls'
import { loadCertificate, generateSelfSigned } from '../lib/tls/certificates'
import { TlsServerConnection, TlsServerOptions } from '../lib/tls/server'
import { machine, writeSection } from './results'

const SUITE = 'ECDHE-RSA-AES128-GCM-SHA256'
const CONCURRENCY = 8
const BULK_CHUNK = 64 * 1024

// ---- server role (child process) ----

/** Both servers speak the same tiny protocol: "BULK <n>\n" -> n bytes then close; anything else is ignored. */
const bulkRequest = (b: Uint8Array): number | null => {
  const m = /^BULK (\d+)\n/.exec(Buffer.from(b).toString('latin1'))
  return m === null ? null : Number(m[1])
}
const chunk = Buffer.alloc(BULK_CHUNK, 0x61)

/** Write `n` bytes through `send`, waiting for the socket to drain so memory stays flat. */
const pump = (socket: net.Socket, n: number, send: (b: Buffer) => boolean, end: () => void): void => {
  let left = n
  const go = (): void => {
    while (left > 0) {
      const len = Math.min(left, BULK_CHUNK)
      left -= len
      if (!send(len === BULK_CHUNK ? chunk : chunk.subarray(0, len))) { socket.once('drain', go); return }
    }
    end()
  }
  go()
}

const runServer = (kind: string, cert: string, key: string): void => {
  let server: net.Server
  if (kind === 'native') {
    server = tls.createServer({ cert, key, ciphers: SUITE, maxVersion: 'TLSv1.2' }, (s) => {
      s.on('error', () => {})
      s.once('data', (b) => {
        const n = bulkRequest(b)
        if (n !== null) pump(s, n, (c) => s.write(c), () => s.end())
      })
    })
  } else {
    const opts: TlsServerOptions = { certificates: [loadCertificate({ cert, key })] }
    server = net.createServer((socket) => {
      socket.setNoDelay(true)
      socket.on('error', () => {})
      const conn = new TlsServerConnection(opts, Date.now())
      // zero-copy flush: the records' own buffers, written as one writev
      const flush = (): boolean => {
        const chunks = conn.takeOutboundChunks()
        if (chunks.length === 0) return true
        socket.cork()
        let ok = true
        for (const c of chunks) ok = socket.write(c)
        socket.uncork()
        return ok
      }
      socket.on('data', (b) => {
        for (const e of conn.receive(b, Date.now())) {
          if (e.type === 'data') {
            const n = bulkRequest(e.data)
            if (n !== null) pump(socket, n, (c) => { conn.write(c); return flush() }, () => { conn.close(); flush(); socket.end() })
          } else if (e.type === 'error' || e.type === 'close') { flush(); socket.destroy(); return }
        }
        flush()
      })
    })
  }
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`))
}

// ---- client role (child process): prints one JSON line of results ----

const runClient = async (port: number, ca: string, seconds: number): Promise<void> => {
  const base: tls.ConnectionOptions = { port, host: '127.0.0.1', ca, servername: 'localhost', ciphers: SUITE, maxVersion: 'TLSv1.2' }
  const handshakes = async (session: Buffer | undefined): Promise<{ rate: number, reused: number }> => {
    let done = 0
    let reused = 0
    const end = Date.now() + seconds * 1000
    const start = process.hrtime.bigint()
    const worker = async (): Promise<void> => {
      while (Date.now() < end) {
        await new Promise<void>((resolve, reject) => {
          const s = tls.connect({ ...base, session }, () => {
            if (s.getCipher().name !== SUITE) reject(new Error(`suite ${s.getCipher().name}`))
            if (s.isSessionReused()) reused++
            done++
            s.destroy()
            resolve()
          })
          s.on('error', reject)
        })
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    return { rate: done / (Number(process.hrtime.bigint() - start) / 1e9), reused: reused / Math.max(1, done) }
  }
  const full = await handshakes(undefined)
  const session = await new Promise<Buffer>((resolve, reject) => {
    const s = tls.connect(base)
    s.once('session', (sess: Buffer) => { resolve(sess); s.destroy() })
    s.on('error', reject)
  })
  const resumed = await handshakes(session)
  const bulk = async (bytes: number): Promise<number> => await new Promise((resolve, reject) => {
    let got = 0
    let start = 0n
    const s = tls.connect(base, () => { start = process.hrtime.bigint(); s.write(`BULK ${bytes}\n`) })
    s.on('data', (b: Buffer) => { got += b.length })
    s.on('end', () => {
      if (got !== bytes) reject(new Error(`got ${got} of ${bytes}`))
      resolve(bytes / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9))
    })
    s.on('error', reject)
  })
  await bulk(32e6) // warm-up
  const mbs: number[] = []
  const endBulk = Date.now() + seconds * 1000
  while (Date.now() < endBulk || mbs.length < 3) mbs.push(await bulk(256e6))
  process.stdout.write(JSON.stringify({ full: full.rate, resumed: resumed.rate, reusedShare: resumed.reused, bulk: Math.max(...mbs) }) + '\n')
}

// ---- orchestrator ----

const child = (core: number, args: string[]): ReturnType<typeof spawn> =>
  spawn('taskset', ['-c', String(core), process.execPath, '--import', 'tsx', __filename, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
const firstLine = async (p: ReturnType<typeof spawn>): Promise<string> => await new Promise((resolve, reject) => {
  let buf = ''
  p.stdout?.on('data', (b: Buffer) => { buf += b.toString(); const i = buf.indexOf('\n'); if (i >= 0) resolve(buf.slice(0, i)) })
  p.on('exit', (code) => reject(new Error(`child exited ${String(code)}`)))
})

interface Figures { full: number, resumed: number, reusedShare: number, bulk: number }

const main = async (): Promise<void> => {
  const [role, ...rest] = process.argv.slice(2)
  if (role === 'server') { runServer(rest[0], Buffer.from(rest[1], 'base64').toString(), Buffer.from(rest[2], 'base64').toString()); return }
  if (role === 'client') { await runClient(Number(rest[0]), Buffer.from(rest[1], 'base64').toString(), Number(rest[2])); return }
  const seconds = Number(role ?? 5)
  const { cert, key } = generateSelfSigned({ commonName: 'localhost', keyType: 'rsa' })
  const b64 = (s: string): string => Buffer.from(s).toString('base64')
  const results: Record<string, Figures> = {}
  for (const kind of ['native', 'ours']) {
    const srv = child(0, ['server', kind, b64(cert), b64(key)])
    const port = await firstLine(srv)
    const cl = child(1, ['client', port, b64(cert), String(seconds)])
    results[kind] = JSON.parse(await firstLine(cl)) as Figures
    srv.kill()
    console.log(kind, results[kind])
  }
  const n = results.native
  const o = results.ours
  const row = (name: string, a: number, b: number, unit: string): string => `| ${name} | ${a.toFixed(0)} ${unit} | ${b.toFixed(0)} ${unit} | ${(b / a).toFixed(2)}x |`
  const table = [
    '| case | Node native TLS | lib/tls | ratio |',
    '|---|---|---|---|',
    row('full handshakes', n.full, o.full, '/s'),
    row('resumed handshakes (ticket)', n.resumed, o.resumed, '/s'),
    row('bulk server -> client', n.bulk, o.bulk, 'MB/s')
  ].join('\n')
  console.log(table)
  if (o.reusedShare < 0.99 || n.reusedShare < 0.99) console.log(`warning: reused share native ${n.reusedShare} ours ${o.reusedShare}`)
  writeSection('tls', `## TLS engine (lib/tls) vs Node's native TLS

Command: \`npx tsx bench/tls.ts ${seconds}\` (${seconds} s per case; ${machine()}). Servers run pinned with
\`taskset -c 0\`, the load generator (Node's tls client, ${CONCURRENCY} connections in flight for handshakes) with
\`taskset -c 1\`; same RSA-2048 certificate and suite ${SUITE} (x25519) on both sides. Bulk: best of several
256 MB server -> client transfers, 64 KB application writes. Resumed: every connection presents the ticket of a
first connection (reused share: native ${(n.reusedShare * 100).toFixed(0)}%, ours ${(o.reusedShare * 100).toFixed(0)}%).
The machine is shared with other jobs: read the ratios, not the absolute figures.

${table}`)
}

main().catch((err) => { console.error(err); process.exit(1) })
