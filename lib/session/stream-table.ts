/**
 * Per-connection collections of per-stream objects, built so that a stream's objects die young.
 *
 * Why not Map and Set: a session lives for many requests, so the backing table of its Map or Set ends up in V8's
 * old generation sooner or later (any table that outlives two scavenges, or is live at a mark-compact). From then
 * on, V8 (11.3, Node 20) allocates every rehashed table of that collection directly in old space too
 * (OrderedHashTable::Rehash picks the new table's generation from the old one's), and the table it replaces keeps
 * its entries, plus a link to its successor, for iterators. A collection whose size moves with the requests in
 * flight rehashes several times per burst (grow at 4, 8, 16 entries, shrink under a quarter), so dead old-space
 * tables keep pointing at the streams that were open when they were replaced. The scavenger takes old-to-young
 * pointers as roots without knowing the old object is dead, so those streams, and everything they reach (request,
 * response, Fastify's request and reply, header lists), survive two scavenges and are promoted, and only a
 * mark-compact frees them. On the plain 10 connections x 10 streams benchmark this was the "slow mode" of
 * bench/RESULTS.md (throughput): 2.5 MB promoted per scavenge and 10 mark-compacts per 5 s in the processes where a
 * table had got old early, for good; none in the others.
 *
 * These collections own their storage: arrays that V8 never reallocates behind our back, slots cleared the moment
 * an entry leaves, and old storage emptied before it is dropped. A dead copy of the storage, old or young, then
 * holds nothing, and an old live one points only at streams that are open.
 */

/** Slots a table gets at its first entry: 8 streams at half load, what a page load's first burst mostly fits in. */
const INITIAL_SLOTS = 16
/**
 * Storage of a collection that never held anything: shared, never written. A session makes eleven of these
 * collections and an idle one may use two or three, so storage comes with the first entry (bench/memory.ts counts
 * per idle connection).
 */
const NO_IDS = new Int32Array(0)

/** A table grown past this many slots goes back to INITIAL_SLOTS when its last stream closes. */
const SHRINK_ABOVE = 64

/**
 * Streams by id (ids are 1..2^31-1, SPDY/3 section 2.2.1; 0 is never stored). Open addressing with linear probing
 * at most half full; deletion shifts the probe run back (no tombstones, so a slot's value is set only while its
 * stream is in the table).
 */
export class StreamTable<V extends object> {
  private ids: Int32Array
  private vals: Array<V | undefined>
  private mask: number
  private count = 0

  constructor () {
    this.ids = NO_IDS
    this.vals = []
    this.mask = 0
  }

  get size (): number { return this.count }

  /** Same-parity ids are consecutive slots (client streams odd, server streams even: SPDY/3 section 2.3.2). */
  private home (id: number): number { return (id >>> 1) & this.mask }

  private find (id: number): number {
    if (this.count === 0) return -1
    const ids = this.ids
    for (let i = this.home(id); ; i = (i + 1) & this.mask) {
      const k = ids[i]
      if (k === id) return i
      if (k === 0) return -1
    }
  }

  get (id: number): V | undefined {
    const i = this.find(id)
    return i < 0 ? undefined : this.vals[i]
  }

  has (id: number): boolean { return this.find(id) >= 0 }

  set (id: number, value: V): void {
    if (id <= 0 || id > 0x7fffffff) throw new RangeError(`stream id ${id} out of range`)
    const found = this.find(id)
    if (found >= 0) { this.vals[found] = value; return }
    if ((this.count + 1) * 2 > this.ids.length) this.resize(Math.max(INITIAL_SLOTS, this.ids.length * 2))
    this.place(id, value)
    this.count++
  }

  private place (id: number, value: V): void {
    let i = this.home(id)
    while (this.ids[i] !== 0) i = (i + 1) & this.mask
    this.ids[i] = id
    this.vals[i] = value
  }

  delete (id: number): boolean {
    let hole = this.find(id)
    if (hole < 0) return false
    const ids = this.ids
    const vals = this.vals
    const mask = this.mask
    // Backward-shift deletion: move later members of the probe run into the hole when their home slot allows.
    for (let j = (hole + 1) & mask; ids[j] !== 0; j = (j + 1) & mask) {
      const h = this.home(ids[j])
      const between = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j)
      if (between) continue
      ids[hole] = ids[j]
      vals[hole] = vals[j]
      hole = j
    }
    ids[hole] = 0
    vals[hole] = undefined
    this.count--
    if (this.count === 0 && ids.length > SHRINK_ABOVE) this.resize(INITIAL_SLOTS)
    return true
  }

  private resize (slots: number): void {
    const oldIds = this.ids
    const oldVals = this.vals
    this.ids = new Int32Array(slots)
    this.vals = emptySlots<V>(slots)
    this.mask = slots - 1
    for (let i = 0; i < oldIds.length; i++) {
      if (oldIds[i] !== 0) this.place(oldIds[i], oldVals[i] as V)
    }
    // The dropped array may be in old space: empty it so it keeps no stream alive until the next mark-compact.
    oldVals.fill(undefined)
  }

  /** The values in ascending id order, as a new array (safe to modify the table while walking it). */
  values (): V[] {
    const entries: Array<[number, V]> = []
    for (let i = 0; i < this.ids.length; i++) if (this.ids[i] !== 0) entries.push([this.ids[i], this.vals[i] as V])
    entries.sort((a, b) => a[0] - b[0])
    return entries.map((e) => e[1])
  }

  /** Calls fn for each value in slot order, which is unspecified; fn must not add or delete. */
  forEach (fn: (value: V) => void): void {
    const ids = this.ids
    for (let i = 0; i < ids.length; i++) if (ids[i] !== 0) fn(this.vals[i] as V)
  }

  clear (): void {
    if (this.ids === NO_IDS) return
    this.ids.fill(0)
    this.vals.fill(undefined)
    this.count = 0
  }
}

