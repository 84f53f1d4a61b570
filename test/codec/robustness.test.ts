/**
 * Properties of the decoder over many inputs (seeded, so a failure replays):
 * - chunking: whole, byte by byte and random splits give identical events;
 * - mutation: random corruption of valid frame streams yields only our typed events, never a throw, never a hang
 *   (every run is a bounded loop), and nothing after a session error; chunking still does not matter.
 */
import t from 'tap'
import { stFramer } from './spdy-transport'
import { FrameDecoder, FrameEncoder, type DecodeEvent, type Frame, type HeaderList, type WireVersion } from '../../lib/codec'
import { SpdySessionError, SpdyStreamError } from '../../lib/errors'

/** xorshift32: a small deterministic generator so failures reproduce from the seed in the assertion message. */
function rng (seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    return x / 0x100000000
  }
}

const FRAME_TYPES = new Set(['DATA', 'SYN_STREAM', 'SYN_REPLY', 'RST_STREAM', 'SETTINGS', 'NOOP', 'PING', 'GOAWAY', 'HEADERS', 'WINDOW_UPDATE', 'CREDENTIAL', 'UNKNOWN'])

/** Events as plain data, so runs can be compared (payload views become hex, errors their class and fields). */
function normalize (events: DecodeEvent[]): unknown[] {
  return events.map((e) => {
    if (e.type === 'STREAM_ERROR') return { type: e.type, cls: e.error.constructor.name, status: e.error.status, streamId: e.error.streamId, message: e.error.message }
    if (e.type === 'SESSION_ERROR') return { type: e.type, cls: e.error.constructor.name, status: e.error.status, message: e.error.message }
    if (e.type === 'DATA') return { ...e, data: Buffer.from(e.data).toString('hex') }
    return e
  })
}

function decodeSplit (v: WireVersion, input: Uint8Array, cuts: number[], opts: { maxFrameLength?: number } = {}): DecodeEvent[] {
  const d = new FrameDecoder({ version: v, maxHeaderBlockBytes: 4096, maxHeaderPairs: 16, ...opts })
  const out: DecodeEvent[] = []
  let prev = 0
  for (const c of [...cuts, input.length]) {
    // A fresh copy per chunk, and the caller's chunk is scribbled over after push: the decoder must not keep
    // views into it beyond the events it returned (checked by normalizing right away).
    const chunk = Buffer.from(input.subarray(prev, c))
    out.push(...(normalize(d.push(chunk)) as DecodeEvent[]))
    chunk.fill(0xee)
    prev = c
  }
  return out
}

function randomCuts (r: () => number, len: number, max: number): number[] {
  const n = Math.floor(r() * max)
  const cuts = new Set<number>()
  for (let i = 0; i < n; i++) cuts.add(Math.floor(r() * (len + 1)))
  return [...cuts].sort((a, b) => a - b)
}

/** A valid frame stream from our encoder: every frame type, header blocks chained on one context. */
function corpus (v: WireVersion, big = false): Buffer {
  const enc = new FrameEncoder({ version: v })
  const req: HeaderList = v === 2
    ? [['method', 'GET'], ['url', '/'], ['version', 'HTTP/1.1'], ['host', 'a.example'], ['accept', 'text/html']]
    : [[':method', 'GET'], [':path', '/'], [':version', 'HTTP/1.1'], [':host', 'a.example'], [':scheme', 'https'], ['accept', 'text/html'], ['x-multi', 'a\0b']]
  const frames: Frame[] = [
    { type: 'SETTINGS', clearSettings: false, entries: [{ id: 4, flags: 0, value: 100 }, { id: 7, flags: 1, value: 65536 }] },
    { type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: 2, slot: 0, fin: false, unidirectional: false, headers: req },
    { type: 'DATA', streamId: 1, fin: false, data: Buffer.alloc(300, 7) },
    { type: 'SYN_STREAM', streamId: 3, associatedStreamId: 0, priority: 0, slot: 0, fin: true, unidirectional: false, headers: [...req, ['cookie', 'x'.repeat(200)]] },
    { type: 'SYN_REPLY', streamId: 1, fin: false, headers: [['x-r', '1']] },
    { type: 'HEADERS', streamId: 1, fin: true, headers: [['x-t', 'done']] },
    { type: 'PING', id: 42 },
    { type: 'RST_STREAM', streamId: 3, status: 5 },
    { type: 'DATA', streamId: 1, fin: true, data: Buffer.alloc(0) },
    { type: 'GOAWAY', lastGoodStreamId: 3, status: 0 }
  ]
  // Larger than the decoder's first carry-over buffer (64 KB), so a split frame grows it.
  if (big) frames.splice(3, 0, { type: 'DATA', streamId: 3, fin: false, data: Buffer.from(Array.from({ length: 150_000 }, (_, i) => (i * 31) & 0xff)) })
  if (v === 2) frames.push({ type: 'NOOP' })
  else frames.push({ type: 'WINDOW_UPDATE', streamId: 0, deltaWindowSize: 1000 }, { type: 'CREDENTIAL', slot: 1 })
  return Buffer.concat(frames.map((f) => enc.encode(f)))
}

