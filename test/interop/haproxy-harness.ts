/**
 * Debian's haproxy, started by a test: a config written to a temporary file, `haproxy -db` in the foreground, its
 * frontends waited for, stopped at teardown. Tests skip with a message when `haproxy` is not installed (.ci/run
 * installs it with apt).
 */
import type { Test } from 'tap'
import net from 'node:net'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The haproxy binary, or null (then the caller skips). */
export function haproxyBinary (): string | null {
  for (const p of ['haproxy', '/usr/sbin/haproxy']) {
    const r = spawnSync(p, ['-v'], { encoding: 'utf8' })
    if (r.status === 0) return p
  }
  return null
}

export const HAPROXY_MISSING = 'haproxy is not installed (apt-get install haproxy; .ci/run does): skipped'

/** A port free at the time of asking (the test then binds it, or haproxy does). */
export async function freePort (host = '127.0.0.1'): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, host, resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

export interface Haproxy {
  child: ChildProcess
  /** What haproxy wrote (warnings, alerts). */
  output (): string
  stop (): Promise<void>
}

/** Waits until something accepts on host:port, for at most `ms`. */
export async function waitListening (port: number, host = '127.0.0.1', ms = 10_000): Promise<void> {
  const until = Date.now() + ms
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => { s.destroy(); resolve(true) })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`nothing listening on ${host}:${port} after ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Starts haproxy with `config`; resolves once every port in `frontends` accepts. Stopped at t's teardown. */
export async function startHaproxy (t: Test, bin: string, config: string, frontends: Array<[string, number]>): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-spdy-haproxy-'))
  const file = join(dir, 'haproxy.cfg')
  writeFileSync(file, config)
  const check = spawnSync(bin, ['-c', '-f', file], { encoding: 'utf8' })
  if (check.status !== 0) throw new Error(`haproxy -c refused the config:\n${check.stdout}${check.stderr}\n${config}`)
  const child = spawn(bin, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { out += c.toString() })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
  }
  t.teardown(stop)
  try {
    for (const [host, port] of frontends) await waitListening(port, host)
  } catch (err) {
    await stop()
    throw new Error(`${(err as Error).message}; haproxy said:\n${out}`)
  }
  return { child, output: () => out, stop }
}

/** README.md's ```haproxy blocks, in order: the deployment tests run exactly these. */
export function readmeHaproxyConfigs (): string[] {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8')
  return [...readme.matchAll(/```haproxy\n([\s\S]*?)```/g)].map((m) => m[1])
}

/** A README config with the test's frontend ([::1]:front), certificate file and instance ports in place of the examples. */
export function localConfig (config: string, front: number, instances: Array<{ spdy: number, http: number }>, pemFile: string): string {
  return config.split('\n').map((line) => {
    let l = line.replace(/bind :443/, `bind [::1]:${front}`).replace('/etc/haproxy/site.pem', pemFile)
    const m = /server app(\d) \S+/.exec(l)
    if (m !== null) {
      const i = instances[Number(m[1]) - 1]
      l = l.replace(/server app(\d) \S+/, `server app$1 127.0.0.1:${i.spdy}`).replace(/check port \d+/, `check port ${i.http}`)
    }
    return l
  }).join('\n')
}
