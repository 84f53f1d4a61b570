/**
 * Page load over a slow link (issue 7.1): the demo blog's page and every asset it references, fetched the way a
 * browser does, through bench/shaper.ts at RTT 20/100/200 ms x 1/5/50 Mbit/s, over TLS 1.2 in three modes:
 *   - https: the anchor. Node's own HTTPS server (Fastify({ https })) serving the same blog, Node's https client
 *     with a keep-alive Agent of at most 6 sockets (a browser's per-host limit). TLS pinned to 1.2 on the client
 *     so both sides pay the same two-round-trip full handshake (SPDY-era TLS; TLS 1.3 would save one RTT for
 *     HTTPS only).
 *   - spdy: fastify-spdy on the same blog built without push config, one SPDY/3.1 connection (lib/client: our
 *     TLS client with NPN and client session) carrying every request at once.
 *   - push: the same with the page routes' config.spdy.push: the assets arrive unrequested; the client asks only
 *     for what was not pushed (as a browser would).
 * Each load is a first visit: new connections, nothing cached from an earlier load; within the load the https
 * client resumes its first connection's TLS session on the other five (as browsers do; see loadPage). A browser fetches the HTML, parses it, then fetches
 * what it references; so does this (GET PAGE, extract href/src under /static/, fetch them). Time is from connect
 * to the last byte of the last asset.
 * Servers run in a child process pinned to core 0; the shaper and clients run here, pinned to core 1.
 *
 *   npx tsx bench/pageload.ts [--runs 5] [--quick]
 * --quick loads one small cell once and writes nothing.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import https from 'node:https'
import type net from 'node:net'
import type { TLSSocket } from 'node:tls'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { connect } from '../lib/client'
import type { OutgoingHeaders } from '../lib/session/headers'
import { generateSelfSigned } from '../lib/tls/certificates'
import spdy from '../lib/index'
import { describeSelfTest, selfTest, startShaper } from './shaper'
import { machine, median, writeSection } from './results'

/** A blog post page: the "demo blog page"; its HTML references every asset in pageAssets(). */
export const PAGE = '/posts/2012-08-20-server-push'

/** What a SPDY-era Chrome sent with every request (without a cookie: the blog sets none). */
export const BROWSER_HEADERS: OutgoingHeaders = {
  'user-agent': 'Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/31.0.1650.63 Safari/537.36',
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,*/*;q=0.8',
  'accept-encoding': 'gzip,deflate,sdch',
  'accept-language': 'en-US,en;q=0.8'
}

export type Mode = 'https' | 'spdy' | 'push'
const MODES: Mode[] = ['https', 'spdy', 'push']

interface Ports { https: number, spdy: number, push: number }

/** Asset URLs a browser would fetch from the page: every href/src under /static/, once each, in document order. */
export function parseAssets (html: string): string[] {
  const out = new Set<string>()
  for (const m of html.matchAll(/\b(?:href|src)="(\/static\/[^"]+)"/g)) out.add(m[1])
  return [...out]
}

/** SPDY/3 section 2.3.3 priorities, as Chrome assigned them: document first, then CSS/JS, then images. */
function priorityOf (path: string): number {
  if (path.startsWith('/static/img/')) return 3
  if (path.startsWith('/static/')) return 1
  return 0
}

interface Body { status: number, bytes: number, text: string }

function httpsGet (agent: https.Agent, port: number, path: string, onSocket: (s: TLSSocket) => void): Promise<Body> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, agent, servername: 'localhost', headers: BROWSER_HEADERS }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { const b = Buffer.concat(chunks); resolve({ status: res.statusCode ?? 0, bytes: b.length, text: b.toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('socket', (s) => onSocket(s as TLSSocket))
    req.on('error', reject)
  })
}

/** `handshakes`: the https loader's TLS handshakes, full and resumed (Node's client, TLSSocket.isSessionReused()). */
export interface Load { ms: number, assets: number, pushed: number, bytes: number, handshakes?: { full: number, resumed: number } }

