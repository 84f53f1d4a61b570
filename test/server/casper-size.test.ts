/**
 * README "Cache-aware push" on the cookie's size: "about log2(2^hashBits / N) + 1.5 bits per asset plus 6 characters
 * (N assets): 40 characters for the 20 assets the demo blog's post page pushes", and `maxPushCookieBytes` (512)
 * "holds about 500" at the default hashBits (lib/limits.ts gives the same figures as the reason for 512). Measured on
 * the cookie the server writes (lib/server/casper.ts encodeCasperCookie), over many random asset sets.
 */
import t from 'tap'
import { casperHash, encodeCasperCookie } from '../../lib/server/casper'
import { LIMITS } from '../../lib/limits'

const BITS = 13
/** N distinct hashes of made-up (path, ETag) pairs; `seed` picks the set. */
function assets (n: number, seed: number): number[] {
  const out = new Set<number>()
  for (let i = 0; out.size < n; i++) out.add(casperHash(`/static/${seed}/${i}.css`, `"${seed}-${i}"`, BITS))
  return [...out]
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const sizeOf = (n: number): number => median(Array.from({ length: 21 }, (_, s) => encodeCasperCookie(assets(n, s), [], BITS, 4096).value.length))

t.test('bits per asset: about log2(2^hashBits / N) + 1.5, plus 6 characters', async (t) => {
  for (const n of [10, 20, 50, 100, 300, 500]) {
    const perAsset = (sizeOf(n) - 6) * 6 / n
    const expected = Math.log2(2 ** BITS / n) + 1.5
    t.ok(Math.abs(perAsset - expected) <= 0.75, `${n} assets: ${perAsset.toFixed(2)} bits each, README's estimate ${expected.toFixed(2)}`)
  }
})

t.test("20 assets (the demo blog's post page): about 40 characters", async (t) => {
  const size = sizeOf(20)
  t.ok(size >= 38 && size <= 42, `${size} characters`)
})

t.test('the default maxPushCookieBytes holds about 500 assets of one visit, not a few hundred', async (t) => {
  const max = LIMITS.maxPushCookieBytes.default
  t.equal(encodeCasperCookie(assets(480, 1), [], BITS, max).dropped, 0, '480 assets fit whole')
  const over = encodeCasperCookie(assets(700, 1), [], BITS, max)
  t.ok(over.value.length <= max, 'a larger set is cut to fit')
  t.ok(700 - over.dropped >= 480 && 700 - over.dropped <= 600, `${700 - over.dropped} of 700 kept`)
})
