/**
 * The native record-layer accelerator (native/aead.c via lib/tls/native-aead.ts) and the pooled output buffers
 * (lib/tls/outbuf.ts). Golden vectors are the specs' own: GCM test cases 4 and 16 (McGrew & Viega, "The Galois/
 * Counter Mode of Operation", appendix B) and RFC 8439 section 2.8.2 for ChaCha20-Poly1305. Records sealed natively
 * must be byte for byte what the node:crypto path makes, and each path must open the other's.
 *
 * `npm install` builds the addon; this file fails when it is missing, so CI cannot silently test only the fallback.
 * FASTIFY_SPDY_NATIVE_AEAD=0 (no compiler on purpose) skips the native half.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { nativeAead, nativeAeadStatus, NATIVE_CIPHER_ID } from '../../lib/tls/native-aead'
import { AeadState, SUITES, type Suite } from '../../lib/tls/crypto'
import { isRecyclable, MIN_POOLED_BYTES, pooledSlabs, POOL_SLABS, recycle, SLAB_BYTES, takeOutputBuffer } from '../../lib/tls/outbuf'
import { TlsError } from '../../lib/errors'

const hex = (s: string): Buffer => Buffer.from(s, 'hex')
const disabled = process.env.FASTIFY_SPDY_NATIVE_AEAD === '0'

/** An AeadState on the node:crypto path, whatever is built. */
const jsState = (suite: Suite, key: Buffer, iv: Buffer): AeadState => {
  process.env.FASTIFY_SPDY_NATIVE_AEAD = '0'
  try { return new AeadState(suite, key, iv) } finally { delete process.env.FASTIFY_SPDY_NATIVE_AEAD }
}
const nativeState = (suite: Suite, key: Buffer, iv: Buffer): AeadState => new AeadState(suite, key, iv)

t.test('the addon is built and passed its known-answer check', { skip: disabled && 'FASTIFY_SPDY_NATIVE_AEAD=0' }, async (t) => {
  const st = nativeAeadStatus()
  t.ok(st.binding, `loaded: ${st.detail}`)
  t.equal(nativeAead(), st.binding)
})

const vectors = [
  {
    name: 'GCM test case 4 (AES-128, 20-byte AAD, 60-byte plaintext)',
    cipher: 'aes-128-gcm',
    key: 'feffe9928665731c6d6a8f9467308308',
    nonce: 'cafebabefacedbaddecaf888',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    pt: 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    ct: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091',
    tag: '5bc94fbc3221a5db94fae95ae7121a47'
  },
  {
    name: 'GCM test case 16 (AES-256, same plaintext and AAD)',
    cipher: 'aes-256-gcm',
    key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    nonce: 'cafebabefacedbaddecaf888',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    pt: 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
    tag: '76fc6ece0f4e1768cddf8853bb2d551b'
  },
  {
    name: 'RFC 8439 section 2.8.2 (ChaCha20-Poly1305)',
    cipher: 'chacha20-poly1305',
    key: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f',
    nonce: '070000004041424344454647',
    aad: '50515253c0c1c2c3c4c5c6c7',
    pt: Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.").toString('hex'),
    ct: 'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116',
    tag: '1ae10b594f09e26a7e902ecbd0600691'
  }
]

t.test('spec vectors through the binding: seal, open, tampering', { skip: disabled && 'FASTIFY_SPDY_NATIVE_AEAD=0' }, async (t) => {
  const b = nativeAead()
  if (b === null) { t.fail('addon not loaded'); return }
  for (const v of vectors) {
    const pt = hex(v.pt)
    // sealed at an offset inside a larger buffer, as records are sealed behind their headers
    const out = Buffer.alloc(7 + pt.length + 16, 0xee)
    b.seal(b.create(NATIVE_CIPHER_ID[v.cipher], hex(v.key), true), hex(v.nonce), hex(v.aad), pt, out, 7)
    t.equal(out.subarray(7, 7 + pt.length).toString('hex'), v.ct, `${v.name}: ciphertext`)
    t.equal(out.subarray(7 + pt.length).toString('hex'), v.tag, `${v.name}: tag`)
    t.equal(out.subarray(0, 7).toString('hex'), 'ee'.repeat(7), `${v.name}: bytes before the offset untouched`)
    const open = b.create(NATIVE_CIPHER_ID[v.cipher], hex(v.key), false)
    const back = Buffer.alloc(pt.length)
    t.ok(b.open(open, hex(v.nonce), hex(v.aad), out, 7, pt.length, back), `${v.name}: opens`)
    t.same(back, pt)
    // the same context opens again after a failure: a new nonce per record resets it
    for (const flip of [7, 7 + pt.length - 1, out.length - 1]) {
      const bad = Buffer.from(out)
      bad[flip] ^= 1
      t.notOk(b.open(open, hex(v.nonce), hex(v.aad), bad, 7, pt.length, back), `${v.name}: byte ${flip} flipped is refused`)
    }
    const aad = hex(v.aad)
    aad[0] ^= 1
    t.notOk(b.open(open, hex(v.nonce), aad, out, 7, pt.length, back), `${v.name}: other AAD is refused`)
    t.ok(b.open(open, hex(v.nonce), hex(v.aad), out, 7, pt.length, back), `${v.name}: still opens after refusals`)
  }
})

