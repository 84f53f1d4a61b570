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

/**
 * The lowest port the kernel hands out for a bind to port 0 or an outgoing connection (ip_local_port_range), or
 * 32768, Linux's default, where /proc cannot say.
 */
function ephemeralLow (): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > 1024 ? low : 32768
  } catch { return 32768 }
}

/** Ports this process handed out, never handed out twice (a test asks for several before haproxy binds them). */
const handedOut = new Set<number>()

/**
 * A port free at the time of asking, for haproxy to bind: haproxy cannot bind port 0 and report the port, so a test
 * must choose one, and between our check and haproxy's bind the port is nobody's. It is picked at random below the
 * kernel's ephemeral range, where no `listen(0)` and no outgoing connection of the rest of the suite (which runs test
 * files in parallel, each with dozens of port-0 servers) can be given it meanwhile; only another freePort caller
 * could, one chance in thousands per port.
 */
export async function freePort (host = '127.0.0.1'): Promise<number> {
  const low = 10_000
  const high = ephemeralLow()
  for (let attempt = 0; attempt < 100 && high > low; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low))
    if (handedOut.has(port)) continue
    const s = net.createServer()
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false))
      s.listen(port, host, () => resolve(true))
    })
    if (!ok) continue
    await new Promise<void>((resolve) => s.close(() => resolve()))
    handedOut.add(port)
    return port
  }
  throw new Error(`no free port found on ${host} in ${low}-${high - 1}`)
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
    // Something accepting is not proof that it is haproxy: if haproxy could not bind a port it exits, and another
    // process may hold that port. Give a failed start its moment to exit, then require it alive.
    await new Promise((resolve) => setTimeout(resolve, 100))
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`haproxy exited (${child.exitCode ?? child.signalCode})`)
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
