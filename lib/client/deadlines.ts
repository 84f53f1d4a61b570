/**
 * The client's request timeouts, earliest first. The connection's driver reads the earliest after every pump
 * (SpdyClient.deadline, the engine contract in lib/server/engine-driver.ts), so that read is O(1); adding one and
 * removing any one (a request finished before its timeout, the common case) are O(log n): a binary min-heap whose
 * entries keep their own index, so removal needs no search.
 */

export interface Deadline {
  /** ms since epoch. */
  readonly until: number
  readonly fire: () => void
  /** Where it sits in its heap; -1 when in none. Kept by DeadlineHeap only. */
  slot: number
}

export class DeadlineHeap {
  private readonly heap: Deadline[] = []

  get size (): number { return this.heap.length }

  /** The earliest deadline held, or null when none. */
  get earliest (): number | null { return this.heap.length > 0 ? this.heap[0].until : null }

  add (d: Deadline): void {
    if (d.slot >= 0) return
    d.slot = this.heap.length
    this.heap.push(d)
    this.up(d.slot)
  }

  /** Takes `d` out; nothing happens if it is not held (already fired or removed). */
  remove (d: Deadline): void {
    const i = d.slot
    if (i < 0 || this.heap[i] !== d) return
    d.slot = -1
    const last = this.heap.pop() as Deadline
    if (i === this.heap.length) return
    this.heap[i] = last
    last.slot = i
    this.up(i)
    this.down(last.slot)
  }

  /** Takes out and returns the earliest deadline if it is at or before `now`, else null. */
  takeDue (now: number): Deadline | null {
    const first = this.heap[0]
    if (first === undefined || first.until > now) return null
    this.remove(first)
    return first
  }

  private up (i: number): void {
    const h = this.heap
    const d = h[i]
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (h[parent].until <= d.until) break
      h[i] = h[parent]
      h[i].slot = i
      i = parent
    }
    h[i] = d
    d.slot = i
  }

  private down (i: number): void {
    const h = this.heap
    const n = h.length
    const d = h[i]
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && h[child + 1].until < h[child].until) child++
      if (h[child].until >= d.until) break
      h[i] = h[child]
      h[i].slot = i
      i = child
    }
    h[i] = d
    d.slot = i
  }
}
