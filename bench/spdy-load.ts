/**
 * A small SPDY load generator built on our own session engine (client role), over plain TCP or over our TLS 1.2
 * client (lib/tls/client.ts; ALPN by default, NPN with --negotiation npn; certificate not verified):
 *   tsx bench/spdy-load.ts --port P [--tls] [--negotiation alpn|npn] [--version 3.1] [--connections 1] [--streams 100]
 *                          [--seconds 5] [--warmup 1] [--path /small]
 *     keeps `streams` requests in flight on each connection; prints one JSON line { requests, all, seconds, rps,
 *     clientCpu, errors }: `all` counts warm-up requests too, clientCpu is this process's CPU seconds per second.
 *   --tls-stack openssl [--tls-version TLSv1.3|TLSv1.2]: TLS by Node's tls.connect (OpenSSL) instead of our client,
 *     ALPN only, the version pinned (default TLSv1.3) and checked, as is the protocol, on each connection.
 *   --fragment N (plain only): every frame is written in N pieces, one socket write each (TCP_NODELAY), as some
 *     clients we did not write do (spdystream writes a SYN_STREAM in about 8): the server pays a read per piece
 *     whenever it keeps up with the client.
 *   --rate R: paced instead of as fast as the streams go (bench/throughput.ts "at equal load" rows): R requests per
 *     second in all on an open-loop schedule, each connection taking every C-th slot (connection j's n-th request may
 *     start at t0 + (n x C + j) / R); a request whose slot is past starts at once (behind), one whose slot is to come
 *     waits for a timer (Node's timers have a 1 ms grain, so at 10k req/s one connection's due slots go out together,
 *     as many as fit in its streams). No slot at or past the deadline is taken. Adds to the JSON: rate, started
 *     (requests started in the measured seconds), late (of them, started > 1 ms after the slot), lateShare,
 *     meanLateMs, maxLateMs: the same fields as go-load -rate.
 *   tsx bench/spdy-load.ts --port P [--tls] --download --path /big
 *     one GET on one connection, timed from the request to the last DATA frame (after the connection is up);
 *     prints { bytes, seconds, mbps }.
 */
import net from 'node:net'
import { connect as tlsConnect, type SecureVersion, type TLSSocket } from 'node:tls'
import { SpdySession, type SessionEvent } from '../lib/session/session'
import { requestHeaderList, replyStatus } from '../lib/session/headers'
import { TlsClientConnection } from '../lib/tls/client'
import { EngineDriver, type PullEngine } from '../lib/server/engine-driver'
import type { SpdyVersion } from '../lib/codec/types'

function arg (name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : dflt
}

const port = Number(arg('port', '0'))
const version = Number(arg('version', '3.1')) as SpdyVersion
const connections = Number(arg('connections', '1'))
const streams = Number(arg('streams', '100'))
const seconds = Number(arg('seconds', '5'))
const warmup = Number(arg('warmup', '1'))
const download = process.argv.includes('--download')
const path = arg('path', download ? '/big' : '/small')
const tls = process.argv.includes('--tls')
const negotiation = arg('negotiation', 'alpn') as 'alpn' | 'npn'
const protocol = `spdy/${version}`
const fragment = Number(arg('fragment', '0'))
const nodeTls = tls && arg('tls-stack', 'engine') === 'openssl'
const tlsVersion = arg('tls-version', 'TLSv1.3') as SecureVersion
if (fragment > 0 && tls) throw new Error('--fragment is for plain SPDY only')
const rate = Number(arg('rate', '0'))
if (!(rate >= 0)) throw new Error('--rate must be >= 0')
/**
 * The run's clock, epoch ms with a fraction (performance's monotonic clock): the deadline, the warm-up and --rate's
 * slots are all read on it (Date.now()'s whole milliseconds would be the pacing's grain, and a wall clock can step).
 */
const clock = (): number => performance.timeOrigin + performance.now()
/** A start more than this (ms) after its slot counts as late (--rate), as in go-load. */
const LATE_MS = 1
/** --rate: when the schedule starts (set by main()), and the requests started while measuring, late ones, lateness. */
const pace = { t0: 0, started: 0, late: 0, sumLate: 0, maxLate: 0 }

let done = 0
/** Requests answered, warm-up included: the server's CPU time over the whole run is divided by this. */
let all = 0
let errors = 0
let measuring = false

/** One connection: the SPDY session's bytes go through TLS when --tls; `start` runs once SPDY can be spoken. */
interface Link {
  session: SpdySession
  flush: () => void
  end: () => void
}

