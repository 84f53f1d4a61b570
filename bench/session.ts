/**
 * Session engine throughput (lib/session), no sockets: a server SpdySession and a client SpdySession joined in
 * memory, for SPDY/2, 3 and 3.1.
 *   - small GETs: 100 streams kept in flight, each a SYN_STREAM(FIN) answered by SYN_REPLY + one 11-byte DATA(FIN);
 *   - bulk: one 100 MB response body, written by the server in 64 KB chunks while write() allows (then waiting for
 *     'drain'), the client consuming every DATA frame as it arrives (so WINDOW_UPDATEs flow at the defaults: 64 KB
 *     stream window, 1 MiB session window in 3.1).
 *
 * Anchor, measured in the same process and alternated with the session runs: the raw codec (FrameEncoder +
 * FrameDecoder, one pair per direction like a session) encoding and decoding exactly the frames the session run
 * puts on the wire (same header lists, same 16 KB DATA frame split, the same WINDOW_UPDATE cadence), with the
 * same per-round concatenation standing in for the socket. What the session adds on top of framing and header
 * compression (state table, windows, queues, priorities, events) is the gap between the two, so the ratio
 * session/anchor reads as "fraction of framing speed kept"; it does not depend on the machine's raw speed the way a
 * bare req/s does. Node's HTTP parser would be a weaker anchor here: it parses no compressed headers, and half of
 * small-GET cost in SPDY is zlib.
 *
 *   taskset -c 1 npx tsx bench/session.ts [--quick] [--runs N] [--seconds S] [--mb M]
 * Rewrites the `session` section of bench/RESULTS.md (not with --quick).
 */
import { SpdySession, type SessionEvent } from '../lib/session/session'
import { requestHeaderList, responseHeaderList } from '../lib/session/headers'
import { FrameDecoder, FrameEncoder, type Frame, type HeaderList, type SpdyVersion } from '../lib/codec'
import { DEFAULT_SESSION_LIMITS } from '../lib/session/limits'
import { machine, median, writeSection } from './results'

const quick = process.argv.includes('--quick')
const argN = (name: string, d: number): number => { const i = process.argv.indexOf(`--${name}`); return i >= 0 ? Number(process.argv[i + 1]) : d }
const runs = argN('runs', quick ? 1 : 5)
const seconds = argN('seconds', quick ? 0.2 : 2)
const bulkMB = argN('mb', quick ? 4 : 100)

const VERSIONS: SpdyVersion[] = [2, 3, 3.1]
const INFLIGHT = 100
const BODY = Buffer.from('hello world')
const CHUNK = 64 * 1024
/** The session's DATA frame size (lib/session/session.ts DATA_FRAME_BYTES): the anchor splits the same way. */
const FRAME = 16 * 1024
/** What spdy-handler takes from the session per flush: the bulk loop takes the same. */
const FLUSH_BYTES = 256 * 1024

const reqHeaders = (v: SpdyVersion): HeaderList => requestHeaderList(v, { method: 'GET', path: '/small', authority: '127.0.0.1:8443', scheme: 'https' }, {
  'user-agent': 'fastify-spdy-bench', accept: '*/*', 'accept-encoding': 'gzip, deflate'
})
// What Fastify answers GET /small with (lib/server/response.ts passes these through).
const resHeaders = (v: SpdyVersion, length: number): HeaderList => responseHeaderList(v, 200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(length) })

function concat (chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]
  return Buffer.concat(chunks)
}

/**
 * CPU seconds (user + system) this process used: on a machine shared with other jobs, wall time counts the moments
 * we were descheduled, CPU time does not. Everything here runs on the main thread, so it is the work measured.
 */
function cpuNow (): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** Runs `round` (which returns how many units it completed) for `seconds` after a warm-up; units per CPU second. */
function timed (round: () => number): number {
  const warmEnd = Date.now() + Math.min(300, seconds * 300)
  while (Date.now() < warmEnd) round()
  let units = 0
  const start = cpuNow()
  const end = Date.now() + seconds * 1000
  while (Date.now() < end) units += round()
  return units / (cpuNow() - start)
}

// ---- small GETs -----------------------------------------------------------------------------------------------

function sessionGets (v: SpdyVersion): number {
  const now = Date.now()
  const client = new SpdySession({ role: 'client', version: v, maxConcurrentStreams: 1000 }, now)
  const server = new SpdySession({ role: 'server', version: v, maxConcurrentStreams: 1000 }, now)
  const rq = reqHeaders(v)
  const rs = resHeaders(v, BODY.length)
  let inflight = 0
  let errors = 0
  const onServer = (events: SessionEvent[]): void => {
    for (const ev of events) {
      if (ev.type === 'request') { server.respond(ev.streamId, rs, false); server.write(ev.streamId, BODY, true) } else if (ev.type === 'streamReset' || ev.type === 'protocolError') errors++
    }
  }
  const round = (): number => {
    while (inflight < INFLIGHT && client.request(rq, { fin: true }) !== 0) inflight++
    const up = client.takeOutbound()
    if (up.length > 0) onServer(server.receive(concat(up), now))
    const down = server.takeOutbound()
    let done = 0
    if (down.length > 0) {
      for (const ev of client.receive(concat(down), now)) {
        if ((ev.type === 'data' || ev.type === 'response') && ev.fin) done++
        else if (ev.type === 'streamReset' || ev.type === 'protocolError') errors++
      }
    }
    inflight -= done
    if (errors > 0) throw new Error(`session GETs: ${errors} errors`)
    return done
  }
  return timed(round)
}

