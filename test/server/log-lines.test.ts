/**
 * README "Errors": a bad frame on one stream is answered with RST_STREAM and "the server logs it at `warn` as
 * `fastify-spdy: protocol error: <message>` with fields `answer`, `streamId`, `status`"; a frame that breaks the
 * session is answered with GOAWAY, "same log line"; a TLS error is answered with its alert and logged "at `debug`
 * (`fastify-spdy: TLS error`, fields `alert`, `err`)". Checked on the app's own logger (pino JSON lines), with the
 * bytes written raw on a real socket and the answer read off the wire by a second decoder.
 */
import t from 'tap'
import net from 'node:net'
import tls from 'node:tls'
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { FrameDecoder } from '../../lib/codec/decoder'
import type { DecodeEvent, Frame } from '../../lib/codec/types'

interface Line { level: number, msg: string, [k: string]: unknown }
const WARN = 40
const DEBUG = 20
const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })

async function start (tls: boolean, extra: Record<string, unknown> = {}): Promise<{ app: ReturnType<typeof Fastify>, lines: Line[] }> {
  const lines: Line[] = []
  const app = Fastify({ logger: { level: 'debug', stream: { write: (s: string) => { lines.push(JSON.parse(s) as Line) } } } })
  await app.register(spdy, { tls: tls ? { cert, key } : false, port: 0, ...extra })
  app.get('/', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, lines }
}

/** Writes `bytes` on a fresh connection and collects the decoded SPDY/3 frames until `enough` or the close. */
async function exchange (port: number, bytes: Buffer, enough: (frames: DecodeEvent[]) => boolean): Promise<DecodeEvent[]> {
  const sock = net.connect(port, '127.0.0.1')
  const dec = new FrameDecoder({ version: 3 })
  const frames: DecodeEvent[] = []
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 10_000)
    const done = (): void => { clearTimeout(timer); resolve() }
    sock.on('data', (c: Buffer) => { frames.push(...dec.push(c)); if (enough(frames)) done() })
    sock.on('close', done)
    sock.on('error', done)
    sock.write(bytes)
  })
  sock.destroy()
  return frames
}

async function lineMatching (lines: Line[], pred: (l: Line) => boolean): Promise<Line | undefined> {
  for (let i = 0; i < 500; i++) {
    const l = lines.find(pred)
    if (l !== undefined) return l
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return undefined
}

// A SPDY/3 PING first (the plain listener reads the version from the first frame), then a DATA frame (section
// 2.2.2) on stream 1001, never opened: a stream error.
const badData = Buffer.from([0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01,
  0x00, 0x00, 0x03, 0xe9, 0x00, 0x00, 0x00, 0x00])
// SPDY/3 SYN_STREAM (section 2.6.1) for stream 1 whose header block is not zlib at all: the shared compression
// context is lost, a session error (section 2.6.10 PROTOCOL_ERROR by GOAWAY).
const synBody = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from('not a zlib stream at all')])
const badSyn = Buffer.concat([Buffer.from([0x80, 0x03, 0x00, 0x01, 0x01, 0, 0, synBody.length]), synBody])

for (const [kind, bytes, answer, streamId] of [['a stream error', badData, 'RST_STREAM', 1001], ['a session error', badSyn, 'GOAWAY', 0]] as const) {
  t.test(`${kind}: ${answer} on the wire, one warn line with answer, streamId, status`, async (t) => {
    const { app, lines } = await start(false)
    t.teardown(() => app.close())
    const frames = await exchange(app.spdy.port!, bytes, (f) => f.some((x) => x.type === answer))
    const sent = frames.find((f) => f.type === answer) as Extract<Frame, { type: 'RST_STREAM' | 'GOAWAY' }> | undefined
    t.ok(sent, `answered with ${answer}`)
    const line = await lineMatching(lines, (l) => l.msg.startsWith('fastify-spdy: protocol error: '))
    t.ok(line, 'a protocol error line')
    t.equal(line?.level, WARN, 'at warn')
    t.equal(line?.answer, answer)
    t.equal(line?.streamId, streamId)
    t.equal(line?.status, sent?.status, 'status: the one sent on the wire')
    t.equal(line?.remoteAddress, '127.0.0.1')
  })
}

