/**
 * The example app imports 'fastify-spdy', which resolves to dist/ through the package's self-reference: tests that
 * run it build dist first when it is missing or older than lib/ (as `npm ci` does through the prepare script).
 * Several such tests run at once under tap's jobs: after an edit to lib/, each found dist stale and started
 * scripts/build.mjs, whose first step deletes dist/, so one build removed the files another was renaming
 * ("ENOENT, rename 'dist/cjs/index.d.ts'") or a demo already started from dist/. One build at a time, under a lock.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const ROOT = resolve(__dirname, '../..')
// Outside the checkout (nothing to ignore in git), one per checkout (worktrees build their own dist/).
const LOCK = join(tmpdir(), `fastify-spdy-dist-${createHash('sha256').update(ROOT).digest('hex').slice(0, 16)}.lock`)

/**
 * Builds dist/ if it is stale, under flock(1) (util-linux, in every Debian): the kernel drops the lock when its
 * holder exits, killed mid-build or not, so there is no stale lock file to take over (an earlier O_EXCL lock file
 * had to be, and two waiters could both take it). Whoever waited finds dist fresh (`--if-stale`).
 */
export function ensureDist (): void {
  execFileSync('flock', [LOCK, process.execPath, 'scripts/build.mjs', '--if-stale'], { cwd: ROOT, stdio: 'pipe' })
}
