/**
 * peekClientHello (lib/tls/peek.ts): need-more / complete (with NPN or not) / malformed, from the first bytes of a
 * connection, however the hello is cut into records and reads; it agrees with our engine on every malformed hello.
 */
import t from 'tap'
import { peekClientHello, HelloPeek, PEEK_MAX_BYTES } from '../../lib/tls/peek'
import { TlsClientConnection } from '../../lib/tls/client'
import { TlsServerConnection } from '../../lib/tls/server'
import { loadCertificate } from '../../lib/tls/certificates'
import { Alert, Ext } from '../../lib/tls/constants'
import { MAX_CLIENT_HELLO_SIZE } from '../../lib/tls/limits'
import { testCerts } from './harness'
import { baseHello, helloBody, helloRecords, malformedHellos, withExt } from './hellos'

const certs = testCerts()
const rsa = loadCertificate(certs.rsa)
const clientHello = (negotiation: 'npn' | 'alpn' | 'both'): Buffer =>
  Buffer.from(new TlsClientConnection({ insecure: true, protocols: ['spdy/3.1'], negotiation }, Date.now()).takeOutbound())
const kind = (p: HelloPeek): string => p.kind === 'malformed' ? `malformed ${p.alert}` : p.kind === 'complete' ? `complete npn=${String(p.npn)}` : 'need-more'

/**
 * Feed `bytes` the way a listener would: a read at a time (`read` bytes), calling the peek only once it holds
 * `atLeast`. Returns the answer and how many calls it took.
 */
const drive = (bytes: Buffer, read: number, limits = {}): { peek: HelloPeek, calls: number, held: number } => {
  let held = 0
  let wanted = 0
  let calls = 0
  let peek: HelloPeek = { kind: 'need-more', atLeast: 0 }
  while (held < bytes.length) {
    held = Math.min(bytes.length, held + read)
    if (held < wanted) continue
    calls++
    peek = peekClientHello(bytes.subarray(0, held), limits)
    if (peek.kind !== 'need-more') break
    wanted = peek.atLeast
  }
  return { peek, calls, held }
}

t.test('our client: NPN, ALPN, both', async (t) => {
  for (const [neg, npn] of [['npn', true], ['alpn', false], ['both', true]] as const) {
    const ch = clientHello(neg)
    const p = peekClientHello(ch)
    t.equal(kind(p), `complete npn=${String(npn)}`, neg)
    if (p.kind === 'complete') {
      t.equal(p.length, ch.length, `${neg}: the hello is all of its records`)
      t.same(p.hello.alpn, neg === 'npn' ? null : ['spdy/3.1'])
    }
  }
  // with bytes after the hello (a client that did not wait): the hello's length says where they start
  const ch = clientHello('npn')
  const p = peekClientHello(Buffer.concat([ch, Buffer.from([21, 3, 3, 0, 2, 1, 0])]))
  t.equal(p.kind === 'complete' && p.length, ch.length, 'length ends at the hello')
})

t.test('every prefix is need-more with a hint that never overshoots', async (t) => {
  const body = helloBody(withExt(Ext.next_protocol_negotiation, Buffer.alloc(0)))
  for (const recordSize of [16384, 100, 7, 1]) {
    const bytes = helloRecords(body, recordSize)
    let bad = 0
    for (let n = 0; n < bytes.length; n++) {
      const p = peekClientHello(bytes.subarray(0, n))
      if (p.kind !== 'need-more' || p.atLeast <= n || p.atLeast > bytes.length) bad++
    }
    t.equal(bad, 0, `records of ${recordSize}: all ${bytes.length} prefixes need more, hint in (n, total]`)
    t.equal(kind(peekClientHello(bytes)), 'complete npn=true', `records of ${recordSize}: the whole`)
  }
})

t.test('the largest legal hello; over the caps', async (t) => {
  const b = baseHello()
  const used = (b.exts ?? []).reduce((n, [, d]) => n + 4 + d.length, 0)
  const suites = Buffer.alloc(65534, 0x0a)
  suites.writeUInt16BE(0xc02f, 0)
  const largest = helloBody({
    ...b,
    sessionId: Buffer.alloc(32, 1),
    suites,
    compression: Buffer.from([0, ...Array.from({ length: 254 }, (_, i) => i + 1)]),
    exts: [...(b.exts ?? []), [21, Buffer.alloc(65535 - used - 4)]]
  })
  t.equal(largest.length, MAX_CLIENT_HELLO_SIZE)
  const full = drive(helloRecords(largest), 1460)
  t.equal(kind(full.peek), 'complete npn=false', '131,396 bytes in 16 KiB records, read 1,460 bytes at a time')
  t.ok(full.calls <= 10, `${full.calls} calls with the hint`)
  const small = drive(helloRecords(largest, 10), 1460)
  t.equal(kind(small.peek), 'complete npn=false', 'in 10-byte records (197,100 bytes)')
  t.ok(small.calls <= 12, `${small.calls} calls`)
  // 1-byte records: 788,400 bytes, more than PEEK_MAX_BYTES
  const tiny = helloRecords(largest, 1)
  t.ok(tiny.length > PEEK_MAX_BYTES)
  const refused = drive(tiny, 65536)
  t.equal(kind(refused.peek), `malformed ${Alert.illegal_parameter}`, '1-byte records past PEEK_MAX_BYTES are refused')
  t.ok(refused.held <= PEEK_MAX_BYTES + 65536, `at ${refused.held} bytes held`)
  const allowed = drive(tiny, 65536, { maxBytes: tiny.length })
  t.equal(kind(allowed.peek), 'complete npn=false', 'and taken with maxBytes raised')
  t.ok(allowed.calls <= 40, `${allowed.calls} calls for 131,400 records`)
  // a header declaring one byte more than the largest legal hello
  const len = MAX_CLIENT_HELLO_SIZE + 1
  t.equal(kind(peekClientHello(Buffer.from([22, 3, 1, 0, 4, 1, len >> 16, (len >> 8) & 0xff, len & 0xff]))), `malformed ${Alert.illegal_parameter}`)
  t.equal(kind(peekClientHello(helloRecords(helloBody(b)), { maxHelloSize: 100 })), `malformed ${Alert.illegal_parameter}`, 'maxHelloSize')
})