function connect (onEvents: (events: SessionEvent[], link: Link) => void, start: (link: Link) => void, onGone: () => void): void {
  const socket = nodeTls
    ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: [protocol], minVersion: tlsVersion, maxVersion: tlsVersion })
    : net.connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  // Download: windows large enough that flow control never waits on our WINDOW_UPDATEs (as h2load's 1 GiB default).
  const windows = download ? { initialWindowSize: 1 << 26, sessionWindowSize: 1 << 26 } : { initialWindowSize: 1 << 20 }
  const session = new SpdySession({ role: 'client', version, maxConcurrentStreams: 1000, ...windows }, Date.now())
  const tlsEngine = tls && !nodeTls ? new TlsClientConnection({ servername: '127.0.0.1', insecure: true, protocols: [protocol], negotiation }, Date.now()) : null
  let started = false
  let ending = false
  const spdyIn = (b: Uint8Array): void => { onEvents(session.receive(b, Date.now()), link) }
  // The shared driver (lib/server/engine-driver.ts) pumps this engine: TLS (if on), then the session.
  const engine: PullEngine<never> = {
    receive: (chunk) => {
      if (tlsEngine === null) { spdyIn(chunk); return }
      for (const ev of tlsEngine.receive(chunk, Date.now())) {
        if (ev.type === 'handshake') {
          if (ev.protocol !== protocol) { console.error(`server chose ${String(ev.protocol)}, not ${protocol}`); errors++; driver.destroy(); return }
          started = true
          start(link)
        } else if (ev.type === 'data') spdyIn(ev.data)
        else if (ev.type === 'error') { console.error(`TLS: ${ev.error.message}`); errors++; driver.destroy(); return }
      }
    },
    tick: () => {},
    deadline: null,
    takeOutbound: () => {
      const out = started ? session.takeOutbound() : []
      if (tlsEngine === null) {
        if (fragment === 0) return out
        // Every frame in `fragment` pieces of near-equal size, each its own write (so its own segment with
        // TCP_NODELAY): sent here one by one, as the driver would coalesce a list into one write.
        for (const frame of out) {
          const size = Math.max(1, Math.ceil(frame.length / fragment))
          for (let i = 0; i < frame.length; i += size) driver.send(frame.subarray(i, i + size))
        }
        return []
      }
      // One TLS write per flush: the engine cuts records of 2^14 bytes, so small frames share a record.
      if (out.length > 0) tlsEngine.write(out.length === 1 ? out[0] : Buffer.concat(out))
      if (ending) tlsEngine.close()
      return tlsEngine.takeOutboundChunks()
    }
  }
  const driver = new EngineDriver(socket, engine, {
    done: () => ending,
    closed: onGone,
    socketError: () => { errors++ }
  })
  const link: Link = {
    session,
    flush: () => driver.wake(),
    end: () => { ending = true; driver.wake() }
  }
  // With --tls-stack openssl the socket is Node's TLSSocket: the session starts once its handshake is done.
  socket.on(nodeTls ? 'secureConnect' : 'connect', () => {
    if (nodeTls) {
      const s = socket as TLSSocket
      if (s.alpnProtocol !== protocol || s.getProtocol() !== tlsVersion) { console.error(`got ${String(s.getProtocol())} ${String(s.alpnProtocol)}, not ${tlsVersion} ${protocol}`); errors++; driver.destroy(); return }
    }
    if (tlsEngine === null) { started = true; start(link) }
    driver.wake()
  })
}