/**
 * Streams waiting for something (DATA to send, per priority), in the order they started waiting. A member knows
 * its slot, so leaving empties the slot at once; slots are compacted when the storage is full. Each member may be
 * in one queue only.
 */
export interface Queued {
  /** Slot in its queue, -1 when in none. */
  queueSlot: number
}

export class StreamQueue<V extends Queued> {
  private slots: Array<V | undefined>
  private used = 0
  private members = 0

  constructor () { this.slots = [] }

  get size (): number { return this.members }

  /** Slots in use: walk them with at(0) .. at(end - 1). Members may leave meanwhile (their slots read undefined). */
  get end (): number { return this.used }

  at (i: number): V | undefined { return this.slots[i] }

  add (v: V): void {
    if (v.queueSlot >= 0) return
    if (this.used === this.slots.length) this.compact()
    v.queueSlot = this.used
    this.slots[this.used++] = v
    this.members++
  }

  delete (v: V): void {
    const i = v.queueSlot
    if (i < 0) return
    this.slots[i] = undefined
    v.queueSlot = -1
    this.members--
    if (this.members > 0) { if (i === this.used - 1) this.used--; return }
    this.used = 0
    // Every slot is empty now: a queue that once held a large burst gives its storage back.
    if (this.slots.length > SHRINK_ABOVE) this.slots = emptySlots<V>(INITIAL_SLOTS)
  }

  /** Closes the gaps left by members that left; doubles the storage when it is full of members. */
  private compact (): void {
    const old = this.slots
    let n = 0
    for (let i = 0; i < this.used; i++) {
      const v = old[i]
      if (v !== undefined) { old[i] = undefined; old[n] = v; v.queueSlot = n++ }
    }
    this.used = n
    if (n < old.length) return
    const bigger = emptySlots<V>(Math.max(INITIAL_SLOTS, old.length * 2))
    for (let i = 0; i < n; i++) bigger[i] = old[i]
    // The dropped array may be in old space: empty it so it keeps no stream alive until the next mark-compact.
    old.fill(undefined)
    this.slots = bigger
  }
}

function emptySlots<V> (n: number): Array<V | undefined> {
  return new Array<V | undefined>(n).fill(undefined)
}

/**
 * The last `capacity` stream ids added, for the rare frames that name a stream no longer open. A ring of integers
 * rather than a trimmed Set<number>: the Set's table, once old, reallocated itself in old space every few hundred
 * streams (see above), a steady trickle of old-generation garbage that only mark-compacts collect.
 */
export class RecentIds {
  private ids: Int32Array | null = null
  private next = 0

  constructor (private readonly capacity: number) {}

  add (id: number): void {
    // Allocated on first use and grown while not yet wrapped: an idle session that served a few streams holds a
    // few dozen bytes, not the whole ring.
    let ids = this.ids
    if (ids === null) {
      ids = this.ids = new Int32Array(Math.min(INITIAL_SLOTS, this.capacity))
    } else if (this.next === ids.length && ids.length < this.capacity) {
      // full and never wrapped (next reached the end): the ids are in order, so the ring just gets longer
      const bigger = new Int32Array(Math.min(this.capacity, ids.length * 2))
      bigger.set(ids)
      ids = this.ids = bigger
    }
    if (this.next === ids.length) this.next = 0
    ids[this.next++] = id
  }

  has (id: number): boolean {
    return id !== 0 && this.ids !== null && this.ids.includes(id)
  }
}

/**
 * A FIFO array taken from the front by a head index (q[head..] still queued), not shift(): V8's shift() copies the
 * whole array once it is large (~16K entries), so a queue fed one small chunk per write and drained one by one was
 * quadratic. After taking up to `head`: an emptied queue is reset; one that is still fed while it drains drops its
 * taken half once that is half the array, so each entry moves at most once per halving (O(1) amortised). Returns
 * the new head. Used by the session's DATA queues and the compat response's held chunks.
 */
export function compactHead<T> (q: T[], head: number): number {
  if (head === q.length) {
    q.length = 0
    return 0
  }
  if (head >= 64 && 2 * head >= q.length) {
    q.splice(0, head)
    return 0
  }
  return head
}
