/**
 * peekClientHello (lib/tls/peek.ts): need-more / complete (with NPN or not) / malformed, from the first bytes of a
 * connection, however the hello is cut into records (down to one byte each) and reads; it agrees with our engine on every malformed hello.
 */
import t from 'tap'
import { peekClientHello, HelloPeek, HelloReader } from '../../lib/tls/peek'
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
/** 1-byte handshake records, one per byte. */
const payloadRecords = (bytes: number[]): Buffer => Buffer.concat(bytes.map((v) => Buffer.from([22, 3, 1, 0, 1, v])))
const kind = (p: HelloPeek): string => p.kind === 'malformed' ? `malformed ${p.alert}` : p.kind === 'complete' ? `complete npn=${String(p.npn)}` : 'need-more'

/** The handshake bytes of `records` (whole plaintext records), headers dropped. */
const payload = (records: Buffer): Buffer => {
  const out: Buffer[] = []
  for (let p = 0; p < records.length; p += 5 + records.readUInt16BE(p + 3)) out.push(records.subarray(p + 5, p + 5 + records.readUInt16BE(p + 3)))
  return Buffer.concat(out)
}

/** Feed `bytes` the way a listener would, a read of `read` bytes at a time, until a verdict. */
const drive = (bytes: Buffer, read: number, limits = {}): { peek: HelloPeek, held: number } => {
  const reader = new HelloReader(limits)
  let held = 0
  let peek: HelloPeek = { kind: 'need-more' }
  while (held < bytes.length && peek.kind === 'need-more') {
    peek = reader.push(bytes.subarray(held, held + read))
    held = Math.min(bytes.length, held + read)
  }
  return { peek, held }
}

t.test('our client: NPN, ALPN, both', async (t) => {
  for (const [neg, npn] of [['npn', true], ['alpn', false], ['both', true]] as const) {
    const ch = clientHello(neg)
    const p = peekClientHello(ch)
    t.equal(kind(p), `complete npn=${String(npn)}`, neg)
    if (p.kind === 'complete') {
      t.same(p.replay, ch, `${neg}: a hello in one record is replayed as it came`)
      t.same(p.hello.alpn, neg === 'npn' ? null : ['spdy/3.1'])
    }
  }
  // with bytes after the hello (a client that did not wait): they follow it in the replay, as they came
  const ch = clientHello('npn')
  const after = Buffer.from([21, 3, 1, 0, 2, 1, 0])
  const p = peekClientHello(Buffer.concat([ch, after]))
  t.same(p.kind === 'complete' && p.replay, Buffer.concat([ch, after]), 'the bytes after the hello follow it')
})

t.test('every cut: need-more until the last byte, then the hello re-framed in 16 KiB records', async (t) => {
  const body = helloBody(withExt(Ext.next_protocol_negotiation, Buffer.alloc(0)))
  for (const recordSize of [16384, 100, 7, 5, 4, 3, 2, 1]) {
    const bytes = helloRecords(body, recordSize)
    // byte by byte: the worst a socket can do
    const reader = new HelloReader()
    let early = 0
    for (let n = 0; n < bytes.length - 1; n++) if (reader.push(bytes.subarray(n, n + 1)).kind !== 'need-more') early++
    t.equal(early, 0, `records of ${recordSize}: need-more for each of the first ${bytes.length - 1} bytes`)
    const p = reader.push(bytes.subarray(bytes.length - 1))
    t.equal(kind(p), 'complete npn=true', `records of ${recordSize}: complete at the last byte`)
    t.same(p.kind === 'complete' && p.replay, helloRecords(body), `records of ${recordSize}: replayed as one record`)
  }
})

