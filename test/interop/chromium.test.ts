/**
 * The demo blog (example-app) against clients we did not write, on both of its listeners:
 * - headless Chromium (Debian package `chromium`, `--dump-dom`) loads the index over plain HTTP and over the
 *   HTTPS/1.1 fallback on the SPDY port (OpenSSL through node:tls, TLS 1.3: Chromium offers no NPN, so it does not
 *   need our engine (lib/server/tls-select.ts); its ALPN offer has no spdy/* so the listener settles on http/1.1). The rendered title and the page's `data-proto` span are checked, Chromium's net log says
 *   which TLS version and protocol it negotiated, and a hook on the app says which transport each request came in on;
 * - curl does the same two fetches and shows the headers: Alternate-Protocol on the plain HTTP response, and the
 *   fallback over TLS 1.3 with curl's own certificate check (--cacert).
 * Current Chromium has no SPDY (removed in Chrome 51), so the SPDY side is covered by the spdy-transport tests.
 *
 * Chromium is trusted to the self-signed certificate by an SPKI pin (--ignore-certificate-errors-spki-list), not by
 * ignoring every certificate error: a control run with another key's pin must not get the page.
 *
 * Skips when chromium is not on PATH, unless CI=true, where its absence fails.
 */
import t from 'tap'
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createHash, createPublicKey } from 'node:crypto'
import { accessSync, constants as fsConstants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { Socket } from 'node:net'
import { TLSSocket } from 'node:tls'
import { promisify } from 'node:util'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { Http1Bridge } from '../../lib/server/http1-bridge'

const run = promisify(execFile)

const TITLE = 'fastify-spdy blog'
/** A hang guard per Chromium run (a normal run takes 1-2 s), not an assertion on speed. */
const CHROMIUM_TIMEOUT_MS = 20_000
/**
 * Headless as root needs --no-sandbox. The rest keeps Chromium off the network it would reach on its own (update
 * checks, sync, field trials): on a closed network those connections are refused and can stall the load. QUIC off so
 * nothing but TCP+TLS is ever tried against the listener.
 */
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

function findOnPath (name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const file = join(dir, name)
    try { accessSync(file, fsConstants.X_OK); return file } catch { /* not in this directory */ }
  }
  return null
}

/** base64(SHA-256(SubjectPublicKeyInfo DER)): the form --ignore-certificate-errors-spki-list takes. */
const spkiPin = (certPem: string): string =>
  createHash('sha256').update(createPublicKey(certPem).export({ type: 'spki', format: 'der' })).digest('base64')

interface ChromiumResult {
  dom: string
  stderr: string
  code: number | null
  timedOut: boolean
  /** Parameters of every successful SSL_CONNECT event in Chromium's net log (when netLog was asked for). */
  tlsConnects: Array<{ version?: string, next_proto?: string, cipher_suite?: number }>
}

const chromiumPath = findOnPath('chromium')
const inCI = process.env.CI === 'true'
const running = new Set<ChildProcess>()

/** Chromium forks a zygote, renderers and a GPU/network service: kill its whole process group, not only the browser. */
function killGroup (child: ChildProcess): void {
  // Also after the browser exits: a renderer or utility process can outlive it briefly.
  if (child.pid === undefined) return
  try { process.kill(-child.pid, 'SIGKILL') } catch { /* the whole group is gone */ }
}

