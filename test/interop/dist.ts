/**
 * The example app imports 'fastify-spdy', which resolves to dist/ through the package's self-reference: tests that
 * run it build dist first when it is missing or older than lib/ (as `npm ci` does through the prepare script).
 * Several such tests run at once under tap's jobs: after an edit to lib/, each found dist stale and started
 * scripts/build.mjs, whose first step deletes dist/, so one build removed the files another was renaming
 * ("ENOENT, rename 'dist/cjs/index.d.ts'") or a demo already started from dist/. One build at a time, under a lock
 * file; whoever waited re-checks and finds dist fresh.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const ROOT = resolve(__dirname, '../..')
// Outside the checkout (nothing to ignore in git), one per checkout (worktrees build their own dist/).
const LOCK = join(tmpdir(), `fastify-spdy-dist-${createHash('sha256').update(ROOT).digest('hex').slice(0, 16)}.lock`)

function newestMtime (dir: string): number {
  let newest = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

function fresh (): boolean {
  const entries = ['dist/cjs/index.js', 'dist/esm/index.mjs'].map((p) => join(ROOT, p))
  return entries.every((p) => existsSync(p) && statSync(p).mtimeMs >= newestMtime(join(ROOT, 'lib')))
}

const pause = new Int32Array(new SharedArrayBuffer(4))

/** Takes the lock (O_EXCL create); a lock whose holder is gone (killed mid-build) is taken over. */
function lock (): void {
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    let holder = Number.NaN
    try { holder = Number(readFileSync(LOCK, 'utf8')) } catch { continue /* released meanwhile */ }
    let alive = true
    // An empty file is a holder between its create and its write: alive.
    if (holder > 0) try { process.kill(holder, 0) } catch (e) { alive = (e as NodeJS.ErrnoException).code === 'EPERM' }
    if (!alive) { try { unlinkSync(LOCK) } catch { /* another waiter took it over first */ } continue }
    // A build takes seconds; this is a wait for the holder, not a deadline (tap's timeout is the guard).
    Atomics.wait(pause, 0, 0, 100)
  }
}

export function ensureDist (): void {
  if (fresh()) return
  lock()
  try {
    if (!fresh()) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'pipe' })
  } finally {
    unlinkSync(LOCK)
  }
}
