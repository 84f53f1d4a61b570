/**
 * Small-GET throughput and one large download, the same routes (bench/servers.ts) over every stack:
 *   Fastify HTTP/1.1 and HTTPS/1.1 (wrk, 50 keep-alive connections), Fastify's own HTTP/2, h2c and TLS (h2load,
 *   1 connection x 100 streams and 10 x 10), fastify-spdy plain and over our TLS (bench/spdy-load.ts, ALPN; 1 x 100
 *   and 10 x 10), and the npm `spdy` server (plain, spdy-load 1 x 100).
 *   Download: one 100 MiB GET per stack (curl for HTTP/1.1 and HTTP/2, spdy-load --download for SPDY).
 * Every server runs in its own process pinned to core 0, alone: it is started for its stack's rows in a run and
 * stopped after them (with every server alive at once, idle ones included, the same SPDY server measured 20-25%
 * slower, so co-resident processes were a confounder; `--together` keeps the old way for comparison). Every load
 * generator is pinned to core 1. Runs alternate between stacks, order reversed every other run, so a busy moment on
 * a shared machine hits all of them; ratios are against Fastify HTTP/1.1 (wrk) in the same run. Besides req/s, the server process's CPU time per
 * request (utime+stime from /proc) is reported: it is what the protocol stack costs, independent of how well the
 * load generator keeps it busy.
 *   tsx bench/throughput.ts [--quick] [--runs N] [--seconds S] [--rate R] [--only term,term] [--together]
 * --only: the rows whose server kind is one of the terms, or whose server or load description contains one (e.g.
 * `--only fastify-http1,js-floor,fragment`; `--only equal-load` runs just the "at equal load" block); nothing is
 * written then.
 * "At equal load" (issue 14): CPU per request falls as a server gets busier (more ready sockets and bytes per epoll
 * wakeup and per read), so the rows above, each at whatever rate its client reaches, compare servers at different
 * loads. A second block paces every load generator at one rate R (--rate, default EQUAL_RATE) and compares there.
 * Needs wrk (apt-get install wrk); h2load (apt-get install nghttp2-client) and curl are optional: rows needing a
 * missing tool are skipped with a message. Rewrites its section of bench/RESULTS.md (not in --quick).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensureGoLoad } from './goload'
import { loadavg, machine, median, writeSection } from './results'

const quick = process.argv.includes('--quick')
/** The first load each fresh server gets, unmeasured (see the warm-up in main()). */
const WARMUP_SECONDS = 5
const argN = (name: string, d: number): number => { const i = process.argv.indexOf(`--${name}`); return i >= 0 ? Number(process.argv[i + 1]) : d }
const runs = argN('runs', quick ? 1 : 3)
const seconds = argN('seconds', quick ? 1 : 5)
/**
 * The rate of the "at equal load" block, requests per second. It must be below what every paced row's generator
 * reaches unpaced on this machine, or the slowest rows would measure a server at a lower load than the rest: the
 * slowest, go-load spdystream, reached 14.8k-17.1k in the run of 2026-11-30 (the HTTP/1.1 and floor rows in 8 writes
 * 17.3k-20.9k, spdy-load --fragment 8 22.6k-25.3k), so 10k leaves it a third in hand while the server is still far
 * from saturated (measured at 10k the same day: Fastify HTTP/1.1's server core 0.2-0.3 busy, spdystream's 0.3-0.6).
 * Each paced row reports its achieved rate and lateness, so a row whose generator could not keep the schedule shows it.
 */
const EQUAL_RATE = argN('rate', 10_000)
/** Quick mode downloads 8 MiB instead of 100 so the smoke run stays short. */
const bigPath = quick ? '/big8' : '/big'
const bigMiB = quick ? 8 : 100
/**
 * --only term,term: just the rows a term selects (e.g. a before/after of one change); nothing is written then. A term
 * that is a server kind selects that kind's rows (`fastify-spdy` is not `fastify-spdy-tls`); any other term selects
 * the rows whose server label or load description contains it (`fragment`, `spdystream`, `TLS 1.2`).
 */
const onlyArg = process.argv.indexOf('--only')
const only = onlyArg >= 0 ? process.argv[onlyArg + 1].split(',').filter((x) => x !== '') : null
const KINDS = ['fastify-http1', 'fastify-https1', 'fastify-https1-tls12', 'fastify-h2c', 'fastify-h2', 'fastify-spdy', 'fastify-spdy-tls', 'js-floor', 'js-floor-onread', 'js-floor-tls', 'npm-spdy']
const selected = (kind: string, ...text: string[]): boolean => only === null || only.some((term) => KINDS.includes(term) ? term === kind : text.some((x) => x.includes(term)))
/** The --only term of the "at equal load" block (its rows' loads name their rate, not this). */
const EQUAL_LOAD = 'equal-load'
/** --together: all servers alive for the whole run (the earlier method), nothing written. */
const together = process.argv.includes('--together')

function have (tool: string, args: string[]): boolean {
  try { execFileSync(tool, args, { stdio: 'ignore' }); return true } catch (err) {
    // wrk prints its version and exits 1: only a missing binary counts.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT'
  }
}
/**
 * bench/go-load (Go: spdystream for SPDY, net/http for HTTP/1.1), a load generator none of our code is in; built
 * here, after apt-get installs Go and spdystream if they are missing (not in --quick: the smoke run must stay
 * short, so it skips these rows instead). Built when the first selected row needs it (see add()), so an --only run
 * without go-load rows does not build it.
 */
let goLoadBuilt: ReturnType<typeof ensureGoLoad> | null = null
const goLoad = (): ReturnType<typeof ensureGoLoad> => {
  if (goLoadBuilt === null) {
    goLoadBuilt = ensureGoLoad(join(__dirname, '.out'), { install: !quick })
    if ('skip' in goLoadBuilt) process.stdout.write(`skip go-load rows: ${goLoadBuilt.skip}\n`)
  }
  return goLoadBuilt
}
/** npm spdy 4 loads http-deceiver, which calls process.binding('http_parser'): removed in Node 24, so no npm-spdy rows there. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const npmSpdyLoads = ((): boolean => { try { require('spdy'); return true } catch { return false } })()
const tools = { wrk: have('wrk', ['--version']), h2load: have('h2load', ['--version']), curl: have('curl', ['--version']), get goload () { return 'binary' in goLoad() }, spdy: npmSpdyLoads }
const missing = (need: keyof typeof tools): string => need === 'spdy' ? `npm spdy does not load on Node ${process.version}` : `${need} is not installed`

/** `tlsVersions()`: the versions its HTTPS connections negotiated, once it has exited (servers.ts prints them). */
interface Server { port: number, proc: ChildProcess, tlsVersions: () => Record<string, number> | null }

function startServer (kind: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const proc = spawn('taskset', ['-c', '0', process.execPath, '--import', 'tsx', 'bench/servers.ts', kind, ...(quick ? [] : ['--dist'])], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /READY (\d+)/.exec(out)
      if (m !== null) {
        resolve({
          port: Number(m[1]),
          proc,
          tlsVersions: () => { const v = /TLS (\{.*\})/.exec(out); return v === null ? null : JSON.parse(v[1]) as Record<string, number> }
        })
      }
    })
    proc.on('exit', (code) => reject(new Error(`${kind} exited with ${code}`)))
  })
}

/**
 * What the server process has spent so far (taskset execs node, so the pid is the server's): user and system CPU
 * seconds (/proc/PID/stat utime, stime), read(2)-family system calls (/proc/PID/io syscr: one per socket read libuv
 * makes), and the main thread's voluntary context switches (/proc/PID/status: the event loop blocking in epoll_wait
 * and waking again, i.e. loop turns that found nothing else to do).
 */
interface Usage { user: number, system: number, reads: number, wakeups: number }
function usage (pid: number): Usage {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  const field = (text: string, name: string): number => { const m = new RegExp(`^${name}:\\s*(\\d+)$`, 'm').exec(text); return m === null ? NaN : Number(m[1]) }
  // After the command name: field 3 is state, so utime (14) and stime (15) are at indices 11 and 12.
  return {
    user: Number(fields[11]) / 100,
    system: Number(fields[12]) / 100,
    reads: field(readFileSync(`/proc/${pid}/io`, 'utf8'), 'syscr'),
    wakeups: field(readFileSync(`/proc/${pid}/status`, 'utf8'), 'voluntary_ctxt_switches')
  }
}

