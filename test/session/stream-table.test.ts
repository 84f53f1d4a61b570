/**
 * lib/session/stream-table.ts: the per-connection stream collections that replace Map and Set.
 *
 * 1. They behave like the Map/Set they replace: random operation sequences checked against a Map model.
 * 2. What they are for: a stream that left one of them is not kept alive by it, even when the collection's storage
 *    is in V8's old generation. Measured as bytes promoted to old space by two forced scavenges after churning
 *    streams through a collection whose storage was first made old by full GCs. A Map in the same position keeps
 *    them (its dead old-space tables still point at them), which is what bench/RESULTS.md's plain 10x10 "slow mode"
 *    was; the Map case runs first, to show the measurement sees retention when there is some.
 */
import t from 'tap'
import v8 from 'node:v8'
import vm from 'node:vm'
import { RecentIds, StreamQueue, StreamTable } from '../../lib/session/stream-table'

/** Deterministic pseudo-random numbers (xorshift32), so a failure replays. */
function rng (seed: number): () => number {
  let x = seed >>> 0
  return () => {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    return x / 0x100000000
  }
}

t.test('StreamTable agrees with a Map under random set/delete/get', async (t) => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    const rand = rng(seed)
    const table = new StreamTable<{ v: number }>()
    const model = new Map<number, { v: number }>()
    let mismatches = 0
    // Ids of both parities, clustered like a session's (client odd ids rising, server even ids rising), plus a few
    // far apart, so probe runs wrap around the table and cross each other.
    const pick = (): number => rand() < 0.1 ? 1 + Math.floor(rand() * 0x7ffffffe) : 1 + Math.floor(rand() * 300)
    for (let op = 0; op < 20000; op++) {
      const r = rand()
      const id = pick()
      if (r < 0.45) {
        const v = { v: op }
        table.set(id, v); model.set(id, v)
      } else if (r < 0.9) {
        if (table.delete(id) !== model.delete(id)) mismatches++
      } else {
        // Bursts of deletes down to empty exercise the shrink back to the initial size.
        for (const k of [...model.keys()]) { if (!table.delete(k)) mismatches++; model.delete(k) }
      }
      if (table.get(id) !== model.get(id) || table.has(id) !== model.has(id) || table.size !== model.size) mismatches++
    }
    const expected = [...model.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1])
    t.equal(mismatches, 0, `seed ${seed}: every get/has/size/delete result as the Map's`)
    t.same(table.values(), expected, `seed ${seed}: values() is the Map's values in id order`)
    let seen = 0
    table.forEach(() => { seen++ })
    t.equal(seen, model.size, `seed ${seed}: forEach visits each value once`)
  }
  t.throws(() => new StreamTable<object>().set(0, {}), RangeError, 'id 0 (the session itself) is refused')
})