/** Connection `index` of `connections` (its slots under --rate: index, index + connections, ...). */
function runConnection (deadline: number, index: number): Promise<void> {
  return new Promise((resolve) => {
    const headers = requestHeaderList(version, { method: 'GET', path, authority: `127.0.0.1:${port}`, scheme: tls ? 'https' : 'http' }, { 'user-agent': 'fastify-spdy-bench' })
    let inflight = 0
    let stopping = false
    /** --rate: this connection's slots taken so far, and the timer armed for its next one. */
    let slots = 0
    let timer: NodeJS.Timeout | null = null
    let ended = false
    /** Under --rate: may a request start now? Takes the slot if so; arms the timer (once) if it is to come. */
    const slotDue = (link: Link): boolean => {
      if (rate === 0) return true
      const slot = pace.t0 + (slots * connections + index) * 1000 / rate
      if (slot >= deadline) { stopping = true; return false }
      const now = clock()
      if (now < slot) {
        timer ??= setTimeout(() => {
          timer = null
          // Outside the driver's receive: the requests just made need a wake to be written.
          if (!ended) { pump(link); if (!ended) link.flush() }
        }, slot - now)
        return false
      }
      slots++
      if (measuring) {
        const behind = now - slot
        pace.started++
        pace.sumLate += behind
        if (behind > LATE_MS) pace.late++
        if (behind > pace.maxLate) pace.maxLate = behind
      }
      return true
    }
    const fill = (link: Link): void => {
      while (!stopping && inflight < streams && slotDue(link)) {
        if (link.session.request(headers, { fin: true }) === 0) break
        inflight++
      }
    }
    /** After answers, or when a --rate slot comes: start what may start, and end once stopping with none in flight. */
    const pump = (link: Link): void => {
      if (clock() >= deadline) stopping = true
      fill(link)
      if (stopping && inflight === 0 && !ended) {
        ended = true
        if (timer !== null) clearTimeout(timer)
        link.flush(); link.end(); resolve()
      }
    }
    connect((events, link) => {
      const session = link.session
      for (const ev of events) {
        if (ev.type === 'response' && replyStatus(version, ev.headers) !== 200) errors++
        if ((ev.type === 'data' && ev.fin) || (ev.type === 'response' && ev.fin)) {
          inflight--
          all++
          if (measuring) done++
          if (ev.type === 'data' && ev.data.length > 0) session.consume(ev.streamId, ev.data.length)
        } else if (ev.type === 'data') {
          session.consume(ev.streamId, ev.data.length)
        } else if (ev.type === 'streamReset') {
          inflight--
          errors++
        }
      }
      pump(link)
    }, (link) => { fill(link) }, resolve)
  })
}

function runDownload (): Promise<{ bytes: number, seconds: number }> {
  return new Promise((resolve, reject) => {
    let bytes = 0
    let t0 = 0n
    connect((events, link) => {
      for (const ev of events) {
        if (ev.type === 'response' && replyStatus(version, ev.headers) !== 200) errors++
        if (ev.type === 'data') {
          bytes += ev.data.length
          link.session.consume(ev.streamId, ev.data.length)
          if (ev.fin) {
            const s = Number(process.hrtime.bigint() - t0) / 1e9
            link.end()
            resolve({ bytes, seconds: s })
          }
        } else if (ev.type === 'streamReset') { errors++; reject(new Error(`stream reset: ${ev.status}`)) }
      }
    }, (link) => {
      t0 = process.hrtime.bigint()
      link.session.request(requestHeaderList(version, { method: 'GET', path, authority: `127.0.0.1:${port}`, scheme: tls ? 'https' : 'http' }), { fin: true })
    }, () => reject(new Error(`connection closed after ${bytes} bytes`)))
  })
}

async function main (): Promise<void> {
  if (download) {
    const r = await runDownload()
    process.stdout.write(JSON.stringify({ bytes: r.bytes, seconds: r.seconds, mbps: r.bytes / 2 ** 20 / r.seconds, errors }) + '\n')
    return
  }
  // Warm-up (JIT, zlib contexts, TLS handshakes) before counting: --warmup seconds, 1 by default.
  const start = clock()
  pace.t0 = start
  const warm = start + warmup * 1000
  const end = warm + seconds * 1000
  let cpu0 = process.cpuUsage()
  if (warmup > 0) setTimeout(() => { measuring = true; cpu0 = process.cpuUsage() }, warmup * 1000)
  else measuring = true
  await Promise.all(Array.from({ length: connections }, (_, i) => runConnection(end, i)))
  const elapsed = (clock() - warm) / 1000
  // Our own CPU over the measured part: near 1 s per second means this generator, not the server, sets the rate.
  const cpu = process.cpuUsage(cpu0)
  const clientCpu = (cpu.user + cpu.system) / 1e6 / elapsed
  const paced = rate === 0
    ? {}
    : { rate, started: pace.started, late: pace.late, lateShare: pace.started > 0 ? pace.late / pace.started : 0, meanLateMs: pace.started > 0 ? pace.sumLate / pace.started : 0, maxLateMs: pace.maxLate }
  process.stdout.write(JSON.stringify({ requests: done, all, seconds: elapsed, rps: Math.round(done / elapsed), clientCpu: Number(clientCpu.toFixed(2)), errors, ...paced }) + '\n')
}

main().catch((err) => { console.error(err); process.exit(1) })
