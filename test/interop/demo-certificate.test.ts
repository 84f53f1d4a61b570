/**
 * example-app/certificate.mts when several demos start at once on a fresh checkout (the cluster's primary next to
 * `npm start`, as test/interop/cluster.test.ts and demo-e2e.test.ts run under tap's parallel jobs): every process
 * serves the same pair, that pair is the one on disk (cert.pem is what clients are told to trust), the key on disk
 * is the certificate's key, and one process says it made it. Before, each process wrote its own pair over the
 * others' and a demo could serve a certificate that cert.pem no longer held ("certificate chain does not lead to a
 * trusted CA" in demo-e2e, seen when both tests started together).
 * The processes are real (node --import tsx, as the demo runs) and start generating together: each loads the
 * module, says ready, and waits for one byte on stdin that the test sends to all of them at once.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ensureDist, ROOT } from './dist'

const RACERS = 4

const child = (dir: string): string => `
const { ensureCertificate } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'example-app/certificate.mts')).href)})
process.stdout.write('ready\\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
const pair = await ensureCertificate('127.0.0.1', ${JSON.stringify(dir)})
process.stdout.write('pair ' + JSON.stringify(pair) + '\\n')
process.exit(0)
`

interface Racer { ready: Promise<void>, done: Promise<{ code: number | null, out: string, err: string }>, go: () => void }

function racer (dir: string): Racer {
  const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child(dir)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  let onReady = (): void => {}
  const ready = new Promise<void>((resolve) => { onReady = resolve })
  p.stdout.on('data', (b: Buffer) => { out += b.toString(); if (out.includes('ready\n')) onReady() })
  p.stderr.on('data', (b: Buffer) => { err += b.toString() })
  const done = new Promise<{ code: number | null, out: string, err: string }>((resolve) => p.on('close', (code) => { onReady(); resolve({ code, out, err }) }))
  return { ready, done, go: () => { p.stdin.end('g') } }
}

t.test('demos starting together on a fresh checkout all serve the one certificate on disk', async (t) => {
  ensureDist()
  const parent = mkdtempSync(join(tmpdir(), 'demo-cert-'))
  t.teardown(() => rmSync(parent, { recursive: true, force: true }))
  const dir = join(parent, '.local')
  const racers = Array.from({ length: RACERS }, () => racer(dir))
  await Promise.all(racers.map(async (r) => await r.ready))
  for (const r of racers) r.go()
  const results = await Promise.all(racers.map(async (r) => await r.done))
  const pairs = results.map(({ code, out, err }) => {
    t.equal(code, 0, `a racer exits 0 ${err}`)
    const line = out.split('\n').find((l) => l.startsWith('pair '))
    return JSON.parse(line?.slice('pair '.length) ?? 'null') as { cert: string, key: string } | null
  })
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8')
  const key = readFileSync(join(dir, 'key.pem'), 'utf8')
  t.ok(pairs.every((p) => p?.cert === cert), 'every process serves the certificate that cert.pem holds')
  t.ok(pairs.every((p) => p?.key === key), 'every process uses the key that key.pem holds')
  t.ok(new X509Certificate(cert).checkPrivateKey(createPrivateKey(key)), 'key.pem is cert.pem\'s key')
  t.equal(results.filter((r) => r.out.includes('made a self-signed certificate')).length, 1, 'one process made it')
  t.same(readdirSync(parent), ['.local'], 'no staging directory is left behind')
})