const onCore1 = (cmd: string, args: string[]): string => execFileSync('taskset', ['-c', '1', cmd, ...args], { maxBuffer: 1 << 24 }).toString()

/**
 * Each load returns requests completed and the seconds they took; `served` is every request the server answered
 * during the call (warm-up included) when that differs, and `clientCpu` the load generator's CPU seconds per second
 * when it reports it.
 */
interface LoadResult { requests: number, seconds: number, served?: number, clientCpu?: number, pacing?: Pacing }
/**
 * A paced load's report (go-load -rate, spdy-load --rate; the same JSON fields): the share of requests started in the
 * measured seconds more than 1 ms after their slot in the schedule, and the most any started late (ms).
 */
interface Pacing { lateShare: number, maxLateMs: number }
/** The JSON line go-load and spdy-load print (the pacing fields only with a rate). */
interface LoadJson { requests: number, all: number, seconds: number, clientCpu: number, errors: number, rate?: number, lateShare?: number, maxLateMs?: number }
const loadJson = (out: string): LoadJson => JSON.parse(out.trim().split('\n').pop()!) as LoadJson
/** LoadResult from that JSON: the server's CPU over the call includes the generator's warm-up, so `served` is `all`. */
const fromJson = (r: LoadJson): LoadResult => ({
  requests: r.requests,
  seconds: r.seconds,
  served: r.all,
  clientCpu: r.clientCpu,
  ...(r.rate !== undefined ? { pacing: { lateShare: r.lateShare!, maxLateMs: r.maxLateMs! } } : {})
})
type Load = (port: number, secs: number) => LoadResult

const wrk = (scheme: 'http' | 'https'): Load => (port, secs) => {
  const out = onCore1('wrk', ['-t1', '-c50', `-d${secs}s`, `${scheme}://127.0.0.1:${port}/small`])
  const m = /(\d+) requests in ([\d.]+)(m?s)/.exec(out)
  if (m === null || /Non-2xx|Socket errors/.test(out)) throw new Error(`wrk output not understood or errors:\n${out}`)
  return { requests: Number(m[1]), seconds: Number(m[2]) / (m[3] === 'ms' ? 1000 : 1) }
}

const h2load = (scheme: 'http' | 'https', c: number, m: number): Load => (port, secs) => {
  const out = onCore1('h2load', ['-c', String(c), '-m', String(m), '-D', String(secs), `${scheme}://127.0.0.1:${port}/small`])
  const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(out)
  const t = /finished in ([\d.]+)(m?s)/.exec(out)
  if (done === null || t === null || Number(done[3]) > 0) throw new Error(`h2load output not understood or failures:\n${out}`)
  return { requests: Number(done[2]), seconds: Number(t[1]) / (t[2] === 'ms' ? 1000 : 1) }
}

const spdyLoad = (tls: boolean, connections: number, streams: number, fragment = 0, extra: string[] = []): Load => (port, secs) => {
  const out = onCore1(process.execPath, ['--import', 'tsx', 'bench/spdy-load.ts', '--port', String(port), ...(tls ? ['--tls'] : []), ...(fragment > 0 ? ['--fragment', String(fragment)] : []), ...extra,
    '--connections', String(connections), '--streams', String(streams), '--seconds', String(secs), '--warmup', quick ? '0' : '1', '--version', '3.1'])
  const r = loadJson(out)
  if (r.errors > 0) throw new Error(`${r.errors} errors in SPDY load`)
  // The server's CPU over the call includes spdy-load's warm-up second: divide it by the requests of that second too.
  return fromJson(r)
}

/** bench/go-load: `-proto spdy` (spdystream, SPDY/3) or `-proto http1` (net/http); same JSON as spdy-load's. `rate` > 0: paced (-rate). */
const goLoadRun = (proto: 'spdy' | 'http1', connections: number, streams: number, tlsVersion?: '1.2' | '1.3', fragment = 1, rate = 0): Load => (port, secs) => {
  const built = goLoad()
  if (!('binary' in built)) throw new Error('go-load is not built')
  const out = onCore1(built.binary, ['-proto', proto, '-port', String(port), ...(tlsVersion !== undefined ? ['-tls', tlsVersion] : []), ...(fragment > 1 ? ['-fragment', String(fragment)] : []), ...(rate > 0 ? ['-rate', String(rate)] : []), '-c', String(connections), '-m', String(streams), '-seconds', String(secs), '-warmup', quick ? '0' : '1'])
  const r = loadJson(out)
  if (r.errors > 0) throw new Error(`${r.errors} errors in go-load ${proto}`)
  return fromJson(r)
}

/** MiB/s of one download. */
type Download = (port: number) => number

const curl = (scheme: 'http' | 'https', h2: boolean): Download => (port) => {
  const args = ['-s', '-k', '-o', '/dev/null', '-w', '%{speed_download} %{size_download} %{http_version}']
  if (h2) args.push(scheme === 'http' ? '--http2-prior-knowledge' : '--http2')
  const [speed, size, ver] = onCore1('curl', [...args, `${scheme}://127.0.0.1:${port}${bigPath}`]).trim().split(' ')
  if (Number(size) !== bigMiB * 2 ** 20 || (h2 && ver !== '2')) throw new Error(`curl got ${size} bytes over HTTP/${ver}`)
  return Number(speed) / 2 ** 20
}

const spdyDownload = (tls: boolean): Download => (port) => {
  const out = onCore1(process.execPath, ['--import', 'tsx', 'bench/spdy-load.ts', '--port', String(port), ...(tls ? ['--tls'] : []), '--download', '--path', bigPath, '--version', '3.1'])
  const r = JSON.parse(out.trim().split('\n').pop()!) as { bytes: number, mbps: number, errors: number }
  if (r.errors > 0 || r.bytes !== bigMiB * 2 ** 20) throw new Error(`SPDY download: ${out}`)
  return r.mbps
}

/**
 * Per run: `cpuUs` the server's CPU per request served (`userUs` + `sysUs`), `reads` and `wakeups` per request (see
 * usage()); `rate` set for the rows of the "at equal load" block, whose runs also give `lateShare` and `maxLateMs`.
 */
interface Case { kind: string, label: string, load: string, run: Load, rate?: number, rps: number[], cpuUs: number[], userUs: number[], sysUs: number[], clientCpu: number[], reads: number[], wakeups: number[], lateShare: number[], maxLateMs: number[] }
interface DlCase { kind: string, label: string, client: string, run: Download, mbps: number[] }

const cases: Case[] = []
const downloads: DlCase[] = []
const skipped: string[] = []
/** The HTTP/1.1 load whose requests arrive in 8 writes each, like spdy-load --fragment 8's frames. */
const FRAGMENTED_HTTP1 = 'go-load net/http -fragment 8 (every write in 8 writes)'
/** The same over TLS: go-load splits the plaintext above crypto/tls, so each piece is its own TLS record. */
const fragmentedHttps = (v: '1.2' | '1.3'): string => `go-load net/http -tls ${v} -fragment 8 (every write in 8 TLS records)`
const GO_HTTP1 = 'go-load net/http, 50 keep-alive connections'
const JS_FLOOR = 'js-floor (a bare JS \'data\' handler: finds each request head, writes a canned 200)'
const JS_FLOOR_TLS = 'js-floor TLS (the same on node:tls)'
const JS_FLOOR_ONREAD = 'js-floor onread (the same, reading through net.Socket onread)'

