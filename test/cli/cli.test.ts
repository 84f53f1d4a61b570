/**
 * `fastify-spdy get` as a child process (through tsx, as a user runs it from a checkout; and once compiled, as npm
 * installs it): output and exit status for a success over each negotiation and over plain SPDY, and for each
 * failure: refused port, TLS servers (Node's, with ALPN; openssl s_server, with NPN) offering only http/1.1 or no
 * protocol at all, an untrusted CA and a name mismatch, a server that answers with garbage (plain and inside TLS),
 * a silent server, bad usage.
 */
import t from 'tap'
import net from 'node:net'
import tls from 'node:tls'
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned, loadCertificate } from '../../lib/tls/certificates'
import { startServer } from '../tls/harness'

const ROOT = resolve(__dirname, '../..')
const MAIN = join(ROOT, 'lib/cli/main.ts')
const EXIT = { ok: 0, usage: 2, connect: 3, certificate: 4, noProtocol: 6, protocol: 7, timeout: 8, tooLarge: 10 }

// About 20 CLI processes through tsx and one tsc build: minutes, not seconds, on a busy 2-core CI machine.
t.setTimeout(300_000)

interface Run { code: number, stdout: string, stderr: string }

function cli (args: string[], entry: string[] = ['--import', 'tsx', MAIN]): Promise<Run> {
  return new Promise((resolve) => {
    // A generous kill switch: a hung CLI fails the test instead of hanging it (the CLI's own --timeout is shorter).
    execFile(process.execPath, [...entry, ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

const dir = mkdtempSync(join(tmpdir(), 'fastify-spdy-cli-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const good = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
const other = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
const elsewhere = generateSelfSigned({ commonName: 'elsewhere.example', altNames: ['elsewhere.example'] })
const caFile = join(dir, 'ca.pem')
const otherCaFile = join(dir, 'other.pem')
const elsewhereCaFile = join(dir, 'elsewhere.pem')
writeFileSync(caFile, good.cert)
writeFileSync(otherCaFile, other.cert)
writeFileSync(elsewhereCaFile, elsewhere.cert)

async function plugin (useTls: boolean, cert = good): Promise<ReturnType<typeof Fastify>> {
  const app = Fastify()
  await app.register(spdy, { tls: useTls ? cert : false, port: 0 })
  app.get('/', { config: { spdy: { push: ['/style.css', '/app.js'] } } }, async (req, reply) => {
    reply.header('x-seen-ua', String(req.headers['user-agent'])).header('x-custom', String(req.headers['x-custom'] ?? ''))
    return `hello over SPDY/${req.spdy?.version}\n`
  })
  app.get('/style.css', async (_req, reply) => { reply.type('text/css'); return 'body { color: teal }' })
  app.get('/app.js', async (_req, reply) => { reply.type('text/javascript'); return 'console.log(1)' })
  app.put('/echo', async (req) => `${req.method} ${String(req.body)}`)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

t.test('success', async (t) => {
  const app = await plugin(true)
  const plain = await plugin(false)
  t.teardown(async () => { await app.close(); await plain.close() })
  const port = app.spdy.port!

  t.test('TLS, both offered (ALPN wins): -i prints status and headers, pushes listed on stderr', async (t) => {
    const r = await cli(['get', '-i', '-H', 'x-custom: 42', '--cacert', caFile, `https://localhost:${port}/`])
    t.equal(r.code, EXIT.ok, r.stderr)
    t.match(r.stdout, /^SPDY\/3\.1 200 OK\n/)
    t.match(r.stdout, /\ncontent-type: text\/plain; charset=utf-8\n/)
    t.match(r.stdout, /\nx-seen-ua: fastify-spdy-cli\n/)
    t.match(r.stdout, /\nx-custom: 42\n/, '-H reached the route')
    t.match(r.stdout, /\n\nhello over SPDY\/3\.1\n$/)
    t.match(r.stderr, `* pushed https://localhost:${port}/style.css 200 20 bytes`)
    t.match(r.stderr, `* pushed https://localhost:${port}/app.js 200 14 bytes`)
  })

  for (const [flag, version, by] of [['--npn', '2', 'NPN'], ['--alpn', '3', 'ALPN'], ['--npn', '3.1', 'NPN']] as const) {
    t.test(`${flag} --spdy ${version} -v`, async (t) => {
      const r = await cli(['get', flag, '--spdy', version, '-v', '--cacert', caFile, `https://127.0.0.1:${port}/`])
      t.equal(r.code, EXIT.ok, r.stderr)
      t.equal(r.stdout, `hello over SPDY/${version}\n`, 'body only without -i')
      t.match(r.stderr, `* TLSv1.2 `)
      t.match(r.stderr, `${by} chose spdy/${version}, False Start\n`, 'False Start is on by default')
      t.match(r.stderr, /^> SYN_STREAM stream=1 pri=\d flags=FIN headers=\d+ \(\d+ bytes\)$/m)
      t.match(r.stderr, version === '2' ? /^> {4}url: \/$/m : /^> {4}:path: \/$/m, 'request headers shown')
      t.match(r.stderr, /^< SYN_STREAM stream=2 assoc=1 pri=\d flags=UNIDIRECTIONAL/m, 'pushed stream shown')
      t.match(r.stderr, /^< SYN_REPLY stream=1 headers=\d+/m)
      t.match(r.stderr, /^< DATA stream=1 flags=FIN length=\d+$/m)
      t.match(r.stderr, /^< SETTINGS MAX_CONCURRENT_STREAMS=100/m)
      t.match(r.stderr, /^> GOAWAY last-good-stream=\d+ status=OK$/m)
    })
  }

  t.test('--openssl -v: TLS 1.3 from OpenSSL on both ends, ALPN spdy/3.1, pushes', async (t) => {
    const r = await cli(['get', '--openssl', '-v', '--cacert', caFile, `https://localhost:${port}/`])
    t.equal(r.code, EXIT.ok, r.stderr)
    t.equal(r.stdout, 'hello over SPDY/3.1\n')
    t.match(r.stderr, /^\* TLSv1\.3 TLS_\S+, ALPN chose spdy\/3\.1\n/m)
    t.match(r.stderr, `* pushed https://localhost:${port}/style.css 200 20 bytes`)
  })

  t.test('--no-false-start -v', async (t) => {
    const r = await cli(['get', '--no-false-start', '-v', '--cacert', caFile, `https://127.0.0.1:${port}/`])
    t.equal(r.code, EXIT.ok, r.stderr)
    t.match(r.stderr, /ALPN chose spdy\/3\.1\n/, 'no False Start in the TLS line')
  })

  t.test('plain SPDY: spdy:// and --plain with http://, -X and -d', async (t) => {
    const a = await cli(['get', '-X', 'PUT', '-d', 'payload', '-H', 'content-type: text/plain', `spdy://127.0.0.1:${plain.spdy.port}/echo`])
    t.equal(a.code, EXIT.ok, a.stderr)
    t.equal(a.stdout, 'PUT payload')
    const b = await cli(['get', '--plain', '--spdy', '2', '-i', `http://127.0.0.1:${plain.spdy.port}/`])
    t.equal(b.code, EXIT.ok, b.stderr)
    t.match(b.stdout, /^SPDY\/2 200 OK\n[\s\S]*\n\nhello over SPDY\/2\n$/)
    t.match(b.stderr, `* pushed http://127.0.0.1:${plain.spdy.port}/style.css 200 20 bytes`)
  })

  t.test('the compiled CLI (what the package.json bin points at) keeps its shebang and runs', async (t) => {
    // Compiled into node_modules/.cache (gitignored, and node_modules resolves from there), not dist, which other
    // tests and the demo read.
    const out = join(ROOT, 'node_modules', '.cache', `fastify-spdy-cli-${process.pid}`)
    t.teardown(() => rmSync(out, { recursive: true, force: true }))
    const tsc = await new Promise<Run>((resolve) => execFile(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out, '--declaration', 'false', '--sourceMap', 'false'], { cwd: ROOT }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : 1, stdout, stderr })))
    t.equal(tsc.code, 0, tsc.stdout + tsc.stderr)
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }
    t.equal(pkg.bin['fastify-spdy'], 'dist/cjs/cli/main.js')
    const built = join(out, 'cli', 'main.js')
    t.ok(existsSync(built))
    t.equal(readFileSync(built, 'utf8').split('\n')[0], '#!/usr/bin/env node', 'shebang survives compilation')
    const r = await cli(['get', '--cacert', caFile, `https://localhost:${port}/`], [built])
    t.equal(r.code, EXIT.ok, r.stderr)
    t.equal(r.stdout, 'hello over SPDY/3.1\n')
  })

  t.test("the README's `npx fastify-spdy get` in this checkout runs the built bin (dist/cjs/cli/main.js, made by npm test's build)", async (t) => {
    // tsc writes the bin 0644: npx in the repository then failed with "Permission denied" (scripts/build.mjs chmods
    // it). --no: never fetch a package of that name from the registry instead.
    const r = await new Promise<Run>((resolve) => execFile('npx', ['--no', 'fastify-spdy', 'get', '--cacert', caFile, `https://localhost:${port}/`], { cwd: ROOT, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })))
    t.equal(r.code, EXIT.ok, r.stderr)
    t.equal(r.stdout, 'hello over SPDY/3.1\n')
  })
})

t.test('--max-size: a response (body and pushes) past it exits 10, under it succeeds', async (t) => {
  const app = await plugin(true)
  t.teardown(() => app.close())
  const url = `https://localhost:${app.spdy.port!}/`
  // the page is 20 bytes, its two pushed assets 20 and 14: 54 in all
  const over = await cli(['get', '--cacert', caFile, '--max-size', '53', url])
  t.equal(over.code, EXIT.tooLarge, over.stderr)
  t.match(over.stderr, /passed maxResponseBytes \(53 bytes\)/)
  const under = await cli(['get', '--cacert', caFile, '--max-size', '54', url])
  t.equal(under.code, EXIT.ok, under.stderr)
})

t.test('connection refused', async (t) => {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  const r = await cli(['get', `https://127.0.0.1:${port}/`])
  t.equal(r.code, EXIT.connect)
  t.equal(r.stderr, `fastify-spdy: connection refused by 127.0.0.1:${port}\n`)
  t.equal(r.stdout, '')
})

t.test('no protocol in common: Node TLS server with ALPN http/1.1 only, and one without ALPN/NPN', async (t) => {
  const h1 = tls.createServer({ ...good, ALPNProtocols: ['http/1.1'] }, (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'))
  const none = tls.createServer({ ...good }, (s) => s.end())
  for (const s of [h1, none]) await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { h1.close(); none.close() })
  const h1port = (h1.address() as net.AddressInfo).port
  const r = await cli(['get', '--cacert', caFile, `https://localhost:${h1port}/`])
  t.equal(r.code, EXIT.noProtocol, r.stderr)
  t.equal(r.stderr, `fastify-spdy: no protocol in common: localhost:${h1port} chose http/1.1 (we offered spdy/3.1, spdy/3, spdy/2, http/1.1)\n`)
  // Node's TLS has no NPN: offered NPN alone goes unanswered.
  const r2 = await cli(['get', '--npn', '--cacert', caFile, `https://localhost:${(none.address() as net.AddressInfo).port}/`])
  t.equal(r2.code, EXIT.noProtocol, r2.stderr)
  t.match(r2.stderr, /^fastify-spdy: no protocol in common: localhost:\d+ negotiated no protocol \(we offered spdy\/3\.1, spdy\/3, spdy\/2, http\/1\.1\)\n$/)
})

t.test('no protocol in common over NPN: openssl s_server -nextprotoneg http/1.1, and spdy/3 when we offer spdy/2', async (t) => {
  const keyFile = join(dir, 'key.pem')
  writeFileSync(keyFile, good.key)
  /** One openssl s_server advertising `npn`, for one connection. */
  const sServer = async (npn: string): Promise<number> => {
    const probe = net.createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as net.AddressInfo).port
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', caFile, '-key', keyFile, '-tls1_2', '-nextprotoneg', npn, '-naccept', '1'], { stdio: ['pipe', 'pipe', 'pipe'] })
    t.teardown(() => { server.kill() })
    await new Promise<void>((resolve, reject) => {
      let out = ''
      server.stdout.on('data', (b: Buffer) => { out += b.toString(); if (out.includes('ACCEPT')) resolve() })
      server.on('exit', (code) => reject(new Error(`openssl s_server exited (${code}): ${out}`)))
    })
    return port
  }
  const port = await sServer('http/1.1')
  const r = await cli(['get', '--npn', '--cacert', caFile, `https://localhost:${port}/`])
  t.equal(r.code, EXIT.noProtocol, r.stderr)
  t.equal(r.stderr, `fastify-spdy: no protocol in common: localhost:${port} chose http/1.1 (we offered spdy/3.1, spdy/3, spdy/2, http/1.1)\n`)
  // Nothing in common at all: NPN lets the client pick its own first choice, but the server never offered it.
  const port2 = await sServer('spdy/3')
  const r2 = await cli(['get', '--npn', '--spdy', '2', '--cacert', caFile, `https://localhost:${port2}/`])
  t.equal(r2.code, EXIT.noProtocol, r2.stderr)
  t.equal(r2.stderr, `fastify-spdy: no protocol in common: localhost:${port2} advertised spdy/3 over NPN (we offered spdy/2, http/1.1)\n`)
})

t.test('certificate problems: unknown CA, name mismatch', async (t) => {
  const app = await plugin(true)
  t.teardown(() => app.close())
  const port = app.spdy.port!
  const r = await cli(['get', '--cacert', otherCaFile, `https://localhost:${port}/`])
  t.equal(r.code, EXIT.certificate, r.stderr)
  t.equal(r.stderr, 'fastify-spdy: certificate problem: certificate chain does not lead to a trusted CA\n')
  const misnamed = await plugin(true, elsewhere)
  t.teardown(() => misnamed.close())
  const r2 = await cli(['get', '--cacert', elsewhereCaFile, `https://localhost:${misnamed.spdy.port}/`])
  t.equal(r2.code, EXIT.certificate, r2.stderr)
  t.equal(r2.stderr, 'fastify-spdy: certificate problem: certificate does not match localhost\n')
  // The same server with --insecure: the certificate is not checked.
  const r3 = await cli(['get', '--insecure', `https://localhost:${misnamed.spdy.port}/`])
  t.equal(r3.code, EXIT.ok, r3.stderr)
  t.equal(r3.stdout, 'hello over SPDY/3.1\n')
})

t.test('protocol error: a server that answers with garbage', async (t) => {
  // A SYN_REPLY (v3 control frame, type 2) for stream 1 whose header block is not zlib: the shared
  // decompression context is lost, a session error (SPDY/3 section 2.6.10) answered with GOAWAY.
  const garbage = Buffer.concat([Buffer.from([0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01]), Buffer.alloc(12, 0xa5)])
  const plainSrv = net.createServer((s) => { s.once('data', () => s.write(garbage)); s.on('error', () => {}) })
  await new Promise<void>((resolve) => plainSrv.listen(0, '127.0.0.1', resolve))
  t.teardown(() => plainSrv.close())
  const r = await cli(['get', `spdy://127.0.0.1:${(plainSrv.address() as net.AddressInfo).port}/`])
  t.equal(r.code, EXIT.protocol, r.stderr)
  t.match(r.stderr, /^fastify-spdy: SPDY protocol error from the server: .+ \(we sent GOAWAY PROTOCOL_ERROR\)\n$/)

  // Inside TLS: our TLS server engine agrees on spdy/3.1, then sends the same bytes as application data.
  const tlsSrv = await startServer({ certificates: [loadCertificate(good)], protocols: ['spdy/3.1'] }, (_data, engine) => engine.write(garbage))
  t.teardown(() => tlsSrv.close())
  const r2 = await cli(['get', '--cacert', caFile, `https://localhost:${tlsSrv.port}/`])
  t.equal(r2.code, EXIT.protocol, r2.stderr)
  t.match(r2.stderr, /^fastify-spdy: SPDY protocol error from the server: .+ \(we sent GOAWAY PROTOCOL_ERROR\)\n$/)
})

t.test('timeout: a server that accepts and never answers', async (t) => {
  const sockets = new Set<net.Socket>()
  const silent = net.createServer((s) => { sockets.add(s); s.on('error', () => {}) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); silent.close() })
  const port = (silent.address() as net.AddressInfo).port
  const r = await cli(['get', '--timeout', '300', '--cacert', caFile, `https://localhost:${port}/`])
  t.equal(r.code, EXIT.timeout, r.stderr)
  t.equal(r.stderr, `fastify-spdy: timed out waiting for the TLS handshake with localhost:${port} after 300 ms\n`)
  const r2 = await cli(['get', '--timeout', '300', `spdy://127.0.0.1:${port}/x`])
  t.equal(r2.code, EXIT.timeout, r2.stderr)
  t.equal(r2.stderr, 'fastify-spdy: timed out after 300 ms waiting for the response to GET /x\n')
})

t.test('bad usage prints the reason and the usage text', async (t) => {
  const cases: Array<[string[], string]> = [
    [[], 'missing command'],
    [['fetch', 'https://x/'], 'unknown command fetch'],
    [['get'], 'missing <url>'],
    [['get', '--spdy', '4', 'https://x/'], '--spdy takes 2, 3 or 3.1, not 4'],
    [['get', '--bogus', 'https://x/'], 'unknown option --bogus'],
    [['get', 'ftp://x/'], 'URL scheme must be https, spdy or http, not ftp'],
    [['get', '-H', 'novalue', 'https://x/'], `-H takes 'name: value', not "novalue"`],
    [['get', '--npn', 'spdy://x/'], '--npn, --alpn and --openssl need TLS'],
    [['get', '--openssl', 'spdy://x/'], '--npn, --alpn and --openssl need TLS'],
    [['get', '--openssl', '--npn', 'https://x/'], "--openssl offers ALPN only: Node's TLS has no NPN"],
    [['get', '--no-false-start', 'spdy://x/'], '--insecure, --cacert and --no-false-start need TLS'],
    [['get', '--timeout', 'soon', 'https://x/'], '--timeout takes a positive number of milliseconds, not soon'],
    [['get', '--max-size', '0', 'https://x/'], '--max-size takes a positive number of bytes, not 0'],
    [['get', 'https://x/', 'https://y/'], 'one URL only']
  ]
  // Each case is a process start through tsx (about a second of CPU): run them side by side.
  const runs = await Promise.all(cases.map(async ([args]) => await cli(args)))
  for (const [i, [args, why]] of cases.entries()) {
    const r = runs[i]
    t.equal(r.code, EXIT.usage, `${args.join(' ')}: exit status`)
    t.ok(r.stderr.startsWith(`fastify-spdy: ${why}`), `${args.join(' ')}: ${why}`)
    t.match(r.stderr, /Usage: fastify-spdy get \[options\] <url>/)
  }
  const help = await cli(['get', '--help'])
  t.equal(help.code, EXIT.ok)
  t.match(help.stdout, /^Usage: fastify-spdy get/)
})
