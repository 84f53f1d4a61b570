// `npm run fuzz [-- SECONDS [TARGET...]]`: runs each fuzz target of test/fuzz/targets/ under jsfuzz (coverage-guided:
// istanbul counters in every module the target loads) for SECONDS (default 60, or FUZZ_SECONDS), one after another.
//
// Why jsfuzz and not @jazzer.js/core (the fuzzer issue 11 names): jazzer.js 4.0.0's only native part ships as
// prebuilt binaries that need glibc 2.38 (Debian 12, our CI, has 2.36: "GLIBC_2.38 not found" at load), and the
// 2.x releases that build from source download LLVM's compiler-rt from GitHub during the build, which this network
// refuses. jsfuzz is pure JavaScript, made for the same job (libFuzzer-style mutation, corpus kept by coverage).
//
// jsfuzz instruments CommonJS JavaScript only, so the targets and lib/ are compiled to .fuzz/build first (tsc,
// test/fuzz/tsconfig.json). Each target's corpus starts from test/fuzz/corpus/TARGET (copied to .fuzz/corpus, which
// grows there). A crash (an exception that is not one of our typed errors, a hang, memory over the limit) is
// copied into test/fuzz/corpus/TARGET/crash-*.bin, where the replay test (test/fuzz/replay.test.ts) keeps running
// it; the run then exits 1.
import { spawn, execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, copyFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative, resolve } from 'node:path'

const require = createRequire(import.meta.url)
const root = resolve(import.meta.dirname, '..')
const args = process.argv.slice(2)
const seconds = Number(args.find((a) => /^\d+$/.test(a)) ?? process.env.FUZZ_SECONDS ?? 60)
const ALL = ['codec', 'session', 'tls', 'server']
const targets = args.filter((a) => !/^\d+$/.test(a))
for (const t of targets) if (!ALL.includes(t)) { console.error(`unknown target ${t}; one of ${ALL.join(', ')}`); process.exit(2) }

const out = join(root, '.fuzz')
rmSync(join(out, 'build'), { recursive: true, force: true })
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'test/fuzz/tsconfig.json')], { stdio: 'inherit' })
const jsfuzz = join(root, 'node_modules/jsfuzz/build/src/index.js')
const known = JSON.parse(readFileSync(join(root, 'test/fuzz/known-crashes.json'), 'utf8'))
/** Longest wait for a target's first input (jsfuzz's worker loading and instrumenting it, the server's start). */
const BOOT_S = 120

// jsfuzz's own per-input timeout catches an input that never finishes (checked every 3 s). Its clock starts before
// its worker has loaded (and instrumented) the target's modules, which takes several seconds on a busy machine, so
// it is set well above that; an input that finishes but took longer than FUZZ_HANG_MS (1 s) is failed by the
// targets themselves (test/fuzz/invariants.ts bounded(), and the server target's own deadline).
const TIMEOUT_S = { codec: 30, session: 30, tls: 30, server: 60 }

async function run (target) {
  const work = join(out, 'run', target)
  const corpus = join(out, 'corpus', target)
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  mkdirSync(corpus, { recursive: true })
  // Crash inputs whose fix is not on this branch yet (test/fuzz/known-crashes.json, replayed as todo) would stop the
  // run at its first input: they stay out of the fuzzer's seeds.
  cpSync(join(root, 'test/fuzz/corpus', target), corpus, { recursive: true })
  for (const k of Object.keys(known)) if (k.startsWith(`${target}/`)) rmSync(join(corpus, k.slice(target.length + 1)), { force: true })
  const script = join(out, 'build/test/fuzz/targets', `${target}.js`)
  // jsfuzz's worker loads the target from process.cwd() joined with this path: it must be relative.
  const child = spawn(process.execPath, [jsfuzz, relative(work, script), corpus,
    '--versifier', 'false', '--rss-limit-mb', '1024', '--timeout', String(TIMEOUT_S[target])], {
    cwd: work, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FUZZ_HANG_MS: '1000', NODE_OPTIONS: `--require ${join(out, 'build/test/fuzz/preload.js')}` }
  })
  let log = ''
  const stop = () => { try { process.kill(-child.pid, 'SIGKILL') } catch {} }
  // jsfuzz runs until a crash: `seconds` are counted from its first input (its start-up is not fuzzing time), then
  // its process group (it and its worker) is stopped.
  let timer = setTimeout(stop, BOOT_S * 1000)
  let started = 0
  const keep = (c) => {
    log += c
    if (log.length > 1 << 20) log = log.slice(-(1 << 19))
    if (started === 0 && /^#[1-9]\d* (?:NEW|PULSE)/m.test(log)) { started = Date.now(); clearTimeout(timer); timer = setTimeout(stop, seconds * 1000) }
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const { code } = await exited
  clearTimeout(timer)
  try { process.kill(-child.pid, 'SIGKILL') } catch {}
  const stats = [...log.matchAll(/^#(\d+) (?:NEW|PULSE)\s+cov: (\d+) corp: (\d+)/gm)].pop()
  const crashes = readdirSync(work).filter((f) => f.startsWith('crash-'))
  const summary = `${target}: ${started === 0 ? 0 : ((Date.now() - started) / 1000).toFixed(0)} s, ${stats?.[1] ?? 0} inputs, coverage ${stats?.[2] ?? 0}, corpus ${stats?.[3] ?? 0}`
  if (started === 0 && crashes.length === 0) { console.log(`${summary}: ran no input within ${BOOT_S} s of starting\n${log.slice(-2000)}`); return false }
  if (crashes.length === 0 && code !== 1) { console.log(`${summary}, no crash`); return true }
  console.log(`${summary}: CRASH`)
  console.log(log.split('=================================================================').slice(1).join('\n').slice(0, 4000) || log.slice(-4000))
  for (const f of crashes) {
    const dest = join(root, 'test/fuzz/corpus', target, `${f.replace(/^crash-/, 'crash-').slice(0, 22)}.bin`)
    copyFileSync(join(work, f), dest)
    console.log(`kept as ${dest.slice(root.length + 1)} (hex ${readFileSync(dest).toString('hex').slice(0, 400)})`)
  }
  return false
}

let ok = true
for (const t of targets.length > 0 ? targets : ALL) ok = (await run(t)) && ok
process.exit(ok ? 0 : 1)
