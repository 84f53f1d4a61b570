/**
 * Log lines about peers are rate-limited per connection and per listener: a peer sending bad frames gets the
 * protocol answer for every frame, but the log gets at most maxLogLinesPerConnection lines for it and one summary
 * with counts; across connections at most maxLogLinesPerSecond lines a second, and the rest counted. Every bad
 * frame is accounted for: written, or counted in a summary.
 */
import t from 'tap'
import { startServer, RawSpdy, sleep, type LogLine } from '../hostile/harness'

const CONNS = 10
const FRAMES = 50

/** DATA frames on streams never opened (SPDY/3 section 2.2.2 layout): each is a stream error answered RST_STREAM. */
function badData (n: number): Buffer {
  const b = Buffer.alloc(8 * n)
  for (let i = 0; i < n; i++) b.writeUInt32BE(1001 + 2 * i, i * 8) // odd ids, high bit 0 = DATA, flags/length 0
  return b
}

const isProtocol = (l: LogLine): boolean => l.msg.startsWith('fastify-spdy: protocol error')
const suppressedOf = (l: LogLine): number => Object.values((l.suppressed ?? {}) as Record<string, number>).reduce((a, b) => a + b, 0)

async function attack (port: number): Promise<RawSpdy[]> {
  const peers: RawSpdy[] = []
  for (let i = 0; i < CONNS; i++) {
    const p = await RawSpdy.connect(port)
    p.write(badData(FRAMES))
    peers.push(p)
  }
  // Every frame answered (RST_STREAM) before we count lines.
  for (const p of peers) await p.until(() => (p.frames.get('RST_STREAM') ?? 0) >= FRAMES)
  return peers
}

t.test('per connection: a few lines, then one summary at close', async (t) => {
  const s = await startServer({ spdy: { maxLogLinesPerConnection: 5, maxLogLinesPerSecond: 100000, maxInvalidFrames: 1000 } })
  t.teardown(s.close)
  const peers = await attack(s.port)
  t.equal(peers.filter((p) => p.frames.get('RST_STREAM') === FRAMES).length, CONNS, 'every bad frame answered with RST_STREAM')
  for (const p of peers) p.destroy()
  const end = Date.now() + 5000
  while (s.logs.filter((l) => l.msg.includes('over maxLogLinesPerConnection')).length < CONNS && Date.now() < end) await sleep(20)
  const lines = s.logs.filter(isProtocol)
  const summaries = s.logs.filter((l) => l.msg.includes('over maxLogLinesPerConnection'))
  t.equal(lines.length, 5 * CONNS, '5 lines per connection')
  t.equal(summaries.length, CONNS, 'one summary per connection')
  t.equal(summaries.reduce((n, l) => n + suppressedOf(l), 0), (FRAMES - 5) * CONNS, 'the rest counted')
})

t.test('per listener: at most maxLogLinesPerSecond, the rest counted', async (t) => {
  const PER_SECOND = 20
  const s = await startServer({ spdy: { maxLogLinesPerConnection: 100000, maxLogLinesPerSecond: PER_SECOND, maxInvalidFrames: 1000 } })
  t.teardown(s.close)
  const start = Date.now()
  const peers = await attack(s.port)
  const elapsed = Date.now() - start
  t.teardown(() => { for (const p of peers) p.destroy() })
  const end = Date.now() + 5000
  while (!s.logs.some((l) => l.msg.includes('over maxLogLinesPerSecond')) && Date.now() < end) await sleep(20)
  const lines = s.logs.filter(isProtocol).length
  const counted = s.logs.filter((l) => l.msg.includes('over maxLogLinesPerSecond')).reduce((n, l) => n + suppressedOf(l), 0)
  t.ok(lines <= PER_SECOND * (Math.ceil(elapsed / 1000) + 1), `${lines} lines written for ${CONNS * FRAMES} bad frames`)
  t.equal(lines + counted, CONNS * FRAMES, 'every bad frame written or counted')
})