/** `rate`: a row of the "at equal load" block, its generator paced at that many requests per second. */
function add (need: keyof typeof tools | null, kind: string, label: string, load: string, run: Load, rate?: number): void {
  if (!selected(kind, label, load, rate !== undefined ? EQUAL_LOAD : '')) return
  // The smoke run exercises each stack once: the 10 x 10 rows add no code path, nor do go-load's HTTP/1.1 and the
  // fragmented rows (go-load is exercised by its SPDY row, --fragment is one write loop).
  if (quick && (load.includes('10 connections') || load.startsWith('go-load net/http') || load.includes('--fragment'))) return
  if (need !== null && !tools[need]) { skipped.push(`${label} (${load}): ${missing(need)}`); return }
  cases.push({ kind, label, load, run, rate, rps: [], cpuUs: [], userUs: [], sysUs: [], clientCpu: [], reads: [], wakeups: [], lateShare: [], maxLateMs: [] })
}
function addDl (need: keyof typeof tools | null, kind: string, label: string, client: string, run: Download): void {
  if (!selected(kind, label, client)) return
  if (need !== null && !tools[need]) { skipped.push(`${label} download: ${missing(need)}`); return }
  downloads.push({ kind, label, client, run, mbps: [] })
}

add('wrk', 'fastify-http1', 'Fastify HTTP/1.1', 'wrk, 50 keep-alive connections', wrk('http'))
add('goload', 'fastify-http1', 'Fastify HTTP/1.1', GO_HTTP1, goLoadRun('http1', 50, 1))
// The like-for-like anchor of the fragmented SPDY rows: the same HTTP/1.1 server when each request arrives in pieces.
add('goload', 'fastify-http1', 'Fastify HTTP/1.1', `${FRAGMENTED_HTTP1}, 50 keep-alive connections`, goLoadRun('http1', 50, 1, undefined, 8))
// Issue 12's comparison: small GETs over TLS at one version, HTTPS/1.1 against SPDY on the plugin's OpenSSL side.
// wrk cannot pin a TLS version: the server kind does (fastify-https1-tls12), and servers.ts reports what was used.
add('wrk', 'fastify-https1', 'Fastify HTTPS/1.1 TLS 1.3 (Node TLS)', 'wrk, 50 keep-alive connections', wrk('https'))
add('goload', 'fastify-https1', 'Fastify HTTPS/1.1 TLS 1.3 (Node TLS)', 'go-load net/http -tls 1.3, 50 keep-alive connections', goLoadRun('http1', 50, 1, '1.3'))
// The like-for-like anchor of the spdystream TLS rows: HTTPS/1.1 when each request arrives as 8 records.
add('goload', 'fastify-https1', 'Fastify HTTPS/1.1 TLS 1.3 (Node TLS)', `${fragmentedHttps('1.3')}, 50 keep-alive connections`, goLoadRun('http1', 50, 1, '1.3', 8))
add('wrk', 'fastify-https1-tls12', 'Fastify HTTPS/1.1 TLS 1.2 (Node TLS)', 'wrk, 50 keep-alive connections', wrk('https'))
add('goload', 'fastify-https1-tls12', 'Fastify HTTPS/1.1 TLS 1.2 (Node TLS)', 'go-load net/http -tls 1.2, 50 keep-alive connections', goLoadRun('http1', 50, 1, '1.2'))
add('goload', 'fastify-https1-tls12', 'Fastify HTTPS/1.1 TLS 1.2 (Node TLS)', `${fragmentedHttps('1.2')}, 50 keep-alive connections`, goLoadRun('http1', 50, 1, '1.2', 8))
// The floor: what a JavaScript socket consumer pays per request with no protocol work at all, whole and in pieces,
// against which the fragmented rows above and below are read (the paragraph after the table).
add('goload', 'js-floor', JS_FLOOR, GO_HTTP1, goLoadRun('http1', 50, 1))
add('goload', 'js-floor', JS_FLOOR, `${FRAGMENTED_HTTP1}, 50 keep-alive connections`, goLoadRun('http1', 50, 1, undefined, 8))
// The same floor reading through net.Socket's onread (one reused buffer, no Readable push or 'data'): the path the
// plugin's own sockets take once they are known to stay SPDY (Driver.readInPlace).
add('goload', 'js-floor-onread', JS_FLOOR_ONREAD, GO_HTTP1, goLoadRun('http1', 50, 1))
add('goload', 'js-floor-onread', JS_FLOOR_ONREAD, `${FRAGMENTED_HTTP1}, 50 keep-alive connections`, goLoadRun('http1', 50, 1, undefined, 8))
add('goload', 'js-floor-tls', JS_FLOOR_TLS, 'go-load net/http -tls 1.2, 50 keep-alive connections', goLoadRun('http1', 50, 1, '1.2'))
add('goload', 'js-floor-tls', JS_FLOOR_TLS, `${fragmentedHttps('1.2')}, 50 keep-alive connections`, goLoadRun('http1', 50, 1, '1.2', 8))
add('h2load', 'fastify-h2c', 'Fastify HTTP/2 h2c', 'h2load, 1 connection x 100 streams', h2load('http', 1, 100))
add('h2load', 'fastify-h2c', 'Fastify HTTP/2 h2c', 'h2load, 10 connections x 10 streams', h2load('http', 10, 10))
add('h2load', 'fastify-h2', 'Fastify HTTP/2 TLS (Node TLS)', 'h2load, 1 connection x 100 streams', h2load('https', 1, 100))
add('h2load', 'fastify-h2', 'Fastify HTTP/2 TLS (Node TLS)', 'h2load, 10 connections x 10 streams', h2load('https', 10, 10))
add(null, 'fastify-spdy', 'fastify-spdy SPDY/3.1 plain', 'spdy-load, 1 connection x 100 streams', spdyLoad(false, 1, 100))
add(null, 'fastify-spdy', 'fastify-spdy SPDY/3.1 plain', 'spdy-load, 10 connections x 10 streams', spdyLoad(false, 10, 10))
add('goload', 'fastify-spdy', 'fastify-spdy SPDY/3 plain', 'go-load spdystream, 1 connection x 100 streams', goLoadRun('spdy', 1, 100))
add('goload', 'fastify-spdy', 'fastify-spdy SPDY/3 plain', 'go-load spdystream, 10 connections x 10 streams', goLoadRun('spdy', 10, 10))
add(null, 'fastify-spdy', 'fastify-spdy SPDY/3.1 plain', 'spdy-load --fragment 8 (every frame in 8 writes), 1 connection x 100 streams', spdyLoad(false, 1, 100, 8))
add(null, 'fastify-spdy', 'fastify-spdy SPDY/3.1 plain', 'spdy-load --fragment 8 (every frame in 8 writes), 10 connections x 10 streams', spdyLoad(false, 10, 10, 8))
const OSSL13 = 'fastify-spdy SPDY/3.1 TLS 1.3 (server: OpenSSL)'
const OSSL12 = 'fastify-spdy SPDY/3.1 TLS 1.2 (server: OpenSSL)'
const NODE13 = ['--tls-stack', 'openssl', '--tls-version', 'TLSv1.3']
add(null, 'fastify-spdy-tls', OSSL13, 'spdy-load --tls-stack openssl (Node TLS 1.3, ALPN), 1 connection x 100 streams', spdyLoad(true, 1, 100, 0, NODE13))
add(null, 'fastify-spdy-tls', OSSL13, 'spdy-load --tls-stack openssl (Node TLS 1.3, ALPN), 10 connections x 10 streams', spdyLoad(true, 10, 10, 0, NODE13))
add('goload', 'fastify-spdy-tls', 'fastify-spdy SPDY/3 TLS 1.3 (server: OpenSSL)', 'go-load spdystream -tls 1.3 (crypto/tls, ALPN), 10 connections x 10 streams', goLoadRun('spdy', 10, 10, '1.3'))
// Our TLS 1.2 client offering ALPN only: the plugin gives it OpenSSL too.
add(null, 'fastify-spdy-tls', OSSL12, 'spdy-load (our lib/tls client, ALPN), 1 connection x 100 streams', spdyLoad(true, 1, 100))
add(null, 'fastify-spdy-tls', OSSL12, 'spdy-load (our lib/tls client, ALPN), 10 connections x 10 streams', spdyLoad(true, 10, 10))
add('goload', 'fastify-spdy-tls', 'fastify-spdy SPDY/3 TLS 1.2 (server: OpenSSL)', 'go-load spdystream -tls 1.2 (crypto/tls, ALPN), 10 connections x 10 streams', goLoadRun('spdy', 10, 10, '1.2'))
// NPN: the plugin's own TLS 1.2 engine (lib/tls) serves it.
add(null, 'fastify-spdy-tls', 'fastify-spdy SPDY/3.1 over lib/tls (NPN, server: our engine)', 'spdy-load --negotiation npn, 1 connection x 100 streams', spdyLoad(true, 1, 100, 0, ['--negotiation', 'npn']))
add('spdy', 'npm-spdy', 'npm spdy 4.0.2 SPDY/3.1 plain', 'spdy-load, 1 connection x 100 streams', spdyLoad(false, 1, 100))
// At equal load (issue 14): the HTTP/1.1 anchors, the floor and plain SPDY, every generator paced at EQUAL_RATE.
// Listed after the rows above so that, for each server, its first (warm-up) load is an unpaced one in a full run.
const R = EQUAL_RATE
const GO_HTTP1_PACED = `go-load net/http -rate ${R}, 50 keep-alive connections`
const FRAGMENTED_HTTP1_PACED = `go-load net/http -rate ${R} -fragment 8 (every write in 8 writes), 50 keep-alive connections`
add('goload', 'fastify-http1', 'Fastify HTTP/1.1', GO_HTTP1_PACED, goLoadRun('http1', 50, 1, undefined, 1, R), R)
add('goload', 'fastify-http1', 'Fastify HTTP/1.1', FRAGMENTED_HTTP1_PACED, goLoadRun('http1', 50, 1, undefined, 8, R), R)
add('goload', 'js-floor', JS_FLOOR, GO_HTTP1_PACED, goLoadRun('http1', 50, 1, undefined, 1, R), R)
add('goload', 'js-floor', JS_FLOOR, FRAGMENTED_HTTP1_PACED, goLoadRun('http1', 50, 1, undefined, 8, R), R)
add('goload', 'fastify-spdy', 'fastify-spdy SPDY/3 plain', `go-load spdystream -rate ${R}, 10 connections x 10 streams`, goLoadRun('spdy', 10, 10, undefined, 1, R), R)
add('goload', 'fastify-spdy', 'fastify-spdy SPDY/3 plain', `go-load spdystream -rate ${R}, 1 connection x 100 streams`, goLoadRun('spdy', 1, 100, undefined, 1, R), R)
add(null, 'fastify-spdy', 'fastify-spdy SPDY/3.1 plain', `spdy-load --rate ${R}, 10 connections x 10 streams`, spdyLoad(false, 10, 10, 0, ['--rate', String(R)]), R)
add(null, 'fastify-spdy', 'fastify-spdy SPDY/3.1 plain', `spdy-load --rate ${R} --fragment 8 (every frame in 8 writes), 10 connections x 10 streams`, spdyLoad(false, 10, 10, 8, ['--rate', String(R)]), R)
addDl('curl', 'fastify-http1', 'Fastify HTTP/1.1', 'curl', curl('http', false))
addDl('curl', 'fastify-https1', 'Fastify HTTPS/1.1 (Node TLS)', 'curl', curl('https', false))
addDl('curl', 'fastify-h2c', 'Fastify HTTP/2 h2c', 'curl --http2-prior-knowledge', curl('http', true))
addDl('curl', 'fastify-h2', 'Fastify HTTP/2 TLS (Node TLS)', 'curl --http2', curl('https', true))
addDl(null, 'fastify-spdy', 'fastify-spdy SPDY/3.1 plain', 'spdy-load --download', spdyDownload(false))
addDl(null, 'fastify-spdy-tls', OSSL12, 'spdy-load --download (our lib/tls client, ALPN)', spdyDownload(true))
addDl('spdy', 'npm-spdy', 'npm spdy 4.0.2 SPDY/3.1 plain', 'spdy-load --download', spdyDownload(false))

