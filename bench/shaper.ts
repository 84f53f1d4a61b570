/**
 * A link shaper for benchmarks: a TCP proxy on 127.0.0.1 that makes loopback look like a slow access link. This
 * kernel has no netem, so the link is modelled in userspace, per direction:
 *   - serialisation: one shared "link busy until" clock per direction, so every connection through the shaper
 *     shares the bandwidth (a browser's six connections share one access link), FIFO, order preserved;
 *   - propagation: each segment arrives RTT/2 after its last bit left;
 *   - TCP's connect: a client's first bytes leave one RTT after it connected (SYN, SYN-ACK), so they arrive at
 *     1.5 RTT, as on a real link;
 *   - TCP slow start: each connection may have `initialCwnd` bytes unacknowledged (IW10, RFC 6928), growing by
 *     what is acknowledged (RFC 5681 section 3.1, no loss so never leaving slow start); an ACK comes back RTT/2
 *     after the segment arrived. Loopback TCP underneath ramps at once, so without this a new connection would
 *     be as fast as a warm one and the cost of opening six of them would not show.
 * Not modelled: loss, per-packet header overhead, delayed ACKs, the ACKs' own bandwidth.
 *
 * Timers: setTimeout has 1 ms granularity and fires late under load, so a timer is armed for the whole
 * milliseconds before a deadline and the rest is waited out with setImmediate (a short spin, at most ~1 ms per
 * event). `stats()` reports how late deliveries actually were.
 *
 *   tsx bench/shaper.ts --self-test     ping-pong RTT and a 1 MB transfer at 5 Mbit/s, measured against the model
 */
import net from 'node:net'
import { performance } from 'node:perf_hooks'

export interface ShaperOptions {
  /** Where to forward to (127.0.0.1). */
  targetPort: number
  rttMs: number
  /** Bandwidth per direction in Mbit/s (10^6 bit/s). */
  mbps: number
  /** Bytes per connection and direction in flight before the first ACK; default 10 x 1460 (RFC 6928). */
  initialCwnd?: number
  /** Segment size the link carries; default 1460 (Ethernet MTU less IPv4 and TCP headers). */
  mss?: number
}

export interface ShaperStats {
  connections: number
  segments: number
  /** How late segments were written compared with the model, in ms. */
  lateMeanMs: number
  lateMaxMs: number
  /** Payload bytes carried per direction. */
  bytesUp: number
  bytesDown: number
  /** When the first connection was accepted, as an epoch time in ms (performance.timeOrigin + now): lets a client
   * with its own clock (a browser's Navigation Timing) be checked against the link's. */
  firstConnectAt: number
  /** The down direction read as TLS records (their 5-byte headers are in the clear), every connection summed. */
  recordsDown: RecordTally
}

/**
 * TLS records by content type (RFC 5246 section 6.2.1): handshake (22, the encrypted Finished included), change
 * cipher spec (20), alert (21), application data (23); `bytes` count record headers too. Lets a bench say what a
 * connection's bytes were made of without decrypting them.
 */
export interface RecordTally { handshake: TypeTally, ccs: TypeTally, alert: TypeTally, data: TypeTally, other: TypeTally }
export interface TypeTally { records: number, bytes: number }

export const emptyTally = (): RecordTally => ({ handshake: { records: 0, bytes: 0 }, ccs: { records: 0, bytes: 0 }, alert: { records: 0, bytes: 0 }, data: { records: 0, bytes: 0 }, other: { records: 0, bytes: 0 } })

/** a - b, per type (a later stats() less an earlier one). */
export function tallyLess (a: RecordTally, b: RecordTally): RecordTally {
  const out = emptyTally()
  for (const k of Object.keys(out) as Array<keyof RecordTally>) out[k] = { records: a[k].records - b[k].records, bytes: a[k].bytes - b[k].bytes }
  return out
}

/** Reads one direction of one connection as a TLS record stream, into a shared tally. */
class RecordReader {
  private head = Buffer.alloc(0)
  private skip = 0
  constructor (private readonly tally: RecordTally) {}

