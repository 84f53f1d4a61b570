/**
 * The demo exactly as the README runs it: `npm start` (with PORT=0 and SPDY_PORT=0: the system picks both ports, no
 * free-port probe to race with, and the demo prints the ports it bound), then
 * - plain HTTP: GET / answers 200 with `Alternate-Protocol: <the SPDY port>:spdy/v2`;
 * - SPDY over TLS with the CLI (`fastify-spdy get`, trusting the certificate the demo made in example-app/.local/):
 *   status 200, the page title, every asset of the page listed as pushed;
 * - the same page with lib/client: each of the page's assets (blog.mts pageAssets()) arrives as a pushed stream
 *   whose body is the file on disk;
 * - SIGTERM stops the demo and it exits with status 0.
 * The demo imports 'fastify-spdy', which resolves to dist/ through the package's self-reference: dist is built
 * first when missing or older than lib/ (as `npm ci` does through the prepare script).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from '../../lib/client'
import { ensureDist, ROOT } from './dist'

const DEMO = join(ROOT, 'example-app')

function cli (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'lib/cli/main.ts'), ...args], { cwd: ROOT })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    p.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

t.test('npm start: the demo over HTTP and SPDY, then SIGTERM', async (t) => {
  ensureDist()
  const { pageAssets } = await import('../../example-app/blog.mjs') as { pageAssets: () => string[] }
  const assets = pageAssets()
  t.ok(assets.length >= 20, `the page has ${assets.length} assets`)

  // detached: its own process group (npm -> sh -> tsx -> node), so teardown can reach every process in it.
  const demo = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', SPDY_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  let output = ''
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => demo.on('exit', (code, signal) => resolve({ code, signal })))
  // Whatever is left of the group (a demo orphaned by its npm parent, say) goes too.
  t.teardown(() => { try { if (demo.pid !== undefined) process.kill(-demo.pid, 'SIGKILL') } catch { /* group already gone */ } })
  demo.stderr.on('data', (b: Buffer) => { output += b.toString() })
  const urls = await new Promise<{ http: string, spdy: string }>((resolve, reject) => {
    demo.stdout.on('data', (b: Buffer) => {
      output += b.toString()
      const http = /HTTP: +(http:\/\/\S+)/.exec(output)
      const spdy = /SPDY: +(https:\/\/\S+)/.exec(output)
      if (http !== null && spdy !== null) resolve({ http: http[1], spdy: spdy[1] })
    })
    void exited.then(({ code, signal }) => reject(new Error(`the demo exited (${code ?? signal}) before printing its URLs:\n${output}`)))
  })
  const port = Number(new URL(urls.http).port)
  const spdyPort = Number(new URL(urls.spdy).port)
  t.ok(port > 0 && spdyPort > 0 && port !== spdyPort, `the URLs printed carry the bound ports (HTTP ${port}, SPDY ${spdyPort})`)
  t.equal(urls.http, `http://127.0.0.1:${port}/`, 'the HTTP URL printed is on HOST')
  t.equal(urls.spdy, `https://127.0.0.1:${spdyPort}/`, 'the SPDY URL printed is on HOST')

  const plain = await fetch(urls.http)
  t.equal(plain.status, 200)
  t.equal(plain.headers.get('alternate-protocol'), `${spdyPort}:spdy/v2`, 'Alternate-Protocol carries the bound SPDY port')
  t.match(await plain.text(), /<title>fastify-spdy blog<\/title>/)

  const ca = join(DEMO, '.local', 'cert.pem')
  t.ok(existsSync(ca), 'the demo made (or kept) its certificate in example-app/.local/')

  const viaCli = await cli(['get', '-i', '--cacert', ca, urls.spdy])
  t.equal(viaCli.code, 0, viaCli.stderr)
  t.match(viaCli.stdout, /^SPDY\/3\.1 200 OK\n/)
  t.match(viaCli.stdout, /\ncontent-type: text\/html; charset=utf-8\n/)
  t.match(viaCli.stdout, /<title>fastify-spdy blog<\/title>/)
  t.match(viaCli.stdout, /data-proto="SPDY\/3\.1"/, 'the page says it was served over SPDY')
  for (const a of assets) t.match(viaCli.stderr, `* pushed https://127.0.0.1:${spdyPort}${a} 200 `, `CLI lists ${a} as pushed`)

  const client = await connect({ host: '127.0.0.1', port: spdyPort, tls: true, ca: readFileSync(ca, 'utf8') })
  t.equal(client.negotiated, 'spdy/3.1')
  const page = await client.request({ path: '/' })
  await client.close()
  t.equal(page.status, 200)
  t.match(page.body.toString(), /<title>fastify-spdy blog<\/title>/)
  t.same(page.pushes.map((p) => p.path).sort(), [...assets].sort(), 'every asset of the page was pushed, nothing else')
  for (const p of page.pushes) {
    const file = readFileSync(join(DEMO, 'public', p.path.slice('/static/'.length)))
    t.equal(p.status, 200, `${p.path} status`)
    t.ok(p.body.equals(file), `${p.path} body is the file (${file.length} bytes)`)
  }

  // SIGTERM to npm alone, as a supervisor sends it: npm forwards it to the script's process. The start script
  // execs tsx, so no `sh -c` sits in between to die of the signal and orphan a still-running demo.
  t.ok(demo.pid !== undefined && process.kill(demo.pid, 'SIGTERM'), 'SIGTERM sent to npm')
  // No clock here: the test's own timeout catches a demo that does not stop.
  const end = await exited
  t.same(end, { code: 0, signal: null }, 'npm start exits 0 after SIGTERM')
})
