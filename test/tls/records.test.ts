/**
 * Record-layer bounds of issue 12, each checked on our engine and against OpenSSL (Node's TLS server, or Node's
 * TLS server talking to our client): the largest legal ClientHello over several records and in 1-byte records,
 * the size cap, warning alerts during and after the handshake (CVE-2016-8610), and runs of empty records.
 */
import t, { Test } from 'tap'
import * as tls from 'node:tls'
import * as net from 'node:net'
import { TlsServerConnection, TlsServerOptions } from '../../lib/tls/server'
import { TlsClientConnection } from '../../lib/tls/client'
import { loadCertificate } from '../../lib/tls/certificates'
import { MAX_CLIENT_HELLO_SIZE } from '../../lib/tls/limits'
import type { TlsEvent } from '../../lib/tls/engine'
import { pipe, shuttle, testCerts } from './harness'
import { baseHello, helloBody, helloRecords, HelloParts, probe, u16, v16 } from './hellos'

const certs = testCerts()
const rsa = loadCertificate(certs.rsa)
const opts: TlsServerOptions = { certificates: [rsa] }

const answer = (s: TlsServerConnection): string => {
  const out = Buffer.from(s.takeOutbound())
  if (out.length >= 7 && out[0] === 21) return `alert ${out[6]}`
  if (out.length >= 6 && out[0] === 22 && out[5] === 2) return 'server_hello'
  return out.length === 0 ? 'nothing' : 'other'
}
const ours = (bytes: Buffer, o: Partial<TlsServerOptions> = {}): string => {
  const s = new TlsServerConnection({ ...opts, ...o }, Date.now())
  s.receive(bytes, Date.now())
  return answer(s)
}
const errorOf = (ev: TlsEvent[]): number => {
  const e = ev.find((x) => x.type === 'error')
  return e?.type === 'error' ? e.error.alert : -1
}

/**
 * The largest legal ClientHello (limits.ts MAX_CLIENT_HELLO_SIZE): 32-byte session id, 32,767 cipher suites,
 * 255 compression methods, a 65,535-byte extensions block filled up with padding (RFC 7685, type 21). `less`
 * bytes are taken off the padding.
 */
const largestHello = (less = 0): HelloParts => {
  const b = baseHello()
  const suites = [u16(0xc02f), u16(0x00ff)]
  // unassigned values (the GREASE pattern of RFC 8701) that no server picks
  for (let i = suites.length; i < 32767; i++) suites.push(u16(0x0a0a + ((i & 0x0f) << 12) + ((i & 0x0f) << 4)))
  const exts = b.exts ?? []
  const used = exts.reduce((n, [, d]) => n + 4 + d.length, 0)
  const padding = 65535 - used - 4 - less
  return {
    ...b,
    sessionId: Buffer.alloc(32, 3),
    suites: Buffer.concat(suites),
    compression: Buffer.from([0, ...Array.from({ length: 254 }, (_, i) => i + 1)]),
    exts: [...exts, [21, Buffer.alloc(padding)]]
  }
}

const nodeServer = async (t: Test): Promise<number> => {
  const srv = tls.createServer({ cert: certs.rsa.cert, key: certs.rsa.key, maxVersion: 'TLSv1.2' })
  srv.on('tlsClientError', () => {})
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(() => srv.close())
  return (srv.address() as net.AddressInfo).port
}

t.test('the largest legal ClientHello, 131,396 bytes, over 9 records and in 1-byte records', async (t) => {
  const port = await nodeServer(t)
  const body = helloBody(largestHello())
  t.equal(body.length, MAX_CLIENT_HELLO_SIZE, 'built to the byte')
  const records = helloRecords(body)
  t.equal(ours(records), 'server_hello', 'ours, 16 KiB records')
  t.equal(await probe(port, records), 'server_hello', 'OpenSSL, 16 KiB records')
  const bytewise = helloRecords(body, 1)
  t.equal(bytewise.length, 6 * (body.length + 4), '131,400 records of one byte')
  t.equal(ours(bytewise), 'server_hello', 'ours, 1-byte records in one read')
  t.equal(await probe(port, bytewise), 'server_hello', 'OpenSSL, 1-byte records')
  // the same 1-byte records, one socket read each cutting records anywhere (the carried-record path)
  const s = new TlsServerConnection(opts, Date.now())
  for (let off = 0; off < bytewise.length; off += 7) s.receive(Buffer.from(bytewise.subarray(off, off + 7)), Date.now())
  t.equal(answer(s), 'server_hello', 'ours, 7-byte reads of 1-byte records')
  // a 100 KB hello in records of 1,000 bytes
  const hundred = helloBody(largestHello(31_396))
  t.equal(hundred.length, 100_000)
  t.equal(ours(helloRecords(hundred, 1000)), 'server_hello', 'ours, 100,000 bytes in 1,000-byte records')
})

t.test('a hello declaring one byte over the cap is illegal_parameter, from its header on', async (t) => {
  const port = await nodeServer(t)
  // header only: type 1, length 131,397; nothing of the body is needed to refuse it
  const len = MAX_CLIENT_HELLO_SIZE + 1
  const header = Buffer.from([22, 3, 1, 0, 4, 1, len >> 16, (len >> 8) & 0xff, len & 0xff])
  t.equal(ours(header), 'alert 47', 'ours')
  t.equal(await probe(port, header), 'alert 47', 'OpenSSL: excessive message size')
  t.equal(ours(header, { maxHandshakeMessageSize: 1000 }), 'alert 47', 'a lower cap applies the same way')
  t.equal(ours(helloRecords(helloBody(baseHello())), { maxHandshakeMessageSize: 1000 }), 'server_hello')
})

