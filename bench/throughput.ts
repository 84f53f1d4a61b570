/**
 * Small-GET throughput: the same route served by Fastify over HTTP/1.1 (wrk, 50 keep-alive connections), by
 * fastify-spdy over plain SPDY/3.1 (our load generator: 1 connection x 100 streams, and 10 connections x 10 streams)
 * and by the npm `spdy` server (same generator). Server pinned to core 0, load generator to core 1.
 *   tsx bench/throughput.ts [--quick] [--runs N] [--seconds S]
 * Needs wrk (apt-get install wrk). Rewrites its section of bench/RESULTS.md (not in --quick).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { machine, median, writeSection } from './results'

const quick = process.argv.includes('--quick')
const argN = (name: string, d: number): number => { const i = process.argv.indexOf(`--${name}`); return i >= 0 ? Number(process.argv[i + 1]) : d }
const runs = argN('runs', quick ? 1 : 3)
const seconds = argN('seconds', quick ? 1 : 5)

function startServer (kind: string): Promise<{ port: number, proc: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const proc = spawn('taskset', ['-c', '0', process.execPath, '--import', 'tsx', 'bench/servers.ts', kind], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /READY (\d+)/.exec(out)
      if (m !== null) resolve({ port: Number(m[1]), proc })
    })
    proc.on('exit', (code) => reject(new Error(`${kind} exited with ${code}`)))
  })
}

function wrk (port: number): number {
  const out = execFileSync('taskset', ['-c', '1', 'wrk', '-t1', '-c50', `-d${seconds}s`, `http://127.0.0.1:${port}/small`]).toString()
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out)
  if (m === null) throw new Error(`wrk output not understood:\n${out}`)
  return Number(m[1])
}

function spdyLoad (port: number, connections: number, streams: number): number {
  const out = execFileSync('taskset', ['-c', '1', process.execPath, '--import', 'tsx', 'bench/spdy-load.ts', '--port', String(port),
    '--connections', String(connections), '--streams', String(streams), '--seconds', String(seconds), '--version', '3.1']).toString()
  const r = JSON.parse(out.trim().split('\n').pop()!) as { rps: number, errors: number }
  if (r.errors > 0) throw new Error(`${r.errors} errors in SPDY load`)
  return r.rps
}

interface Row { name: string, load: string, rps: number[] }

async function measure (kind: string, load: string, fn: (port: number) => number): Promise<Row> {
  const { port, proc } = await startServer(kind)
  const rps: number[] = []
  try {
    for (let i = 0; i < runs; i++) rps.push(fn(port))
  } finally {
    proc.kill('SIGTERM')
  }
  return { name: kind, load, rps }
}

async function main (): Promise<void> {
  const rows: Row[] = []
  rows.push(await measure('fastify-http1', 'wrk, 50 keep-alive connections', wrk))
  rows.push(await measure('fastify-spdy', 'spdy-load, 1 connection x 100 streams', (p) => spdyLoad(p, 1, 100)))
  rows.push(await measure('fastify-spdy', 'spdy-load, 10 connections x 10 streams', (p) => spdyLoad(p, 10, 10)))
  rows.push(await measure('npm-spdy', 'spdy-load, 1 connection x 100 streams', (p) => spdyLoad(p, 1, 100)))
  const anchor = median(rows[0].rps)
  const lines = rows.map((r) => {
    const m = median(r.rps)
    return `| ${r.name} | ${r.load} | ${Math.round(m)} | ${Math.round(Math.min(...r.rps))}-${Math.round(Math.max(...r.rps))} | ${(m / anchor).toFixed(2)}x |`
  })
  const table = ['| server | load | req/s (median) | spread | vs Fastify HTTP/1.1 |', '| --- | --- | --- | --- | --- |', ...lines].join('\n')
  process.stdout.write(table + '\n')
  if (!quick) {
    writeSection('throughput', `## Small GET throughput (plain TCP)\n\nCommand: \`npx tsx bench/throughput.ts --runs ${runs} --seconds ${seconds}\`\nMachine: ${machine()}; server on core 0, load generator on core 1.\n\n${table}\n`)
  }
}

main().catch((err) => { console.error(err); process.exit(1) })
