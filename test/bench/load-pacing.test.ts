/**
 * The paced load generators of bench/throughput.ts's "at equal load" block: bench/go-load (-rate, Go: net/http and
 * spdystream) and bench/spdy-load.ts (--rate). Nothing here is timed: what is asserted is what the open-loop schedule
 * makes certain whatever the machine's speed.
 * - No slot at or past the deadline is taken, so a call of W + S seconds at R per second starts at most ceil(R(W+S))
 *   requests (unpaced, the same call makes thousands), and every one is answered: the server's own count equals the
 *   generator's `all`, with no errors.
 * - No request starts before its slot, so the call lasts at least until the slot of its last request: the measured
 *   seconds it reports are at least (all - 1) / R - W. A lower bound that a slow machine only makes truer (the sleep
 *   lasts at least its time); a generator that did not wait would take those slots at once and report far less.
 * - A server that holds each answer for 30 ms makes one connection paced at 1000 per second fall behind by at least
 *   29 ms more with each request: every start after the first is late (> 1 ms), by at least 29 ms x (started - 1) at
 *   the last. The pacing fields are checked for consistency (lateShare = late / started).
 */
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { ensureGoLoad } from '../../bench/goload'

const ROOT = join(__dirname, '..', '..')
const BODY = 'hello world'

interface Report { requests: number, all: number, seconds: number, errors: number, rate?: number, started?: number, late?: number, lateShare?: number, meanLateMs?: number, maxLateMs?: number }

function run (cmd: string, args: string[]): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null) { reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`)); return }
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Report)
    })
  })
}

/** An HTTP/1.1 server answering /small with the 11-byte body after `delayMs`, counting requests. */
async function http1Server (delayMs = 0): Promise<{ port: number, count: () => number, close: () => Promise<void> }> {
  let n = 0
  const server = http.createServer((req, res) => {
    n++
    const answer = (): void => { res.setHeader('content-type', 'text/plain'); res.end(BODY) }
    if (delayMs > 0) setTimeout(answer, delayMs); else answer()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    count: () => n,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

/** fastify-spdy, plain SPDY, /small as bench/servers.ts has it, counting requests. */
async function spdyServer (): Promise<{ port: number, count: () => number, close: () => Promise<void> }> {
  let n = 0
  const app = Fastify()
  await app.register(spdy, { tls: false, port: 0 })
  app.get('/small', async () => { n++; return BODY })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: app.spdy.port!, count: () => n, close: () => app.close() }
}

/** The schedule's bounds, every request answered and counted by the server, and consistent pacing fields. */
function checkPaced (t: Test, r: Report, served: number, rate: number, warmup: number, secs: number): void {
  t.equal(r.errors, 0, 'no errors')
  t.equal(r.rate, rate, 'reports its rate')
  t.ok(r.all >= 1, `started at least slot 0 (${r.all})`)
  const slots = Math.ceil(rate * (warmup + secs))
  t.ok(r.all <= slots, `at most ceil(${rate} x ${warmup + secs}) = ${slots} requests in all (${r.all})`)
  const last = (r.all - 1) / rate - warmup
  t.ok(r.seconds >= last - 1e-9, `no start before its slot: measured seconds ${r.seconds} >= slot of request ${r.all - 1} less the warm-up, ${last}`)
  t.equal(served, r.all, 'the server answered every request the generator counted, and no more')
  t.ok(r.started! >= 0 && r.late! >= 0 && r.late! <= r.started!, `late ${r.late} of ${r.started} started while measuring`)
  t.equal(r.lateShare, r.started! > 0 ? r.late! / r.started! : 0, 'lateShare = late / started')
  t.ok(r.maxLateMs! >= r.meanLateMs! && r.meanLateMs! >= 0, `mean ${r.meanLateMs} ms <= max ${r.maxLateMs} ms`)
}

// Built here (the sources as they stand), into a directory of this test's own: never installed (that needs root and
// apt-get; bench/throughput.ts does it), so without Go or spdystream the go-load tests skip with the reason.
const out = mkdtempSync(join(tmpdir(), 'go-load-'))
t.teardown(() => rmSync(out, { recursive: true, force: true }))
const built = ensureGoLoad(out, { install: false })

t.test('go-load -rate', { skip: 'skip' in built ? `go-load cannot be built here: ${built.skip}` : false }, async (t) => {
  const binary = (built as { binary: string }).binary
  const goLoad = (args: string[]): Promise<Report> => run(binary, args)

  t.test('HTTP/1.1 (net/http), whole and in pieces: at most R x (warm-up + seconds) requests, all answered', async (t) => {
    for (const fragment of ['1', '4']) {
      const srv = await http1Server()
      const r = await goLoad(['-proto', 'http1', '-port', String(srv.port), '-c', '5', '-rate', '200', '-seconds', '1', '-warmup', '0.5', '-fragment', fragment])
      checkPaced(t, r, srv.count(), 200, 0.5, 1)
      await srv.close()
    }
  })

  t.test('SPDY/3 (spdystream), whole and in pieces, against fastify-spdy', async (t) => {
    for (const fragment of ['1', '4']) {
      const srv = await spdyServer()
      const r = await goLoad(['-proto', 'spdy', '-port', String(srv.port), '-c', '2', '-m', '3', '-rate', '200', '-seconds', '1', '-warmup', '0.5', '-fragment', fragment])
      checkPaced(t, r, srv.count(), 200, 0.5, 1)
      await srv.close()
    }
  })

  t.test('unpaced, the same call is not bounded by a schedule and reports no pacing', async (t) => {
    const srv = await http1Server()
    const r = await goLoad(['-proto', 'http1', '-port', String(srv.port), '-c', '5', '-seconds', '1', '-warmup', '0'])
    await srv.close()
    t.equal(r.errors, 0)
    t.equal(r.rate, undefined)
    t.equal(r.lateShare, undefined)
    t.equal(srv.count(), r.all)
  })

  t.test('a server slower than the schedule: every start after the first is late, and by more each time', async (t) => {
    // One connection, slots 1 ms apart, answers held 30 ms: request k starts at >= 30k ms against its slot at k ms.
    const srv = await http1Server(30)
    const r = await goLoad(['-proto', 'http1', '-port', String(srv.port), '-c', '1', '-rate', '1000', '-seconds', '0.3', '-warmup', '0'])
    await srv.close()
    checkPaced(t, r, srv.count(), 1000, 0, 0.3)
    t.ok(r.started! >= 1 && r.late! >= r.started! - 1, `late ${r.late} of ${r.started}`)
    t.ok(r.maxLateMs! >= 29 * (r.started! - 1), `the last started >= 29 ms x ${r.started! - 1} late (${r.maxLateMs} ms)`)
  })
})

t.test('spdy-load --rate against fastify-spdy', async (t) => {
  const spdyLoad = (port: number, extra: string[]): Promise<Report> => run(process.execPath, ['--import', 'tsx', 'bench/spdy-load.ts', '--port', String(port), '--connections', '2', '--streams', '3', '--seconds', '1', '--warmup', '0.5', '--version', '3.1', ...extra])
  for (const fragment of [[], ['--fragment', '4']] as string[][]) {
    const srv = await spdyServer()
    const r = await spdyLoad(srv.port, ['--rate', '200', ...fragment])
    checkPaced(t, r, srv.count(), 200, 0.5, 1)
    await srv.close()
  }
})