function codecGets (v: SpdyVersion): number {
  const wire = v === 2 ? 2 : 3
  const cEnc = new FrameEncoder({ version: wire })
  const sEnc = new FrameEncoder({ version: wire })
  const sDec = new FrameDecoder({ version: wire })
  const cDec = new FrameDecoder({ version: wire })
  const rq = reqHeaders(v)
  const rs = resHeaders(v, BODY.length)
  let nextId = 1
  const round = (): number => {
    const up: Uint8Array[] = []
    for (let i = 0; i < INFLIGHT; i++) {
      up.push(cEnc.encode({ type: 'SYN_STREAM', streamId: nextId, associatedStreamId: 0, priority: 3, slot: 0, fin: true, unidirectional: false, headers: rq }))
      nextId += 2
    }
    const down: Uint8Array[] = []
    for (const f of sDec.push(concat(up))) {
      if (f.type !== 'SYN_STREAM') throw new Error(`codec GETs: unexpected ${f.type}`)
      down.push(sEnc.encode({ type: 'SYN_REPLY', streamId: f.streamId, fin: false, headers: rs }))
      down.push(sEnc.encodeDataHeader(f.streamId, true, BODY.length), BODY)
    }
    let done = 0
    for (const f of cDec.push(concat(down))) if (f.type === 'DATA' && f.fin) done++
    return done
  }
  return timed(round)
}

// ---- one large download ---------------------------------------------------------------------------------------

/** CPU seconds for one `bytes` download through the two sessions. */
function sessionBulk (v: SpdyVersion, bytes: number): number {
  const now = Date.now()
  const client = new SpdySession({ role: 'client', version: v }, now)
  const server = new SpdySession({ role: 'server', version: v }, now)
  const chunk = Buffer.alloc(CHUNK, 0x61)
  const start = cpuNow()
  let id = 0
  let written = 0
  let received = 0
  let finished = false
  let blocked = false
  const produce = (): void => {
    while (!blocked && written < bytes) {
      const n = Math.min(CHUNK, bytes - written)
      written += n
      if (!server.write(id, n === CHUNK ? chunk : chunk.subarray(0, n), written === bytes)) blocked = true
    }
  }
  const onServer = (events: SessionEvent[]): void => {
    for (const ev of events) {
      if (ev.type === 'request') { id = ev.streamId; server.respond(id, resHeaders(v, bytes), false); produce() } else if (ev.type === 'drain') { blocked = false; produce() } else if (ev.type === 'streamReset' || ev.type === 'protocolError') throw new Error(`bulk: ${JSON.stringify(ev)}`)
    }
  }
  client.request(reqHeaders(v), { fin: true })
  for (let rounds = 0; !finished; rounds++) {
    const up = client.takeOutbound()
    if (up.length > 0) onServer(server.receive(concat(up), now))
    const down = server.takeOutbound(FLUSH_BYTES)
    onServer(server.takeEvents())
    if (down.length > 0) {
      for (const ev of client.receive(concat(down), now)) {
        if (ev.type === 'data') {
          received += ev.data.length
          if (ev.data.length > 0) client.consume(ev.streamId, ev.data.length)
          if (ev.fin) finished = true
        } else if (ev.type === 'streamReset' || ev.type === 'protocolError') throw new Error(`bulk: ${JSON.stringify(ev)}`)
      }
    } else if (up.length === 0 && rounds > 10) throw new Error(`bulk stalled at ${received} of ${bytes} bytes`)
  }
  if (received !== bytes) throw new Error(`bulk: received ${received} of ${bytes}`)
  return cpuNow() - start
}

/**
 * CPU seconds for the same download as bare frames: 16 KB DATA frames in 256 KB rounds, a WINDOW_UPDATE per 32 KB
 * consumed (v3) and one on stream 0 per 256 KB (v3.1).
 */