  push (chunk: Buffer): void {
    let off = 0
    while (off < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - off)
        this.skip -= n
        off += n
        continue
      }
      const take = Math.min(5 - this.head.length, chunk.length - off)
      this.head = Buffer.concat([this.head, chunk.subarray(off, off + take)])
      off += take
      if (this.head.length < 5) return
      const len = this.head.readUInt16BE(3)
      const type = this.head[0]
      const t = type === 22 ? this.tally.handshake : type === 20 ? this.tally.ccs : type === 21 ? this.tally.alert : type === 23 ? this.tally.data : this.tally.other
      t.records++
      t.bytes += 5 + len
      this.head = Buffer.alloc(0)
      this.skip = len
    }
  }
}

export interface Shaper {
  port: number
  stats: () => ShaperStats
  /** Closes every connection through the link (both sides), keeping the listener: the gap between two visits. */
  dropConnections: () => Promise<void>
  close: () => Promise<void>
}

/** One connection in one direction. */
interface Flow {
  dst: net.Socket
  src: net.Socket
  pending: Buffer[]
  pendingBytes: number
  /** Segments in the link not yet delivered. */
  undelivered: number
  /** Bytes delivered but not yet acknowledged, plus bytes in the link. */
  inflight: number
  cwnd: number
  /** No byte of this flow leaves before this time (the TCP handshake). */
  readyAt: number
  readyTimer: NodeJS.Timeout | null
  srcEnded: boolean
  ended: boolean
  dstReady: boolean
}

interface Delivery { flow: Flow, data: Buffer, at: number }
interface Ack { flow: Flow, bytes: number, at: number }

/** Pause reading a source when this much waits in the shaper: bounds memory like a socket send buffer does. */
const PENDING_HIGH = 1 << 20
const PENDING_LOW = 256 * 1024

class Link {
  private busyUntil = 0
  private readonly deliveries: Delivery[] = []
  private dHead = 0
  private readonly acks: Ack[] = []
  private aHead = 0
  private timer: NodeJS.Timeout | null = null
  private spinning = false
  private armedFor = Infinity
  segments = 0
  bytes = 0
  lateSum = 0
  lateMax = 0

  constructor (private readonly msPerByte: number, private readonly halfRtt: number, private readonly mss: number) {}

  /** Move as much of the flow's pending data into the link as its window allows. */
  pump (flow: Flow): void {
    const now = performance.now()
    if (now < flow.readyAt) {
      if (flow.readyTimer === null) flow.readyTimer = setTimeout(() => { flow.readyTimer = null; this.pump(flow) }, Math.ceil(flow.readyAt - now))
      return
    }
    while (flow.pendingBytes > 0 && (flow.inflight === 0 || flow.inflight + Math.min(this.mss, flow.pendingBytes) <= flow.cwnd)) {
      const data = takeBytes(flow, this.mss)
      flow.inflight += data.length
      flow.undelivered++
      const start = Math.max(now, this.busyUntil)
      this.busyUntil = start + data.length * this.msPerByte
      this.deliveries.push({ flow, data, at: this.busyUntil + this.halfRtt })
      this.segments++
      this.bytes += data.length
    }
    if (flow.pendingBytes < PENDING_LOW && flow.src.isPaused()) flow.src.resume()
    this.arm()
  }

  private nextAt (): number {
    const d = this.dHead < this.deliveries.length ? this.deliveries[this.dHead].at : Infinity
    const a = this.aHead < this.acks.length ? this.acks[this.aHead].at : Infinity
    return Math.min(d, a)
  }

  private arm (): void {
    const at = this.nextAt()
    if (at === Infinity || this.spinning) return
    if (this.timer !== null) {
      if (this.armedFor <= at) return
      clearTimeout(this.timer)
      this.timer = null
    }
    const wait = at - performance.now()
    if (wait < 1) { this.spin(); return }
    this.armedFor = at
    this.timer = setTimeout(() => { this.timer = null; this.armedFor = Infinity; this.spin() }, Math.floor(wait))
  }

  /** Wait out the sub-millisecond rest with setImmediate, then run everything due. */
  private spin (): void {
    this.spinning = true
    const now = performance.now()
    if (this.nextAt() > now) {
      if (this.nextAt() - now < 1.5) { setImmediate(() => this.spin()); return }
      this.spinning = false
      this.arm()
      return
    }
    this.spinning = false
    this.run(now)
    this.arm()
  }

