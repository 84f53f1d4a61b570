/**
 * Compacting header compression contexts (lib/codec/zlib.ts): an idle session frees its pako contexts down to the
 * bytes of their windows and rebuilds them on the next block. The streams on the wire must be exactly what an
 * uncompacted context would have read or written, so every test checks against an independent implementation:
 * Node's zlib (the C library) and spdy-transport's framer/parser (which compress on Node's zlib too).
 */
import t from 'tap'
import * as zlib from 'node:zlib'
import { HeaderCompressor, HeaderDecompressor, FrameDecoder, FrameEncoder, DICTIONARY_V2, DICTIONARY_V3, type HeaderList } from '../../lib/codec'
import { stFramer, stParser } from './spdy-transport'

/** Browser-like request header blocks (raw, already serialised: the compressor's input), each a little different. */
function blocks (n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.from(
    `:method GET :path /assets/app-${i % 13}.js?v=${i * 7919} :host example.com:8443 user-agent Mozilla/5.0 (X11; Linux) ` +
    `accept */* accept-encoding gzip, deflate cookie session=${(i * 2654435761 >>> 0).toString(16)}; theme=dark`, 'latin1'))
}

/** Node's zlib reading a sync-flushed stream to its current end (it never sees a stream end, as a SPDY peer). */
const nodeInflate = (dict: Uint8Array, stream: Buffer): Buffer =>
  zlib.inflateSync(stream, { dictionary: dict, finishFlush: zlib.constants.Z_SYNC_FLUSH })

/** Node's zlib as a peer's compressor: one context, window 2^15, a block per call ended as `flush` says. */
function nodeDeflater (dict: Uint8Array): (b: Buffer, flush?: number) => Promise<Buffer> {
  const z = zlib.createDeflate({ dictionary: dict, windowBits: 15 })
  const out: Buffer[] = []
  z.on('data', (b: Buffer) => out.push(b))
  return async (b, flush = zlib.constants.Z_SYNC_FLUSH) => {
    z.write(b)
    await new Promise<void>((resolve) => z.flush(flush, () => resolve()))
    return Buffer.concat(out.splice(0))
  }
}

for (const [v, dict] of [[2, DICTIONARY_V2], [3, DICTIONARY_V3]] as const) {
  t.test(`SPDY/${v} compressor compacted between blocks: Node's zlib inflates the stream in step`, async (t) => {
    const c = new HeaderCompressor(v)
    t.equal(c.live, false, 'no context before the first block')
    const input = blocks(120)
    const out: Buffer[] = []
    let compacted = 0
    input.forEach((b, i) => {
      out.push(Buffer.from(c.compress(b)))
      t.equal(c.live, true)
      // Irregular pattern: compaction right after the first block (dictionary only in the window), runs of
      // several blocks, and enough input (~25 KB) that the 2 KB window slides many times.
      if (i === 0 || i % 5 === 1 || i % 7 === 3) { c.compact(); compacted++; t.equal(c.live, false) }
    })
    t.ok(compacted > 30)
    t.same(nodeInflate(dict, Buffer.concat(out)), Buffer.concat(input), 'Node reads back every block')
    // A block repeating the previous one, right after a compact(): only back-references into the kept window
    // make it small, so this fails if the history were dropped or misplaced.
    const again = input[input.length - 1]
    c.compact()
    const small = Buffer.from(c.compress(again))
    t.ok(small.length < again.length / 8, `repeated block after compact is ${small.length} bytes of ${again.length}`)
    t.same(nodeInflate(dict, Buffer.concat([...out, small])).subarray(-again.length), again)
  })

  t.test(`SPDY/${v} decompressor compacted between blocks reads Node's 2^15-window stream in step`, async (t) => {
    const deflate = nodeDeflater(dict)
    const d = new HeaderDecompressor(v)
    t.equal(d.live, false)
    // ~60 KB of headers: the 32 KB window wraps, so compact() has to put its two halves back in order.
    const input = [...blocks(150), ...blocks(150)]
    let compacted = 0
    for (let i = 0; i < input.length; i++) {
      const r = d.decompress(await deflate(input[i]), 65536)
      if (!r.ok) { t.fail(r.message); return }
      t.same(Buffer.from(r.data), input[i], `block ${i}`)
      if (i === 0 || i % 4 === 1 || i % 9 === 2 || i === input.length - 2) {
        d.compact()
        t.equal(d.live, false, 'compacted at a sync-flush boundary')
        compacted++
      }
    }
    t.ok(compacted > 60)
  })
}

t.test('decompressor: a stream left mid-block (Z_PARTIAL_FLUSH keeps bits pending) keeps its context', async (t) => {
  const deflate = nodeDeflater(DICTIONARY_V3)
  const d = new HeaderDecompressor(3)
  const input = blocks(6)
  const first = d.decompress(await deflate(input[0], zlib.constants.Z_PARTIAL_FLUSH), 65536)
  t.ok(first.ok)
  if (first.ok) t.same(Buffer.from(first.data), input[0])
  d.compact()
  t.equal(d.live, true, 'not at a block boundary: nothing freed')
  for (const b of input.slice(1)) {
    const r = d.decompress(await deflate(b), 65536)
    if (!r.ok) { t.fail(r.message); return }
    t.same(Buffer.from(r.data), b)
  }
})

t.test('compressor options are checked at construction, before any context exists', async (t) => {
  t.throws(() => new HeaderCompressor(3, { windowBits: 16 }), RangeError)
  t.throws(() => new HeaderCompressor(3, { memLevel: 0 }), RangeError)
  t.throws(() => new HeaderCompressor(3, { level: 10 }), RangeError)
})

const reply = (i: number): HeaderList => [[':status', '200'], [':version', 'HTTP/1.1'], ['content-type', 'text/html; charset=utf-8'],
  ['etag', `"${(i * 40503).toString(16)}"`], ['cache-control', 'max-age=60'], ['x-request', String(i)]]

t.test('spdy-transport reads SYN_REPLYs from our encoder compacted between frames', async (t) => {
  const enc = new FrameEncoder({ version: 3 })
  const p = stParser(3.1, false)
  for (let i = 1; i <= 40; i += 2) {
    await p.feed(enc.encode({ type: 'SYN_REPLY', streamId: i, fin: true, headers: reply(i) }))
    if (i % 3 !== 0) enc.compact()
  }
  t.same(p.errors, [])
  t.equal(p.frames.length, 20)
  p.frames.forEach((f, k) => {
    const h = f.headers as Record<string, string>
    t.equal(h.etag, `"${((2 * k + 1) * 40503).toString(16)}"`)
    t.equal(h['x-request'], String(2 * k + 1))
  })
})

t.test('our decoder compacted between frames reads spdy-transport SYN_STREAMs', async (t) => {
  const { framer, take } = stFramer(3.1)
  const dec = new FrameDecoder({ version: 3 })
  for (let i = 1; i <= 40; i += 2) {
    framer.requestFrame({ id: i, priority: 3, method: 'GET', path: `/p/${i}`, host: 'example.com', headers: { cookie: `n=${i * 31}` }, fin: true })
    const evs = dec.push(await take())
    t.equal(evs.length, 1)
    const ev = evs[0]
    if (ev.type !== 'SYN_STREAM') { t.fail(ev.type); return }
    const h = new Map(ev.headers)
    t.equal(h.get(':path'), `/p/${i}`)
    t.equal(h.get('cookie'), `n=${i * 31}`)
    dec.compact()
    t.equal(dec.zlibLive, false)
  }
})
