/**
 * TLS engine vs Node's native TLS, same certificate (RSA 2048), same suite (ECDHE-RSA-AES128-GCM-SHA256, x25519),
 * same load generator (Node's tls client) in one run:
 *   - full handshakes/s (new connection, handshake, destroy; CONCURRENCY in flight),
 *   - resumed handshakes/s (RFC 5077 ticket from a first connection),
 *   - bulk MB/s (server -> client, 64 KB application writes, one connection) and upload MB/s (client -> server, the
 *     same writes the other way); lib/tls's records go through node:crypto.
 * Server and load generator are separate processes pinned to different cores:
 *
 *   npx tsx bench/tls.ts [seconds-per-case] [rounds]
 *
 * (spawns `taskset -c 0` servers and a `taskset -c 1` client itself). Writes its section of bench/RESULTS.md.
 */
import { spawn } from 'node:child_process'
import * as crypto from 'node:crypto'
import * as net from 'node:net'
import * as tls from 'node:tls'
import { loadCertificate, generateSelfSigned } from '../lib/tls/certificates'
import { TlsServerConnection, TlsServerOptions } from '../lib/tls/server'
import { AeadState, Suite, suiteById } from '../lib/tls/crypto'
import { WrittenSlabs } from '../lib/tls/outbuf'
import type { TlsEvent } from '../lib/tls/engine'
import { EngineDriver } from '../lib/server/engine-driver'
import { machine, median, writeSection } from './results'

const SUITE = 'ECDHE-RSA-AES128-GCM-SHA256'
const CONCURRENCY = 8
const BULK_CHUNK = 64 * 1024
const BULK_BYTES = 128e6
interface Result { rate: number, ops: number, reused: number }

// ---- server role (child process) ----

/**
 * Both servers speak the same tiny protocol: "BULK <n>\n" -> n bytes then close; "UPLOAD <n>\n" followed by n bytes
 * -> "OK\n" once all arrived; anything else is ignored.
 */
interface BulkRequest { kind: 'BULK' | 'UPLOAD', n: number, headerLength: number }
const bulkRequest = (b: Uint8Array): BulkRequest | null => {
  const m = /^(BULK|UPLOAD) (\d+)\n/.exec(Buffer.from(b.subarray(0, 32)).toString('latin1'))
  return m === null ? null : { kind: m[1] as 'BULK' | 'UPLOAD', n: Number(m[2]), headerLength: m[0].length }
}
/** Server side of UPLOAD: counts what is left, calls `done` when all arrived. */
const uploadCounter = (done: () => void): ((b: Uint8Array) => boolean) => {
  let left = -1
  return (b) => {
    if (left < 0) {
      const r = bulkRequest(b)
      if (r === null || r.kind !== 'UPLOAD') return false
      left = r.n - (b.length - r.headerLength)
    } else {
      left -= b.length
    }
    if (left === 0) { left = -1; done() }
    return true
  }
}
const chunk = Buffer.alloc(BULK_CHUNK, 0x61)

