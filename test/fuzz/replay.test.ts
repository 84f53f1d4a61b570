/**
 * Every input of test/fuzz/corpus/ through its fuzz target, in the ordinary test run: the seeds made from real
 * traffic (test/fuzz/capture.ts) and every crash the fuzzer kept (crash-*.bin, regression inputs). Each must pass
 * the target's invariants: nothing but our typed errors escapes the codec, the session, the TLS engine or the whole
 * server path, and the server answers and goes quiet. `npm run fuzz` (scripts/fuzz.mjs) is the coverage-guided run.
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FuzzTarget } from './invariants'
import * as codec from './targets/codec'
import * as session from './targets/session'
import * as tls from './targets/tls'
import * as server from './targets/server'

const CORPUS = join(__dirname, 'corpus')
/** Crash inputs kept before their fix reached this branch (see the file): todo, with the reason. */
const known = JSON.parse(readFileSync(join(__dirname, 'known-crashes.json'), 'utf8')) as Record<string, string>
const targets: Record<string, FuzzTarget> = { codec, session, tls, server }

t.teardown(() => server.stop())

for (const [name, target] of Object.entries(targets)) {
  t.test(name, async (t) => {
    const files = readdirSync(join(CORPUS, name)).filter((f) => f.endsWith('.bin')).sort()
    t.ok(files.some((f) => f.startsWith('seed-')), `${name} has seeds from real traffic`)
    for (const f of files) {
      const input = readFileSync(join(CORPUS, name, f))
      const todo = known[`${name}/${f}`]
      await t.resolves(async () => { await target.fuzz(input) }, `${f} (${input.length} bytes)`, todo !== undefined ? { todo } : {})
    }
  })
}
