/**
 * Every limit and every header-block rule, tripped with the exact error class and wire status; after a stream
 * error the decoder goes on (the next block on the same zlib context still decodes), after a session error it is
 * dead. Raw header blocks are laid out by hand and compressed on one context, in order, as a peer would.
 */
import t from 'tap'
import * as zlib from 'node:zlib'
import { once } from 'node:events'
import {
  FrameDecoder,
  HeaderCompressor,
  DICTIONARY_V3,
  DEFAULT_MAX_FRAME_LENGTH,
  DEFAULT_MAX_HEADER_BLOCK_BYTES,
  DEFAULT_MAX_HEADER_PAIRS,
  type DecodeEvent
} from '../../lib/codec'
import {
  FrameTooLargeError,
  ProtocolError,
  SessionProtocolError,
  SpdySessionError,
  SpdyStreamError,
  RstStatus,
  GoawayStatus
} from '../../lib/errors'

const u16 = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b }
const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b }
function rawBlock (v: 2 | 3, pairs: Array<[string, string]>, count = pairs.length): Buffer {
  const n = v === 2 ? u16 : u32
  return Buffer.concat([n(count), ...pairs.flatMap(([k, val]) => [n(k.length), Buffer.from(k, 'latin1'), n(val.length), Buffer.from(val, 'latin1')])])
}
function control (v: 2 | 3, type: number, flags: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8)
  h.writeUInt16BE(0x8000 | v, 0); h.writeUInt16BE(type, 2); h.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4)
  return Buffer.concat([h, payload])
}
const synStream = (v: 2 | 3, id: number, block: Uint8Array): Buffer =>
  control(v, 1, 0, Buffer.concat([u32(id), u32(0), Buffer.from([0, 0]), block]))
const data = (id: number, len: number, fin = false): Buffer => {
  const h = Buffer.alloc(8 + len, 0x61)
  h.writeUInt32BE(id, 0); h.writeUInt32BE(((fin ? 1 : 0) << 24 | len) >>> 0, 4)
  return h
}
const streamErr = (ev: DecodeEvent): SpdyStreamError => {
  if (ev.type !== 'STREAM_ERROR') throw new Error(`expected STREAM_ERROR, got ${ev.type}`)
  return ev.error
}
const sessionErr = (ev: DecodeEvent): SpdySessionError => {
  if (ev.type !== 'SESSION_ERROR') throw new Error(`expected SESSION_ERROR, got ${ev.type}`)
  return ev.error
}

t.test('defaults are the plugin option defaults', async (t) => {
  t.same([DEFAULT_MAX_FRAME_LENGTH, DEFAULT_MAX_HEADER_BLOCK_BYTES, DEFAULT_MAX_HEADER_PAIRS], [1 << 20, 64 << 10, 128])
})

t.test('maxFrameLength: an oversized DATA frame is skipped unbuffered, a stream error; decoding goes on', async (t) => {
  for (const v of [2, 3] as const) {
    const d = new FrameDecoder({ version: v, maxFrameLength: 1024 })
    const big = data(3, 100_000)
    // Fed in pieces: the first piece carries the header, the rest must be dropped as it comes.
    const ev = d.push(big.subarray(0, 500))
    t.equal(ev.length, 1)
    const e = streamErr(ev[0])
    t.equal(e.streamId, 3)
    if (v === 3) {
      t.type(e, FrameTooLargeError)
      t.equal(e.status, RstStatus.FRAME_TOO_LARGE)
    } else {
      t.type(e, ProtocolError, 'SPDY/2 has no FRAME_TOO_LARGE code (its codes stop at 7)')
      t.equal(e.status, RstStatus.PROTOCOL_ERROR)
    }
    for (let o = 500; o < big.length; o += 4096) t.same(d.push(big.subarray(o, o + 4096)), [], 'payload dropped silently')
    const next = d.push(data(5, 10, true))
    t.same(next.map((f) => f.type === 'DATA' && [f.streamId, f.fin, f.data.length]), [[5, true, 10]], 'in step after the skip')
    // The limit is on the payload: exactly maxFrameLength is accepted.
    t.same(d.push(data(7, 1024)).map((f) => f.type), ['DATA'])
  }
})