  private run (now: number): void {
    const out = new Map<Flow, Buffer[]>()
    while (this.dHead < this.deliveries.length && this.deliveries[this.dHead].at <= now) {
      const d = this.deliveries[this.dHead++]
      const late = now - d.at
      this.lateSum += late
      if (late > this.lateMax) this.lateMax = late
      let list = out.get(d.flow)
      if (list === undefined) { list = []; out.set(d.flow, list) }
      list.push(d.data)
      d.flow.undelivered--
      this.acks.push({ flow: d.flow, bytes: d.data.length, at: d.at + this.halfRtt })
    }
    if (this.dHead > 1024) { this.deliveries.splice(0, this.dHead); this.dHead = 0 }
    for (const [flow, list] of out) {
      if (!flow.dst.destroyed) flow.dst.write(list.length === 1 ? list[0] : Buffer.concat(list))
      maybeEnd(flow)
    }
    const acked = new Set<Flow>()
    while (this.aHead < this.acks.length && this.acks[this.aHead].at <= now) {
      const a = this.acks[this.aHead++]
      a.flow.inflight -= a.bytes
      a.flow.cwnd += a.bytes
      acked.add(a.flow)
    }
    if (this.aHead > 1024) { this.acks.splice(0, this.aHead); this.aHead = 0 }
    for (const flow of acked) this.pump(flow)
  }
}

function takeBytes (flow: Flow, max: number): Buffer {
  const first = flow.pending[0]
  if (first.length <= max) {
    flow.pending.shift()
    flow.pendingBytes -= first.length
    return first
  }
  flow.pending[0] = first.subarray(max)
  flow.pendingBytes -= max
  return first.subarray(0, max)
}

function maybeEnd (flow: Flow): void {
  if (flow.srcEnded && !flow.ended && flow.pendingBytes === 0 && flow.undelivered === 0) {
    flow.ended = true
    if (!flow.dst.destroyed) flow.dst.end()
  }
}

export async function startShaper (opts: ShaperOptions): Promise<Shaper> {
  const mss = opts.mss ?? 1460
  const initialCwnd = opts.initialCwnd ?? 10 * mss
  const msPerByte = 8 / (opts.mbps * 1e6) * 1000
  const halfRtt = opts.rttMs / 2
  const up = new Link(msPerByte, halfRtt, mss)
  const down = new Link(msPerByte, halfRtt, mss)
  const sockets = new Set<net.Socket>()
  let connections = 0
  let firstConnectAt = 0

  const recordsDown = emptyTally()
  const flow = (src: net.Socket, dst: net.Socket, link: Link, readyAt: number, dstReady: boolean, records?: RecordReader): Flow => {
    const f: Flow = { dst, src, pending: [], pendingBytes: 0, undelivered: 0, inflight: 0, cwnd: initialCwnd, readyAt, readyTimer: null, srcEnded: false, ended: false, dstReady }
    src.on('data', (chunk: Buffer) => {
      records?.push(chunk)
      f.pending.push(chunk)
      f.pendingBytes += chunk.length
      if (f.pendingBytes > PENDING_HIGH) src.pause()
      if (f.dstReady) link.pump(f)
    })
    src.on('end', () => { f.srcEnded = true; maybeEnd(f) })
    return f
  }

  // Half-open on both sides: a FIN is data on the link too, it must arrive after what was sent before it.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    connections++
    const now = performance.now()
    if (firstConnectAt === 0) firstConnectAt = performance.timeOrigin + now
    const upstream = net.connect({ port: opts.targetPort, host: '127.0.0.1', allowHalfOpen: true })
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
    }
    // Client -> server: nothing leaves before the SYN-ACK came back (one RTT after connect).
    const upFlow = flow(client, upstream, up, now + opts.rttMs, false)
    flow(upstream, client, down, 0, true, new RecordReader(recordsDown))
    upstream.on('connect', () => { upFlow.dstReady = true; up.pump(upFlow) })
    const kill = (): void => { client.destroy(); upstream.destroy() }
    client.on('error', kill)
    upstream.on('error', kill)
    // A clean end travels through the link behind the data (maybeEnd); only an abort cuts the other side at once.
    client.on('close', (hadError) => { if (hadError) upstream.destroy() })
    upstream.on('close', (hadError) => { if (hadError) client.destroy() })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    stats: () => {
      const segments = up.segments + down.segments
      return {
        connections,
        segments,
        lateMeanMs: segments === 0 ? 0 : (up.lateSum + down.lateSum) / segments,
        lateMaxMs: Math.max(up.lateMax, down.lateMax),
        bytesUp: up.bytes,
        bytesDown: down.bytes,
        firstConnectAt,
        recordsDown: tallyLess(recordsDown, emptyTally())
      }
    },
    dropConnections: async () => {
      const closing = [...sockets].map((s) => new Promise<void>((resolve) => { if (s.destroyed) resolve(); else s.once('close', () => resolve()) }))
      for (const s of sockets) s.destroy()
      await Promise.all(closing)
    },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