for (const v of [2, 3] as const) {
  t.test(`spdy/${v}: chunking never changes the events`, async (t) => {
    const inputs = [corpus(v, true)]
    // spdy-transport's bytes too (its deflater makes other blocks than ours).
    const { framer, take } = stFramer(v, false)
    framer.requestFrame({ id: 1, path: '/x', method: 'GET', host: 'h.example', headers: { 'user-agent': 'ua' } })
    framer.dataFrame({ id: 1, fin: true, data: Buffer.from('payload') })
    framer.requestFrame({ id: 3, path: '/y', method: 'GET', host: 'h.example', headers: { 'user-agent': 'ua', cookie: 'c=1' } })
    inputs.push(await take())
    for (const input of inputs) {
      const whole = decodeSplit(v, input, [])
      t.ok(whole.length > 2 && whole.every((e) => (e as { type: string }).type !== 'SESSION_ERROR' && (e as { type: string }).type !== 'STREAM_ERROR'), 'valid input decodes cleanly')
      const bytewise = decodeSplit(v, input, Array.from({ length: input.length - 1 }, (_, i) => i + 1))
      t.same(bytewise, whole, 'byte by byte')
      const r = rng(0x5eed + v)
      let same = 0
      for (let i = 0; i < 200; i++) {
        const cuts = randomCuts(r, input.length, 40)
        const got = decodeSplit(v, input, cuts)
        if (JSON.stringify(got) === JSON.stringify(whole)) same++
        else t.same(got, whole, `split at ${cuts.join(',')}`)
      }
      t.equal(same, 200, '200 random splits')
    }
  })

  t.test(`spdy/${v}: random corruption yields typed events only, never a throw`, async (t) => {
    const base = corpus(v)
    const r = rng(0xc0ffee + v)
    const runs = 1500
    let problems = 0
    const seen = new Set<string>()
    for (let i = 0; i < runs; i++) {
      const m = Buffer.from(base)
      const kind = Math.floor(r() * 4)
      const edits = 1 + Math.floor(r() * 6)
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(r() * m.length)
        if (kind === 0) m[at] ^= 1 << Math.floor(r() * 8) // bit flip
        else if (kind === 1) m[at] = Math.floor(r() * 256) // random byte
        else if (kind === 2) m[at] = r() < 0.5 ? 0xff : 0x00 // extreme values, e.g. in length and count fields
      }
      const input = kind === 3 ? Buffer.concat([m.subarray(0, Math.floor(r() * m.length)), Buffer.from(Array.from({ length: 64 }, () => Math.floor(r() * 256)))]) : m
      let whole: DecodeEvent[]
      let split: DecodeEvent[]
      const cuts = randomCuts(r, input.length, 20)
      try {
        const d = new FrameDecoder({ version: v, maxHeaderBlockBytes: 4096, maxHeaderPairs: 16, maxFrameLength: 8192 })
        whole = d.push(input)
        for (let j = 0; j < whole.length; j++) {
          const e = whole[j]
          seen.add(e.type)
          const typed = FRAME_TYPES.has(e.type) ||
            (e.type === 'STREAM_ERROR' && e.error instanceof SpdyStreamError) ||
            (e.type === 'SESSION_ERROR' && e.error instanceof SpdySessionError && j === whole.length - 1)
          if (!typed) { problems++; t.fail(`run ${i}: untyped or misplaced event ${e.type}`) }
        }
        split = decodeSplit(v, input, cuts, { maxFrameLength: 8192 })
      } catch (err) {
        problems++
        t.fail(`run ${i} threw: ${(err as Error).stack}`)
        continue
      }
      if (JSON.stringify(normalize(whole)) !== JSON.stringify(split)) {
        problems++
        t.same(split, normalize(whole), `run ${i}: chunking changed the events of a corrupt input`)
      }
    }
    t.equal(problems, 0, `${runs} corrupted inputs`)
    t.ok(seen.has('SESSION_ERROR') && seen.has('STREAM_ERROR'), `mutations reached both error kinds (${[...seen].join(', ')})`)
  })
}