/** Write `n` bytes through `send`, waiting for the socket to drain so memory stays flat. */
const pump = (socket: { once: (event: 'drain', cb: () => void) => unknown } | EngineDriver<TlsEvent>, n: number, send: (b: Buffer) => boolean, end: () => void): void => {
  let left = n
  const go = (): void => {
    while (left > 0) {
      const len = Math.min(left, BULK_CHUNK)
      left -= len
      if (!send(len === BULK_CHUNK ? chunk : chunk.subarray(0, len))) {
        if (socket instanceof EngineDriver) socket.onWritable(go)
        else socket.once('drain', go)
        return
      }
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
      const upload = uploadCounter(() => s.write('OK\n'))
      s.on('data', (b: Buffer) => {
        if (upload(b)) return
        const r = bulkRequest(b)
        if (r !== null && r.kind === 'BULK') pump(s, r.n, (c) => s.write(c), () => s.end())
      })
    })
  } else {
    const opts: TlsServerOptions = { certificates: [loadCertificate({ cert, key })] }
    server = net.createServer({ noDelay: true }, (socket) => {
      const conn = new TlsServerConnection(opts, Date.now())
      // The shared driver (lib/server/engine-driver.ts), with lib/server/tls-layer.ts's zero-copy flush: the
      // records' own buffers, written as one writev, and pooled record buffers given back (lib/tls/outbuf.ts) from
      // the write callback, in write order.
      const slabs = new WrittenSlabs()
      let over = false
      const upload = uploadCounter(() => conn.write(Buffer.from('OK\n')))
      const driver: EngineDriver<TlsEvent> = new EngineDriver(socket, { receive: (b, now) => conn.receive(b, now), tick: (now) => conn.tick(now), get deadline () { return conn.deadline }, takeOutbound: () => conn.takeOutboundChunks() }, {
        written: (chunks) => slabs.track(chunks),
        closed: () => conn.dispose(),
        done: () => over,
        events: (events) => {
          for (const e of events) {
            if (e.type === 'data') {
              if (upload(e.data)) continue
              const r = bulkRequest(e.data)
              if (r !== null && r.kind === 'BULK') {
                pump(driver, r.n, (c) => { conn.write(c); driver.wake(); return !driver.congested }, () => { conn.close(); over = true; driver.wake() })
              }
            } else if (e.type === 'error' || e.type === 'close') over = true
          }
        }
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
  const upload = async (bytes: number): Promise<number> => await new Promise((resolve, reject) => {
    let start = 0n
    const s = tls.connect(base, () => {
      start = process.hrtime.bigint()
      s.write(`UPLOAD ${bytes}\n`)
      let left = bytes
      const go = (): void => {
        while (left > 0) {
          const len = Math.min(left, BULK_CHUNK)
          left -= len
          if (!s.write(len === BULK_CHUNK ? chunk : chunk.subarray(0, len))) { s.once('drain', go); return }
        }
      }
      go()
    })
    s.on('data', (b: Buffer) => {
      if (!b.toString('latin1').startsWith('OK')) { reject(new Error(`unexpected answer ${b.toString('latin1')}`)); return }
      resolve(bytes / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9))
      s.destroy()
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
    while (Date.now() < endBulk || mbs.length < 3) mbs.push(await (phase === 'upload' ? upload : bulk)(BULK_BYTES))
    r = { rate: Math.max(...mbs), ops: mbs.length * BULK_BYTES / 1e6, reused: 1 }
  }
  process.stdout.write(JSON.stringify(r) + '\n')
}

// ---- floor (child process on the server core): what node:crypto costs per MB before any socket is involved ----

interface Floor { seal: number, perRecord: number, setup: number }
const runFloor = (): void => {
  const key = crypto.randomBytes(16)
  const keyObject = crypto.createSecretKey(key)
  const nonce = Buffer.alloc(12)
  const aad = Buffer.alloc(13)
  const mb = Buffer.alloc(1 << 20, 0x61)
  const suite = suiteById.get(0xc02f) as Suite
  const state = new AeadState(suite, key, Buffer.alloc(4))
  /** Best (lowest) CPU us for one MB over 5 runs of 64 MB, after a warm-up. */
  const cpuPerMB = (f: () => void): number => {
    for (let i = 0; i < 16; i++) f()
    let best = Infinity
    for (let r = 0; r < 5; r++) {
      const c0 = process.cpuUsage()
      for (let i = 0; i < 64; i++) f()
      const c = process.cpuUsage(c0)
      best = Math.min(best, (c.user + c.system) / 64)
    }
    return best
  }
  const gcm = (p: Uint8Array): void => {
    const c = crypto.createCipheriv('aes-128-gcm', keyObject, nonce) as crypto.CipherGCM
    c.setAAD(aad)
    c.update(p)
    c.final()
    c.getAuthTag()
  }
  const floor: Floor = {
    // lib/tls's node:crypto record layer alone: 64 records of 2^14 bytes (RFC 5246 section 6.2.1), no socket
    seal: cpuPerMB(() => { for (let o = 0; o < mb.length; o += 16384) state.seal(23, 0x0303, mb.subarray(o, o + 16384)) }),
    // the node:crypto minimum for the same records: one cipher object per record, nothing else
    perRecord: cpuPerMB(() => { for (let o = 0; o < mb.length; o += 16384) gcm(mb.subarray(o, o + 16384)) }),
    // the per-record part of that: cipher object, AAD, final, tag around a 1-byte update, 64 times
    setup: cpuPerMB(() => { for (let o = 0; o < mb.length; o += 16384) gcm(mb.subarray(o, o + 1)) })
  }
  process.stdout.write(JSON.stringify(floor) + '\n')
}

// ---- orchestrator ----

const child = (core: number, args: string[], env: NodeJS.ProcessEnv = process.env): ReturnType<typeof spawn> =>
  spawn('taskset', ['-c', String(core), process.execPath, '--import', 'tsx', __filename, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env })
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
  if (role === 'floor') { runFloor(); return }
  if (role === 'client') { await runClient(Number(rest[0]), Buffer.from(rest[1], 'base64').toString(), Number(rest[2]), rest[3]); return }
  // --quick (npm run bench -- --quick, the smoke test): short phases, nothing written.
  const quick = role === '--quick'
  const seconds = quick ? 0.5 : Number(role ?? 5)
  // Several alternating rounds, medians reported: on a shared 2-core machine one round can move a ratio by 0.2.
  const rounds = quick ? 1 : Number(rest[0] ?? 3)
  const { cert, key } = generateSelfSigned({ commonName: 'localhost', keyType: 'rsa' })
  const b64 = (s: string): string => Buffer.from(s).toString('base64')
  const servers: Record<string, { p: ReturnType<typeof spawn>, line: () => Promise<string>, port: string }> = {}
  for (const kind of ['native', 'ours']) {
    const p = child(0, ['server', kind, b64(cert), b64(key)])
    const line = lines(p)
    servers[kind] = { p, line, port: await line() }
  }
  const samples: Record<string, Record<string, Row[]>> = { native: {}, ours: {} }
  // Phases alternate between the servers so drift in machine load hits all alike.
  for (let round = 0; round < rounds; round++) for (const phase of ['full', 'resumed', 'bulk', 'upload']) {
    const kinds = ['native', 'ours']
    for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
      const srv = servers[kind]
      srv.p.stdin?.write('cpu\n')
      const cpu0 = Number(await srv.line())
      const cl = child(1, ['client', srv.port, b64(cert), String(seconds), phase])
      const r = JSON.parse(await lines(cl)()) as Result
      srv.p.stdin?.write('cpu\n')
      const cpu1 = Number(await srv.line())
      const row = { rate: r.rate, cpuPerOp: (cpu1 - cpu0) / r.ops, reused: r.reused }
      ;(samples[kind][phase] ??= []).push(row)
      console.log(round, kind, phase, row)
    }
  }
  const results: Record<string, Record<string, Row>> = { native: {}, ours: {} }
  for (const kind of ['native', 'ours']) {
    for (const [phase, rows] of Object.entries(samples[kind])) {
      results[kind][phase] = { rate: median(rows.map((x) => x.rate)), cpuPerOp: median(rows.map((x) => x.cpuPerOp)), reused: Math.min(...rows.map((x) => x.reused)) }
    }
  }
  for (const s of Object.values(servers)) s.p.stdin?.end()
  const floor = JSON.parse(await lines(child(0, ['floor']))()) as Floor
  console.log('floor', floor)
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
    row('bulk server -> client', 'bulk', 'MB/s', 'us per MB'),
    row('upload client -> server', 'upload', 'MB/s', 'us per MB')
  ].join('\n')
  console.log(table)
  const f = (x: number): string => x.toFixed(0)
  const floorTable = [
    '| per MB of 16 KB records, server core, no socket | us CPU per MB | share of native\'s whole bulk server CPU |',
    '|---|---|---|',
    `| native TLS server, everything (OpenSSL records, socket writes, kernel TCP), from the table above | ${f(n.bulk.cpuPerOp)} | 1.00 |`,
    `| lib/tls record layer, node:crypto (AeadState.seal, 64 records) | ${f(floor.seal)} | ${(floor.seal / n.bulk.cpuPerOp).toFixed(2)} |`,
    `| node:crypto minimum: createCipheriv + setAAD + update + final + getAuthTag per record | ${f(floor.perRecord)} | ${(floor.perRecord / n.bulk.cpuPerOp).toFixed(2)} |`,
    `| of which per-record setup (same calls around a 1-byte update) | ${f(floor.setup)} | ${(floor.setup / n.bulk.cpuPerOp).toFixed(2)} |`
  ].join('\n')
  console.log(floorTable)
  if (quick) return
  writeSection('tls', `## TLS engine (lib/tls) vs Node's native TLS

Command: \`flock /tmp/bench.lock npx tsx bench/tls.ts ${seconds} ${rounds}\` (${seconds} s per case, ${rounds} rounds, medians; ${machine()}).
Both servers run pinned with \`taskset -c 0\`, the load generator (Node's tls client; ${CONCURRENCY} connections in flight for
handshakes) with \`taskset -c 1\`; same RSA-2048 certificate and suite ${SUITE} (x25519) on both, and the same
socket option (noDelay, as lib/server's listener sets it). Phases alternate between the servers, and the order
flips every round. Bulk: best of several ${BULK_BYTES / 1e6} MB server -> client transfers of 64 KB application writes;
upload: the same from client to server, timed until the server's "OK" after the last byte
(lib/tls flushed as lib/server does: takeOutboundChunks + cork, one writev per flush, pooled record buffers given back from the write callback). Resumed: every connection presents
the ticket of a first connection (reused share: native ${(n.resumed.reused * 100).toFixed(0)}%, lib/tls ${(o.resumed.reused * 100).toFixed(0)}%).
"server CPU" is the server process's user+system time per operation (process.cpuUsage around each phase), the
figure a shared 2-core machine distorts least; the efficiency ratio is native CPU / lib/tls CPU (1.0 = as cheap
as native, higher is cheaper). With one client core, handshake *rates* are bounded by the load generator, so
read the CPU columns for handshakes (and for bulk once the client core is the limit). Other jobs share the machine: single rounds moved ratios by up to 0.2.

${table}

Full handshakes: the profile (\`node --cpu-prof\` on the lib/tls server during the full phase) had x25519 DER
export (SPKI) and DER import of the client's share at ~70 us each, 13% of server CPU; lib/tls/crypto.ts now moves
x25519 keys as JWK (raw u-coordinate), ~1 us and ~5 us. What is left is the same work native does: the RSA-2048
signature (~250 us, over half of our handshake CPU), x25519 key generation and derivation (~35 us each), then
socket and stream plumbing. The PRF (HMAC per block, ~8 us per call) and Finished/ticket work are a few percent.

Bulk: what sealing records costs per MB, measured in the same run on the server core (best of 5 x 64 MB, no socket):

${floorTable}

TLS 1.2 AEAD takes a fresh nonce per record (RFC 5288 section 3, RFC 7905 section 2) and node:crypto cannot re-key
or re-nonce a cipher object, so on the node:crypto path every 16 KB record pays a new cipher object, AAD, final and
tag, and \`update\` hands back a freshly allocated buffer (input length + 1, then reallocated and copied to the exact
length). Those calls alone cost ${Math.round(100 * floor.perRecord / n.bulk.cpuPerOp)}% of the CPU native's entire server spends per MB; with the socket writes both
servers pay (~300 us per MB) and the garbage collection of three buffers and a cipher object per record, that path
stays near ${(n.bulk.cpuPerOp / o.bulk.cpuPerOp).toFixed(2)}x native's CPU (bulk row of the first table), whatever our own JS does.

Why no native record layer: since the TLS split (lib/server/tls-select.ts) every ALPN and TLS 1.3 client is served
by OpenSSL through node:tls, and lib/tls serves only NPN clients (SPDY-era software and a few tools) and, with
\`tls.legacy\`, pre-1.2 ones. An optional C addon (one OpenSSL context per direction, records sealed into pooled
slabs) once brought bulk to ~1x native's CPU; issue 12 ("No C at install") removed it so that \`npm install\`
compiles nothing. node:crypto cannot write into a caller's buffer (\`update\` always returns a new one), so
sealing into the pooled slabs of lib/tls/outbuf.ts would add a 64 KB copy per write: the node:crypto path writes
each record's own buffers (header, ciphertext, tag) as one writev instead.
Upload (client -> server) is the receive side: TlsEngine.receive owns the bytes the socket read and parses whole
records where they lie; only a record cut by a read is copied, once, into a buffer of its own size. Before that,
every read was joined to the previous read's tail (a copy of the whole 64 KB read).
Checked and rejected earlier by measurement: joining each flush into one buffer on the node:crypto path (the 64 KB
copy costs more than the writev entries it saves) and ChaCha20-Poly1305 first (~10% slower than AES-128-GCM on this
AES-NI/VAES CPU).`)
}

main().catch((err) => { console.error(err); process.exit(1) })