async function dumpDom (chromium: string, url: string, opts: { spki?: string, netLog?: boolean } = {}): Promise<ChromiumResult> {
  // A fresh profile per run: no cached pages, no HSTS or session-resumption state carried between runs.
  const profile = mkdtempSync(join(tmpdir(), 'fastify-spdy-chromium-'))
  const netLogFile = join(profile, 'netlog.json')
  const args = [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`]
  if (opts.spki !== undefined) args.push(`--ignore-certificate-errors-spki-list=${opts.spki}`)
  if (opts.netLog === true) args.push(`--log-net-log=${netLogFile}`)
  args.push('--dump-dom', url)
  // detached: Chromium leads its own process group, so a timeout or teardown can end all of it by its id.
  const child = spawn(chromium, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  running.add(child)
  let dom = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => { dom += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; killGroup(child) }, CHROMIUM_TIMEOUT_MS)
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (c) => resolve(c))
    })
    let tlsConnects: ChromiumResult['tlsConnects'] = []
    if (opts.netLog === true && !timedOut) tlsConnects = sslConnects(readFileSync(netLogFile, 'utf8'))
    return { dom, stderr, code, timedOut, tlsConnects }
  } finally {
    clearTimeout(timer)
    killGroup(child)
    running.delete(child)
    rmSync(profile, { recursive: true, force: true })
  }
}

/** Net log format: `constants.logEventTypes` maps names to numbers; events carry the number and optional params. */
function sslConnects (text: string): ChromiumResult['tlsConnects'] {
  const log = JSON.parse(text) as { constants: { logEventTypes: Record<string, number> }, events: Array<{ type: number, params?: Record<string, unknown> }> }
  const type = log.constants.logEventTypes.SSL_CONNECT
  // The end event of SSL_CONNECT carries the negotiated parameters; a failed handshake carries net_error instead.
  return log.events.filter((e) => e.type === type && e.params !== undefined && 'version' in e.params)
    .map((e) => e.params as ChromiumResult['tlsConnects'][number])
}

const field = (re: RegExp, text: string): string | undefined => re.exec(text)?.[1]
const titleOf = (html: string): string | undefined => field(/<title>([^<]*)<\/title>/, html)
const protoOf = (html: string): string | undefined => field(/data-proto="([^"]*)"/, html)

interface Seen { url: string, localPort: number | undefined, protocol: string, spdy: unknown, openssl: boolean, alpn: string | false | undefined, userAgent: string | undefined }

const skip = chromiumPath === null && !inCI
  ? 'chromium is not installed (apt-get install -y chromium); with CI=true this is a failure'
  : false

t.test('demo blog in headless Chromium and curl: plain HTTP and the HTTPS/1.1 fallback on the SPDY port', { skip }, async (t) => {
  if (chromiumPath === null) {
    t.fail('CI=true but chromium is not installed: CI must install the Debian package chromium')
    return
  }
  t.teardown(() => { for (const child of running) killGroup(child) })

  const { buildBlog, loadPosts } = await import('../../example-app/blog.mjs')
  const postCount = loadPosts().length
  const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
  const other = generateSelfSigned({ commonName: 'localhost', keyType: 'ec' })
  const dir = mkdtempSync(join(tmpdir(), 'fastify-spdy-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const caFile = join(dir, 'cert.pem')
  writeFileSync(caFile, cert)

  const app = buildBlog()
  await app.register(spdy, { port: 0, tls: { cert, key } })
  // Server-side record of how each request arrived: the fallback must come through the SPDY listener's OpenSSL
  // stack (a tls.TLSSocket as the request's socket), not through our engine's Http1Bridge.
  const seen: Seen[] = []
  app.addHook('onRequest', async (req) => {
    const socket = req.raw.socket as Socket | TLSSocket | Http1Bridge
    seen.push({
      url: req.url,
      localPort: socket.localPort,
      protocol: req.protocol,
      spdy: req.spdy,
      openssl: socket instanceof TLSSocket,
      alpn: socket instanceof TLSSocket || socket instanceof Http1Bridge ? socket.alpnProtocol ?? undefined : undefined,
      userAgent: req.headers['user-agent']
    })
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const httpPort = (app.server.address() as { port: number }).port
  const spdyPort = app.spdy.port
  if (spdyPort === null) throw new Error('SPDY listener not bound')
  const onPort = (port: number, url: string): Seen[] => seen.filter((s) => s.localPort === port && s.url === url)

  t.test('Chromium over plain HTTP', async (t) => {
    const res = await dumpDom(chromiumPath, `http://127.0.0.1:${httpPort}/`)
    t.notOk(res.timedOut, 'chromium finished')
    t.equal(res.code, 0, 'chromium exit code')
    t.equal(titleOf(res.dom), TITLE, 'rendered title')
    t.equal(protoOf(res.dom), 'HTTP/1.1', 'data-proto')
    t.match(res.dom, /served over HTTP\/1\.1/)
    t.equal(res.dom.match(/<li><a href="\/posts\//g)?.length, postCount, 'every post listed')
    const index = onPort(httpPort, '/')
    t.equal(index.length, 1, 'one index request on the HTTP port')
    t.match(index[0], { protocol: 'http', spdy: null, openssl: false, userAgent: /HeadlessChrome/ })
  })

  t.test('Chromium over the HTTPS/1.1 fallback on the SPDY port, trusting the certificate by SPKI pin', async (t) => {
    const res = await dumpDom(chromiumPath, `https://127.0.0.1:${spdyPort}/`, { spki: spkiPin(cert), netLog: true })
    t.notOk(res.timedOut, 'chromium finished')
    t.equal(res.code, 0, 'chromium exit code')
    t.equal(titleOf(res.dom), TITLE, 'rendered title')
    t.equal(protoOf(res.dom), 'HTTPS/1.1', 'data-proto')
    t.match(res.dom, /served over HTTPS\/1\.1/)
    t.equal(res.dom.match(/<li><a href="\/posts\//g)?.length, postCount, 'every post listed')

    // Chromium's side: every TLS connection it completed was TLS 1.3 with ALPN http/1.1: OpenSSL's, since our
    // engine only speaks 1.2.
    t.ok(res.tlsConnects.length >= 1, 'net log has a completed TLS handshake')
    for (const c of res.tlsConnects) t.match(c, { version: 'TLS 1.3', next_proto: 'http/1.1' }, 'net log SSL_CONNECT')

    // Our side: the page and the assets it pulled all came in over our TLS layer as HTTP/1.1.
    const index = onPort(spdyPort, '/')
    t.equal(index.length, 1, 'one index request on the SPDY port')
    t.match(index[0], { protocol: 'https', spdy: null, openssl: true, alpn: 'http/1.1', userAgent: /HeadlessChrome/ })
    const all = seen.filter((s) => s.localPort === spdyPort)
    t.ok(all.some((s) => s.url === '/static/app.js'), 'the page\'s script was fetched over the fallback')
    t.same(all.filter((s) => !s.openssl || s.protocol !== 'https' || s.spdy !== null), [], 'every request on the SPDY port via OpenSSL, as HTTPS/1.1')
  })

  t.test('control: pinning another key does not get the page', async (t) => {
    const before = seen.filter((s) => s.localPort === spdyPort).length
    const res = await dumpDom(chromiumPath, `https://127.0.0.1:${spdyPort}/`, { spki: spkiPin(other.cert) })
    t.notOk(res.timedOut, 'chromium finished')
    t.not(titleOf(res.dom), TITLE, 'no blog title behind an untrusted certificate')
    t.equal(protoOf(res.dom), undefined, 'no data-proto')
    t.equal(seen.filter((s) => s.localPort === spdyPort).length, before, 'no request reached the app')
  })

  t.test('curl: Alternate-Protocol over plain HTTP, --cacert over the HTTPS/1.1 fallback', async (t) => {
    const split = (raw: string): { head: string, body: string } => {
      const i = raw.indexOf('\r\n\r\n')
      return { head: raw.slice(0, i), body: raw.slice(i + 4) }
    }
    const plain = split((await run('curl', ['-s', '-i', '--max-time', '10', `http://127.0.0.1:${httpPort}/`])).stdout)
    t.match(plain.head, /^HTTP\/1\.1 200/)
    t.match(plain.head, new RegExp(`\\r\\nalternate-protocol: ${spdyPort}:spdy/v2(\\r|$)`, 'i'), 'advertises the bound SPDY port')
    t.equal(titleOf(plain.body), TITLE)
    t.equal(protoOf(plain.body), 'HTTP/1.1')

    const before = onPort(spdyPort, '/').length
    const { stdout, stderr } = await run('curl', ['-s', '-v', '-i', '--max-time', '10', '--cacert', caFile,
      '--resolve', `localhost:${spdyPort}:127.0.0.1`, `https://localhost:${spdyPort}/`])
    const secure = split(stdout)
    t.match(secure.head, /^HTTP\/1\.1 200/)
    t.equal(titleOf(secure.body), TITLE)
    t.equal(protoOf(secure.body), 'HTTPS/1.1')
    t.match(stderr, /SSL connection using TLSv1\.3/, 'curl negotiated TLS 1.3')
    t.match(stderr, /ALPN[:,] server accepted (to use )?http\/1\.1/, 'curl got ALPN http/1.1')
    const index = onPort(spdyPort, '/')
    t.equal(index.length, before + 1)
    t.match(index[index.length - 1], { protocol: 'https', spdy: null, openssl: true, alpn: 'http/1.1', userAgent: /^curl\// })
  })
})
