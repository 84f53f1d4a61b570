/**
 * Log lines about peers, rate-limited per connection and per listener, so hostile input cannot turn into a log
 * flood (issue 11: 60 connections sending malformed frames made 2.7 million warn lines in 30 s, one per frame).
 *
 * - Per connection: the first maxLogLinesPerConnection lines are written; the rest are counted and summed up in
 *   one line when the connection closes.
 * - Per listener (one per app, in practice the process): at most maxLogLinesPerSecond lines a second, connection
 *   summaries included; what is dropped is counted and reported in one line after the second it was dropped in.
 * Counts are kept by kind (a short fixed name per call site), so a summary says what was suppressed.
 */
import type { FastifyBaseLogger } from 'fastify'

type Level = 'warn' | 'error'
type Counts = Record<string, number>

const add = (counts: Counts, kind: string, n = 1): void => { counts[kind] = (counts[kind] ?? 0) + n }
const total = (counts: Counts): number => { let n = 0; for (const k in counts) n += counts[k]; return n }

export class ListenerLog {
  private windowStart = 0
  private used = 0
  private suppressed: Counts | null = null
  private timer: NodeJS.Timeout | null = null

  constructor (private readonly log: FastifyBaseLogger, private readonly perSecond: number) {}

  /** Writes the line if this second's budget allows it; counts it under `kind` otherwise. */
  write (level: Level, kind: string, obj: object, msg: string): boolean {
    const now = Date.now()
    if (now - this.windowStart >= 1000) { this.windowStart = now; this.used = 0 }
    if (this.used < this.perSecond) {
      this.used++
      this.log[level](obj, msg)
      return true
    }
    add(this.suppressed ??= {}, kind)
    if (this.timer === null) {
      // Reported once the window is over, whether or not another line comes: unref'd, it never holds the process.
      this.timer = setTimeout(this.report, Math.max(1, this.windowStart + 1000 - now))
      this.timer.unref()
    }
    return false
  }

  private readonly report = (): void => {
    this.timer = null
    const s = this.suppressed
    this.suppressed = null
    if (s === null) return
    this.log.warn({ suppressed: s }, `fastify-spdy: ${total(s)} log lines about peers suppressed (over maxLogLinesPerSecond)`)
  }

  /** On close: the summary now, and no timer left behind. */
  flush (): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.report() }
  }
}

/** One connection's lines; made on its first line (most connections never log). */
export class ConnectionLog {
  private used = 0
  private suppressed: Counts | null = null

  constructor (private readonly listener: ListenerLog, private readonly perConnection: number, private readonly remoteAddress: string | null) {}

  line (level: Level, kind: string, obj: object, msg: string): void {
    if (this.used >= this.perConnection) { add(this.suppressed ??= {}, kind); return }
    this.used++
    this.listener.write(level, kind, obj, msg)
  }

  /** The connection closed: one summary line for what was held back, if anything was. */
  close (): void {
    const s = this.suppressed
    if (s === null) return
    this.suppressed = null
    this.listener.write('warn', 'summary', { remoteAddress: this.remoteAddress, suppressed: s },
      `fastify-spdy: ${total(s)} more log lines about this connection suppressed (over maxLogLinesPerConnection)`)
  }
}