t.test('not a ClientHello', async (t) => {
  const cases: Array<[string, Buffer, number]> = [
    ['HTTP/1.1 request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Alert.unexpected_message],
    ['a warning alert first (OpenSSL takes none before the hello)', Buffer.from([21, 3, 1, 0, 2, 1, 90]), Alert.unexpected_message],
    ['ChangeCipherSpec first', Buffer.from([20, 3, 3, 0, 1, 1]), Alert.unexpected_message],
    ['a ServerHello', Buffer.from([22, 3, 3, 0, 4, 2, 0, 0, 0]), Alert.unexpected_message],
    ['record version major 4', Buffer.from([22, 4, 3, 0, 1, 1]), Alert.protocol_version],
    ['SSL 2.0 hello', Buffer.from([0x80, 0x2e, 1, 3, 1, 0, 0x15]), Alert.unexpected_message],
    ['record over 2^14', Buffer.from([22, 3, 1, 0x40, 0x01]), Alert.record_overflow],
    ['empty handshake record', Buffer.from([22, 3, 1, 0, 0]), Alert.unexpected_message]
  ]
  for (const [name, bytes, alert] of cases) {
    t.equal(kind(peekClientHello(bytes)), `malformed ${alert}`, name)
    // our engine answers the same
    const s = new TlsServerConnection({ certificates: [rsa] }, Date.now())
    s.receive(Buffer.from(bytes), Date.now())
    const out = Buffer.from(s.takeOutbound())
    if (!name.startsWith('a warning')) t.equal(out[6], alert, `${name}: the engine's alert`)
  }
})

t.test('every malformed hello of the table: the same verdict as our engine', async (t) => {
  for (const c of malformedHellos) {
    const p = peekClientHello(helloRecords(helloBody(c.hello), 50))
    t.equal(kind(p), c.meaning === true ? 'complete npn=false' : `malformed ${c.alert}`, c.name)
  }
})

t.test('seeded corruptions of real hellos: the peek and our engine give one verdict', async (t) => {
  let seed = 4242
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
  const tally: Record<string, number> = {}
  let disagree = 0
  for (let i = 0; i < 600; i++) {
    const neg = (['npn', 'alpn', 'both'] as const)[i % 3]
    const body = Buffer.from(clientHello(neg).subarray(9))
    // corrupt the hello body (the record framing is rebuilt, so the damage is inside the message)
    const kind2 = rnd(3)
    if (kind2 === 0) body[rnd(body.length)] ^= 1 << rnd(8)
    else if (kind2 === 1) for (let k = 0; k < 4; k++) body[rnd(body.length)] = rnd(256)
    const cut = kind2 === 2 ? body.subarray(0, rnd(body.length)) : body
    const bytes = helloRecords(cut, 1 + rnd(300))
    const p = peekClientHello(bytes)
    const s = new TlsServerConnection({ certificates: [rsa] }, Date.now())
    const ev = s.receive(Buffer.from(bytes), Date.now())
    const err = ev.find((e) => e.type === 'error')
    const engine = err?.type === 'error' ? err.error.alert : -1
    const verdict = p.kind === 'malformed' ? `malformed ${p.alert}` : p.kind
    tally[verdict] = (tally[verdict] ?? 0) + 1
    // malformed: the same alert; complete: the engine answers (a ServerHello or an alert about meaning, never a
    // syntax error); need-more cannot happen, the records are whole
    const agrees = p.kind === 'malformed' ? engine === p.alert : p.kind === 'complete' ? engine !== Alert.decode_error : false
    if (!agrees) { disagree++; t.comment(`case ${i}: peek ${verdict}, engine ${engine}`) }
  }
  t.equal(disagree, 0, 'no disagreement')
  t.ok((tally[`malformed ${Alert.decode_error}`] ?? 0) > 100, `verdicts: ${JSON.stringify(tally)}`)
})
