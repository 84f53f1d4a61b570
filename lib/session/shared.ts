/**
 * Accounting shared by every session of the process: counters only, no clock and no I/O (time is handed in), so
 * sessions stay sans-IO. Each session checks the shared totals against its own limits (maxProcessHeaderBytes,
 * maxProcessResetsPerSecond), so one counter serves listeners registered with different options.
 *
 * Why process-wide: the per-session limits bound one connection, but an attacker opens many (issue 11: 50 sessions
 * x 100 streams of 60 KB header blocks took RSS from 70 to 742 MB; rapid reset spread over 6,624 reconnecting
 * connections stayed under every per-session rate).
 */
export class SharedBudget {
  /** Bytes of decoded header blocks held by open streams of all sessions. */
  headerBytes = 0
  /** Peer-initiated streams reset by peers in the current one-second window, all sessions together. */
  private resets = 0
  private resetWindowStart = -Infinity

  /** Takes `bytes` of header memory if the total stays within `limit`; false (and nothing taken) otherwise. */
  reserveHeaders (bytes: number, limit: number): boolean {
    if (this.headerBytes + bytes > limit) return false
    this.headerBytes += bytes
    return true
  }

  releaseHeaders (bytes: number): void {
    this.headerBytes -= bytes
  }

  /** Counts one reset at `now` (ms); false once the current second holds more than `limit`. */
  countReset (now: number, limit: number): boolean {
    if (now - this.resetWindowStart >= 1000 || now < this.resetWindowStart) {
      this.resetWindowStart = now
      this.resets = 0
    }
    return ++this.resets <= limit
  }

  /** Resets counted in the current window (for tests and stats). */
  get resetsThisSecond (): number { return this.resets }
}

/** The process's budget: the plugin hands it to every session it makes (lib/session/limits.ts sessionGuards). */
export const PROCESS_BUDGET = new SharedBudget()
