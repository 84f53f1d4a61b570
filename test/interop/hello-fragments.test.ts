/**
 * Legal ClientHellos in unusual framing reach the right TLS stack through the plugin's split (lib/server/tls-select.ts,
 * lib/tls/peek.ts), over real sockets, with hellos from `openssl s_client`:
 * - s_client's own hello cut into records of 1 to 5 bytes by a relay (RFC 5246 section 6.2.1 allows any size
 *   from 1 byte): the handshake completes, TLS 1.3 + ALPN spdy/3.1 on OpenSSL and TLS 1.2 + NPN on our engine, and
 *   spdy-transport gets a SPDY response over each;
 * - s_client's hello grown to ~100 KB (a long cipher suite list and a padding extension, RFC 7685), in 16 KiB
 *   records and in 1-5 byte records: a ServerHello from each stack (TLS 1.3 from OpenSSL without NPN, TLS 1.2 with
 *   NPN from our engine).
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import { spawn } from 'node:child_process'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { spdyOverSClient, spdyGet } from './spdy-over-s-client'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
const NPN_ARGS = ['-tls1_2', '-nextprotoneg', 'spdy/3.1']
const ALPN_ARGS = ['-alpn', 'spdy/3.1']

async function start (t: Test): Promise<number> {
  const app = Fastify()
  await app.register(spdy, { tls: { cert, key }, port: 0 })
  app.get('/', async (req) => ({ spdy: req.spdy }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return app.spdy.port!
}

/** Handshake bytes of whole plaintext records. */
const payload = (records: Buffer): Buffer => {
  const out: Buffer[] = []
  for (let p = 0; p + 5 <= records.length; p += 5 + records.readUInt16BE(p + 3)) out.push(records.subarray(p + 5, p + 5 + records.readUInt16BE(p + 3)))
  return Buffer.concat(out)
}

/** Handshake bytes in records of 1, 2, 3, 4, 5, 1, ... bytes (or all of `size` bytes), record version 3,1. */
const reframe = (msg: Buffer, size?: number): Buffer => {
  const out: Buffer[] = []
  for (let off = 0, i = 0; off < msg.length; i++) {
    const n = Math.min(size ?? 1 + (i % 5), msg.length - off)
    out.push(Buffer.from([22, 3, 1, n >> 8, n & 0xff]), msg.subarray(off, off + n))
    off += n
  }
  return Buffer.concat(out)
}

/** Bytes until `enough` says the records so far hold a whole first handshake message; its length (4 + body). */
const helloEnd = (bytes: Buffer): number => {
  const hs = payload(bytes)
  if (hs.length < 4) return -1
  const total = 4 + hs.readUIntBE(1, 3)
  let whole = 0
  for (let p = 0; p + 5 <= bytes.length && p + 5 + bytes.readUInt16BE(p + 3) <= bytes.length; p += 5 + bytes.readUInt16BE(p + 3)) whole = p + 5 + bytes.readUInt16BE(p + 3)
  return payload(bytes.subarray(0, whole)).length >= total ? whole : -1
}

/**
 * A relay on loopback to `port` that re-frames the client's ClientHello into records of 1-5 bytes and passes
 * everything else through unchanged.
 */
async function fragmentingRelay (t: Test, port: number): Promise<number> {
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1')
    let head: Buffer | null = Buffer.alloc(0)
    client.on('data', (c: Buffer) => {
      if (head === null) { upstream.write(c); return }
      head = Buffer.concat([head, c])
      const end = helloEnd(head)
      if (end < 0) return
      upstream.write(reframe(payload(head.subarray(0, end))))
      upstream.write(head.subarray(end))
      head = null
    })
    upstream.pipe(client)
    client.on('end', () => upstream.end())
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  return (server.address() as net.AddressInfo).port
}

