/**
 * Our fixed-Huffman header deflater (lib/codec/deflate.ts) against an independent inflater: Node's zlib (the C
 * library), given the stream with the version's dictionary and held to the window our zlib header announces, so
 * a back-reference past the window or a wrong Adler-32 of the dictionary fails the inflate.
 */
import t from 'tap'
import * as zlib from 'node:zlib'
import { HeaderDeflater, HeaderCompressor, DICTIONARY_V2, DICTIONARY_V3 } from '../../lib/codec'

/** Node's zlib reading a sync-flushed stream to its current end, with at most a 2^windowBits window. */
const nodeInflate = (dict: Uint8Array, stream: Buffer, windowBits = 15): Buffer =>
  zlib.inflateSync(stream, { dictionary: dict, windowBits, finishFlush: zlib.constants.Z_SYNC_FLUSH })

/** Request-like blocks, each a little different (a path, a cookie), as a browser's are. */
function blocks (n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.from(
    `:method GET :path /assets/app-${i % 13}.js?v=${i * 7919} :host example.com:8443 user-agent Mozilla/5.0 (X11; Linux) ` +
    `accept */* accept-encoding gzip, deflate cookie session=${(i * 2654435761 >>> 0).toString(16)}; theme=dark`, 'latin1'))
}

/** Bytes no back-reference can shorten much: a deterministic pseudo-random sequence. */
function noise (n: number, seed: number): Buffer {
  const b = Buffer.alloc(n)
  let x = seed
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24 }
  return b
}

for (const [v, dict] of [[2, DICTIONARY_V2], [3, DICTIONARY_V3]] as const) {
  for (const windowBits of [9, 11, 15]) {
    t.test(`SPDY/${v} window 2^${windowBits}: Node's zlib reads every block, compacted or not, in step`, async (t) => {
      const d = new HeaderDeflater(v, { windowBits })
      t.equal(d.live, false, 'nothing allocated before the first block')
      // Small blocks, a repeat, a 70 KB block (bigger than the working buffer: it must grow), noise, and many
      // blocks so the window slides and the buffer shifts many times.
      const input = [...blocks(40), blocks(1)[0], noise(70_000, 7), Buffer.concat(blocks(200)), ...blocks(300), noise(300, 9), ...blocks(5)]
      const out: Buffer[] = []
      input.forEach((b, i) => {
        out.push(d.compress(b))
        if (i === 0 || i % 11 === 4) { d.compact(); t.equal(d.live, false) }
      })
      const stream = Buffer.concat(out)
      t.same(nodeInflate(dict, stream, windowBits), Buffer.concat(input), 'all blocks read back')
      // Each block ends at a sync point: the stream so far inflates to exactly the blocks so far.
      const upTo = 41
      t.same(nodeInflate(dict, Buffer.concat(out.slice(0, upTo)), windowBits), Buffer.concat(input.slice(0, upTo)))
      t.equal(out[upTo - 1].subarray(-4).toString('hex'), '0000ffff', 'sync-flush marker')
    })
  }

  t.test(`SPDY/${v}: a repeated block is a few bytes, and the first block refers into the dictionary`, async (t) => {
    const d = new HeaderDeflater(v)
    const p = new HeaderCompressor(v)
    const b = blocks(1)[0]
    const first = d.compress(b)
    const second = d.compress(b)
    t.ok(second.length <= 12, `repeat is ${second.length} bytes`)
    t.ok(first.length <= p.compress(b).length + 16, `first block ${first.length} bytes, near pako's`)
    // Literals only (level 0) would be larger than the input: matches against the dictionary made it smaller.
    const lit = new HeaderDeflater(v, { level: 0 }).compress(b)
    t.ok(first.length < lit.length, `${first.length} < ${lit.length} bytes with literals only`)
    t.same(nodeInflate(dict, Buffer.concat([lit])), b, 'level 0 is a valid stream too')
  })
}

t.test('tables rebased (as after 1 GB of headers on a session) keep the stream in step', async (t) => {
  // rebaseAt 5000: the working buffer (8 KB at window 2^11) shifts every few blocks, each shift past the mark.
  const d = new HeaderDeflater(3, { rebaseAt: 5000 })
  const plain = new HeaderDeflater(3)
  const input = [...blocks(200), ...blocks(200)]
  const out = input.map((b) => d.compress(b))
  t.same(nodeInflate(DICTIONARY_V3, Buffer.concat(out), 11), Buffer.concat(input))
  // Rebasing moves no match: the stream is byte for byte what an unrebased deflater writes.
  t.same(Buffer.concat(out), Buffer.concat(input.map((b) => plain.compress(b))))
})