/** What separate measurements (2026-11-25) found; kept with the section because every run rewrites it. */
const NOTES = `Earlier method: with every stack's server alive at once on core 0 (\`--together\`), the SPDY plain server cost
19.4-21.0 us per request against 14-16 us alone, and the full run gave 0.82x (1x100) / 0.76x (10x10); idle servers
used no CPU ticks, so the cause (suspected cache/TLB pressure from the other processes' heaps, each holding the
100 MiB download buffer) was not found. Measuring each stack alone removes that confounder for every row alike.

Where the SPDY plain server's time goes (\`node --cpu-prof\` of bench/servers.ts fastify-spdy under spdy-load
--streams 100, startup discounted; ~16 us per request in that run): pako deflate of SYN_REPLY headers 31% (per-block
Huffman tree building about half of it), GC 12%, header parse/serialise and framing (lib/codec) 13%, pako inflate 6%,
lib/server 7%, lib/session 7%, Node stream machinery of the compat objects 4%, Fastify itself 4%, the socket write
4% (one write per 32 responses). HTTP/1.1 spends nothing on header compression but pays a read and a write per
request; SPDY answers ~32 responses per write. Deflate level 3 would save ~0.9 us per small SYN_REPLY but makes
browser-like request blocks 2.3x bigger, so pako's settings stay. (That was before issue 14: header blocks are now
compressed by lib/codec/deflate.ts, fixed Huffman codes without per-block trees, ~0.6 us per repeated SYN_REPLY block
against pako's ~5 us at the same size; see the issue 14 method notes after this section.)

Before fd6095d the SPDY plain 10 connections x 10 streams row was bimodal on this machine: 4 s runs of spdy-load against one server
process (bench/servers.ts fastify-spdy, pinned as here) gave 71.7k, 56.6k, 53.0k, 51.2k req/s, and in another
process 49.1k-62.3k, with the server core busy throughout (13.1-13.5 us of CPU per request in the fast mode,
~18 us in the slow one). The commit before the native TLS record layer (which does not touch plain SPDY) shows
the same two modes (53.0k and 72.8k in consecutive runs). The 1 x 100 row is steady (15.1-15.9 us per request).
It is not batching: the server's read and write system calls per request (/proc/PID/io) stay at 0.10 each (one
read and one write per connection's 10 requests) in both modes, while its CPU per request moves from 13.9 to
17.0 us. It is garbage collection: \`node --cpu-prof\` of a slow and a fast server process gave GC 10.9% and
2.0% of server CPU, and \`--trace-gc\` over 5 s runs showed, in slow processes, scavenges of ~4 ms that each
promote ~2.5 MB to the old generation and 10-11 mark-compacts, against 0.4 ms scavenges promoting nothing and 0-1
mark-compacts in fast ones. Which mode a process settles in is decided early and stays; it is not V8's
allocation-site pretenuring (the same split with --no-allocation-site-pretenuring). What survived the scavenges in
slow processes, found with V8's sampling heap profiler keeping the samples of objects that outlive minor GCs
(HeapProfiler.startSampling with includeObjectsCollectedByMajorGC), was whole requests: dispatch's request and
response, Fastify's request and reply, our ServerStream and session stream, header lists (282 MB of samples in a
slow process against 14 MB in a fast one under the same load). Our per-connection Maps and Sets kept them: the
handler's streams, the session's streams and its per-priority ready sets. In V8 11.3 (Node 20), once such a
collection's table is in old space, every rehash allocates the new table in old space too, and the replaced table
keeps its entries until a mark-compact; the scavenger takes those dead old tables as roots, so each stream that was
in a table when it was rehashed (several times per burst of 10) was promoted with all it references. A process fell
into this when a table got old early in the load (a mark-compact or two scavenges while it was live), and then for
good. Since fd6095d the session and the handler use collections of their own (lib/session/stream-table.ts) that
clear a slot when its stream leaves and empty the storage they outgrow; test/session/stream-table.test.ts measures
the promotion directly. Before/after, fresh server per run (\`taskset -c 0 node --trace-gc --import tsx
bench/servers.ts fastify-spdy\`, then \`taskset -c 1 node --import tsx bench/spdy-load.ts --port P --connections 10
--streams 10 --seconds 4 --warmup 1\`), in alternating batches of 6. spdy-load runs our session too, so the
comparison that changes only the server uses today's spdy-load for both: the server of 44fa5ea (before), 12 runs, 4
slow processes (42.9k-54.3k req/s, 10-11 mark-compacts, median scavenge 4.4 ms, old generation growing 2.7-3.0 MB
per scavenge) and 8 fast (61.7k-71.4k, 0-1, 0.44 ms, 0.08-0.21 MB), median 64.4k; after, 24 runs, none slow
(57.2k-76.0k, median 72.3k, 0-2 mark-compacts, median scavenge 0.44 ms, 0.02-0.11 MB per scavenge). With 44fa5ea's
own spdy-load as well, 9 of 24 were slow and the median was 57.4k. The 1 x 100 row moved too, same spdy-load for
both: 54.6k-60.2k before, 66.9k-72.3k after (3 alternating runs each, --connections 1 --streams 100). Rows
measured before fd6095d follow whichever mode their runs landed in, and the issue 4 line above is read with that
spread.

Where the SPDY plain server's time goes with a client we did not write (issue 14, 2026-11-30, load average ~25: to
be re-run on a quiet machine). bench/servers.ts fastify-spdy under \`bench/.out/go-load -proto spdy -c 10 -m 10\`
(spdystream) for 4 s after a 1 s warm-up, \`node --cpu-prof\`, profile summarised by \`bench/profile.ts --last-ms
5000\`; reads and writes from /proc/PID/io (syscr, syscw). With the profiler on, the server made 1.34 reads and 0.78
writes per request under spdystream against 0.10 and 0.10 under spdy-load 10 x 10 (one read and one write per
connection's 10 requests): spdystream writes each frame in pieces and each of its goroutines waits for a reply
before its next request, so the server sees about one request per read and answers each in its own write (without
the profiler, on the busier machine, 0.21 reads and 0.18 writes per request: how many requests share a read
depends on how far the server falls behind). Self time under spdystream: the native socket write 14.0% (7.9%
under spdy-load), Node's stream and timer internals 23.4%, pako 17.6% (34.6% under spdy-load, where batching made
everything else cheaper), lib/server 13.6%, lib/codec 10.2%, lib/session 7.8%, GC 2.5%. lib/server/connection.ts
schedule() re-creates the connection's timer (clearTimeout + setTimeout, a timer-list insert) whenever the deadline
moves, i.e. on nearly every read: about 4%. HTTP/1.1 under go-load net/http also does 1.00 read and 1.00 write per
request but compresses no headers, so once batching is gone SPDY's zlib on both header blocks is not paid back.
What we would change in lib/ (not done: lib/ is not the benchmark task's): (1) flush a connection's frames once
per event-loop turn (setImmediate after the reads of one poll phase) instead of after each read's dispatch, so the
answers to requests that arrived in separate segments share a write; (2) keep one timer per connection and re-arm
it only when it fires before the current deadline (or timer.refresh()), not clearTimeout + setTimeout per read;
(3) the SYN_REPLY deflate cost noted above (pako's per-block Huffman trees).

The spdy-load --download rows measure spdy-load as much as the server: during them the fastify-spdy server process
was busy 50-65% of the time (plain: 7-9 CPU ticks of 10 ms over 0.14-0.15 s downloads; over lib/tls: 17-22 ticks
over 0.30-0.38 s; /proc/PID/stat), so the one Node process that decrypts, decodes and counts is the limit there,
not the server.`

