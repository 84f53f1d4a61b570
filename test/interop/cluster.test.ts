/**
 * example-app/cluster.mts: node:cluster with 2 workers sharing the HTTP port and the SPDY port.
 * - 6 SPDY connections (TLS, our client) held open together land on both workers, and each worker's
 *   app.spdy.sessions() counts exactly the connections that worker serves (its sessions are its own);
 * - plain HTTP on the shared HTTP port reaches both workers;
 * - the workers share a ticket key: a session from one connection resumes on every later one, whichever worker;
 * - a worker killed after listening is replaced after 100 ms, and its replacement answers on the same ports;
 * - SIGTERM to the primary stops the workers and it exits 0;
 * - with both ports taken (bound by this test), every worker dies at start: the primary replaces 4 of them after
 *   100, 200, 400, 800 ms (counted from its output, not timed), then prints their EADDRINUSE and exits 1.
 */
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect, type SpdyClient } from '../../lib/client'
import { ensureDist, ROOT } from './dist'

interface WorkerInfo { worker: number, pid: number, sessions: number }

const httpWorker = async (port: number): Promise<WorkerInfo> => await new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port, path: '/_worker', agent: false }, (res) => {
    let s = ''
    res.on('data', (c) => { s += c })
    res.on('end', () => resolve(JSON.parse(s) as WorkerInfo))
  }).on('error', reject)
})

