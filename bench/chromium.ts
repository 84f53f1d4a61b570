/**
 * Headless Chromium as a page-load anchor for bench/pageload.ts: a real browser's connection pool, TLS session
 * resumption and False Start, timed by the page's own Navigation Timing and Resource Timing.
 *
 * Control is the Chrome DevTools protocol over `--remote-debugging-pipe` (file descriptors 3 and 4, one JSON
 * message per NUL-terminated string): the same protocol as --remote-debugging-port without a WebSocket client
 * (Node 20 has none without a flag) and without a listening port for anything else on the machine to reach.
 *
 * Each load runs in a new browser context (Target.createBrowserContext): its own HTTP cache, socket pools and TLS
 * session cache, all empty, so every load is a first visit; within the load Chromium pools, resumes and
 * False-Starts as it does for any site. Chromium trusts the bench's self-signed certificate through an SPKI pin
 * (--ignore-certificate-errors-spki-list), so its certificate path is the normal one, not an error page override.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, createPublicKey } from 'node:crypto'
import { accessSync, constants as fsConstants, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { Readable, Writable } from 'node:stream'

/**
 * Headless as root needs --no-sandbox. The rest keeps Chromium off networks it would reach on its own (update
 * checks, sync, field trials) and QUIC off, so the only traffic is the page over TCP through the shaper.
 *
 * --disable-features: the browser's own UI, not the page. Each browser context (one per load, below) is a new
 * window, and Chromium 156 builds every new window's omnibox popup as a WebUI page
 * (chrome://omnibox-popup.top-chrome: some 300 chrome://resources modules) in a renderer of its own, at the moment the
 * bench navigates. A DevTools trace of an unshaped load of the post page showed that renderer busy for the whole
 * load: ~100 ms of CPU (with the browser process's share) on the core Chromium shares with the shaper, inside the
 * measured time. A user's window built its popup when it opened, before the user typed the address. No network
 * behaviour depends on these features: pool, resumption, False Start and HTTP cache are untouched.
 */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-extensions',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps',
  '--mute-audio', '--remote-debugging-pipe',
  '--disable-features=WebUIOmniboxPopup,WebUIOmniboxFullPopup,WebUIOmniboxAimPopup,PreloadTopChromeWebUI']

export function findChromium (): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    for (const name of ['chromium', 'chromium-browser']) {
      const file = join(dir, name)
      try { accessSync(file, fsConstants.X_OK); return file } catch { /* not here */ }
    }
  }
  return null
}

/** base64(SHA-256(SubjectPublicKeyInfo DER)): what --ignore-certificate-errors-spki-list takes. */
export const spkiPin = (certPem: string): string =>
  createHash('sha256').update(createPublicKey(certPem).export({ type: 'spki', format: 'der' })).digest('base64')

type Json = Record<string, unknown>
interface Pending { resolve: (v: Json) => void, reject: (e: Error) => void }
interface Waiter { method: string, sessionId: string | undefined, resolve: (v: Json) => void }

/** One page load as Chromium's timing APIs saw it; times in ms from the navigation's connectStart. */
export interface ChromiumLoad {
  /** connectStart -> the later of loadEventStart and the last resource's responseEnd (a fetch() can end after load). */
  ms: number
  /** The navigation's connectStart as an epoch time in ms (to check against the shaper's clock). */
  connectStartAt: number
  /** connectStart -> loadEventStart. */
  loadMs: number
  /** connectStart -> requestStart of the page: TCP's round trip plus TLS's (one with False Start, two without). */
  requestMs: number
  /** The page's ALPN protocol as Chromium reports it (nextHopProtocol: 'http/1.1', 'h2'). */
  protocol: string
  /** Resource paths the page loaded (Resource Timing), in order of start. */
  resources: string[]
  /** Body bytes as received (encodedBodySize), page included. */
  bytes: number
  /** Resources served from the HTTP cache with no request (Resource Timing transferSize 0). */
  fromCache: number
  /**
   * connectStart -> the last responseEnd of the page and its resources: when the network part was over. What comes
   * after it, up to `ms`, is Chromium's own work (parsing, style, layout, images, the load event), no network.
   */
  lastByteMs: number
  /** CPU time every Chromium process spent over the navigation (Linux schedstat), or null where unreadable. */
  cpuMs: number | null
}

/**
 * CPU time (ns) of every thread of every process in process group `pgid` (Chromium and its children: it is started
 * detached, so its group is its own): the first field of /proc/PID/task/TID/schedstat is time on a CPU, in ns. A
 * thread or process that exits between two readings takes its time with it (an undercount, not an overcount).
 * Null where /proc is not Linux's.
 */