/** A plaintext alert record (RFC 5246 section 7.2). */
const alertRecord = (level: number, desc: number): Buffer => Buffer.from([21, 3, 3, 0, 2, level, desc])

t.test('warning alerts during the handshake: four are taken, the fifth is fatal unexpected_message', async (t) => {
  const port = await nodeServer(t)
  const hello = helloRecords(helloBody(baseHello()))
  // user_canceled (90) as a warning: RFC 5246 section 7.2.2 has it "generally a warning"
  const warnings = (n: number): Buffer => Buffer.concat(Array.from({ length: n }, () => alertRecord(1, 90)))
  // after the ClientHello, while the server waits for ClientKeyExchange
  const ourFlight = (n: number): string => {
    const s = new TlsServerConnection(opts, Date.now())
    s.receive(Buffer.concat([hello, warnings(n)]), Date.now())
    const out = Buffer.from(s.takeOutbound())
    const alert = out[out.length - 7] === 21 ? `, alert ${out[out.length - 1]}` : ''
    return `${out[0] === 22 && out[5] === 2 ? 'server_hello' : 'other'}${alert}`
  }
  t.equal(ourFlight(4), 'server_hello', 'ours: a hello, then 4 warnings')
  t.equal(await probe(port, Buffer.concat([hello, warnings(4)]), 1000), 'server_hello', 'OpenSSL: the same')
  t.equal(ourFlight(5), 'server_hello, alert 10', 'ours: the fifth is fatal')
  t.equal(await probe(port, Buffer.concat([hello, warnings(5)]), 1000), 'server_hello, alert 10', 'OpenSSL: the fifth is fatal')
  // before the ClientHello OpenSSL takes no alert at all; we count those the same way as the others
  t.equal(await probe(port, Buffer.concat([warnings(1), hello])), 'alert 10', 'OpenSSL: any warning before the hello')
  t.equal(ours(Buffer.concat([warnings(4), hello])), 'server_hello', 'ours: 4 warnings before the hello')
  const s = new TlsServerConnection(opts, Date.now())
  for (let i = 0; i < 4; i++) t.same(s.receive(alertRecord(1, 90), Date.now()), [], `warning ${i + 1} in its own read: no event`)
  t.equal(errorOf(s.receive(alertRecord(1, 90), Date.now())), 10, 'the fifth, in its own read')
})

/** Our client with access to the record layer, to send what a well-behaved client never would. */
class RawClient extends TlsClientConnection {
  record (type: number, data: Buffer): void { this.sendRecord(type, data) }
}

/** Our client against Node's TLS server over a socket: once connected, `act` sends; resolves with what came back. */
const againstNode = async (port: number, act: (c: RawClient) => void): Promise<TlsEvent[]> => await new Promise((resolve) => {
  const sock = net.connect(port, '127.0.0.1')
  const c = new RawClient({ ca: certs.rsa.cert, servername: 'localhost' }, Date.now())
  const events: TlsEvent[] = []
  const timer = setTimeout(() => sock.destroy(), 5000)
  sock.on('close', () => { clearTimeout(timer); resolve(events) })
  const p = pipe(sock, c, (e, eng) => {
    events.push(e)
    if (e.type === 'handshake') { act(c); p.flush() }
    if (e.type === 'data' && Buffer.from(e.data).toString().endsWith('END')) sock.destroy()
  })
})

const echoServer = async (t: Test): Promise<number> => {
  const srv = tls.createServer({ cert: certs.rsa.cert, key: certs.rsa.key, maxVersion: 'TLSv1.2' }, (s) => { s.on('error', () => {}); s.pipe(s) })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(() => srv.close())
  return (srv.address() as net.AddressInfo).port
}
const dataOf = (ev: TlsEvent[]): string => ev.map((e) => (e.type === 'data' ? Buffer.from(e.data).toString() : '')).join('')

t.test('after the handshake: warnings and empty records in a row are bounded as OpenSSL bounds them', async (t) => {
  const port = await echoServer(t)
  const warn = (c: RawClient, n: number): void => { for (let i = 0; i < n; i++) c.record(21, Buffer.from([1, 90])) }
  const empty = (c: RawClient, n: number): void => { for (let i = 0; i < n; i++) c.record(23, Buffer.alloc(0)) }
  const runs = {
    'four warnings, data, four warnings, data': (c: RawClient): void => { warn(c, 4); c.write(Buffer.from('a')); warn(c, 4); c.write(Buffer.from('END')) },
    'five warnings in a row': (c: RawClient): void => { warn(c, 5); c.write(Buffer.from('END')) },
    '32 empty records, data, 32 empty records, data': (c: RawClient): void => { empty(c, 32); c.write(Buffer.from('a')); empty(c, 32); c.write(Buffer.from('END')) },
    '33 empty records in a row': (c: RawClient): void => { empty(c, 33); c.write(Buffer.from('END')) }
  }
  for (const [name, act] of Object.entries(runs)) {
    const bad = name.startsWith('five') || name.startsWith('33')
    // OpenSSL (Node's server) first: what it answers is what ours must answer
    const node = await againstNode(port, act)
    if (bad) t.equal(errorOf(node), 10, `${name}: OpenSSL sends unexpected_message`)
    else t.equal(dataOf(node), 'aEND', `${name}: OpenSSL echoes`)
    const s = new TlsServerConnection(opts, Date.now())
    const c = new RawClient({ ca: certs.rsa.cert, servername: 'localhost' }, Date.now())
    shuttle(c, s)
    act(c)
    const ev = shuttle(c, s)
    if (bad) {
      t.equal(errorOf(ev.b), 10, `${name}: ours is unexpected_message`)
      t.equal(errorOf(ev.a), 10, `${name}: our client reads the alert`)
    } else t.equal(dataOf(ev.b), 'aEND', `${name}: ours takes them`)
  }
})
