/**
 * The example app imports 'fastify-spdy', which resolves to dist/ through the package's self-reference: tests that
 * run it build dist first when it is missing or older than lib/ (as `npm ci` does through the prepare script).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

export const ROOT = resolve(__dirname, '../..')

function newestMtime (dir: string): number {
  let newest = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

export function ensureDist (): void {
  const entries = ['dist/cjs/index.js', 'dist/esm/index.mjs'].map((p) => join(ROOT, p))
  const fresh = entries.every((p) => existsSync(p) && statSync(p).mtimeMs >= newestMtime(join(ROOT, 'lib')))
  if (!fresh) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'pipe' })
}
