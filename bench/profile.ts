/**
 * Where a server's CPU goes, from a V8 CPU profile (`node --cpu-prof`): self time summed by where the code lives
 * (our lib/ folders, pako, Fastify, Node internals, GC, ...) and the top functions. Used to explain a throughput
 * figure (bench/throughput.ts), e.g.:
 *   taskset -c 0 node --cpu-prof --cpu-prof-dir=bench/.out/prof --import tsx bench/servers.ts fastify-spdy
 *   taskset -c 1 bench/.out/go-load -proto spdy -port P -c 1 -m 100 -seconds 5     (then SIGTERM the server)
 *   npx tsx bench/profile.ts bench/.out/prof/CPU.*.cpuprofile [--skip-ms 3000 | --last-ms 6000] [--requests N]
 * At equal load (issue 14) the server runs as shipped (`bench/servers.ts fastify-spdy --dist`, after npm run build)
 * and the generator is paced (go-load -rate 10000, spdy-load --rate 10000); --requests is the paced run's count.
 * --skip-ms leaves out the first milliseconds of samples (start-up, certificate generation, JIT warm-up);
 * --last-ms keeps only the last milliseconds (the load, when the server was stopped right after it).
 * --top N: how many functions to list (25).
 * --requests N: the requests served in the window kept, to print each bucket and function also in us per request
 * (sampled time, so a profiled process's own overhead is in it: compare areas, not totals, with unprofiled runs).
 * The plugin's code is bucketed by its lib/ folder whether it ran from lib/ (tsx) or dist/cjs|esm (servers.ts --dist).
 */
import { readFileSync } from 'node:fs'

interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: Node[], startTime: number, samples: number[], timeDeltas: number[] }

/** A bucket for a script URL: the folder of ours, the package of node_modules, or what V8 calls the rest. */
function bucketOf (url: string, fn: string): string {
  if (url === '') return fn === '(garbage collector)' ? 'GC' : fn === '(program)' || fn === '(idle)' ? fn : `(native) ${fn}`
  const lib = /\/(?:lib|dist\/(?:cjs|esm))\/([^/]+)\//.exec(url)
  if (lib !== null && !url.includes('node_modules')) return `lib/${lib[1]}`
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (mod !== null) return mod[1]
  if (url.startsWith('node:')) return 'node internals'
  return url.replace(/^.*\/(bench|lib|example-app)\//, '$1/')
}

function main (): void {
  const file = process.argv[2]
  if (file === undefined) throw new Error('usage: tsx bench/profile.ts FILE.cpuprofile [--skip-ms N]')
  const skipAt = process.argv.indexOf('--skip-ms')
  const lastAt = process.argv.indexOf('--last-ms')
  const reqAt = process.argv.indexOf('--requests')
  const requests = reqAt >= 0 ? Number(process.argv[reqAt + 1]) : 0
  const topAt = process.argv.indexOf('--top')
  const TOP = topAt >= 0 ? Number(process.argv[topAt + 1]) : 25
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const span = p.timeDeltas.reduce((a, b) => a + b, 0)
  const skipUs = skipAt >= 0 ? Number(process.argv[skipAt + 1]) * 1000 : lastAt >= 0 ? span - Number(process.argv[lastAt + 1]) * 1000 : 0
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const buckets = new Map<string, number>()
  const fns = new Map<string, number>()
  let t = 0
  let total = 0
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]
    if (t < skipUs) continue
    const n = byId.get(p.samples[i])!
    const { functionName, url, lineNumber } = n.callFrame
    if (functionName === '(idle)') continue
    const dt = p.timeDeltas[i]
    total += dt
    const b = bucketOf(url, functionName)
    buckets.set(b, (buckets.get(b) ?? 0) + dt)
    const f = `${functionName || '(anonymous)'} ${url === '' ? '' : `${bucketOf(url, functionName)}:${lineNumber + 1}`}`
    fns.set(f, (fns.get(f) ?? 0) + dt)
  }
  const pct = (x: number): string => `${(100 * x / total).toFixed(1)}%`.padStart(6) + (requests > 0 ? `  ${(x / requests).toFixed(2).padStart(6)} us/req` : '')
  process.stdout.write(`busy samples: ${(total / 1e6).toFixed(2)} s of ${((span - Math.max(0, skipUs)) / 1e6).toFixed(2)} s profiled` +
    `${requests > 0 ? ` (${(total / requests).toFixed(1)} us per request over ${requests})` : ''}\n\nby where the code lives:\n`)
  for (const [b, v] of [...buckets].sort((a, b) => b[1] - a[1]).slice(0, 20)) process.stdout.write(`  ${pct(v)}  ${b}\n`)
  process.stdout.write('\ntop functions (self time):\n')
  for (const [f, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, TOP)) process.stdout.write(`  ${pct(v)}  ${f}\n`)
}

main()