t.test('cluster: 2 workers share the HTTP and SPDY ports, each with its own sessions', async (t) => {
  ensureDist()
  // PORT=0, SPDY_PORT=0: the system picks both ports (no free-port probe to race with), the workers share them, and
  // the primary's banner says which.
  const primary = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'example-app/cluster.mts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', SPDY_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', WORKERS: '2' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => primary.on('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(() => { try { if (primary.pid !== undefined) process.kill(-primary.pid, 'SIGKILL') } catch { /* already gone */ } })
  let output = ''
  const [port, spdyPort] = await new Promise<[number, number]>((resolve, reject) => {
    // A worker that dies while starting is replaced by the primary after a back-off: say so at once with its output
    // instead of waiting for the primary to give up.
    primary.stderr.on('data', (b: Buffer) => { output += b.toString(); if (/worker \d+ exited/.test(output)) reject(new Error(`a worker died while starting:\n${output}`)) })
    primary.stdout.on('data', (b: Buffer) => {
      output += b.toString()
      const banner = /2 workers\n +HTTP: +http:\/\/127\.0\.0\.1:(\d+)\/\n +SPDY: +https:\/\/127\.0\.0\.1:(\d+)\/\n/.exec(output)
      if (banner !== null) resolve([Number(banner[1]), Number(banner[2])])
    })
    void exited.then(({ code, signal }) => reject(new Error(`cluster exited (${code ?? signal}):\n${output}`)))
  })
  t.ok(port > 0 && spdyPort > 0 && port !== spdyPort, `the banner shows the bound ports (HTTP ${port}, SPDY ${spdyPort})`)

  const ca = readFileSync(join(ROOT, 'example-app', '.local', 'cert.pem'), 'utf8')
  const opts = { host: '127.0.0.1', port: spdyPort, tls: true, ca, servername: 'localhost' }
  const clients: SpdyClient[] = []
  t.teardown(async () => { for (const c of clients) await c.close() })
  for (let i = 0; i < 6; i++) clients.push(await connect(opts))
  // Every connection is open now: ask each which worker it is on and how many sessions that worker holds.
  const seen: WorkerInfo[] = []
  for (const c of clients) {
    const res = await c.request({ path: '/_worker' })
    t.equal(res.headers['x-worker'], String((JSON.parse(res.body.toString()) as WorkerInfo).worker), 'x-worker names the worker')
    seen.push(JSON.parse(res.body.toString()) as WorkerInfo)
  }
  const perWorker = new Map<number, { connections: number, sessions: number[] }>()
  for (const w of seen) {
    const e = perWorker.get(w.worker) ?? { connections: 0, sessions: [] }
    e.connections++
    e.sessions.push(w.sessions)
    perWorker.set(w.worker, e)
  }
  t.equal(perWorker.size, 2, `both workers took SPDY connections (${[...perWorker.entries()].map(([w, e]) => `worker ${w}: ${e.connections}`).join(', ')})`)
  for (const [w, e] of perWorker) {
    t.ok(e.sessions.every((n) => n === e.connections), `worker ${w} counts its own ${e.connections} sessions only (saw ${e.sessions.join(', ')})`)
  }
  t.equal(new Set(seen.map((w) => w.pid)).size, 2, 'two worker processes')

  const overHttp = new Set<number>()
  for (let i = 0; i < 6; i++) overHttp.add((await httpWorker(port)).worker)
  t.same([...overHttp].sort(), [...perWorker.keys()].sort(), 'the shared HTTP port reaches both workers')

  const session = clients[0].tlsSession
  const resumedOn = new Set<number>()
  for (let i = 0; i < 4; i++) {
    const c = await connect({ ...opts, session })
    t.equal(c.tls?.resumed, true, `connection ${i + 1} resumed the first connection's session`)
    resumedOn.add((JSON.parse((await c.request({ path: '/_worker' })).body.toString()) as WorkerInfo).worker)
    await c.close()
  }
  t.equal(resumedOn.size, 2, 'resumed on both workers: they share the ticket key')

  for (const c of clients.splice(0)) await c.close()

  // A worker that dies after listening is replaced after the first back-off, and the new one serves the same ports.
  const pids = new Set(seen.map((w) => w.pid))
  process.kill(seen[0].pid, 'SIGKILL')
  await new Promise<void>((resolve) => {
    const check = (): void => { if (/worker \d+ exited \(SIGKILL\); starting another in 100 ms\n/.test(output)) resolve() }
    primary.stderr.on('data', check)
    check()
  })
  t.pass('the primary replaces the killed worker after 100 ms')
  let replacement: WorkerInfo | undefined
  // No clock: ask until the new worker answers (the surviving one answers meanwhile); tap's timeout bounds it.
  while (replacement === undefined) {
    const w = await httpWorker(port).catch(() => undefined)
    if (w !== undefined && !pids.has(w.pid)) replacement = w
    else await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.ok(replacement.worker > 2, `worker ${replacement.worker}, a new process, answers on the shared HTTP port`)
  const c = await connect(opts)
  clients.push(c)
  t.equal(c.negotiated, 'spdy/3.1', 'SPDY still answers')

  for (const c of clients.splice(0)) await c.close()
  t.ok(primary.pid !== undefined && process.kill(primary.pid, 'SIGTERM'), 'SIGTERM to the primary')
  t.same(await exited, { code: 0, signal: null }, 'the primary exits 0 once its workers have closed')
})

t.test('cluster: workers that cannot bind make the primary give up with their error, after a back-off, not loop', async (t) => {
  ensureDist()
  // Both ports really taken (bound here, port 0: no race with anyone else), as by another server on the machine.
  const taken = [net.createServer(), net.createServer()]
  for (const s of taken) await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of taken) s.close() })
  const [port, spdyPort] = taken.map((s) => (s.address() as net.AddressInfo).port)
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), SPDY_PORT: String(spdyPort), HOST: '127.0.0.1', LOG_LEVEL: 'warn', WORKERS: '2' }
  delete env.MAX_START_FAILURES // the default, 5
  const primary = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'example-app/cluster.mts')], {
    cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true
  })
  t.teardown(() => { try { if (primary.pid !== undefined) process.kill(-primary.pid, 'SIGKILL') } catch { /* already gone */ } })
  let output = ''
  const replaced = (): string[] => [...output.matchAll(/worker \d+ exited \(1\); starting another in (\d+) ms\n/g)].map((m) => m[1])
  const end = await new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve, reject) => {
    const take = (b: Buffer): void => {
      output += b.toString()
      // One replacement more than the default allows: the primary is looping; fail now rather than at tap's timeout.
      if (replaced().length > 4) reject(new Error(`the primary keeps replacing workers that cannot start:\n${output}`))
    }
    primary.stdout.on('data', take)
    primary.stderr.on('data', take)
    primary.on('exit', (code, signal) => resolve({ code, signal }))
  })
  t.same(end, { code: 1, signal: null }, 'the primary exits 1')
  t.same(replaced(), ['100', '200', '400', '800'], 'four replacements, each after twice the back-off of the one before')
  const givenUp = /worker \d+ exited \(1\) before listening, 5 in a row; giving up: (.*)\n/.exec(output)
  t.ok(givenUp !== null, 'the primary says it gives up', { output })
  t.match(givenUp?.[1] ?? '', new RegExp(`EADDRINUSE 127\\.0\\.0\\.1:(${port}|${spdyPort})$`), 'with the workers\' error, on a port taken here')
  t.notMatch(output, /fastify-spdy demo blog/, 'no banner: no worker ever listened')
})