export interface SelfTest { rttMs: number, pingMs: number[], mbps: number, bytes: number, transferMs: number, modelMs: number, lateMeanMs: number, lateMaxMs: number }

/**
 * Check the shaper against its model: a 1-byte ping-pong on an open connection takes one RTT; `bytes` from a
 * server to a client at `mbps` take bytes*8/mbps plus one RTT for the request plus the slow-start rounds.
 */
export async function selfTest (rttMs = 100, mbps = 5, bytes = 1 << 20): Promise<SelfTest> {
  const echo = net.createServer((s) => {
    s.setNoDelay(true)
    s.on('data', (b) => {
      if (b[0] === 0x42) s.end(Buffer.alloc(bytes, 0x61))
      else s.write(b)
    })
    s.on('error', () => {})
  })
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
  const target = (echo.address() as net.AddressInfo).port
  const shaper = await startShaper({ targetPort: target, rttMs, mbps })
  const c = net.connect(shaper.port, '127.0.0.1')
  c.setNoDelay(true)
  await new Promise<void>((resolve) => c.once('connect', () => resolve()))
  const pingMs: number[] = []
  // The first byte also pays for the modelled TCP handshake; pings after it measure the RTT alone.
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now()
    c.write(Buffer.from([i]))
    await new Promise<void>((resolve) => c.once('data', () => resolve()))
    if (i > 0) pingMs.push(performance.now() - t0)
  }
  const t0 = performance.now()
  c.write(Buffer.from([0x42]))
  let got = 0
  await new Promise<void>((resolve) => {
    c.on('data', (b) => { got += b.length })
    c.on('end', () => resolve())
  })
  const transferMs = performance.now() - t0
  if (got !== bytes) throw new Error(`self-test: received ${got} of ${bytes} bytes`)
  // Slow start: IW10 doubling each RTT until the window covers the bandwidth-delay product; each round before
  // that costs a full RTT that the link spends partly idle.
  const mss = 1460
  const bdp = mbps * 1e6 / 8 * rttMs / 1000
  let cwnd = 10 * mss
  let sent = 0
  let rounds = 0
  while (cwnd < bdp && sent < bytes) { sent += cwnd; cwnd *= 2; rounds++ }
  const serialise = (bytes - Math.min(sent, bytes)) * 8 / (mbps * 1e6) * 1000
  const modelMs = rttMs + rounds * rttMs + serialise
  const st = shaper.stats()
  c.destroy()
  await shaper.close()
  await new Promise<void>((resolve) => echo.close(() => resolve()))
  return { rttMs, pingMs, mbps, bytes, transferMs, modelMs, lateMeanMs: st.lateMeanMs, lateMaxMs: st.lateMaxMs }
}

export function describeSelfTest (s: SelfTest): string {
  const pings = s.pingMs.map((p) => p.toFixed(1)).join(', ')
  return `ping-pong at RTT ${s.rttMs} ms: ${pings} ms; ${(s.bytes / 2 ** 20).toFixed(0)} MiB at ${s.mbps} Mbit/s, RTT ${s.rttMs} ms: ` +
    `${(s.transferMs / 1000).toFixed(3)} s (model ${(s.modelMs / 1000).toFixed(3)} s: RTT + slow-start rounds + bytes*8/bandwidth); ` +
    `segments late by ${s.lateMeanMs.toFixed(2)} ms mean, ${s.lateMaxMs.toFixed(2)} ms max`
}

if (require.main === module && process.argv.includes('--self-test')) {
  (async () => {
    for (const [rtt, mbps] of [[20, 5], [100, 5]] as const) process.stdout.write(describeSelfTest(await selfTest(rtt, mbps)) + '\n')
  })().catch((err) => { console.error(err); process.exit(1) })
}
