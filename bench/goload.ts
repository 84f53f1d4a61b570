/**
 * An independent load generator for bench/throughput.ts: bench/go-load/main.go, a small Go program on Debian's
 * `golang-github-docker-spdystream-dev` (the SPDY/3 library Docker and Kubernetes used; not ours, not Node) for
 * SPDY, and Go's net/http for HTTP/1.1, so both protocols are driven by the same language and runtime.
 *
 * ensureGoLoad() installs `golang-go` and that package with apt-get when they are missing (root only), builds the
 * program in GOPATH mode against the packaged sources (offline: no module proxy), and returns the binary's path,
 * or null with a reason when it cannot (no apt-get, not root, install or build failed).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'

/** Where Debian's Go library packages put their sources (a GOPATH `src` tree). */
const GOCODE = '/usr/share/gocode'
const PACKAGES = ['golang-go', 'golang-github-docker-spdystream-dev']

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void => { execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env, timeout: 600_000 }) }
const have = (cmd: string): boolean => { try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true } catch { return false } }
const spdystreamSource = (): string | null => {
  // bench/go-load imports the library by its current name (Debian keeps github.com/docker/spdystream as a link to it).
  const p = 'github.com/moby/spdystream'
  return existsSync(join(GOCODE, 'src', p, 'connection.go')) ? p : null
}

export function ensureGoLoad (outDir: string, opts: { install: boolean } = { install: true }): { binary: string } | { skip: string } {
  const binary = join(outDir, 'go-load')
  const source = join(__dirname, 'go-load', 'main.go')
  if (!have('go') || spdystreamSource() === null) {
    if (!opts.install) return { skip: `go or spdystream missing (a full run installs ${PACKAGES.join(' ')})` }
    if (!have('apt-get')) return { skip: `go or spdystream missing and no apt-get to install ${PACKAGES.join(' ')}` }
    if (process.getuid?.() !== 0) return { skip: `go or spdystream missing; installing ${PACKAGES.join(' ')} needs root` }
    process.stdout.write(`# installing ${PACKAGES.join(' ')} with apt-get\n`)
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    try { run('apt-get', ['install', '-y', '-qq', ...PACKAGES], env) } catch {
      // Package lists may be missing on a fresh image: fetch them once and try again.
      try { run('apt-get', ['update', '-qq'], env); run('apt-get', ['install', '-y', '-qq', ...PACKAGES], env) } catch (err) {
        return { skip: `apt-get install ${PACKAGES.join(' ')} failed: ${String((err as { stderr?: Buffer }).stderr ?? err).slice(0, 300)}` }
      }
    }
  }
  if (!have('go') || spdystreamSource() === null) return { skip: 'go or the spdystream sources are still missing after apt-get' }
  mkdirSync(outDir, { recursive: true })
  // GOPATH mode against the packaged sources: no network, no module proxy.
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: GOCODE, GOCACHE: join(outDir, 'go-cache') }
  try {
    run('go', ['build', '-o', binary, source], env)
  } catch (err) {
    return { skip: `go build of bench/go-load failed: ${String((err as { stderr?: Buffer }).stderr ?? err).slice(0, 500)}` }
  }
  return { binary }
}