function codecBulk (v: SpdyVersion, bytes: number): number {
  const wire = v === 2 ? 2 : 3
  const cEnc = new FrameEncoder({ version: wire })
  const sEnc = new FrameEncoder({ version: wire })
  const sDec = new FrameDecoder({ version: wire })
  const cDec = new FrameDecoder({ version: wire })
  const chunk = Buffer.alloc(CHUNK, 0x61)
  const half = DEFAULT_SESSION_LIMITS.initialWindowSize / 2
  const start = cpuNow()
  sDec.push(cEnc.encode({ type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: 3, slot: 0, fin: true, unidirectional: false, headers: reqHeaders(v) }))
  let sent = 0
  let received = 0
  let unacked = 0
  let sessionUnacked = 0
  const sessionQuarter = Math.max(32768, DEFAULT_SESSION_LIMITS.sessionWindowSize >> 2)
  let first = true
  while (received < bytes) {
    const down: Uint8Array[] = []
    if (first) { down.push(sEnc.encode({ type: 'SYN_REPLY', streamId: 1, fin: false, headers: resHeaders(v, bytes) })); first = false }
    for (let budget = FLUSH_BYTES; budget > 0 && sent < bytes; budget -= FRAME) {
      const n = Math.min(FRAME, bytes - sent)
      const off = sent % CHUNK
      sent += n
      down.push(sEnc.encodeDataHeader(1, sent === bytes, n), chunk.subarray(off, off + n))
    }
    const up: Frame[] = []
    for (const f of cDec.push(concat(down))) {
      if (f.type !== 'DATA') continue
      received += f.data.length
      unacked += f.data.length
      if (wire === 3 && unacked >= half) { up.push({ type: 'WINDOW_UPDATE', streamId: 1, deltaWindowSize: unacked }); unacked = 0 }
      // SPDY/3.1 also re-grants the session window, once per quarter of it (lib/session/session.ts consumeSession).
      if (v === 3.1 && (sessionUnacked += f.data.length) >= sessionQuarter) { up.push({ type: 'WINDOW_UPDATE', streamId: 0, deltaWindowSize: sessionUnacked }); sessionUnacked = 0 }
    }
    if (up.length > 0) sDec.push(concat(up.map((f) => cEnc.encode(f))))
  }
  return cpuNow() - start
}

// ---- report ----------------------------------------------------------------------------------------------------

const fmt = (n: number): string => n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0)

function main (): void {
  const lines: string[] = []
  console.log(`# ${machine()}; ${runs} alternating runs of ${seconds} s per small-GET case, ${bulkMB} MB per download`)
  for (const v of VERSIONS) {
    const s: number[] = []
    const a: number[] = []
    for (let i = 0; i < runs; i++) { a.push(codecGets(v)); s.push(sessionGets(v)) }
    const sm = median(s)
    const am = median(a)
    const line = `| SPDY/${v} | small GETs, ${INFLIGHT} streams in flight | ${fmt(am)} req/s | ${fmt(sm)} req/s | ${fmt(Math.min(...s))}-${fmt(Math.max(...s))} | ${(sm / am).toFixed(2)}x |`
    console.log(line)
    lines.push(line)
  }
  const bytes = bulkMB * 1024 * 1024
  for (const v of VERSIONS) {
    const s: number[] = []
    const a: number[] = []
    const bulkRuns = runs
    codecBulk(v, Math.min(bytes, 8 << 20)); sessionBulk(v, Math.min(bytes, 8 << 20)) // warm-up
    for (let i = 0; i < bulkRuns; i++) { a.push(bulkMB / codecBulk(v, bytes)); s.push(bulkMB / sessionBulk(v, bytes)) }
    const sm = median(s)
    const am = median(a)
    const line = `| SPDY/${v} | one ${bulkMB} MB download, flow-controlled | ${am.toFixed(0)} MB/s | ${sm.toFixed(0)} MB/s | ${Math.min(...s).toFixed(0)}-${Math.max(...s).toFixed(0)} | ${(sm / am).toFixed(2)}x |`
    console.log(line)
    lines.push(line)
  }
  if (quick) return
  const table = ['| version | case | anchor: codec only (per CPU s) | session pair (median, per CPU s) | session spread | session / anchor |', '| --- | --- | --- | --- | --- | --- |', ...lines].join('\n')
  writeSection('session', `## Session engine (lib/session): server and client sessions joined in memory

Command: \`flock /tmp/bench.lock taskset -c 1 npx tsx bench/session.ts --runs ${runs} --seconds ${seconds} --mb ${bulkMB}\`
Machine: ${machine()}. One process, no sockets; ${runs} runs per case alternating anchor and session
median reported. Rates are per CPU second of the process (user+system,
process.cpuUsage), not per wall second: the machine is shared with other jobs, and CPU time does not count the
moments this process was descheduled. Both sides (client and server session) run in this one process, so a req/s
here is the cost of both ends together.

Small GETs: the client keeps ${INFLIGHT} streams open (SYN_STREAM with FIN, browser-like request headers), the server
answers each with SYN_REPLY (status, content-type, content-length) and one 11-byte DATA with FIN; one round = client
flush -> server receive -> server flush -> client receive, the bytes of a flush concatenated as a socket would
deliver them. Bulk: one GET answered with ${bulkMB} MB written in 64 KB chunks while write() allows it (then on
'drain'), the server's output taken 256 KB per round as lib/server/spdy-handler.ts does, the client consuming each
DATA frame at once: WINDOW_UPDATEs at the default 64 KB stream window (and 1 MiB session window in 3.1); SPDY/2
has no flow control (the stream's 64 KB high-water mark paces the writer).

Anchor: the bare codec (FrameEncoder/FrameDecoder per direction) encoding and decoding the same frames in the same
rounds: same header lists through the same zlib contexts, same 16 KB DATA split, WINDOW_UPDATE per 32 KB (and per 256 KB on stream 0 in 3.1). The
ratio is the share of framing speed the session keeps after its own bookkeeping (1.00x = free).

${table}
`)
}

main()
