/**
 * lib/server/casper.ts: the Golomb-coded set behind cache-aware push. Known vectors are worked by hand from the
 * Golomb-Rice definition (quotient in unary, 1s then a 0; remainder in P bits, MSB first) and the format in
 * casper.ts's header; the hash vector comes from coreutils' sha256sum. Then properties over random sets (no false
 * negatives, false positives near N / 2^bits) and hostile cookie values (typed result, bounded work, no throw).
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import {
  casperHash, decodeCasperCookie, decodeSetBytes, encodeCasperCookie, encodeSetBytes, hasValue, riceParameter, MIN_COOKIE_BYTES
} from '../../lib/server/casper'
import { resolveOptions } from '../../lib/options'

t.test('hand-worked vectors', async (t) => {
  // bits 3, P 1, {1, 4, 5}: gaps 1, 3, 1 -> 0|1, 10|1, 0|1 = 0110101 + one padding 0 = 0x6a.
  // Header: version 1 << 5 | (3 - 1) = 0x22, P = 0x01, N = 0x0003.
  t.same([...encodeSetBytes([1, 4, 5], 3, 1)], [0x22, 0x01, 0x00, 0x03, 0x6a])
  // bits 4, P 2, {1, 6, 7}: gaps 1, 5, 1 -> 0|01, 10|01, 0|01 = 0011001001 + 6 padding = 0x32 0x40.
  t.same([...encodeSetBytes([1, 6, 7], 4, 2)], [0x23, 0x02, 0x00, 0x03, 0x32, 0x40])
  // bits 2, P 0, {0, 2}: first gap 0 -> 0; gap 2 -> 110 (no remainder bits) = 0110 + 4 padding = 0x60.
  t.same([...encodeSetBytes([0, 2], 2, 0)], [0x21, 0x00, 0x00, 0x02, 0x60])
  // The empty set: the header alone.
  t.same([...encodeSetBytes([], 13, 12)], [0x2c, 0x0c, 0x00, 0x00])
  // Decoding the hand-made bytes (not our encoder's) gives the sets back.
  t.same(decodeSetBytes(Buffer.from([0x22, 0x01, 0x00, 0x03, 0x6a]), 3), { ok: true, values: [1, 4, 5] })
  t.same(decodeSetBytes(Buffer.from([0x23, 0x02, 0x00, 0x03, 0x32, 0x40]), 4), { ok: true, values: [1, 6, 7] })
  t.same(decodeSetBytes(Buffer.from([0x21, 0x00, 0x00, 0x02, 0x60]), 2), { ok: true, values: [0, 2] })
  // As a cookie: base64url of those bytes (Node's base64url, not ours), no padding.
  t.equal(encodeCasperCookie([5, 1, 4], [], 3, 100).value, Buffer.from([0x22, 0x01, 0x00, 0x03, 0x6a]).toString('base64url'))
  t.equal(Buffer.from([0x22, 0x01, 0x00, 0x03, 0x6a]).toString('base64url'), 'IgEAA2o')
})

t.test('hash: top bits of SHA-256(path NUL version)', async (t) => {
  // printf '/static/style.css\0"abc"' | sha256sum -> 76ffc451...; top 13 bits of 0x76ffc451 = 0b0111011011111 = 3807.
  t.equal(casperHash('/static/style.css', '"abc"', 13), 3807)
  // printf '/a\0' | sha256sum -> d24a5d12...; top 8 bits 0xd2 = 210, all 32 bits 0xd24a5d12.
  t.equal(casperHash('/a', '', 8), 0xd2)
  t.equal(casperHash('/a', '', 32), 0xd24a5d12)
  t.not(casperHash('/static/style.css', '"abd"', 32), casperHash('/static/style.css', '"abc"', 32), 'a new ETag is a new key')
})

t.test('properties: round trip, no false negatives, false positives near N / 2^bits', async (t) => {
  let seed = 12345
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
  for (const bits of [8, 13, 20, 32]) {
    for (const n of [0, 1, 2, 10, 100]) {
      const vals = [...new Set(Array.from({ length: n }, () => rand(2 ** Math.min(bits, 31))))].sort((a, b) => a - b)
      const b = encodeSetBytes(vals, bits)
      const back = decodeSetBytes(b, bits)
      t.same(back, { ok: true, values: vals }, `bits ${bits}, ${vals.length} values`)
      // About P + 2 bits a value on average (gaps are geometric), plus under a byte of padding: bounded size.
      if (vals.length > 0) t.ok((b.length - 4) * 8 <= vals.length * (riceParameter(vals.length, bits) + 3) + 7, `bits ${bits}, n ${n}: ${b.length} bytes`)
    }
  }
  // False positives: 200 keys in 2^13 -> about 200 / 8192 = 2.4% of absent keys test present.
  const keys = Array.from({ length: 200 }, (_, i) => `/static/a${i}.css`)
  const set = keys.map((k) => casperHash(k, '"v1"', 13))
  const cookie = encodeCasperCookie(set, [], 13, 4096).value
  const dec = decodeCasperCookie(cookie, 13, 4096)
  if (!dec.ok) throw new Error(dec.reason)
  for (const k of keys) if (!hasValue(dec.values, casperHash(k, '"v1"', 13))) t.fail(`false negative for ${k}`)
  let fp = 0
  const trials = 20000
  for (let i = 0; i < trials; i++) if (hasValue(dec.values, casperHash(`/other/${i}`, '"v1"', 13))) fp++
  const rate = fp / trials
  const expected = dec.values.length / 2 ** 13
  t.ok(rate > expected / 2 && rate < expected * 2, `false positive rate ${(rate * 100).toFixed(2)}% against N/2^bits ${(expected * 100).toFixed(2)}%`)
  t.ok(cookie.length < 400, `200 keys in ${cookie.length} characters`)
})

t.test('cookie size: maxBytes bounds the value; this visit\'s entries are kept first', async (t) => {
  const now = Array.from({ length: 20 }, (_, i) => casperHash(`/now/${i}`, 'e', 13))
  const old = Array.from({ length: 500 }, (_, i) => casperHash(`/old/${i}`, 'e', 13))
  const { value, dropped } = encodeCasperCookie(now, old, 13, 120)
  t.ok(value.length <= 120, `${value.length} characters`)
  t.ok(dropped > 0)
  const dec = decodeCasperCookie(value, 13, 120)
  if (!dec.ok) throw new Error(dec.reason)
  for (const v of now) t.ok(hasValue(dec.values, v))
  // More of this visit's entries than fit: the value still fits.
  const many = encodeCasperCookie(old, [], 13, 60)
  t.ok(many.value.length <= 60 && many.dropped > 0)
  // The empty set is exactly MIN_COOKIE_BYTES characters, and that is the least maxPushCookieBytes takes.
  for (const bits of [8, 13, 32]) t.equal(encodeCasperCookie([], [], bits, MIN_COOKIE_BYTES).value.length, MIN_COOKIE_BYTES)
  t.equal(resolveOptions({ tls: false, maxPushCookieBytes: MIN_COOKIE_BYTES }).maxPushCookieBytes, MIN_COOKIE_BYTES)
  t.throws(() => resolveOptions({ tls: false, maxPushCookieBytes: MIN_COOKIE_BYTES - 1 }), /maxPushCookieBytes/)
})

t.test('hostile values: typed result, never a throw', async (t) => {
  const bad = (v: string, reason: string, bits = 13, max = 512): void => { t.same(decodeCasperCookie(v, bits, max), { ok: false, reason }, JSON.stringify(v.slice(0, 30))) }
  bad('A'.repeat(513), 'too-large')
  bad('x'.repeat(10_000_000), 'too-large')
  bad('abc=', 'not-base64url')
  bad('ab cd', 'not-base64url')
  bad('a+b/', 'not-base64url')
  bad('abcde', 'not-base64url')
  bad('', 'truncated')
  bad('IgE', 'truncated')
  // Right format, other universe (a changed option): not this server's set.
  bad(Buffer.from([0x22, 0x01, 0x00, 0x03, 0x6a]).toString('base64url'), 'bad-header', 13)
  // Version 2.
  bad(Buffer.from([0x4c, 0x01, 0x00, 0x00]).toString('base64url'), 'bad-header')
  // P above bits.
  bad(Buffer.from([0x2c, 14, 0x00, 0x00]).toString('base64url'), 'bad-header')
  // N claims 65535 values in 4 bytes of codes: refused before allocating.
  bad(Buffer.from([0x2c, 0x0c, 0xff, 0xff, 0, 0, 0, 0]).toString('base64url'), 'truncated')
  // A run of 1 bits: the quotient leaves the universe and decoding stops.
  bad(Buffer.from([0x22, 0x01, 0x00, 0x01, 0xff, 0xff]).toString('base64url'), 'bad-code', 3)
  // Codes 0|0, 0|0: a second gap of 0 (a duplicate), not canonical.
  bad(Buffer.from([0x22, 0x01, 0x00, 0x02, 0x00]).toString('base64url'), 'bad-code', 3)
  // Padding bits set, or a whole spare byte.
  bad(Buffer.from([0x22, 0x01, 0x00, 0x03, 0x6b]).toString('base64url'), 'trailing-bits', 3)
  bad(Buffer.from([0x22, 0x01, 0x00, 0x03, 0x6a, 0x00]).toString('base64url'), 'trailing-bits', 3)
  // Random bytes: any result, but typed, and values (when ok) within the universe.
  for (let i = 0; i < 2000; i++) {
    const v = randomBytes(1 + (i % 300)).toString('base64url')
    const r = decodeCasperCookie(v, 13, 512)
    if (r.ok && r.values.some((x) => x >= 2 ** 13)) t.fail('value out of universe')
  }
  // Random bodies behind a valid header.
  for (let i = 0; i < 2000; i++) {
    const v = Buffer.concat([Buffer.from([0x2c, i % 14, 0, i % 40]), randomBytes(i % 50)]).toString('base64url')
    const r = decodeCasperCookie(v, 13, 512)
    if (r.ok && r.values.length !== i % 40) t.fail('count mismatch')
  }
  t.pass('2000 random values and 2000 random bodies decoded without a throw')
})