t.test('the binding checks its arguments instead of reading or writing out of bounds', { skip: disabled && 'FASTIFY_SPDY_NATIVE_AEAD=0' }, async (t) => {
  const b = nativeAead()
  if (b === null) { t.fail('addon not loaded'); return }
  const ctx = b.create(0, Buffer.alloc(16), true)
  const n = Buffer.alloc(12)
  const aad = Buffer.alloc(13)
  t.throws(() => b.create(0, Buffer.alloc(15), true), /wrong key length/)
  t.throws(() => b.create(9, Buffer.alloc(16), true), /unknown cipher/)
  t.throws(() => b.seal(ctx, Buffer.alloc(11), aad, Buffer.alloc(4), Buffer.alloc(20), 0), /nonce/)
  t.throws(() => b.seal(ctx, n, aad, Buffer.alloc(4), Buffer.alloc(19), 0), /too small/)
  t.throws(() => b.seal(ctx, n, aad, Buffer.alloc(4), Buffer.alloc(40), 21), /too small/)
  t.throws(() => b.seal(ctx, n, aad, Buffer.alloc(4), Buffer.alloc(40), -1), /too small/)
  // @ts-expect-error a string is not a Uint8Array
  t.throws(() => b.seal(ctx, n, aad, 'abcd', Buffer.alloc(40), 0), /source/)
  const dctx = b.create(0, Buffer.alloc(16), false)
  t.throws(() => b.open(dctx, n, aad, Buffer.alloc(20), 0, 5, Buffer.alloc(5)), /source range/)
  t.throws(() => b.open(dctx, n, aad, Buffer.alloc(30), 0, 5, Buffer.alloc(4)), /destination too small/)
  // an empty record: tag only
  const out = Buffer.alloc(16)
  b.seal(ctx, n, aad, Buffer.alloc(0), out, 0)
  t.ok(b.open(dctx, n, aad, out, 0, 0, Buffer.alloc(0)), 'empty plaintext seals and opens')
})

t.test('free() releases a context at once; using it afterwards throws; live() counts', { skip: disabled && 'FASTIFY_SPDY_NATIVE_AEAD=0' }, async (t) => {
  const b = nativeAead()
  if (b === null) { t.fail('addon not loaded'); return }
  const before = b.live()
  const ctx = b.create(1, Buffer.alloc(32), true)
  t.equal(b.live(), before + 1)
  b.free(ctx)
  t.equal(b.live(), before, 'released without a garbage collection')
  b.free(ctx)
  t.equal(b.live(), before, 'a second free is a no-op')
  t.throws(() => b.seal(ctx, Buffer.alloc(12), Buffer.alloc(13), Buffer.alloc(1), Buffer.alloc(17), 0), /already freed/)
  // AeadState.dispose frees what seal and open made
  const st = nativeState(SUITES[0], randomBytes(16), randomBytes(4))
  const rec = Buffer.concat(st.seal(23, 0x0303, Buffer.from('x')))
  t.equal(b.live(), before + 1, 'seal made one context')
  t.throws(() => st.open(23, 0x0303, rec.subarray(5)), TlsError, 'open on the sealing state (wrong sequence number) fails')
  t.equal(b.live(), before + 2, 'open made another')
  st.dispose()
  t.equal(b.live(), before, 'dispose released both')
})