/** One cold page load; throws unless every response is a 200. */
export async function loadPage (mode: Mode, port: number): Promise<Load> {
  const t0 = performance.now()
  const check = (path: string, b: Body): Body => { if (b.status !== 200) throw new Error(`${mode} ${path}: status ${b.status}`); return b }
  if (mode === 'https') {
    // A new Agent per load: each load is a first visit (nothing cached from an earlier load), but within the load
    // the Agent keeps the first connection's TLS session and the other five resume it (one round trip instead of
    // two), as a browser does on a first visit. 6 sockets: Chromium's per-host limit for HTTP/1.1.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 6, rejectUnauthorized: false, maxVersion: 'TLSv1.2', maxCachedSessions: 100 })
    const handshakes = { full: 0, resumed: 0 }
    const seen = new WeakSet<TLSSocket>()
    const onSocket = (s: TLSSocket): void => {
      if (seen.has(s)) return // a kept-alive socket reused for another request
      seen.add(s)
      s.once('secureConnect', () => { handshakes[s.isSessionReused() ? 'resumed' : 'full']++ })
    }
    try {
      const page = check(PAGE, await httpsGet(agent, port, PAGE, onSocket))
      const assets = parseAssets(page.text)
      const bodies = await Promise.all(assets.map(async (a) => check(a, await httpsGet(agent, port, a, onSocket))))
      return { ms: performance.now() - t0, assets: assets.length, pushed: 0, bytes: page.bytes + bodies.reduce((s, b) => s + b.bytes, 0), handshakes }
    } finally { agent.destroy() }
  }
  // lib/client: our TLS client (NPN, as SPDY-era Chrome) and client session; connect() resolves after the
  // handshake, the same round trips as Node's https client before its first request.
  const client = await connect({ host: '127.0.0.1', port, tls: true, servername: 'localhost', insecure: true, negotiation: 'npn', version: 3.1 })
  try {
    const authority = `localhost:${port}`
    // request() resolves once the page and every stream pushed with it are complete.
    const res = await client.request({ path: PAGE, headers: BROWSER_HEADERS, priority: priorityOf(PAGE), authority })
    const page = check(PAGE, { status: res.status, bytes: res.body.length, text: res.body.toString('utf8') })
    const pushed = new Map(res.pushes.filter((p) => p.reset === null).map((p) => [p.path, p]))
    const assets = parseAssets(page.text)
    let used = 0
    const bodies = await Promise.all(assets.map(async (a) => {
      const p = pushed.get(a)
      if (p !== undefined) { used++; return check(a, { status: p.status, bytes: p.body.length, text: '' }) }
      const r = await client.request({ path: a, headers: BROWSER_HEADERS, priority: priorityOf(a), authority })
      return check(a, { status: r.status, bytes: r.body.length, text: '' })
    }))
    if (mode === 'push' && used === 0) throw new Error('push mode: nothing was pushed')
    if (mode === 'spdy' && res.pushes.length > 0) throw new Error('spdy mode: the server pushed')
    return { ms: performance.now() - t0, assets: assets.length, pushed: used, bytes: page.bytes + bodies.reduce((s, b) => s + b.bytes, 0) }
  } finally { await client.close() }
}

/** Child process: the three servers, ports on stdout, until stdin closes. */
async function serve (): Promise<void> {
  const { buildBlog } = await import('../example-app/blog.mjs')
  const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'], keyType: 'rsa' })
  // buildBlog takes FastifyServerOptions; `https` is part of Fastify's https overload of the same factory.
  const anchor = buildBlog({ https: { cert, key } } as unknown as Parameters<typeof buildBlog>[0])
  await anchor.listen({ port: 0, host: '127.0.0.1' })
  const apps = [anchor]
  const ports: Partial<Ports> = { https: (anchor.server.address() as net.AddressInfo).port }
  for (const mode of ['spdy', 'push'] as const) {
    const app = buildBlog({}, { push: mode === 'push' })
    await app.register(spdy, { port: 0, tls: { cert, key } })
    await app.listen({ port: 0, host: '127.0.0.1' })
    ports[mode] = app.spdy.port ?? 0
    apps.push(app)
  }
  process.stdout.write(JSON.stringify(ports) + '\n')
  process.stdin.resume()
  process.stdin.on('end', () => { Promise.all(apps.map(async (a) => await a.close())).finally(() => process.exit(0)) })
}

function hasTaskset (): boolean {
  try { execFileSync('taskset', ['-V'], { stdio: 'ignore' }); return true } catch { return false }
}

