/**
 * Makes the seed corpora of test/fuzz/corpus/ from real traffic: the bytes real clients send to the plugin, caught by
 * a relay in front of it. Clients: spdy-transport (SPDY/2, 3 and 3.1 over plain TCP, and 3.1 over Node's TLS with
 * ALPN: GETs, a POST body, a streamed download, a push, PING, GOAWAY) and `openssl s_client -tls1_2` (NPN and ALPN
 * ClientHellos, a few cipher lists, an HTTP/1.1 request over the fallback). Each connection's client-to-server bytes
 * become one seed: plain SPDY ones seed the codec, session and server targets; TLS ones the tls and server targets.
 *
 *   npx tsx test/fuzz/capture.ts      (rewrites the seed-* files; crash inputs the fuzzer kept are left alone)
 */
import net from 'node:net'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { start, stop } from './targets/server'
import { StClient } from '../interop/spdy-transport-peer'

const CORPUS = join(__dirname, 'corpus')

/** A relay to 127.0.0.1:target that hands each connection's client-to-server bytes to `done` when it closes. */
async function relay (target: number, done: (bytes: Buffer) => void): Promise<{ port: number, close: () => Promise<void> }> {
  const server = net.createServer((client) => {
    const chunks: Buffer[] = []
    const upstream = net.connect(target, '127.0.0.1')
    client.on('data', (c: Buffer) => { chunks.push(c); upstream.write(c) })
    upstream.on('data', (c: Buffer) => client.write(c))
    let finished = false
    const finish = (): void => { if (!finished) { finished = true; done(Buffer.concat(chunks)) } client.destroy(); upstream.destroy() }
    client.on('close', finish)
    upstream.on('close', finish)
    client.on('error', finish)
    upstream.on('error', finish)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as net.AddressInfo).port, close: async () => { await new Promise<void>((resolve) => server.close(() => resolve())) } }
}

function save (targets: string[], name: string, bytes: Buffer): void {
  if (bytes.length === 0) return
  const file = `seed-${name}-${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}.bin`
  for (const t of targets) { mkdirSync(join(CORPUS, t), { recursive: true }); writeFileSync(join(CORPUS, t, file), bytes) }
  process.stdout.write(`${name}: ${bytes.length} bytes -> ${targets.join(', ')}\n`)
}

async function spdySession (client: StClient): Promise<void> {
  await client.request({ path: '/?q=1', headers: { 'user-agent': 'seed', cookie: 'a=1' } })
  await client.request({ method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: [1, 2, 3] }) })
  await Promise.all([client.request({ path: '/stream' }), client.request({ path: '/push' }), client.request({ path: '/boom' })])
  await new Promise<void>((resolve) => client.connection.ping(() => resolve()))
  await client.close()
}

async function openssl (port: number, args: string[], input: string): Promise<void> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-servername', 'localhost', '-quiet', ...args], { stdio: ['pipe', 'ignore', 'ignore'] })
  const kill = setTimeout(() => child.kill('SIGKILL'), 10_000)
  // Give the handshake time before the request and the close_notify follow.
  setTimeout(() => child.stdin.end(input), 500)
  await new Promise((resolve) => child.on('close', resolve))
  clearTimeout(kill)
}

async function main (): Promise<void> {
  for (const dir of ['codec', 'session', 'tls', 'server']) {
    mkdirSync(join(CORPUS, dir), { recursive: true })
    for (const f of readdirSync(join(CORPUS, dir))) if (f.startsWith('seed-')) rmSync(join(CORPUS, dir, f))
  }
  const servers = await start()
  const captured = async (target: number, targets: string[], name: string, run: (port: number) => Promise<void>): Promise<void> => {
    let got: (b: Buffer) => void = () => {}
    const bytes = new Promise<Buffer>((resolve) => { got = resolve })
    const r = await relay(target, (b) => got(b))
    await run(r.port)
    save(targets, name, await bytes)
    await r.close()
  }
  for (const version of [2, 3, 3.1] as const) {
    await captured(servers.plain, ['codec', 'session', 'server'], `spdy-transport-v${version}`, async (port) => {
      await spdySession(await StClient.connect({ port, version }))
    })
  }
  await captured(servers.tls, ['tls', 'server'], 'spdy-transport-tls-alpn', async (port) => {
    // The server's certificate is self-signed and made at start: only its bytes matter here, not who it is.
    await spdySession(await StClient.connect({ port, tls: { protocols: ['spdy/3.1', 'http/1.1'], rejectUnauthorized: false } }))
  })
  const http11 = 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
  const runs: Array<[string, string[], string]> = [
    ['openssl-npn', ['-nextprotoneg', 'spdy/3.1,spdy/3,spdy/2'], ''],
    ['openssl-alpn', ['-alpn', 'spdy/3.1,http/1.1'], ''],
    ['openssl-alpn-http11', ['-alpn', 'http/1.1'], http11],
    ['openssl-chacha', ['-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305', '-nextprotoneg', 'spdy/3'], ''],
    ['openssl-aes256', ['-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384', '-alpn', 'spdy/2'], '']
  ]
  for (const [name, args, input] of runs) await captured(servers.tls, ['tls', 'server'], name, async (port) => { await openssl(port, args, input) })
  await stop()
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1) })
