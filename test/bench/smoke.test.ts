/**
 * The benchmark harness must not rot: `npm run bench -- --quick` (bench/run.ts) runs every benchmark in a few
 * seconds each; each must exit cleanly, print its result, and leave bench/RESULTS.md alone (only full runs
 * rewrite it). Figures are not checked: benchmarks never make timed assertions.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = join(__dirname, '..', '..')
// Seven benches in turn take 70-110 s on a busy 2-core machine, close to .taprc's 120 s per file: a bound on a
// hang, not on speed (nothing here is timed).
t.setTimeout(300_000)
const RESULTS = join(ROOT, 'bench', 'RESULTS.md')

const T = String.raw`(?:\d+ ms|\d+\.\d\d s)`
const TN = String.raw`(?:\d+ ms|\d+\.\d\d s|n/a)`
const XN = String.raw`(?:\d+\.\d\dx|n/a)`
/**
 * The result lines of this benches; the others (whose output their owners reshape) must print at least
 * one line with a figure that is not a comment.
 */
const RESULT_LINE: Record<string, RegExp> = {
  // Chromium's columns read n/a (and a `# skip` line says why) where no chromium is installed.
  pageload: new RegExp(String.raw`^pageload: /\S+ at RTT \d+ ms, \d+ Mbit/s: chromium-h1 ${TN}, chromium-h2 ${TN}, https ${T}, spdy ${T}, spdy\+push ${T}; spdy\+push / chromium-h1 ${XN}, / chromium-h2 ${XN}$`, 'm'),
  headers: /^headers: 100 requests, header bytes \(wire less bodies\) SPDY\/2 0\.\d+x, SPDY\/3 0\.\d+x of HTTP\/1\.1 \(\d+ B\)$/m
}
const ANY_FIGURE = /^(?!#).*\d/m

/** The bench list as run.ts has it, so a bench added there is covered here without editing this test. */
function benchList (): string[] {
  const m = /const benches = \[([^\]]*)\]/.exec(readFileSync(join(ROOT, 'bench', 'run.ts'), 'utf8'))
  if (m === null) throw new Error('bench/run.ts: no `const benches = [...]`')
  return [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1])
}

t.test('npm run bench -- --quick runs every bench, prints results, writes nothing', async (t) => {
  const before = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : null
  const { code, out } = await new Promise<{ code: number | null, out: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join('bench', 'run.ts'), '--quick'], { cwd: ROOT, maxBuffer: 64 << 20, timeout: 280_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, out: stdout + stderr })
    })
  })
  t.equal(code, 0, 'exit code 0', { output: out.slice(-4000) })
  const benches = benchList()
  t.ok(benches.includes('pageload') && benches.includes('headers'), 'run.ts lists pageload and headers')
  for (const name of benches) {
    if (!existsSync(join(ROOT, 'bench', `${name}.ts`))) continue
    if (name === 'throughput' && out.includes('skip throughput: wrk is not installed')) continue
    const start = out.indexOf(`\n== ${name}\n`)
    t.ok(start >= 0, `${name} ran`)
    if (start < 0) continue
    const next = out.indexOf('\n== ', start + 1)
    const section = out.slice(start + name.length + 5, next < 0 ? undefined : next)
    const pattern = RESULT_LINE[name]
    t.match(section, pattern ?? ANY_FIGURE, `${name} printed its result line`)
  }
  t.equal(existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : null, before, '--quick left bench/RESULTS.md unchanged')
})