export function groupCpuNs (pgid: number): number | null {
  let total = 0
  let any = false
  let pids: string[]
  try { pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)) } catch { return null }
  for (const pid of pids) {
    try {
      // Field 5 of /proc/PID/stat is the process group; the command (field 2) may hold spaces: split after its ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) !== pgid) continue
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
        any = true
      }
    } catch { /* exited while read */ }
  }
  return any ? total : null
}

export class Chromium {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private waiters: Waiter[] = []
  private buffered = ''
  private closed = false

  private constructor (private readonly child: ChildProcess, private readonly profile: string) {
    const out = child.stdio[4] as Readable
    out.setEncoding('utf8')
    out.on('data', (chunk: string) => this.onData(chunk))
    child.once('exit', () => {
      this.closed = true
      for (const p of this.pending.values()) p.reject(new Error('chromium exited'))
      this.pending.clear()
    })
  }

  /** Starts Chromium trusting `certPem` by its public key; the process and its children are one process group. */
  static async launch (binary: string, certPem: string): Promise<Chromium> {
    const profile = mkdtempSync(join(tmpdir(), 'fastify-spdy-bench-chromium-'))
    const child = spawn(binary, [...FLAGS, `--user-data-dir=${profile}`, `--ignore-certificate-errors-spki-list=${spkiPin(certPem)}`, 'about:blank'],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true })
    let stderr = ''
    child.stderr!.on('data', (c: Buffer) => { if (stderr.length < 4096) stderr += c.toString() })
    const browser = new Chromium(child, profile)
    try {
      await browser.send('Browser.getVersion', {}, undefined, 30_000)
    } catch (err) {
      await browser.close()
      throw new Error(`chromium did not answer on the DevTools pipe: ${(err as Error).message}\n${stderr}`)
    }
    return browser
  }

  private onData (chunk: string): void {
    this.buffered += chunk
    let end: number
    while ((end = this.buffered.indexOf('\0')) >= 0) {
      const msg = JSON.parse(this.buffered.slice(0, end)) as { id?: number, method?: string, sessionId?: string, result?: Json, error?: { message: string }, params?: Json }
      this.buffered = this.buffered.slice(end + 1)
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id)
        this.pending.delete(msg.id)
        if (msg.error !== undefined) p?.reject(new Error(msg.error.message))
        else p?.resolve(msg.result ?? {})
      } else if (msg.method !== undefined) {
        const hit = this.waiters.filter((w) => w.method === msg.method && w.sessionId === msg.sessionId)
        this.waiters = this.waiters.filter((w) => !hit.includes(w))
        for (const w of hit) w.resolve(msg.params ?? {})
      }
    }
  }

  send (method: string, params: Json = {}, sessionId?: string, timeoutMs = 60_000): Promise<Json> {
    if (this.closed) return Promise.reject(new Error('chromium is closed'))
    const id = this.nextId++
    const pipe = this.child.stdio[3] as Writable
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new Error(`${method}: no answer in ${timeoutMs} ms`)) }, timeoutMs)
      this.pending.set(id, { resolve: (v) => { clearTimeout(timer); resolve(v) }, reject: (e) => { clearTimeout(timer); reject(e) } })
      pipe.write(JSON.stringify({ id, method, params, ...(sessionId !== undefined ? { sessionId } : {}) }) + '\0')
    })
  }

  /** The next `method` event of `sessionId`, registered before the command that causes it is sent. */
  private event (method: string, sessionId: string, timeoutMs: number): Promise<Json> {
    return new Promise((resolve, reject) => {
      const w: Waiter = { method, sessionId, resolve: (v) => { clearTimeout(timer); resolve(v) } }
      const timer = setTimeout(() => { this.waiters = this.waiters.filter((x) => x !== w); reject(new Error(`${method}: not in ${timeoutMs} ms`)) }, timeoutMs)
      this.waiters.push(w)
    })
  }

  /**
   * Loads `url` in a fresh browser context and returns its timings once the load event has fired and every path in
   * `expect` has finished loading (a fetch() started by a script may finish after the load event).
   *
   * `repeat`: a repeat visit. The page is loaded once, `repeat.between()` runs (the bench closes the link's
   * connections there, as time between visits would), and the page is loaded again in a new tab of the same
   * context, whose HTTP cache, cookies and TLS session cache carry over: the second load's timings are returned.
   * `atEnd` runs once the (measured) load is over, before its context is disposed and its connections closed.
   */
  async load (url: string, expect: string[], timeoutMs = 60_000, repeat?: { between: () => Promise<void> }, atEnd?: () => void): Promise<ChromiumLoad> {
    const { browserContextId } = await this.send('Target.createBrowserContext', { disposeOnDetach: true }) as { browserContextId: string }
    try {
      if (repeat !== undefined) {
        await this.visit(browserContextId, url, expect, timeoutMs)
        await repeat.between()
      }
      const l = await this.visit(browserContextId, url, expect, timeoutMs)
      atEnd?.()
      return l
    } finally {
      // Disposing the context closes its page and its connections: nothing carries over to the next load.
      await this.send('Target.disposeBrowserContext', { browserContextId }).catch(() => {})
    }
  }

  /** One navigation to `url` in a new tab of the context, timed. The tab is closed after. */
  private async visit (browserContextId: string, url: string, expect: string[], timeoutMs: number): Promise<ChromiumLoad> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank', browserContextId }) as { targetId: string }
    try {
      const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string }
      await this.send('Page.enable', {}, sessionId)
      // The tab's renderer answers before the navigation starts: its start-up is not inside the timed load (Chromium
      // reuses the unused about:blank process for the page's site).
      await this.send('Runtime.evaluate', { expression: '1' }, sessionId)
      const loaded = this.event('Page.loadEventFired', sessionId, timeoutMs)
      const cpu0 = this.child.pid === undefined ? null : groupCpuNs(this.child.pid)
      const nav = await this.send('Page.navigate', { url }, sessionId) as { errorText?: string }
      if (nav.errorText !== undefined) throw new Error(`chromium: ${url}: ${nav.errorText}`)
      await loaded
      // Runs in the page after the load event: waits (bounded) for the expected resources, then reads the timings.
      const expression = `new Promise((resolve) => {
        const want = ${JSON.stringify(expect)}
        const t0 = Date.now()
        const read = () => {
          const res = performance.getEntriesByType('resource').map((e) => ({ path: new URL(e.name).pathname, start: e.startTime, end: e.responseEnd, bytes: e.encodedBodySize, transfer: e.transferSize }))
          const done = want.every((p) => res.some((r) => r.path === p && r.end > 0))
          if (!done && Date.now() - t0 < ${timeoutMs}) { setTimeout(read, 20); return }
          const n = performance.getEntriesByType('navigation')[0]
          resolve(JSON.stringify({ done, res, timeOrigin: performance.timeOrigin, connectStart: n.connectStart, requestStart: n.requestStart, responseEnd: n.responseEnd, loadEventStart: n.loadEventStart, protocol: n.nextHopProtocol, bytes: n.encodedBodySize }))
        }
        read()
      })`
      const r = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId, timeoutMs + 10_000) as { result: { value: string } }
      const cpu1 = this.child.pid === undefined ? null : groupCpuNs(this.child.pid)
      const v = JSON.parse(r.result.value) as { done: boolean, res: Array<{ path: string, start: number, end: number, bytes: number, transfer: number }>, timeOrigin: number, connectStart: number, requestStart: number, responseEnd: number, loadEventStart: number, protocol: string, bytes: number }
      if (!v.done) throw new Error(`chromium: ${url}: resources missing after ${timeoutMs} ms: ${expect.filter((p) => !v.res.some((x) => x.path === p)).join(', ')}`)
      const lastByte = Math.max(v.responseEnd, ...v.res.map((x) => x.end))
      const lastEnd = Math.max(v.loadEventStart, lastByte)
      return {
        ms: lastEnd - v.connectStart,
        connectStartAt: v.timeOrigin + v.connectStart,
        loadMs: v.loadEventStart - v.connectStart,
        requestMs: v.requestStart - v.connectStart,
        protocol: v.protocol,
        resources: v.res.sort((a, b) => a.start - b.start).map((x) => x.path),
        bytes: v.bytes + v.res.reduce((s, x) => s + x.bytes, 0),
        // transferSize is 0 for a resource served from the HTTP cache without a request.
        fromCache: v.res.filter((x) => x.transfer === 0 && x.end > 0).length,
        lastByteMs: lastByte - v.connectStart,
        cpuMs: cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) / 1e6
      }
    } finally {
      await this.send('Target.closeTarget', { targetId }).catch(() => {})
    }
  }

  async close (): Promise<void> {
    if (!this.closed) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
      await this.send('Browser.close', {}, undefined, 5000).catch(() => {})
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
    }
    // Renderers and utility processes can outlive the browser briefly: end the whole group Chromium started.
    if (this.child.pid !== undefined) { try { process.kill(-this.child.pid, 'SIGKILL') } catch { /* already gone */ } }
    rmSync(this.profile, { recursive: true, force: true })
  }
}
