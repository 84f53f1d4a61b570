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
const BULK_BYTES = 128e6
interface Result { rate: number, ops: number, reused: number }

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
    // noDelay on both servers: lib/server's listener sets it (SPDY frames must not wait for Nagle), so native gets
    // the same socket option and the comparison is TLS against TLS.
    server = tls.createServer({ cert, key, ciphers: SUITE, maxVersion: 'TLSv1.2', noDelay: true }, (s) => {
      s.on('error', () => {})
      s.once('data', (b) => {
        const n = bulkRequest(b)
        if (n !== null) pump(s, n, (c) => s.write(c), () => s.end())
      })
    })
  } else {
    const opts: TlsServerOptions = { certificates: [loadCertificate({ cert, key })] }
    server = net.createServer({ noDelay: true }, (socket) => {
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
  // The orchestrator reads our CPU time around each phase: CPU per operation is what a shared machine cannot skew.
  process.stdin.on('data', () => { const u = process.cpuUsage(); process.stdout.write(`${u.user + u.system}\n`) })
  process.stdin.on('end', () => process.exit(0))
}

// ---- client role (child process): prints one JSON line of results ----

const runClient = async (port: number, ca: string, seconds: number, phase: string): Promise<void> => {
  const base: tls.ConnectionOptions = { port, host: '127.0.0.1', ca, servername: 'localhost', ciphers: SUITE, maxVersion: 'TLSv1.2' }
  const handshakes = async (session: Buffer | undefined): Promise<Result> => {
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
    return { rate: done / (Number(process.hrtime.bigint() - start) / 1e9), ops: done, reused: reused / Math.max(1, done) }
  }
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
  let r: Result
  if (phase === 'full') r = await handshakes(undefined)
  else if (phase === 'resumed') {
    const session = await new Promise<Buffer>((resolve, reject) => {
      const s = tls.connect(base)
      s.once('session', (sess: Buffer) => { resolve(sess); s.destroy() })
      s.on('error', reject)
    })
    r = await handshakes(session)
  } else {
    const mbs: number[] = []
    const endBulk = Date.now() + seconds * 1000
    while (Date.now() < endBulk || mbs.length < 3) mbs.push(await bulk(BULK_BYTES))
    r = { rate: Math.max(...mbs), ops: mbs.length * BULK_BYTES / 1e6, reused: 1 }
  }
  process.stdout.write(JSON.stringify(r) + '\n')
}

// ---- orchestrator ----

const child = (core: number, args: string[]): ReturnType<typeof spawn> =>
  spawn('taskset', ['-c', String(core), process.execPath, '--import', 'tsx', __filename, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
/** Line reader over a child's stdout. */
const lines = (p: ReturnType<typeof spawn>): (() => Promise<string>) => {
  let buf = ''
  const waiting: Array<(l: string) => void> = []
  p.stdout?.on('data', (b: Buffer) => {
    buf += b.toString()
    let i: number
    while ((i = buf.indexOf('\n')) >= 0 && waiting.length > 0) { const l = buf.slice(0, i); buf = buf.slice(i + 1); waiting.shift()?.(l) }
  })
  return async () => await new Promise((resolve) => {
    const i = buf.indexOf('\n')
    if (i >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 1); resolve(l) } else waiting.push(resolve)
  })
}

interface Row { rate: number, cpuPerOp: number, reused: number }

const main = async (): Promise<void> => {
  const [role, ...rest] = process.argv.slice(2)
  if (role === 'server') { runServer(rest[0], Buffer.from(rest[1], 'base64').toString(), Buffer.from(rest[2], 'base64').toString()); return }
  if (role === 'client') { await runClient(Number(rest[0]), Buffer.from(rest[1], 'base64').toString(), Number(rest[2]), rest[3]); return }
  // --quick (npm run bench -- --quick, the smoke test): short phases, nothing written.
  const quick = role === '--quick'
  const seconds = quick ? 0.5 : Number(role ?? 5)
  const { cert, key } = generateSelfSigned({ commonName: 'localhost', keyType: 'rsa' })
  const b64 = (s: string): string => Buffer.from(s).toString('base64')
  const servers: Record<string, { p: ReturnType<typeof spawn>, line: () => Promise<string>, port: string }> = {}
  for (const kind of ['native', 'ours']) {
    const p = child(0, ['server', kind, b64(cert), b64(key)])
    const line = lines(p)
    servers[kind] = { p, line, port: await line() }
  }
  const results: Record<string, Record<string, Row>> = { native: {}, ours: {} }
  // Phases alternate between the two servers so drift in machine load hits both alike.
  for (const phase of ['full', 'resumed', 'bulk']) {
    for (const kind of ['native', 'ours']) {
      const srv = servers[kind]
      srv.p.stdin?.write('cpu\n')
      const cpu0 = Number(await srv.line())
      const cl = child(1, ['client', srv.port, b64(cert), String(seconds), phase])
      const r = JSON.parse(await lines(cl)()) as Result
      srv.p.stdin?.write('cpu\n')
      const cpu1 = Number(await srv.line())
      results[kind][phase] = { rate: r.rate, cpuPerOp: (cpu1 - cpu0) / r.ops, reused: r.reused }
      console.log(kind, phase, results[kind][phase])
    }
  }
  for (const s of Object.values(servers)) s.p.stdin?.end()
  const n = results.native
  const o = results.ours
  const row = (name: string, phase: string, unit: string, cpuUnit: string): string => {
    const a = n[phase]
    const b = o[phase]
    return `| ${name} | ${a.rate.toFixed(0)} ${unit} | ${b.rate.toFixed(0)} ${unit} | ${(b.rate / a.rate).toFixed(2)}x | ` +
      `${a.cpuPerOp.toFixed(0)} | ${b.cpuPerOp.toFixed(0)} | ${(a.cpuPerOp / b.cpuPerOp).toFixed(2)}x | ${cpuUnit} |`
  }
  const table = [
    '| case | native rate | lib/tls rate | rate ratio | native server CPU | lib/tls server CPU | CPU efficiency ratio | CPU unit |',
    '|---|---|---|---|---|---|---|---|',
    row('full handshakes', 'full', '/s', 'us per handshake'),
    row('resumed handshakes (ticket)', 'resumed', '/s', 'us per handshake'),
    row('bulk server -> client', 'bulk', 'MB/s', 'us per MB')
  ].join('\n')
  console.log(table)
  if (quick) return
  writeSection('tls', `## TLS engine (lib/tls) vs Node's native TLS

Command: \`npx tsx bench/tls.ts ${seconds}\` (${seconds} s per case; ${machine()}). Both servers run pinned with
\`taskset -c 0\`, the load generator (Node's tls client; ${CONCURRENCY} connections in flight for handshakes) with
\`taskset -c 1\`; same RSA-2048 certificate and suite ${SUITE} (x25519) on both. Phases alternate between
the two servers. Bulk: best of several ${BULK_BYTES / 1e6} MB server -> client transfers of 64 KB application
writes (lib/tls flushed zero-copy with takeOutboundChunks + cork). Resumed: every connection presents the ticket of a
first connection (reused share: native ${(n.resumed.reused * 100).toFixed(0)}%, lib/tls ${(o.resumed.reused * 100).toFixed(0)}%).
"server CPU" is the server process's user+system time per operation (process.cpuUsage around each phase), the
figure a shared 2-core machine distorts least; the efficiency ratio is native CPU / lib/tls CPU (1.0 = as cheap
as native, higher is cheaper). With one client core, handshake *rates* are bounded by the load generator, so
read the CPU columns for handshakes.

${table}`)
}

main().catch((err) => { console.error(err); process.exit(1) })