const k = (n: number): string => n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0)
/** a / b as "1.23x", or n/a when the row b comes from was not run. */
const ratio = (a: number, b: number | null): string => b === null ? 'n/a' : `${(a / b).toFixed(2)}x`

/**
 * Which part of a fragmenting client's cost is the per-read cost any JavaScript socket consumer pays (issue 14), from
 * this run's figures: the js-floor server, whole and in pieces, against Fastify HTTP/1.1 (Node's C++ parser consumes
 * the socket: per read it runs one small JS callback, onParserExecute, and no Readable machinery) and SPDY.
 * Node v20's paths, read in its sources: a 'data' consumer pays, per read, lib/internal/stream_base_commons.js
 * onStreamRead (a FastBuffer over the read) -> Readable push/readableAddChunk -> addChunk -> emit('data') ->
 * maybeReadMore (a process.nextTick); _http_server.js connectionListenerInternal calls parser.consume(socket._handle)
 * for TCP and TLS sockets alike, so HTTP/1.1 reads go to the C++ parser (node_http_parser.cc OnStreamRead: Execute,
 * then one MakeCallback to kOnExecute). Over TLS, TLSWrap::ClearOut emits one read per SSL_read, and SSL_read returns
 * at most one record: a request in 8 records is 8 reads for either consumer.
 */
/**
 * A figure of `c`'s run whose total CPU per request is the median (the nearest, for an even count), so that user +
 * system adds up to the total shown and reads and wakeups belong to that same run.
 */
function v (c: Case, key: 'cpuUs' | 'userUs' | 'sysUs' | 'reads' | 'wakeups'): number {
  const m = median(c.cpuUs)
  return c[key][c.cpuUs.reduce((best, x, i) => Math.abs(x - m) < Math.abs(c.cpuUs[best] - m) ? i : best, 0)]
}
/** "A us (user U + system S; R reads, W wakeups per request)". */
const cost = (c: Case): string => `${v(c, 'cpuUs').toFixed(1)} us (user ${v(c, 'userUs').toFixed(1)} + system ${v(c, 'sysUs').toFixed(1)}; ${v(c, 'reads').toFixed(2)} reads, ${v(c, 'wakeups').toFixed(2)} wakeups per request)`

