/**
 * What a second worker buys: fastify-spdy (plain SPDY/3.1, GET /small) under node:cluster with 1 and with 2
 * workers sharing one port, loaded by bench/spdy-load.ts (10 connections x 10 streams).
 *   npx tsx bench/cluster.ts [--runs 3] [--seconds 5] [--quick]
 * Reports req/s and the server's CPU per request (primary + workers, from /proc/<pid>/stat), medians over runs,
 * 1 and 2 workers alternating (order reversed every other run). The load generator runs on the same 2 cores and
 * is not pinned: with 2 workers the three processes share 2 cores, so the 2-worker figure is bounded by the machine
 * as much as by the server; the generator's own CPU is shown. `--quick` is a smoke run that writes nothing.
 *   npx tsx bench/cluster.ts --serve N     the server alone: prints `READY <port> <pid> <pid>...` (primary first).
 */
import cluster from 'node:cluster'
import net from 'node:net'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import spdy from '../lib/index'
import { loadavg, machine, median, writeSection } from './results'

function arg (name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : dflt
}

const quick = process.argv.includes('--quick')
const runs = quick ? 1 : Number(arg('runs', '3'))
const seconds = quick ? 1 : Number(arg('seconds', '5'))
const CONNECTIONS = 10
const STREAMS = 10

async function serve (workers: number): Promise<void> {
  if (cluster.isPrimary) {
    const probe = net.createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as net.AddressInfo).port
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const pids: number[] = []
    for (let i = 0; i < workers; i++) {
      const w = cluster.fork({ BENCH_PORT: String(port) })
      w.on('message', (m: { ready?: number }) => {
        if (m.ready === undefined) return
        pids.push(m.ready)
        if (pids.length === workers) process.stdout.write(`READY ${port} ${process.pid} ${pids.join(' ')}\n`)
      })
    }
    process.on('SIGTERM', () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL')
      process.exit(0)
    })
    return
  }
  const app = Fastify()
  await app.register(spdy, { tls: false, port: Number(process.env.BENCH_PORT), alternateProtocol: false, maxConcurrentStreams: 1000 })
  app.get('/small', async () => 'hello world')
  await app.listen({ port: 0, host: '127.0.0.1' })
  process.send?.({ ready: process.pid })
}

/** utime+stime of a process in seconds. */
function cpuSeconds (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

async function start (workers: number): Promise<{ proc: ChildProcess, port: number, pids: number[] }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', __filename, '--serve', String(workers)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    proc.stdout!.on('data', (b: Buffer) => { out += b.toString(); const m = /READY [^\n]+/.exec(out); if (m !== null) resolve(m[0]) })
    proc.once('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)))
  })
  const [port, ...pids] = line.split(' ').slice(1).map(Number)
  return { proc, port, pids }
}

interface Sample { rps: number, cpuUs: number, clientCpu: number, serverBusy: number }

async function measure (workers: number): Promise<Sample> {
  const srv = await start(workers)
  try {
    const cpu0 = srv.pids.reduce((s, p) => s + cpuSeconds(p), 0)
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/spdy-load.ts', '--port', String(srv.port),
      '--connections', String(CONNECTIONS), '--streams', String(STREAMS), '--seconds', String(seconds), '--warmup', quick ? '0' : '1', '--version', '3.1'],
    { cwd: `${__dirname}/..`, maxBuffer: 1 << 24 }).toString()
    const cpu = srv.pids.reduce((s, p) => s + cpuSeconds(p), 0) - cpu0
    const r = JSON.parse(out.trim().split('\n').pop()!) as { requests: number, all: number, seconds: number, clientCpu: number, errors: number }
    if (r.errors > 0) throw new Error(`${r.errors} errors in SPDY load`)
    const rps = r.requests / r.seconds
    // The server's CPU over the call includes the generator's warm-up second: divide it by those requests too.
    const cpuUs = cpu / r.all * 1e6
    return { rps, cpuUs, clientCpu: r.clientCpu, serverBusy: rps * cpuUs / 1e6 }
  } finally {
    srv.proc.kill('SIGTERM')
    await new Promise((resolve) => srv.proc.once('exit', resolve))
  }
}

async function main (): Promise<void> {
  const loadBefore = loadavg()
  const samples = new Map<number, Sample[]>([[1, []], [2, []]])
  for (let i = 0; i < runs; i++) {
    for (const workers of i % 2 === 0 ? [1, 2] : [2, 1]) {
      const s = await measure(workers)
      samples.get(workers)!.push(s)
      process.stdout.write(`run ${i + 1}, ${workers} worker${workers > 1 ? 's' : ''}: ${Math.round(s.rps)} req/s, server ${s.cpuUs.toFixed(1)} us CPU/req, ` +
        `server busy ${s.serverBusy.toFixed(2)} cores, load generator ${s.clientCpu.toFixed(2)} cores\n`)
    }
  }
  const k = (n: number): string => `${(n / 1000).toFixed(1)}k`
  const one = median(samples.get(1)!.map((s) => s.rps))
  const rows = [1, 2].map((w) => {
    const ss = samples.get(w)!
    const rps = ss.map((s) => s.rps)
    const m = median(rps)
    return `| ${w} | ${k(m)} | ${k(Math.min(...rps))}-${k(Math.max(...rps))} | ${(m / one).toFixed(2)}x | ${median(ss.map((s) => s.cpuUs)).toFixed(1)} us | ` +
      `${median(ss.map((s) => s.serverBusy)).toFixed(2)} | ${median(ss.map((s) => s.clientCpu)).toFixed(2)} |`
  })
  const table = ['| workers | req/s (median) | spread | vs 1 worker | server CPU per request (median, primary + workers) | server cores busy | load generator cores busy |',
    '| --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n')
  process.stdout.write(`\n${table}\n`)
  if (quick) return
  writeSection('cluster', `## Cluster (node:cluster): 1 vs 2 workers on one SPDY port

Command: \`npx tsx bench/cluster.ts --runs ${runs} --seconds ${seconds}\` (${machine()}).
Plain SPDY/3.1, GET /small (11-byte body), bench/spdy-load.ts with ${CONNECTIONS} connections x ${STREAMS} streams in
one process; ${runs} runs of ${seconds} s after a 1 s warm-up, 1 and 2 workers alternating; medians. Server CPU is the
primary's plus every worker's (the primary accepts and hands connections to workers round-robin). Nothing is
pinned: the load generator shares the machine's 2 cores with the workers, so with 2 workers three busy processes
compete for 2 cores and the 2-worker row is bounded by the machine, not by the server alone. Load average (1, 5,
15 min) ${loadBefore} before the run and ${loadavg()} after; ${Number(loadBefore.split(' ')[0]) < 2
  ? 'the machine had nothing else to do.'
  : `the machine was busy with other jobs: under such load the server's processes get a fraction of a core each (the
"server cores busy" column) and CPU per request is inflated by the contention: read the ratio within this run
only, and re-run on a quiet machine before drawing a conclusion about what a second worker buys.`}

${table}
`)
}

if (process.argv.includes('--serve')) void serve(Number(arg('serve', '2')))
else main().catch((err) => { console.error(err); process.exit(1) })