async function startServers (pin: boolean): Promise<{ ports: Ports, child: ChildProcess }> {
  const node = [process.execPath, '--import', 'tsx', __filename, '--serve']
  const child = pin ? spawn('taskset', ['-c', '0', ...node], { stdio: ['pipe', 'pipe', 'inherit'] }) : spawn(node[0], node.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! })
    rl.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`server process exited with ${String(code)}`)))
  })
  return { ports: JSON.parse(line) as Ports, child }
}

const fmtMs = (ms: number): string => ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`

async function main (): Promise<void> {
  const quick = process.argv.includes('--quick')
  const runsAt = process.argv.indexOf('--runs')
  const runs = quick ? 1 : runsAt >= 0 ? Number(process.argv[runsAt + 1]) : 5
  const rtts = quick ? [20] : [20, 100, 200]
  const bws = quick ? [50] : [1, 5, 50]
  const pin = hasTaskset()
  if (pin) execFileSync('taskset', ['-a', '-pc', '1', String(process.pid)], { stdio: 'ignore' })
  const { ports, child } = await startServers(pin)
  try {
    // Unshaped loads first: JIT warm-up for both processes, and the page's size on the wire.
    const direct: Record<Mode, Load[]> = { https: [], spdy: [], push: [] }
    for (let i = 0; i < (quick ? 1 : 3); i++) for (const m of MODES) direct[m].push(await loadPage(m, ports[m]))
    const size = direct.https[0]
    process.stdout.write(`# page ${PAGE}: ${size.assets} assets, ${(size.bytes / 1024).toFixed(1)} KiB of bodies; ${pin ? 'servers on core 0, shaper+clients on core 1' : 'unpinned (no taskset)'}\n`)
    let shaperNote = ''
    if (!quick) {
      shaperNote = describeSelfTest(await selfTest(100, 5))
      process.stdout.write(`# shaper self-test: ${shaperNote}\n`)
    }
    const rows: string[] = []
    const lines: string[] = []
    let worstLate = 0
    let lateSum = 0
    let segments = 0
    let worstPushRatio = 0
    for (const rtt of rtts) {
      for (const mbps of bws) {
        const times: Record<Mode, number[]> = { https: [], spdy: [], push: [] }
        const wire: Record<Mode, number[]> = { https: [], spdy: [], push: [] }
        const conns: Record<Mode, number> = { https: 0, spdy: 0, push: 0 }
        let hs = { full: 0, resumed: 0 }
        let pushed = 0
        for (let r = 0; r < runs; r++) {
          // Rotate the order each run so drift on a shared machine does not favour one mode.
          for (let k = 0; k < MODES.length; k++) {
            const mode = MODES[(k + r) % MODES.length]
            const shaper = await startShaper({ targetPort: ports[mode], rttMs: rtt, mbps })
            const load = await loadPage(mode, shaper.port)
            const st = shaper.stats()
            await shaper.close()
            times[mode].push(load.ms)
            wire[mode].push(st.bytesDown)
            conns[mode] = st.connections
            if (mode === 'push') pushed = load.pushed
            if (load.handshakes !== undefined) hs = load.handshakes
            worstLate = Math.max(worstLate, st.lateMaxMs)
            lateSum += st.lateMeanMs * st.segments
            segments += st.segments
          }
        }
        const med = { https: median(times.https), spdy: median(times.spdy), push: median(times.push) }
        if (rtt >= 100) worstPushRatio = Math.max(worstPushRatio, med.push / med.https)
        const inRtts = `${(med.https / rtt).toFixed(1)} / ${(med.spdy / rtt).toFixed(1)} / ${(med.push / rtt).toFixed(1)}`
        const spread = (m: Mode): string => `${fmtMs(Math.min(...times[m]))}-${fmtMs(Math.max(...times[m]))}`
        const line = `pageload: RTT ${rtt} ms, ${mbps} Mbit/s: https ${fmtMs(med.https)}, spdy ${fmtMs(med.spdy)} (${(med.spdy / med.https).toFixed(2)}x), spdy+push ${fmtMs(med.push)} (${(med.push / med.https).toFixed(2)}x)`
        process.stdout.write(line + '\n')
        lines.push(line)
        rows.push(`| ${rtt} ms | ${mbps} Mbit/s | ${fmtMs(med.https)} (${spread('https')}) | ${fmtMs(med.spdy)} (${spread('spdy')}) | ${fmtMs(med.push)} (${spread('push')}) | ${(med.spdy / med.https).toFixed(2)}x | **${(med.push / med.https).toFixed(2)}x** | ${inRtts} | ${conns.https} (${hs.full} full + ${hs.resumed} resumed) / ${conns.spdy} / ${conns.push} | ${(median(wire.https) / 1024).toFixed(1)} / ${(median(wire.spdy) / 1024).toFixed(1)} / ${(median(wire.push) / 1024).toFixed(1)} KiB | ${pushed} |`)
      }
    }
    const lateMean = segments === 0 ? 0 : lateSum / segments
    process.stdout.write(`# shaper: segments late by ${lateMean.toFixed(2)} ms mean, ${worstLate.toFixed(1)} ms at most over the grid\n`)
    if (quick) return
    writeSection('pageload', `## Page load over a slow link (bench/pageload.ts): HTTPS/1.1 x 6 connections vs SPDY/3.1 vs SPDY/3.1 + push

Command: \`flock /tmp/bench.lock npx tsx bench/pageload.ts --runs ${runs}\` (${machine()}).
Page \`${PAGE}\` of the demo blog (example-app/blog.mts) and its ${size.assets} assets (${(size.bytes / 1024).toFixed(1)} KiB of bodies:
the assets are small, so this page is latency-bound at every bandwidth), loaded as a first visit (new connections, nothing
cached from an earlier load; the https client resumes its first connection's TLS session on its other five) as a browser does: GET the page, parse href/src, fetch the assets. Time from connect to the
last byte of the last asset; median of ${runs} runs per cell (min-max in brackets), modes rotated each run.
- **https** (anchor): Node's native HTTPS server (\`Fastify({ https })\`, same blog) and Node's https client, keep-alive
  Agent with maxSockets 6 and maxCachedSessions 100 (a new Agent per load: the first connection's full handshake, the
  other five resumed, as a browser on a first visit), TLS pinned to 1.2 (two-RTT full handshake, same as ours; no
  False Start on either side).
- **spdy**: fastify-spdy on the blog built with \`buildBlog({}, { push: false })\`, one SPDY/3.1 connection from lib/client
  (our TLS client with NPN, our client session); all assets requested at once with Chrome-like priorities.
- **spdy+push**: the blog's page routes push every asset (\`config.spdy.push\`); the client requests only what was
  not pushed.
Link: bench/shaper.ts, a userspace TCP proxy (no netem in this kernel) with per-direction bandwidth shared by all
connections, RTT/2 propagation each way, the TCP connect modelled as one RTT before the first byte leaves, and IW10
slow start per connection. Self-test: ${shaperNote}. Over this grid segments were delivered ${lateMean.toFixed(2)} ms late on average, ${worstLate.toFixed(1)} ms at
worst (timer granularity, pauses and load on the shared 2-core machine; medians absorb the rare long pause). Servers pinned to core 0, shaper and clients to core 1.

| RTT | bandwidth | https (anchor) | spdy | spdy+push | spdy / https | push / https | medians in RTTs h/s/p | connections h/s/p | bytes down h/s/p | pushed |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Goal (issue 7): SPDY with push at most 0.5x HTTPS/1.1 at RTT 100 ms and above: ${worstPushRatio <= 0.5 ? 'met' : 'not met'}, worst cell
${worstPushRatio.toFixed(2)}x. The page is latency-bound, so the medians count round trips: with push, about 4 RTTs (TCP connect, two
TLS 1.2 round trips, the page with every asset pushed behind it); without push one more RTT for the asset requests;
HTTPS/1.1 about 10 RTTs (the page's 4, then five more connections each paying connect + TLS, then the remaining
requests in rounds over six connections). Bandwidth matters only at 1 Mbit/s, where HTTPS also carries six
certificate chains and uncompressed headers (the bytes-down column).
`)
  } finally {
    child.stdin?.end()
    await new Promise<void>((resolve) => { if (child.exitCode !== null) resolve(); else child.once('exit', () => resolve()) })
  }
}

if (require.main === module) {
  (process.argv.includes('--serve') ? serve() : main()).catch((err) => { console.error(err); process.exit(1) })
}
