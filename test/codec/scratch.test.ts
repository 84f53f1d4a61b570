/**
 * One output scratch for header blocks in the process (lib/codec/zlib.ts scratchOf): our deflater
 * (lib/codec/deflate.ts) writes into the buffer the inflaters use instead of keeping a second one of its own.
 * Its own file, so the scratch starts at its initial size (tap runs each file in a fresh process).
 */
import t from 'tap'
import * as zlib from 'node:zlib'
import { HeaderDeflater, HeaderDecompressor, DICTIONARY_V3, DEFAULT_COMPRESSOR } from '../../lib/codec'
import { scratchOf } from '../../lib/codec/zlib'

/** Bytes no back-reference can shorten: a deterministic pseudo-random sequence. */
function noise (n: number, seed: number): Buffer {
  const b = Buffer.alloc(n)
  let x = seed
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24 }
  return b
}

t.test('the deflater grows the shared scratch, and inflating and deflating take turns in it', async (t) => {
  const shared = scratchOf(0)
  t.equal(shared.length, 64 * 1024, 'the shared scratch starts at 64 KiB')
  const d = new HeaderDeflater(3)
  const inflater = new HeaderDecompressor(3)
  const small = Buffer.from(':method GET :path / :host example.com:8443 accept */*', 'latin1')
  const big = noise(100_000, 3)

  const first = d.compress(small)
  t.equal(scratchOf(0), shared, 'a small block fits in the scratch there is')
  const a = inflater.decompress(first, 1000)
  t.ok(a.ok && Buffer.from(a.data).equals(small), 'our inflater reads it back')
  t.equal(scratchOf(0), shared, 'still the 64 KiB scratch')

  const second = d.compress(big)
  // Worst case the deflater reserves: 9 bits per literal plus headers (lib/codec/deflate.ts compress()).
  t.ok(scratchOf(0).length >= big.length + (big.length >> 3), `the block grew the shared scratch to ${scratchOf(0).length} bytes`)
  const grown = scratchOf(0)
  const b = inflater.decompress(second, grown.length - 1) // fits: scratchOf(limit + 1) needs no more
  t.ok(b.ok && Buffer.from(b.data).equals(big), 'our inflater reads the 100 KB block, inflated into the same scratch')
  t.equal(scratchOf(0), grown, 'one buffer for both')

  const third = d.compress(small)
  t.ok(Buffer.from(nodeInflate(Buffer.concat([first, second, third]))).equals(Buffer.concat([small, big, small])),
    "Node's zlib reads the whole stream: each block was copied out of the scratch before the next call")
  t.equal(first[0], ((DEFAULT_COMPRESSOR.windowBits - 8) << 4) | 8, 'zlib header: the default window is DEFAULT_COMPRESSOR.windowBits')
})

function nodeInflate (stream: Buffer): Buffer {
  return zlib.inflateSync(stream, { dictionary: DICTIONARY_V3, finishFlush: zlib.constants.Z_SYNC_FLUSH })
}