t.test('a block larger than the working buffer: the stream stays in step after the buffer shrinks back', async (t) => {
  const d = new HeaderDeflater(3)
  // 300 KB grows the buffer past the 256 KB it shrinks from; the blocks after it still refer back into the window.
  const input = [...blocks(3), noise(300_000, 3), ...blocks(30), Buffer.concat([noise(100, 5), blocks(1)[0]]), ...blocks(10), blocks(10)[9]]
  const out = input.map((b) => d.compress(b))
  t.same(nodeInflate(DICTIONARY_V3, Buffer.concat(out), 11), Buffer.concat(input))
  // The repeats after the big block are back-references into the moved window, not literals.
  t.ok(out[out.length - 1].length < 16, `last repeat ${out[out.length - 1].length} bytes`)
  t.ok((d as unknown as { buf: Uint8Array }).buf.length <= 64 * 1024, 'buffer back to its small size')
})

t.test('headroom: bytes left free in front of the block', async (t) => {
  const d = new HeaderDeflater(3)
  const b = blocks(1)[0]
  const withRoom = d.compress(b, 12)
  t.same(nodeInflate(DICTIONARY_V3, withRoom.subarray(12)), b)
})

t.test('options are checked at construction', async (t) => {
  t.throws(() => new HeaderDeflater(3, { windowBits: 16 }), RangeError)
  t.throws(() => new HeaderDeflater(3, { windowBits: 8 }), RangeError)
  t.throws(() => new HeaderDeflater(3, { level: 10 }), RangeError)
})

/**
 * Random streams built to hit the matcher's edges: a small alphabet (many 3-byte hash collisions), runs longer
 * than MAX_MATCH (258), copies of earlier bytes from just inside and just outside the window, and blocks from 0
 * bytes to a few KB. Node's zlib must read every one back in step; a seed that fails is printed to replay it.
 */
t.test("random edge-case streams: Node's zlib reads them back (300 seeded streams)", async (t) => {
  let seed = 0x9e3779b9
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n }
  let failures = 0
  for (let round = 0; round < 300 && failures < 3; round++) {
    const startSeed = seed
    const v = rnd(2) === 0 ? 2 : 3
    const windowBits = 9 + rnd(7)
    const d = new HeaderDeflater(v, { windowBits })
    const history: number[] = []
    const input: Buffer[] = []
    const out: Buffer[] = []
    for (let b = rnd(6) + 1; b > 0; b--) {
      const block: number[] = []
      const len = rnd(4) === 0 ? rnd(4000) : rnd(300)
      while (block.length < len) {
        const kind = rnd(4)
        if (kind === 0) { const c = 97 + rnd(3); for (let k = rnd(600); k > 0; k--) block.push(c) } // runs past 258
        else if (kind === 1 && history.length + block.length > 0) {
          // A copy from `dist` back, near the window's edge half of the time.
          const all = history.length + block.length
          const w = 1 << windowBits
          // Inside the window near its edge, anywhere inside, or just outside it (only an inflater held to the
          // announced window catches a deflater that reaches there).
          const pick = rnd(3)
          const dist = pick === 0 ? Math.max(1, Math.min(all, w) - rnd(4)) : pick === 1 ? 1 + rnd(Math.min(all, w)) : Math.min(all, w + 1 + rnd(64))
          for (let k = 3 + rnd(300); k > 0; k--) {
            const at = history.length + block.length - dist
            block.push(at >= history.length ? block[at - history.length] : history[at])
          }
        } else if (kind === 2) for (let k = rnd(20); k > 0; k--) block.push(97 + rnd(4))
        else for (let k = rnd(200); k > 0; k--) block.push(rnd(256)) // noise: the only matches are the copies
      }
      const buf = Buffer.from(block.slice(0, len))
      for (const x of buf) history.push(x)
      input.push(buf)
      out.push(d.compress(buf))
      if (rnd(5) === 0) d.compact()
    }
    const dict = v === 2 ? DICTIONARY_V2 : DICTIONARY_V3
    let got: Buffer | null = null
    try { got = nodeInflate(dict, Buffer.concat(out), windowBits) } catch { got = null }
    if (got === null || !got.equals(Buffer.concat(input))) { failures++; t.fail(`seed ${startSeed}: SPDY/${v} window 2^${windowBits} did not read back`) }
  }
  t.equal(failures, 0, 'every stream read back')
})