t.test('records: native and node:crypto paths are byte-identical and open each other', { skip: disabled && 'FASTIFY_SPDY_NATIVE_AEAD=0' }, async (t) => {
  for (const suite of SUITES.filter((s, i, all) => all.findIndex((o) => o.cipher === s.cipher) === i)) {
    const key = randomBytes(suite.keyLen)
    const iv = randomBytes(suite.fixedIvLen)
    const js = jsState(suite, key, iv)
    const nat = nativeState(suite, key, iv)
    t.ok(nat.sealRecords, `${suite.cipher}: native state seals whole writes`)
    t.notOk(js.sealRecords, `${suite.cipher}: node:crypto state seals per record`)
    for (const len of [0, 1, 15, 16, 17, 1000, 16384]) {
      const pt = randomBytes(len)
      const a = Buffer.concat(js.seal(23, 0x0303, pt))
      const b = Buffer.concat(nat.seal(23, 0x0303, pt))
      t.same(b, a, `${suite.cipher}: ${len}-byte record identical`)
    }
    // a whole write: records of at most 2^14 in one buffer, equal to sealing them one by one
    const data = randomBytes(3 * 16384 + 1234)
    const parts: Buffer[] = []
    for (let o = 0; o < data.length; o += 16384) parts.push(...js.seal(23, 0x0303, data.subarray(o, o + 16384)))
    const whole = nat.sealRecords?.(23, 0x0303, data, 16384) ?? []
    t.same(Buffer.concat(whole), Buffer.concat(parts), `${suite.cipher}: sealRecords = four records sealed one by one`)
    t.equal(whole.length, 1, 'a 64 KB write is one buffer')
    t.ok(whole.every(isRecyclable), 'from the pool')
    // 40 full records: ten slabs of four, each a pooled buffer
    const big = randomBytes(40 * 16384)
    const one = nativeState(suite, key, iv)
    const slabs = one.sealRecords?.(23, 0x0303, big, 16384) ?? []
    t.equal(slabs.length, 10)
    t.ok(slabs.every(isRecyclable))
    const jsBig = jsState(suite, key, iv)
    const ref: Buffer[] = []
    for (let o = 0; o < big.length; o += 16384) ref.push(...jsBig.seal(23, 0x0303, big.subarray(o, o + 16384)))
    t.same(Buffer.concat(slabs), Buffer.concat(ref), `${suite.cipher}: a 640 KB write sealed into slabs = record by record`)
    // each path opens the other's first records (fragment = record after its 5-byte header; seq 0, then 1)
    const rec = Buffer.concat(nativeState(suite, key, iv).seal(23, 0x0303, Buffer.from('native to js')))
    const recJs = Buffer.concat(jsState(suite, key, iv).seal(23, 0x0303, Buffer.from('js to native')))
    t.equal(jsState(suite, key, iv).open(23, 0x0303, rec.subarray(5)).toString(), 'native to js')
    t.equal(nativeState(suite, key, iv).open(23, 0x0303, recJs.subarray(5)).toString(), 'js to native')
    const seq1 = nativeState(suite, key, iv)
    seq1.seq = 1
    t.throws(() => seq1.open(23, 0x0303, rec.subarray(5)), TlsError, `${suite.cipher}: wrong sequence number is refused`)
    const bad = Buffer.from(rec)
    bad[bad.length - 1] ^= 1
    t.throws(() => nativeState(suite, key, iv).open(23, 0x0303, bad.subarray(5)), TlsError, `${suite.cipher}: bad tag is bad_record_mac`)
  }
})

t.test('output buffer pool: bounded, only its own slabs, never twice', async (t) => {
  const a = takeOutputBuffer(MIN_POOLED_BYTES)
  t.equal(a.length, MIN_POOLED_BYTES)
  t.ok(isRecyclable(a))
  t.notOk(isRecyclable(takeOutputBuffer(MIN_POOLED_BYTES - 1)), 'small output: a buffer of its own size, not a slab')
  t.equal(takeOutputBuffer(300).buffer.byteLength < SLAB_BYTES, true, 'a 300-byte write does not take 64 KB')
  t.notOk(isRecyclable(Buffer.alloc(100)), 'a foreign buffer is not recyclable')
  const big = takeOutputBuffer(SLAB_BYTES + 1)
  t.notOk(isRecyclable(big), 'larger than a slab: a plain buffer')
  const before = pooledSlabs()
  recycle(a)
  recycle(a)
  recycle(a.subarray(10))
  t.equal(pooledSlabs(), before + 1, 'given back once, however often recycle is called')
  recycle(Buffer.alloc(SLAB_BYTES))
  t.equal(pooledSlabs(), before + 1, 'foreign buffers are ignored')
  const again = takeOutputBuffer(SLAB_BYTES)
  t.equal(again.buffer, a.buffer, 'the slab is reused')
  t.equal(pooledSlabs(), before)
  const many = Array.from({ length: POOL_SLABS + 5 }, () => takeOutputBuffer(SLAB_BYTES))
  for (const m of many) recycle(m)
  t.equal(pooledSlabs(), POOL_SLABS, 'at most POOL_SLABS kept')
})