t.test('maxFrameLength: an oversized control frame is a session error (skipping its header block would desync zlib)', async (t) => {
  const d = new FrameDecoder({ version: 3, maxFrameLength: 1024 })
  const big = synStream(3, 1, Buffer.alloc(2000))
  const ev = d.push(big.subarray(0, 8))
  t.equal(ev.length, 1)
  const e = sessionErr(ev[0])
  t.type(e, SessionProtocolError)
  t.equal(e.status, GoawayStatus.PROTOCOL_ERROR)
  t.same(d.push(big.subarray(8)), [], 'dead afterwards')
})

t.test('maxHeaderPairs: a stream error (FRAME_TOO_LARGE), the block was inflated so the next one decodes', async (t) => {
  const c = new HeaderCompressor(3)
  const d = new FrameDecoder({ version: 3, maxHeaderPairs: 4 })
  const five: Array<[string, string]> = [['a', '1'], ['b', '2'], ['c', '3'], ['d', '4'], ['e', '5']]
  const ev = d.push(synStream(3, 1, c.compress(rawBlock(3, five))))
  const e = streamErr(ev[0])
  t.type(e, FrameTooLargeError)
  t.same([e.streamId, e.status], [1, RstStatus.FRAME_TOO_LARGE])
  const ok = d.push(synStream(3, 3, c.compress(rawBlock(3, five.slice(0, 4)))))
  t.same(ok.map((f) => f.type === 'SYN_STREAM' && f.headers.length), [4])
  // A count announcing more pairs than the limit is refused before any pair is read.
  const huge = d.push(synStream(3, 5, c.compress(rawBlock(3, [], 0xffffffff))))
  t.type(streamErr(huge[0]), FrameTooLargeError)
  const c2 = new HeaderCompressor(2)
  const d2 = new FrameDecoder({ version: 2, maxHeaderPairs: 4 })
  const e2 = streamErr(d2.push(synStream(2, 1, c2.compress(rawBlock(2, five))))[0])
  t.same([e2.constructor, e2.status], [ProtocolError, RstStatus.PROTOCOL_ERROR], 'v2 answers with PROTOCOL_ERROR')
})

t.test('maxHeaderBlockBytes: a block inflating past the limit ends the session (its context is lost)', async (t) => {
  const c = new HeaderCompressor(3)
  const d = new FrameDecoder({ version: 3, maxHeaderBlockBytes: 1024 })
  const exact = rawBlock(3, [['x', 'a'.repeat(1024 - 4 - 4 - 1 - 4)]])
  t.equal(exact.length, 1024)
  t.same(d.push(synStream(3, 1, c.compress(exact))).map((e) => e.type), ['SYN_STREAM'], 'exactly the limit is accepted')
  const ev = d.push(synStream(3, 3, c.compress(rawBlock(3, [['x', 'a'.repeat(2000)]]))))
  t.equal(ev.length, 1)
  const e = sessionErr(ev[0])
  t.type(e, SessionProtocolError)
  t.equal(e.status, GoawayStatus.PROTOCOL_ERROR)
  t.match(e.message, /more than 1024 bytes/)
})

t.test('zlib bomb: a block that would inflate to 100 MB stops at the limit, memory stays under 2x the limit', async (t) => {
  const limit = 4 << 20
  // Built by Node's zlib from one reused 1 MB chunk, so building it costs no 100 MB either.
  const def = zlib.createDeflate({ dictionary: DICTIONARY_V3, level: 9 })
  const parts: Buffer[] = []
  def.on('data', (b: Buffer) => parts.push(b))
  const total = 100 << 20
  def.write(Buffer.concat([u32(1), u32(1), Buffer.from('x'), u32(total)]))
  const chunk = Buffer.alloc(1 << 20, 0x61)
  for (let i = 0; i < 100; i++) {
    if (!def.write(chunk)) await once(def, 'drain')
  }
  def.flush(zlib.constants.Z_SYNC_FLUSH)
  await new Promise<void>((resolve) => def.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()))
  const bomb = Buffer.concat(parts)
  def.close()
  t.ok(bomb.length < 200_000, `bomb is ${bomb.length} bytes compressed`)
  const frame = synStream(3, 1, bomb)
  const d = new FrameDecoder({ version: 3, maxHeaderBlockBytes: limit, maxFrameLength: 1 << 20 })
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const before = process.memoryUsage()
  const ev = d.push(frame)
  const after = process.memoryUsage()
  t.equal(ev.length, 1)
  t.type(sessionErr(ev[0]), SessionProtocolError)
  t.ok(after.arrayBuffers - before.arrayBuffers < 2 * limit, `arrayBuffers grew ${after.arrayBuffers - before.arrayBuffers} bytes`)
  t.ok(after.rss - before.rss < 2 * limit, `rss grew ${after.rss - before.rss} bytes`)
})

