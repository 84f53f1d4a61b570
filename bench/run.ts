/**
 * `npm run bench` runs every benchmark in turn, each rewriting its section of bench/RESULTS.md;
 * `npm run bench -- --quick` is a few-second smoke run of each (nothing written), used by the tests so the
 * harness cannot rot.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

const quick = process.argv.includes('--quick')
const benches = ['codec', 'session', 'dispatch', 'tls', 'throughput', 'pageload', 'headers']
for (const name of benches) {
  const file = join(__dirname, `${name}.ts`)
  if (!existsSync(file)) continue
  if (name === 'throughput') {
    try { execFileSync('wrk', ['--version'], { stdio: 'ignore' }) } catch (err) {
      // wrk prints its version and exits 1; only a missing binary is a problem.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') { process.stdout.write('skip throughput: wrk is not installed (apt-get install wrk)\n'); continue }
    }
  }
  process.stdout.write(`\n== ${name}\n`)
  execFileSync(process.execPath, ['--import', 'tsx', file, ...(quick ? ['--quick'] : [])], { stdio: 'inherit' })
}