t.test('StreamQueue keeps queue order, ignores double adds, skips members that left during a walk', async (t) => {
  interface M { id: number, queueSlot: number }
  const q = new StreamQueue<M>()
  const ms: M[] = Array.from({ length: 40 }, (_, id) => ({ id, queueSlot: -1 }))
  const walk = (): number[] => { const out: number[] = []; for (let i = 0; i < q.end; i++) { const m = q.at(i); if (m !== undefined) out.push(m.id) } return out }
  for (const m of ms.slice(0, 10)) q.add(m)
  q.add(ms[3])
  t.same(walk(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'insertion order, one slot per member')
  q.delete(ms[3]); q.delete(ms[9]); q.delete(ms[9])
  t.equal(q.size, 8)
  t.same(walk(), [0, 1, 2, 4, 5, 6, 7, 8], 'deleted members are gone')
  q.add(ms[3])
  t.same(walk(), [0, 1, 2, 4, 5, 6, 7, 8, 3], 're-added member goes to the back (as with Set)')
  for (const m of ms.slice(10)) q.add(m)
  t.equal(q.size, 39, 'growth past the initial storage keeps every member')
  t.same(walk(), [0, 1, 2, 4, 5, 6, 7, 8, 3, ...ms.slice(10).map((m) => m.id)], 'and their order')
  const visited: number[] = []
  for (let i = 0; i < q.end; i++) {
    const m = q.at(i)
    if (m === undefined) continue
    visited.push(m.id)
    if (m.id === 0) q.delete(ms[1]) // a later member leaves during the walk
  }
  t.notOk(visited.includes(1), 'a member deleted during a walk is not visited')
  for (const m of ms) q.delete(m)
  t.equal(q.size, 0)
  t.equal(q.end, 0, 'an emptied queue has no slots in use')
  t.ok(ms.every((m) => m.queueSlot === -1), 'every member knows it left')
})

t.test('RecentIds remembers the last N ids', async (t) => {
  const r = new RecentIds(4)
  t.notOk(r.has(1), 'empty')
  t.notOk(r.has(0), '0 is never a member (the fill value)')
  for (const id of [1, 3, 5, 7]) r.add(id)
  t.ok([1, 3, 5, 7].every((id) => r.has(id)), 'all four')
  r.add(9)
  t.notOk(r.has(1), 'the oldest is forgotten')
  t.ok(r.has(9) && r.has(3), 'the rest kept')
})

t.test('RecentIds grows from a small ring to its capacity, then forgets in order', async (t) => {
  // 256 (the session's capacity) is more than the 16 allocated first: the ring grows while it has not wrapped
  const r = new RecentIds(256)
  const ids = Array.from({ length: 600 }, (_, i) => 2 * i + 1)
  for (let i = 0; i < ids.length; i++) {
    r.add(ids[i])
    if (i === 15 || i === 16 || i === 255 || i === 256) {
      const kept = ids.slice(Math.max(0, i - 255), i + 1)
      t.ok(kept.every((id) => r.has(id)), `after ${i + 1} adds: the last ${kept.length} kept`)
      t.equal(ids.slice(0, Math.max(0, i - 255)).some((id) => r.has(id)), false, `after ${i + 1} adds: older ones forgotten`)
    }
  }
  t.ok(ids.slice(-256).every((id) => r.has(id)), 'the last 256 of 600')
  t.notOk(ids.slice(0, -256).some((id) => r.has(id)), 'none of the 344 before them')
})

// ---- what the collections are for: nothing kept alive for the scavenger ----

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void
const oldSpaceUsed = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0

interface Item { queueSlot: number, payload?: number[] }
interface Collection { add (id: number, v: Item): void, remove (id: number): void }

const PAYLOAD = 1000 // elements: ~8 KB each, so retention shows far above the noise of the runtime's own promotions

/**
 * Makes the collection's storage old (entries in, two full GCs, entries out), then churns `rounds` bursts of
 * `burst` items through it (all added, then all removed; every item unreachable except through the collection's
 * internals) and forces two scavenges: returns the fraction of the items' payload bytes promoted to old space.
 */
function promotedFraction (c: Collection, rounds: number, burst: number): number {
  let id = 1
  for (let k = 0; k < 10; k++) c.add(id + 2 * k, { queueSlot: -1 })
  gc(); gc()
  for (let k = 0; k < 10; k++) c.remove(id + 2 * k)
  id += 20
  gc({ type: 'minor' }); gc({ type: 'minor' })
  const before = oldSpaceUsed()
  for (let round = 0; round < rounds; round++) {
    const ids: number[] = []
    for (let k = 0; k < burst; k++) {
      c.add(id, { queueSlot: -1, payload: new Array<number>(PAYLOAD).fill(round) })
      ids.push(id)
      id += 2
    }
    for (const i of ids) c.remove(i)
  }
  gc({ type: 'minor' }); gc({ type: 'minor' })
  return (oldSpaceUsed() - before) / (rounds * burst * PAYLOAD * 8)
}

const asMap = (): Collection => { const m = new Map<number, Item>(); return { add: (i, v) => { m.set(i, v) }, remove: (i) => { m.delete(i) } } }
const asTable = (): Collection => { const m = new StreamTable<Item>(); return { add: (i, v) => { m.set(i, v) }, remove: (i) => { m.delete(i) } } }
const asQueue = (): Collection => {
  const q = new StreamQueue<Item>()
  const byId = new StreamTable<Item>()
  return { add: (i, v) => { byId.set(i, v); q.add(v) }, remove: (i) => { const v = byId.get(i); if (v !== undefined) q.delete(v); byId.delete(i) } }
}

t.test('streams that left are not promoted through old storage (V8 scavenges)', async (t) => {
  // Steady churn, 10 in flight at a time: a Map's table is rehashed in old space on every burst, forever.
  t.ok(promotedFraction(asMap(), 20, 10) > 0.5, 'control: through an old Map, most of the items are promoted')
  t.ok(promotedFraction(asTable(), 20, 10) < 0.05, 'StreamTable: (almost) none are')
  t.ok(promotedFraction(asQueue(), 20, 10) < 0.05, 'StreamQueue: (almost) none are')
  // One burst of 40 from old storage: the initial storage is outgrown, so the old arrays are dropped while full.
  t.ok(promotedFraction(asMap(), 1, 40) > 0.5, 'control: a growing old Map keeps them')
  t.ok(promotedFraction(asTable(), 1, 40) < 0.05, 'StreamTable empties the storage it outgrows')
  t.ok(promotedFraction(asQueue(), 1, 40) < 0.05, 'StreamQueue empties the storage it outgrows')
})