t.test('header block rules (SPDY/3 section 2.6.10): stream errors, PROTOCOL_ERROR, decoder goes on', async (t) => {
  const cases: Array<[string, 2 | 3, Buffer]> = [
    ['uppercase name', 3, rawBlock(3, [['Host', 'x']])],
    ['empty name', 3, rawBlock(3, [['', 'x']])],
    ['duplicate name', 3, rawBlock(3, [['a', '1'], ['a', '2']])],
    ['leading NUL', 3, rawBlock(3, [['a', '\0x']])],
    ['trailing NUL', 3, rawBlock(3, [['a', 'x\0']])],
    ['double NUL', 3, rawBlock(3, [['a', 'x\0\0y']])],
    ['lone NUL', 3, rawBlock(3, [['a', '\0']])],
    ['NUL in name', 3, rawBlock(3, [['a\0b', '1']])],
    ['truncated pair', 3, rawBlock(3, [['a', '1']], 2)],
    ['bytes after the last pair', 3, Buffer.concat([rawBlock(3, [['a', '1']]), Buffer.from([0])])],
    ['empty block', 3, Buffer.alloc(0)],
    ['v2 uppercase', 2, rawBlock(2, [['Method', 'GET']])],
    ['v2 duplicate', 2, rawBlock(2, [['a', '1'], ['a', '2']])],
    ['v2 truncated', 2, rawBlock(2, [['a', '1']]).subarray(0, 5)]
  ]
  for (const [name, v, raw] of cases) {
    const c = new HeaderCompressor(v)
    const d = new FrameDecoder({ version: v })
    const ev = d.push(synStream(v, 7, c.compress(raw)))
    t.equal(ev.length, 1, name)
    const e = streamErr(ev[0])
    t.type(e, ProtocolError, name)
    t.same([e.streamId, e.status], [7, RstStatus.PROTOCOL_ERROR], name)
    const next = d.push(synStream(v, 9, c.compress(rawBlock(v, [['ok', 'a\0b']]))))
    t.same(next.map((f) => f.type === 'SYN_STREAM' && f.headers), [[['ok', 'a\0b']]], `${name}: next block on the same context decodes`)
  }
})

t.test('zlib failures are session errors', async (t) => {
  const d = new FrameDecoder({ version: 3 })
  t.type(sessionErr(d.push(synStream(3, 1, Buffer.from('not zlib at all')))[0]), SessionProtocolError, 'garbage')
  const wrongDict = zlib.deflateSync(rawBlock(3, [['a', 'b']]), { dictionary: Buffer.from('another dictionary'), finishFlush: zlib.constants.Z_SYNC_FLUSH })
  t.match(sessionErr(new FrameDecoder({ version: 3 }).push(synStream(3, 1, wrongDict))[0]).message, /dictionary/, 'wrong dictionary')
  const finished = zlib.deflateSync(rawBlock(3, [['a', 'b']]), { dictionary: DICTIONARY_V3 })
  t.type(sessionErr(new FrameDecoder({ version: 3 }).push(synStream(3, 1, finished))[0]), SessionProtocolError, 'a stream ended with Z_FINISH cannot carry the next block')
  // An empty compressed block consumes nothing from the context, so it stays in step: only the stream is refused.
  t.type(streamErr(new FrameDecoder({ version: 3 }).push(synStream(3, 1, Buffer.alloc(0)))[0]), ProtocolError, 'empty compressed block')
  const short = new FrameDecoder({ version: 3 }).push(control(3, 1, 0, Buffer.alloc(9)))
  t.type(sessionErr(short[0]), SessionProtocolError, 'SYN_STREAM shorter than its fixed fields')
  t.type(sessionErr(new FrameDecoder({ version: 3 }).push(data(0, 1))[0]), SessionProtocolError, 'DATA on stream 0')
})