function floorText (row: (kind: string, load: string) => Case | undefined, spdyRows: Case[]): string {
  const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`
  /** Whole -> in pieces, with what the pieces added in user and system time. */
  const pair = (name: string, whole: Case, frag: Case, unit: string, extra: number): string => {
    const d = (key: 'cpuUs' | 'userUs' | 'sysUs'): string => signed(v(frag, key) - v(whole, key))
    return `${name}: whole ${cost(whole)}, in pieces ${cost(frag)}; the pieces add ${d('cpuUs')} us (user ${d('userUs')}, system ${d('sysUs')}), ` +
      `user time ${((v(frag, 'userUs') - v(whole, 'userUs')) / extra).toFixed(2)} us per extra ${unit}`
  }
  /** A fragmenting SPDY row against the fragmented floor: what is left is the protocol's own. */
  const above = (c: Case, floor: Case): string => `${c.load} ${cost(c)}: ${signed(v(c, 'cpuUs') - v(floor, 'cpuUs'))} us against the floor in pieces ` +
    `(user ${signed(v(c, 'userUs') - v(floor, 'userUs'))}, system ${signed(v(c, 'sysUs') - v(floor, 'sysUs'))})`
  const out: string[] = []
  const floorWhole = row('js-floor', GO_HTTP1)
  const floorFrag = row('js-floor', FRAGMENTED_HTTP1)
  const h1Whole = row('fastify-http1', GO_HTTP1)
  const h1Frag = row('fastify-http1', FRAGMENTED_HTTP1)
  const onreadWhole = row('js-floor-onread', GO_HTTP1)
  const onreadFrag = row('js-floor-onread', FRAGMENTED_HTTP1)
  if (floorWhole !== undefined && floorFrag !== undefined) {
    // Over TCP the 8 segments of a request often share a read (the server reads what has arrived): reads per
    // request are measured, and the user time the pieces add is divided by the extra reads.
    const extraReads = (w: Case, f: Case): number => v(f, 'reads') - v(w, 'reads')
    const pieces = spdyRows.filter((c) => c.load.includes('fragment') || c.load.includes('spdystream'))
    const whole = spdyRows.filter((c) => !pieces.includes(c))
    out.push('Per-read floor, plain TCP (go-load net/http, 50 keep-alive connections, each request whole, then in 8 writes; server CPU per request split into user and system time, ' +
      'reads = the server\'s read system calls, wakeups = its event loop blocking and waking; a read that sees no complete request still costs a JS consumer its onStreamRead, Buffer, push and \'data\'): ' +
      pair('js-floor (a JS \'data\' handler, no protocol)', floorWhole, floorFrag, 'read', extraReads(floorWhole, floorFrag)) +
      (h1Whole !== undefined && h1Frag !== undefined ? `. ${pair('Fastify HTTP/1.1 (its C++ parser consumes the socket; one small JS callback per read)', h1Whole, h1Frag, 'read', extraReads(h1Whole, h1Frag))}` : '') +
      (onreadWhole !== undefined && onreadFrag !== undefined ? `. ${pair('js-floor onread (net.Socket onread: no Buffer, push or \'data\' per read, as the plugin reads its SPDY sockets)', onreadWhole, onreadFrag, 'read', extraReads(onreadWhole, onreadFrag))}` : '') +
      (pieces.length > 0 ? `. SPDY plain${whole.length > 0 ? ` (whole frames: ${whole.map((c) => `${c.load} ${cost(c)}`).join('; ')})` : ''}, clients writing in pieces: ${pieces.map((c) => above(c, floorFrag)).join('; ')}` : '') +
      '. What the floor pays in pieces (its system time above all: the kernel receiving each segment) any JavaScript protocol on a Node socket pays too; what a row costs above it is the protocol\'s own work.\n')
  }
  const tlsWhole = row('js-floor-tls', 'go-load net/http -tls 1.2,')
  const tlsFrag = row('js-floor-tls', fragmentedHttps('1.2'))
  const hsWhole = row('fastify-https1-tls12', 'go-load net/http -tls 1.2,')
  const hsFrag = row('fastify-https1-tls12', fragmentedHttps('1.2'))
  if (tlsWhole !== undefined && tlsFrag !== undefined) {
    // Over TLS every record is one read for the consumer (TLSWrap::ClearOut emits one per SSL_read), however many
    // records a socket read brought: 8 records per request against 1, so 7 extra.
    const spdy = row('fastify-spdy-tls', 'go-load spdystream -tls 1.2')
    out.push('Per-record floor, TLS 1.2 (go-load net/http -tls 1.2, 50 keep-alive connections, each request in 1 record, then in 8): ' +
      pair('js-floor TLS', tlsWhole, tlsFrag, 'record', 7) +
      (hsWhole !== undefined && hsFrag !== undefined ? `. ${pair('Fastify HTTPS/1.1 TLS 1.2', hsWhole, hsFrag, 'record', 7)}` : '') +
      (spdy !== undefined ? `. SPDY/3 over TLS 1.2 (OpenSSL side): ${above(spdy, tlsFrag)}` : '') + '.\n')
  }
  return out.join('')
}

/**
 * The "at equal load" block (issue 14): its method, a table of the paced rows, the goal line and the SPDY/HTTP/1.1
 * ratios for whole and fragmented writes; '' when none ran.
 */
function equalLoadText (paced: Case[]): string {
  if (paced.length === 0) return ''
  const rate = paced[0].rate!
  /**
   * A run kept the schedule when its achieved rate is within 3% of it. Starts late by a few ms are scheduling jitter
   * (on a shared machine the generator waits for its core too) and are shown, not judged: the load is still R per
   * second. A generator that could not keep up falls short, or catches up after a stall and overshoots.
   */
  const kept = (c: Case, i: number): boolean => Math.abs(c.rps[i] / rate - 1) <= 0.03
  /** Each row with only its runs that kept the schedule (all of its runs when none did: then it is marked behind). */
  const rows = paced.map((c) => {
    const on = c.rps.map((_, i) => i).filter((i) => kept(c, i))
    const use = on.length > 0 ? on : c.rps.map((_, i) => i)
    const pick = (xs: number[]): number[] => xs.length === c.rps.length ? use.map((i) => xs[i]) : xs
    return { ...c, rps: pick(c.rps), cpuUs: pick(c.cpuUs), userUs: pick(c.userUs), sysUs: pick(c.sysUs), clientCpu: pick(c.clientCpu), reads: pick(c.reads), wakeups: pick(c.wakeups), lateShare: pick(c.lateShare), maxLateMs: pick(c.maxLateMs), keptRuns: on.length, runs: c.rps.length }
  })
  const onSchedule = (c: typeof rows[number]): boolean => c.keptRuns > 0
  const h1 = rows.find((c) => c.kind === 'fastify-http1' && c.load.startsWith(`go-load net/http -rate ${rate},`))
  const h1Frag = rows.find((c) => c.kind === 'fastify-http1' && c.load.startsWith(`go-load net/http -rate ${rate} -fragment 8`))
  const cpuOf = (c: Case | undefined): number | null => c === undefined ? null : median(c.cpuUs)
  const table = ['| server | load generator, paced | **server CPU per request** (median) | spread | user + system (median run) | reads per request | wakeups per request | CPU vs Fastify HTTP/1.1, whole requests | CPU vs Fastify HTTP/1.1, requests in 8 writes | runs on schedule | req/s achieved (median) | started > 1 ms late (median share) | latest start (ms, max) | server core busy | load generator core busy |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((c) => {
      const cpu = median(c.cpuUs)
      const m = median(c.rps)
      return `| ${c.label} | ${c.load} | **${cpu.toFixed(1)} us** | ${Math.min(...c.cpuUs).toFixed(1)}-${Math.max(...c.cpuUs).toFixed(1)} | ${v(c, 'userUs').toFixed(1)} + ${v(c, 'sysUs').toFixed(1)} | ${v(c, 'reads').toFixed(2)} | ${v(c, 'wakeups').toFixed(2)} | ` +
        `${ratio(cpu, cpuOf(h1))} | ${ratio(cpu, cpuOf(h1Frag))} | ${c.keptRuns} of ${c.runs} | ${k(m)}${onSchedule(c) ? '' : ' (**behind schedule**)'} | ${(median(c.lateShare) * 100).toFixed(1)}% | ${Math.max(...c.maxLateMs).toFixed(1)} | ` +
        `${(m * cpu / 1e6).toFixed(2)} | ${c.clientCpu.length > 0 ? median(c.clientCpu).toFixed(2) : 'n/a'} |`
    })].join('\n')
  const spdy = rows.filter((c) => c.kind === 'fastify-spdy')
  const behind = (c: typeof rows[number]): string => onSchedule(c) ? '' : ' (behind schedule in every run: measured at a lower load)'
  const pieces = spdy.filter((c) => c.load.includes('fragment') || c.load.includes('spdystream'))
  const whole = spdy.filter((c) => !pieces.includes(c))
  const goal = h1 === undefined || spdy.length === 0
    ? ''
    : `Issue 14 goal at equal load (${k(rate)} req/s; server CPU per small GET over plain SPDY <= 0.8x Fastify HTTP/1.1's under go-load net/http paced alike, ${cpuOf(h1)!.toFixed(1)} us${behind(h1)}): ` +
      spdy.map((c) => `${c.load}: ${ratio(median(c.cpuUs), cpuOf(h1))}${median(c.cpuUs) / cpuOf(h1)! > 0.8 ? ' **not met**' : ' met'}${behind(c)}`).join('; ') + '.\n'
  const likeForLike = [
    h1 === undefined || whole.length === 0 ? '' : `whole frames against whole requests (${cpuOf(h1)!.toFixed(1)} us): ${whole.map((c) => `${c.load} ${ratio(median(c.cpuUs), cpuOf(h1))}`).join('; ')}`,
    h1Frag === undefined || pieces.length === 0 ? '' : `clients writing in pieces against Fastify HTTP/1.1 under ${h1Frag.load} (${cpuOf(h1Frag)!.toFixed(1)} us${behind(h1Frag)}): ${pieces.map((c) => `${c.load} ${ratio(median(c.cpuUs), cpuOf(h1Frag))}`).join('; ')}`
  ].filter((x) => x !== '')
  return `
At equal load (issue 14). CPU per request falls as a server gets busier (more ready sockets and more bytes per epoll
wakeup and per read), so the rows above, each at the rate its client happens to reach, compare servers at different
loads. Here every load generator is paced at the same ${k(rate)} requests per second in all (\`--rate\`; chosen below
what the slowest generator, go-load spdystream, reaches unpaced: see EQUAL_RATE in bench/throughput.ts). go-load -rate
and spdy-load --rate follow an open-loop schedule: request i may start at t0 + i/R; a loop waits for its slot, or
starts at once when the slot is past (go-load's loops share one slot counter; spdy-load's connection j takes slots j,
j + C, ...). Both pace with timers of about 1 ms grain (Go's netpoller, Node's timers), and on a shared machine the
generator waits for its core too, so starts a few ms late are jitter, shown beside each row. A run kept the schedule
when its achieved rate is within 3% of it (a generator that fell behind falls short, or overshoots catching up after a
stall): each row's figures are medians over its runs that kept it (the column says how many), and a row with none is
marked and given over all its runs. Same servers, pinning, runs, warm-up (in a full run each server's first load is
one of the unpaced rows above) and CPU accounting as above; user + system, reads and wakeups are those of the run
whose total is the median.

${table}

${goal}${likeForLike.length > 0 ? `Like for like at equal load: ${likeForLike.join('; ')}.\n` : ''}`
}

async function main (): Promise<void> {
  const loadStart = loadavg()
  if (!tools.wrk) { process.stdout.write('skip throughput: wrk is not installed (apt-get install wrk); it measures the anchor\n'); return }
  for (const s of skipped) process.stdout.write(`skip ${s}\n`)
  // The servers load the plugin from dist/cjs (--dist): build it from this tree so the figures are this tree's.
  if (!quick) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' })
  const kinds = [...new Set([...cases.map((c) => c.kind), ...downloads.map((d) => d.kind)])]
  const servers = new Map<string, Server>()
  /** "kind TLSvX" -> connections the HTTPS/1.1 servers saw at that version (wrk's cannot be set). */
  const tlsSeen = new Map<string, number>()
  const measure = (c: Case, srv: Server, i: number): void => {
    const u0 = usage(srv.proc.pid!)
    const r = c.run(srv.port, seconds)
    const u1 = usage(srv.proc.pid!)
    const served = r.served ?? r.requests
    const reads = (u1.reads - u0.reads) / served
    const perReq = (u1.user + u1.system - u0.user - u0.system) / served * 1e6
    c.rps.push(r.requests / r.seconds)
    c.cpuUs.push(perReq)
    c.userUs.push((u1.user - u0.user) / served * 1e6)
    c.sysUs.push((u1.system - u0.system) / served * 1e6)
    c.reads.push(reads)
    c.wakeups.push((u1.wakeups - u0.wakeups) / served)
    if (r.clientCpu !== undefined) c.clientCpu.push(r.clientCpu)
    if (c.rate !== undefined && r.pacing === undefined) throw new Error(`${c.load}: the generator reported no pacing`)
    if (r.pacing !== undefined) { c.lateShare.push(r.pacing.lateShare); c.maxLateMs.push(r.pacing.maxLateMs) }
    process.stdout.write(`run ${i + 1} ${c.label}, ${c.load}: ${Math.round(r.requests / r.seconds)} req/s, server ${perReq.toFixed(1)} us CPU/req (user ${c.userUs[c.userUs.length - 1].toFixed(1)}), ${reads.toFixed(2)} reads/req, ${c.wakeups[c.wakeups.length - 1].toFixed(2)} wakeups/req` +
      ` (busy ${(perReq * r.requests / r.seconds / 1e6).toFixed(2)} core)${r.clientCpu !== undefined ? `, load generator ${r.clientCpu.toFixed(2)} core` : ''}` +
      `${r.pacing !== undefined ? `, ${(r.pacing.lateShare * 100).toFixed(1)}% started > 1 ms late (max ${r.pacing.maxLateMs.toFixed(1)} ms)` : ''}\n`)
  }
  const download = (d: DlCase, srv: Server, i: number): void => {
    const mbps = d.run(srv.port)
    d.mbps.push(mbps)
    process.stdout.write(`run ${i + 1} ${d.label} download (${d.client}): ${mbps.toFixed(0)} MiB/s\n`)
  }
  const stop = async (srv: Server): Promise<void> => {
    if (srv.proc.exitCode !== null) return
    const exited = new Promise((resolve) => srv.proc.once('exit', resolve))
    srv.proc.kill('SIGTERM')
    await exited
  }
  try {
    if (together) {
      // Sequentially: cert generation and startup on core 0 would otherwise race each other.
      for (const kind of kinds) servers.set(kind, await startServer(kind))
      if (!quick) cases.forEach((c, j) => c.run(servers.get(c.kind)!.port, cases.findIndex((x) => x.kind === c.kind) === j ? WARMUP_SECONDS : 1)) // warm-up, as below
      for (let i = 0; i < runs; i++) {
        for (const c of cases) measure(c, servers.get(c.kind)!, i)
        for (const d of downloads) download(d, servers.get(d.kind)!, i)
      }
    } else {
      for (let i = 0; i < runs; i++) {
        for (const kind of i % 2 === 0 ? kinds : [...kinds].reverse()) {
          const srv = await startServer(kind)
          servers.set(kind, srv)
          const mine = cases.filter((c) => c.kind === kind)
          // Warm-up: JIT, TLS sessions, zlib contexts. A fresh server spends its first seconds compiling (issue 14: 62-82
          // us per SPDY request in the first 3 s, a third of it on V8's compiler threads, against ~27 warm), so the
          // first load a server gets is a long one.
          if (!quick) mine.forEach((c, j) => c.run(srv.port, j === 0 ? WARMUP_SECONDS : 1))
          for (const c of mine) measure(c, srv, i)
          for (const d of downloads) if (d.kind === kind) download(d, srv, i)
          await stop(srv)
          for (const [v, n] of Object.entries(srv.tlsVersions() ?? {})) tlsSeen.set(`${kind} ${v}`, (tlsSeen.get(`${kind} ${v}`) ?? 0) + n)
          servers.delete(kind)
        }
      }
    }
  } finally {
    for (const s of servers.values()) s.proc.kill('SIGTERM')
  }
  // The rows each at its generator's own pace, and the "at equal load" block (reported apart, after them).
  const steady = cases.filter((c) => c.rate === undefined)
  const atRate = cases.filter((c) => c.rate !== undefined)
  /** The row of `kind` whose load description starts with `load`. */
  const row = (kind: string, load: string): Case | undefined => steady.find((c) => c.kind === kind && c.load.startsWith(load))
  // The anchor: Fastify HTTP/1.1 under wrk (absent from an --only run that leaves it out: its ratios read n/a).
  const wrkHttp1 = row('fastify-http1', 'wrk')
  const anchor = wrkHttp1 === undefined ? null : median(wrkHttp1.rps)
  const anchorCpu = wrkHttp1 === undefined ? null : median(wrkHttp1.cpuUs)
  // The same HTTP/1.1 server driven by go-load's net/http: the anchor for rows whose client is go-load too.
  const goHttp1 = row('fastify-http1', GO_HTTP1)
  const goAnchorCpu = goHttp1 === undefined ? null : median(goHttp1.cpuUs)
  const vsGo = (cpu: number): string => ratio(cpu, goAnchorCpu)
  // Server CPU per request leads: it is the stack's cost whatever the client; req/s also measures the client.
  const table = ['| server | load generator | **server CPU per request** (median) | spread | CPU vs Fastify HTTP/1.1 (wrk) | CPU vs Fastify HTTP/1.1 (go-load net/http) | req/s (median) | spread | req/s vs Fastify HTTP/1.1 (wrk) | server core busy | load generator core busy |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...steady.map((c) => {
      const m = median(c.rps)
      const cpu = median(c.cpuUs)
      const client = c.clientCpu.length > 0 ? median(c.clientCpu).toFixed(2) : 'n/a (C)'
      return `| ${c.label} | ${c.load} | **${cpu.toFixed(1)} us** | ${Math.min(...c.cpuUs).toFixed(1)}-${Math.max(...c.cpuUs).toFixed(1)} | ${ratio(cpu, anchorCpu)} | ${vsGo(cpu)} | ${k(m)} | ${k(Math.min(...c.rps))}-${k(Math.max(...c.rps))} | ${ratio(m, anchor)} | ${(m * cpu / 1e6).toFixed(2)} | ${client} |`
    })].join('\n')
  const dlAnchor = downloads.length > 0 ? median(downloads[0].mbps) : 1
  const dlTable = ['| server | client | MiB/s (median) | spread | vs first row |', '| --- | --- | --- | --- | --- |',
    ...downloads.map((d) => {
      const m = median(d.mbps)
      return `| ${d.label} | ${d.client} | ${m.toFixed(0)} | ${Math.min(...d.mbps).toFixed(0)}-${Math.max(...d.mbps).toFixed(0)} | ${(m / dlAnchor).toFixed(2)}x |`
    })].join('\n')
  const equal = equalLoadText(atRate)
  process.stdout.write(`\n${table}\n\n${dlTable}\n`)
  // Issue 14's goal: server CPU per small GET over plain SPDY at most 0.8x Fastify HTTP/1.1's, with every client
  // (fragmented writes included), against both HTTP/1.1 anchors.
  const spdyRows = steady.filter((c) => c.kind === 'fastify-spdy')
  const goal = spdyRows.map((c) => {
    const cpu = median(c.cpuUs)
    const worst = Math.max(anchorCpu === null ? 0 : cpu / anchorCpu, goAnchorCpu === null ? 0 : cpu / goAnchorCpu)
    return `${c.load}: ${ratio(cpu, anchorCpu)} (wrk) / ${vsGo(cpu)} (net/http)${worst > 0.8 ? ' **not met**' : ' met'}`
  })
  // Like for like: a client that writes in pieces makes any Node server pay a read per piece (libuv read, a Buffer,
  // a 'data' event), whatever the protocol; so the fragmented SPDY rows are also set against HTTP/1.1 fragmented.
  const fragHttp1 = row('fastify-http1', FRAGMENTED_HTTP1)
  const fragRows = spdyRows.filter((c) => c.load.includes('fragment') || c.load.includes('spdystream'))
  const likeForLike = fragHttp1 === undefined || fragRows.length === 0 ? '' : `Like for like, the fragmenting SPDY clients against Fastify HTTP/1.1 under ${FRAGMENTED_HTTP1} (${median(fragHttp1.cpuUs).toFixed(1)} us): ` +
    fragRows.map((c) => `${c.load} ${(median(c.cpuUs) / median(fragHttp1.cpuUs)).toFixed(2)}x`).join('; ') + '.\n'
  const verdict = spdyRows.length === 0 ? '' : `\nIssue 14 goal (server CPU per small GET over plain SPDY <= 0.8x Fastify HTTP/1.1's, every client): ${goal.join('; ')}.\n` + likeForLike +
    `Issue 4 target (SPDY plain small-GET req/s >= Fastify HTTP/1.1 with wrk, same run): ${spdyRows.map((c) => `${c.load} ${ratio(median(c.rps), anchor)}`).join(', ')}.\n`
  // Issue 12's goal: SPDY over the plugin's OpenSSL side at least 1.0x Fastify HTTPS/1.1's small-GET req/s, at the
  // same TLS version, in the same run (the HTTPS anchor is wrk, the row the issue names; go-load's is shown too).
  const tlsGoal = (['1.3', '1.2'] as const).map((v) => {
    const kind = v === '1.3' ? 'fastify-https1' : 'fastify-https1-tls12'
    const httpsWrk = row(kind, 'wrk')
    const rows = steady.filter((c) => c.label.includes(`TLS ${v} (server: OpenSSL)`))
    // Like for like: spdystream writes each frame in pieces, each its own TLS record; so does this HTTPS/1.1 load.
    const httpsFrag = row(kind, fragmentedHttps(v))
    const pieces = rows.filter((c) => c.load.includes('spdystream'))
    const fair = httpsFrag === undefined || pieces.length === 0 ? '' : `; like for like, against Fastify HTTPS/1.1 under ${fragmentedHttps(v)} (${k(median(httpsFrag.rps))} req/s, ${median(httpsFrag.cpuUs).toFixed(1)} us per request): ` +
      pieces.map((c) => `${c.load} req/s ${ratio(median(c.rps), median(httpsFrag.rps))}, server CPU per request ${ratio(median(c.cpuUs), median(httpsFrag.cpuUs))}`).join('; ')
    if (rows.length === 0) return ''
    const base = httpsWrk === undefined ? null : median(httpsWrk.rps)
    return `TLS ${v} (HTTPS/1.1 wrk ${base === null ? 'not run' : `${k(base)} req/s`}): ${rows.map((c) => `${c.load} ${ratio(median(c.rps), base)}${base === null ? '' : median(c.rps) >= base ? ' met' : ' **not met**'}`).join('; ')}${fair}`
  }).filter((x) => x !== '')
  const seen = [...tlsSeen].map(([key, n]) => `${key}: ${n}`).join(', ')
  const tlsVerdict = tlsGoal.length === 0 ? '' : `Issue 12 goal (SPDY over the OpenSSL side, small-GET req/s >= Fastify HTTPS/1.1 at the same TLS version, same run): ${tlsGoal.join('. ')}.\n` +
    (seen !== '' ? `TLS versions the HTTPS/1.1 servers negotiated (connections, warm-up included): ${seen}.\n` : '')
  const floor = floorText(row, spdyRows)
  process.stdout.write(verdict + tlsVerdict + floor + equal)
  if (quick || only !== null || together) return
  const load = loadavg()
  // The 1-minute averages only: the 5- and 15-minute ones still carry whatever ran before the bench started, and the
  // bench itself keeps both cores busy (one server, one load generator), so above 2.5 means other jobs ran with it.
  const busy = [loadStart, load].some((l) => Number(l.split(' ')[0]) > 2.5)
  writeSection('throughput', `## Small GET server CPU and throughput, and one 100 MiB download, every stack

Command: \`flock /tmp/bench.lock npx tsx bench/throughput.ts --runs ${runs} --seconds ${seconds}${EQUAL_RATE !== 10_000 ? ` --rate ${EQUAL_RATE}` : ''}\`
Machine: ${machine()}; load average ${loadStart} at the start, ${load} at the end${busy ? ' (**a busy machine: to be re-run on a quiet one; ratios within this run are what count, and CPU per request is the figure least moved by the load**)' : ''}. Each server in its own process pinned to core 0 (bench/servers.ts: GET /small -> 11-byte text,
GET /big -> 100 MiB buffer), alone on the machine: started for its stack's rows in each run, stopped after them
(with every stack's server alive at once, as an earlier version of this bench did, the same SPDY server cost 20-25%
more CPU per request for reasons not found; see below). Each load generator pinned to core 1; ${runs} runs of
${seconds} s per row; each fresh server first gets an unmeasured ${WARMUP_SECONDS} s load (then 1 s before each further row), and fastify-spdy runs as it ships (dist/cjs, built by \`npm run build\` at the start); stacks alternating within each run, order reversed every other run; medians. "server CPU per request" is the server process's user+system
time over the run divided by requests served: the cost of the stack, which a busy shared machine and an
unsaturated load generator distort far less than req/s, so it is the headline column. Load generators: wrk and
h2load (C) for HTTP; bench/spdy-load.ts (a Node process on our own lib/session and lib/tls/client.ts) for SPDY;
and, so that no figure rests on a client we wrote, bench/go-load (Go: Debian's spdystream library for SPDY/3,
net/http for HTTP/1.1; built by this bench, which apt-installs golang-go and golang-github-docker-spdystream-dev
when missing). spdystream writes each frame in several small writes (TCP_NODELAY), and \`spdy-load --fragment 8\`
does the same on purpose: the server then pays a read per piece whenever it keeps up. With one core per side, a
row whose server CPU is low but whose req/s is also low is bounded by its load generator, not by the server.
"server core busy" = req/s x CPU per request (1.00 = the server's core saturated); "load generator core busy" is
spdy-load's own CPU seconds per second (process.cpuUsage), so a SPDY row limited by its generator shows near 1.00
there. SPDY CPU per request divides the server's CPU by every request answered during the call, spdy-load's 1 s
warm-up included (the generator reports both counts).
${skipped.length > 0 ? `\nSkipped (missing tools or packages): ${skipped.join('; ')}.\n` : ''}
${table}
${verdict}${tlsVerdict}${floor}${equal}
One download of 100 MiB on a fresh connection (TLS rows include the handshake):

${dlTable}

${NOTES}
`)
}

main().catch((err) => { console.error(err); process.exit(1) })