t.test('a TLS error: the alert on the wire, a debug line with alert and err, nothing at warn', async (t) => {
  const { app, lines } = await start(true)
  t.teardown(() => app.close())
  // A TLS 1.2 hello whose server_name extension has an empty host list (RFC 6066 section 3): decode_error (50).
  const ext = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00])
  const hello = Buffer.concat([Buffer.from([0x03, 0x03]), randomBytes(32), Buffer.from([0x00, 0x00, 0x02, 0xc0, 0x2f, 0x01, 0x00, 0x00, ext.length]), ext])
  const hs = Buffer.concat([Buffer.from([0x01, 0x00, hello.length >> 8, hello.length & 0xff]), hello])
  const record = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, hs.length >> 8, hs.length & 0xff]), hs])
  const got: Buffer[] = []
  const sock = net.connect(app.spdy.port!, '127.0.0.1')
  sock.on('data', (c: Buffer) => got.push(c))
  sock.on('error', () => {})
  sock.write(record)
  await new Promise((resolve) => sock.on('close', resolve))
  const reply = Buffer.concat(got)
  t.same([...reply.subarray(0, 1)], [21], 'an alert record')
  t.same([...reply.subarray(5, 7)], [2, 50], 'fatal decode_error')
  const line = await lineMatching(lines, (l) => l.msg === 'fastify-spdy: TLS error')
  t.ok(line, 'a TLS error line')
  t.equal(line?.level, DEBUG, 'at debug')
  t.equal(line?.alert, 50, 'alert: the one sent')
  t.ok(line?.err !== undefined, 'err: why')
  t.same(lines.filter((l) => l.level >= WARN), [], 'nothing at warn or above')
})

t.test('a TLS error on the OpenSSL side: a debug line with err, nothing at warn', async (t) => {
  const { app, lines } = await start(true)
  t.teardown(() => app.close())
  // Node's TLS client, ALPN and no NPN (so the OpenSSL side), offering only a CBC suite that side refuses.
  const err = await new Promise<Error | null>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: app.spdy.port!, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['spdy/3.1'], maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' })
    s.once('secureConnect', () => { s.destroy(); resolve(null) })
    s.once('error', resolve)
  })
  t.match(err?.message ?? '', /handshake failure/, 'the client got a handshake_failure alert')
  const line = await lineMatching(lines, (l) => l.msg === 'fastify-spdy: TLS error (OpenSSL)')
  t.ok(line, 'a TLS error (OpenSSL) line')
  t.equal(line?.level, DEBUG, 'at debug')
  t.match(String(line?.err), /no shared cipher/, 'err: why')
  t.same(lines.filter((l) => l.level >= WARN), [], 'nothing at warn or above')
})

/**
 * README "Deployment": a connection without its required PROXY header is closed "with a warning through the log
 * budgets" (it said "at most one a second"; the line goes through maxLogLinesPerSecond like every line about peers).
 */
t.test('PROXY header missing: each connection closed with a warn line, within maxLogLinesPerSecond, the rest counted', async (t) => {
  const CONNS = 6
  const BUDGET = 3
  const { app, lines } = await start(false, { proxyProtocol: true, maxLogLinesPerSecond: BUDGET })
  t.teardown(() => app.close())
  const start0 = Date.now()
  for (let i = 0; i < CONNS; i++) {
    const sock = net.connect(app.spdy.port!, '127.0.0.1')
    sock.on('error', () => {})
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    await new Promise((resolve) => sock.on('close', resolve))
  }
  const within = Date.now() - start0 < 1000
  const proxy = (l: Line): boolean => l.msg.includes('PROXY') && l.level === WARN
  const summary = await lineMatching(lines, (l) => l.msg.includes('over maxLogLinesPerSecond'))
  if (within) {
    t.equal(lines.filter(proxy).length, BUDGET, `${BUDGET} warn lines for ${CONNS} refused connections in one second`)
    t.ok(summary, 'a summary line')
    t.equal(lines.filter(proxy).length + Number(Object.values((summary?.suppressed ?? {}) as Record<string, number>).reduce((a, b) => a + b, 0)), CONNS, 'every refusal written or counted')
  } else {
    t.ok(lines.filter(proxy).length >= BUDGET, 'a slow machine spread the connections over more than a second: at least the budget written')
  }
})