/** The ClientHello message (handshake header included) that `openssl s_client` with `args` sends first. */
async function opensslHello (args: string[]): Promise<Buffer> {
  let got: Buffer = Buffer.alloc(0)
  let done: (b: Buffer) => void = () => {}
  const hello = new Promise<Buffer>((resolve) => { done = resolve })
  const server = net.createServer((sock) => {
    sock.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c])
      const end = helloEnd(got)
      if (end >= 0) { done(payload(got.subarray(0, end))); sock.destroy() }
    })
    sock.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${(server.address() as net.AddressInfo).port}`, '-servername', 'localhost', ...args], { stdio: ['pipe', 'ignore', 'ignore'] })
  child.stdin.end()
  const msg = await hello
  child.kill()
  server.close()
  return msg
}

/**
 * `msg` (a ClientHello message) grown by `extra` bytes: filler cipher suites (GREASE values, RFC 8701, which a
 * server ignores) after the client's own, and a padding extension (RFC 7685, zeros) filling the extensions block.
 */
const grow = (msg: Buffer, suitesAdded: number, padding: number): Buffer => {
  const body = msg.subarray(4)
  let p = 2 + 32
  p += 1 + body[p] // session id
  const suitesLen = body.readUInt16BE(p)
  const suites = body.subarray(p + 2, p + 2 + suitesLen)
  const afterSuites = p + 2 + suitesLen
  const comp = body.subarray(afterSuites, afterSuites + 1 + body[afterSuites])
  const exts = body.subarray(afterSuites + comp.length + 2)
  const filler = Buffer.alloc(suitesAdded * 2, 0x0a) // 0x0a0a
  const pad = Buffer.concat([Buffer.from([0, 21, padding >> 8, padding & 0xff]), Buffer.alloc(padding)])
  const u16 = (v: number): Buffer => Buffer.from([v >> 8, v & 0xff])
  const newBody = Buffer.concat([body.subarray(0, p), u16(suitesLen + filler.length), suites, filler, comp,
    u16(exts.length + pad.length), exts, pad])
  return Buffer.concat([Buffer.from([1, newBody.length >> 16, (newBody.length >> 8) & 0xff, newBody.length & 0xff]), newBody])
}

/** The server's ServerHello to `bytes` sent raw: its version as negotiated and its extension types. */
async function serverHello (port: number, bytes: Buffer): Promise<{ version: number, exts: number[] } | string> {
  const sock = net.connect(port, '127.0.0.1')
  sock.on('error', () => {})
  let got: Buffer = Buffer.alloc(0)
  const result = await new Promise<{ version: number, exts: number[] } | string>((resolve) => {
    const timer = setTimeout(() => resolve('no answer within 10 s'), 10_000)
    sock.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c])
      if (got[0] !== 22) { clearTimeout(timer); resolve(`record type ${got[0]}: ${got.subarray(0, 7).toString('hex')}`); return }
      const hs = payload(got)
      if (hs.length < 4 || hs.length < 4 + hs.readUIntBE(1, 3)) return
      clearTimeout(timer)
      if (hs[0] !== 2) { resolve(`handshake message ${hs[0]}`); return }
      const body = hs.subarray(4, 4 + hs.readUIntBE(1, 3))
      let q = 2 + 32
      q += 1 + body[q] + 2 + 1
      const exts: number[] = []
      let version = body.readUInt16BE(0)
      for (let e = q + 2; e < body.length; e += 4 + body.readUInt16BE(e + 2)) {
        exts.push(body.readUInt16BE(e))
        if (body.readUInt16BE(e) === 43) version = body.readUInt16BE(e + 4) // supported_versions (RFC 8446 section 4.2.1)
      }
      resolve({ version, exts })
    })
    sock.on('close', () => { clearTimeout(timer); resolve(`closed after ${got.length} bytes: ${got.subarray(0, 7).toString('hex')}`) })
    sock.write(bytes)
  })
  sock.destroy()
  return result
}

t.test("s_client's hello in records of 1-5 bytes: each stack completes the handshake and serves SPDY", async (t) => {
  const port = await fragmentingRelay(t, await start(t))
  for (const [args, stack] of [[ALPN_ARGS, 'OpenSSL, TLS 1.3 + ALPN'], [NPN_ARGS, 'our engine, TLS 1.2 + NPN']] as const) {
    const { conn, done } = spdyOverSClient(t, port, 3.1, ['-servername', 'localhost', ...args])
    const res = await spdyGet(conn, '/')
    t.equal(res.status, 200, `${stack}: a SPDY response through the relay`)
    t.equal(JSON.parse(res.body).spdy.version, 3.1)
    conn.end()
    await done
  }
  const out = await new Promise<string>((resolve) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...ALPN_ARGS], { stdio: ['pipe', 'pipe', 'ignore'] })
    let s = ''
    child.stdout.on('data', (c: Buffer) => { s += c.toString('latin1') })
    child.on('close', () => resolve(s))
    child.stdin.end()
  })
  t.match(out, /New, TLSv1\.3/, 'ALPN: TLS 1.3 (OpenSSL)')
  t.match(out, /ALPN protocol: spdy\/3\.1/)
})

t.test("a ~100 KB hello from s_client's, over several records: a ServerHello from each stack", async (t) => {
  const port = await start(t)
  for (const [args, npn] of [[ALPN_ARGS, false], [NPN_ARGS, true]] as const) {
    const msg = grow(await opensslHello(args), 20_000, 60_000)
    t.ok(msg.length > 100_000 && msg.length < 131_400, `${msg.length} bytes`)
    for (const [framing, records] of [['16 KiB records', reframe(msg, 16384)], ['1-5 byte records', reframe(msg)]] as const) {
      const sh = await serverHello(port, records)
      const name = `${npn ? 'NPN' : 'ALPN'} hello of ${msg.length} bytes in ${framing} (${records.length} bytes)`
      if (typeof sh === 'string') { t.fail(`${name}: ${sh}`); continue }
      if (npn) {
        t.equal(sh.version, 0x0303, `${name}: TLS 1.2`)
        t.ok(sh.exts.includes(13172), `${name}: NPN answered, so our engine`)
      } else {
        t.equal(sh.version, 0x0304, `${name}: TLS 1.3, so OpenSSL`)
        t.notOk(sh.exts.includes(13172))
      }
    }
  }
})