t.test('the rest of the last record and what follows are replayed after the hello', async (t) => {
  const body = helloBody(baseHello())
  const msg = payload(helloRecords(body))
  // the hello's last record carries 3 more handshake bytes (which the stack, not the peek, refuses)
  const extra = Buffer.from([0x0b, 0, 0])
  const tail = Buffer.concat([msg.subarray(msg.length - 10), extra])
  const bytes = Buffer.concat([Buffer.from([22, 3, 1, 0, 50]), msg.subarray(0, 50), Buffer.from([22, 3, 1, 0, msg.length - 60]),
    msg.subarray(50, msg.length - 10), Buffer.from([22, 3, 1, 0, tail.length]), tail, Buffer.from([21, 3, 1, 0, 2, 1, 0])])
  for (const cut of [bytes.length, bytes.length - 8, bytes.length - 10]) {
    const reader = new HelloReader()
    const p = reader.push(bytes.subarray(0, cut))
    t.equal(kind(p), 'complete npn=false', `cut at ${cut}`)
    if (p.kind !== 'complete') continue
    // what the stack reads: the replay, then the bytes not yet pushed
    const seen = Buffer.concat([p.replay, bytes.subarray(cut)])
    t.same(payload(seen.subarray(0, seen.length - 7)), Buffer.concat([msg, extra]), 'the same handshake bytes')
    t.same(seen.subarray(seen.length - 7), Buffer.from([21, 3, 1, 0, 2, 1, 0]), 'then the alert record')
  }
})

t.test('the largest legal hello, in records of any size; over the cap', async (t) => {
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
  for (const size of [16384, 10, 5, 1]) {
    const bytes = helloRecords(largest, size)
    const got = drive(bytes, 65536)
    t.equal(kind(got.peek), 'complete npn=false', `131,396 bytes in ${size}-byte records (${bytes.length} bytes on the wire), read 64 KiB at a time`)
    t.same(got.peek.kind === 'complete' && payload(got.peek.replay), payload(helloRecords(largest)), 'the same hello replayed')
  }
  // a header declaring one byte more than the largest legal hello: refused before any of it is held
  const len = MAX_CLIENT_HELLO_SIZE + 1
  t.equal(kind(peekClientHello(Buffer.from([22, 3, 1, 0, 4, 1, len >> 16, (len >> 8) & 0xff, len & 0xff]))), `malformed ${Alert.illegal_parameter}`)
  // the same, with its header cut into 1-byte records
  t.equal(kind(peekClientHello(payloadRecords([1, len >> 16, (len >> 8) & 0xff, len & 0xff]))), `malformed ${Alert.illegal_parameter}`)
  t.equal(kind(peekClientHello(helloRecords(helloBody(b)), { maxHelloSize: 100 })), `malformed ${Alert.illegal_parameter}`, 'maxHelloSize')
})

t.test('not a ClientHello', async (t) => {
  const cases: Array<[string, Buffer, number]> = [
    ['HTTP/1.1 request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Alert.unexpected_message],
    ['a warning alert first (OpenSSL and our engine take none before the hello)', Buffer.from([21, 3, 1, 0, 2, 1, 90]), Alert.unexpected_message],
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
    t.equal(out[6], alert, `${name}: the engine's alert`)
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

t.test('room for the hello grows with the bytes that arrive, not with the length a header announces', async (t) => {
  const held = (r: HelloReader): number => ((r as unknown as { msg: Buffer | null }).msg?.length ?? 0)
  // A record header, then a ClientHello header claiming the largest hello we take, then silence.
  const r = new HelloReader()
  const body = MAX_CLIENT_HELLO_SIZE
  const head = Buffer.from([22, 3, 1, 0x40, 0x00, 1, (body >> 16) & 0xff, (body >> 8) & 0xff, body & 0xff])
  t.equal(r.push(head).kind, 'need-more')
  t.ok(held(r) <= 4 + 16384, `9 bytes claiming ${body} bytes hold ${held(r)} bytes of room`)
  // A real hello, fed in 1-byte pieces, still comes out whole and parsed.
  const rec = helloRecords(helloBody(baseHello()))
  const r2 = new HelloReader()
  let v: HelloPeek = { kind: 'need-more' } as HelloPeek
  for (let i = 0; i < rec.length; i++) v = r2.push(rec.subarray(i, i + 1))
  t.equal(v.kind, 'complete')
})
