/**
 * The CLI's own output failing: `fastify-spdy get URL | head -c 10` through a real shell pipe that head closes after
 * 10 bytes. The body (4 MiB) is larger than a pipe holds, so the CLI is still writing when head leaves and its write
 * fails with EPIPE; it must exit 0 without a word, as `head` expects. Stdout on /dev/full (ENOSPC) is any other
 * write error: exit 11, silently. A bad usage still gets its one line (the other failures are in cli.test.ts).
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import Fastify from 'fastify'
import spdy from '../../lib/index'

const ROOT = resolve(__dirname, '../..')
const CLI = `'${process.execPath}' --import tsx '${join(ROOT, 'lib/cli/main.ts')}'`
const BODY = Buffer.alloc(4 << 20, 'x')

/** Runs `script` in bash; it prints the CLI's exit status (PIPESTATUS[0]) on stdout. Asynchronous: the server
 * under test lives in this process. */
function bash (script: string): Promise<{ status: number, stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', script + '; echo "${PIPESTATUS[0]}"'], { cwd: ROOT, timeout: 60_000 }, (_err, stdout, stderr) => {
      resolve({ status: Number(stdout.trim().split('\n').pop()), stderr })
    })
  })
}

t.test('output errors end the CLI quietly', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0 })
  app.get('/big', async (_req, reply) => reply.type('text/plain').send(BODY))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const url = `spdy://127.0.0.1:${app.spdy.port!}/big`
  const dir = mkdtempSync(join(tmpdir(), 'fastify-spdy-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const err = join(dir, 'stderr')
  const out = join(dir, 'stdout')

  const piped = await bash(`${CLI} get ${url} 2>'${err}' | head -c 10 >'${out}'`)
  t.equal(readFileSync(out, 'utf8'), 'xxxxxxxxxx', 'head got its 10 bytes')
  t.equal(piped.status, 0, 'EPIPE on stdout: exit status 0')
  t.equal(readFileSync(err, 'utf8'), '', 'and nothing on stderr (no stack trace)')

  // -v writes every frame to stderr: with stderr on the pipe too, the first failed write ends it the same way.
  const verbose = await bash(`${CLI} get ${url} -v 2>&1 | head -c 10 >'${out}'`)
  t.equal(readFileSync(out, 'utf8'), '* connecte', 'head got the first 10 bytes of the verbose output')
  t.equal(verbose.status, 0, 'EPIPE on stderr and stdout: exit status 0')

  const full = await bash(`${CLI} get ${url} >/dev/full 2>'${err}'`)
  t.equal(full.status, 11, 'ENOSPC on stdout: exit status 11 (output could not be written)')
  t.equal(readFileSync(err, 'utf8'), '', 'quietly')

  const usage = await bash(`${CLI} get 2>'${err}' | head -c 10 >'${out}'`)
  t.equal(usage.status, 2, 'a bad usage is still exit status 2')
  t.match(readFileSync(err, 'utf8'), /^fastify-spdy: missing <url>\n/, 'with its one line on stderr')
})
