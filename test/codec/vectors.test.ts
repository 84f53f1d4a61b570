/**
 * Byte vectors transcribed by hand from the draft layouts, for what spdy-transport cannot produce or read: NOOP
 * (SPDY/2 only), CREDENTIAL (SPDY/3), per-setting flags and CLEAR_SETTINGS, priorities at their extremes,
 * UNIDIRECTIONAL, the 2 unused bytes of SPDY/2 SYN_REPLY, the 4-byte SPDY/2 GOAWAY, unknown control types and
 * control frames of another version. Header blocks here are compressed with Node's own zlib (an independent
 * deflater), primed with the draft dictionary and sync-flushed, never with our encoder.
 */
import t from 'tap'
import * as zlib from 'node:zlib'
import {
  FrameDecoder,
  FrameEncoder,
  DICTIONARY_V2,
  DICTIONARY_V3,
  type DecodeEvent,
  type Frame
} from '../../lib/codec'
import { SessionProtocolError, UnsupportedVersionError } from '../../lib/errors'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const u16 = (n: number): string => n.toString(16).padStart(4, '0')
const u24 = (n: number): string => n.toString(16).padStart(6, '0')
const u32 = (n: number): string => n.toString(16).padStart(8, '0')
const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex')

/** A raw header block, laid out by hand: v2 16-bit counts and lengths (draft 2 section 2.6.10), v3 32-bit. */
function rawBlock (v: 2 | 3, pairs: Array<[string, string]>): Buffer {
  const n = v === 2 ? u16 : u32
  return hex(n(pairs.length) + pairs.map(([k, val]) => n(k.length) + ascii(k) + n(val.length) + ascii(val)).join(''))
}
/** First block of a compression context, compressed by Node's zlib with the draft dictionary. */
function nodeDeflate (v: 2 | 3, raw: Buffer): Buffer {
  return zlib.deflateSync(raw, { dictionary: v === 2 ? DICTIONARY_V2 : DICTIONARY_V3, finishFlush: zlib.constants.Z_SYNC_FLUSH })
}
const control = (v: 2 | 3, type: number, flags: number, payload: Buffer): Buffer =>
  Buffer.concat([hex(u16(0x8000 | v) + u16(type) + flags.toString(16).padStart(2, '0') + u24(payload.length)), payload])

const decode = (v: 2 | 3, b: Uint8Array): DecodeEvent[] => new FrameDecoder({ version: v }).push(b)

t.test('DATA: stream id, FIN, payload (section 2.2.2)', async (t) => {
  const bytes = hex('00000007 01 000003' + ascii('abc'))
  for (const v of [2, 3] as const) {
    const ev = decode(v, bytes)
    t.equal(ev.length, 1)
    const f = ev[0] as Extract<Frame, { type: 'DATA' }>
    t.same([f.type, f.streamId, f.fin, Buffer.from(f.data).toString()], ['DATA', 7, true, 'abc'])
    t.same(Buffer.from(new FrameEncoder({ version: v }).encode(f)), bytes, `v${v} encoder writes the same bytes`)
    t.same(Buffer.from(new FrameEncoder({ version: v }).encodeDataHeader(7, true, 3)), bytes.subarray(0, 8), 'encodeDataHeader')
  }
  t.same(Buffer.from(new FrameEncoder({ version: 3 }).encodeDataHeader(0x7fffffff, false, 0xffffff)), hex('7fffffff 00 ffffff'))
})

t.test('SYN_STREAM: priority bits, flags, v3 slot (section 2.6.1)', async (t) => {
  // v2: |pri(2)| unused(14)|; 3 is the lowest priority. FIN|UNIDIRECTIONAL = 0x03.
  const block2 = nodeDeflate(2, rawBlock(2, [['method', 'GET'], ['url', '/'], ['version', 'HTTP/1.1']]))
  const v2 = control(2, 1, 0x03, Buffer.concat([hex(u32(2) + u32(1) + 'c0' + '00'), block2]))
  const f2 = decode(2, v2)[0] as Extract<Frame, { type: 'SYN_STREAM' }>
  t.same({ ...f2 }, { type: 'SYN_STREAM', streamId: 2, associatedStreamId: 1, priority: 3, slot: 0, fin: true, unidirectional: true, headers: [['method', 'GET'], ['url', '/'], ['version', 'HTTP/1.1']] })
  // v3: |pri(3)| unused(5)| slot(8)|; 7 is the lowest priority.
  const block3 = nodeDeflate(3, rawBlock(3, [[':method', 'GET'], [':path', '/'], ['accept', '']]))
  const v3 = control(3, 1, 0x00, Buffer.concat([hex(u32(0x7fffffff) + u32(0) + 'e0' + '05'), block3]))
  const f3 = decode(3, v3)[0] as Extract<Frame, { type: 'SYN_STREAM' }>
  t.same({ ...f3 }, { type: 'SYN_STREAM', streamId: 0x7fffffff, associatedStreamId: 0, priority: 7, slot: 5, fin: false, unidirectional: false, headers: [[':method', 'GET'], [':path', '/'], ['accept', '']] }, 'v3 allows an empty value')
  // The reserved bit in front of stream ids is ignored.
  const r = control(3, 1, 0, Buffer.concat([hex(u32(0x80000003) + u32(0x80000001) + '20' + '00'), nodeDeflate(3, rawBlock(3, [['a', 'b']]))]))
  const fr = decode(3, r)[0] as Extract<Frame, { type: 'SYN_STREAM' }>
  t.same([fr.streamId, fr.associatedStreamId, fr.priority], [3, 1, 1])

  // Our encoder writes the same fixed fields (its header block differs: another deflater).
  for (const [v, f, prefix] of [[2, f2, v2], [3, f3, v3]] as const) {
    const ours = Buffer.from(new FrameEncoder({ version: v }).encode(f))
    t.same(ours.subarray(0, 5), prefix.subarray(0, 5), `v${v} control header and flags`)
    t.same(ours.subarray(8, 18), prefix.subarray(8, 18), `v${v} ids, priority, slot`)
    t.same(decode(v, ours), [f], `v${v} round trip`)
  }
})

t.test('SYN_REPLY and HEADERS: SPDY/2 has 2 unused bytes before the block, v3 none (sections 2.6.2, 2.6.7)', async (t) => {
  const b2 = nodeDeflate(2, rawBlock(2, [['status', '200 OK'], ['version', 'HTTP/1.1']]))
  const v2 = control(2, 2, 0x01, Buffer.concat([hex(u32(1) + '0000'), b2]))
  t.same(decode(2, v2), [{ type: 'SYN_REPLY', streamId: 1, fin: true, headers: [['status', '200 OK'], ['version', 'HTTP/1.1']] }])
  const h2 = control(2, 8, 0x00, Buffer.concat([hex(u32(1) + '0000'), nodeDeflate(2, rawBlock(2, [['x-a', 'b']]))]))
  t.same(decode(2, h2), [{ type: 'HEADERS', streamId: 1, fin: false, headers: [['x-a', 'b']] }])
  const b3 = nodeDeflate(3, rawBlock(3, [[':status', '200 OK'], ['set-cookie', 'a=1\0b=2']]))
  const v3 = control(3, 2, 0x00, Buffer.concat([hex(u32(9)), b3]))
  t.same(decode(3, v3), [{ type: 'SYN_REPLY', streamId: 9, fin: false, headers: [[':status', '200 OK'], ['set-cookie', 'a=1\0b=2']] }], 'NUL-separated values kept as on the wire')
  const enc2 = Buffer.from(new FrameEncoder({ version: 2 }).encode({ type: 'SYN_REPLY', streamId: 1, fin: true, headers: [['status', '200 OK']] }))
  t.same(enc2.subarray(0, 5), hex('8002 0002 01'))
  t.same(enc2.subarray(8, 14), hex(u32(1) + '0000'), 'we write the 2 unused bytes in v2')
})

t.test('RST_STREAM: status codes (section 2.6.3)', async (t) => {
  for (const v of [2, 3] as const) {
    const bytes = control(v, 3, 0, hex(u32(5) + u32(v === 2 ? 7 : 11)))
    const f = { type: 'RST_STREAM', streamId: 5, status: v === 2 ? 7 : 11 } as const
    t.same(decode(v, bytes), [f])
    t.same(Buffer.from(new FrameEncoder({ version: v }).encode(f)), bytes)
  }
})

t.test('SETTINGS: v2 little-endian id then flags; v3 flags then big-endian id; per-setting flags and CLEAR (section 2.6.4)', async (t) => {
  // SPDY/2 as Chrome wrote it: id 4 (MAX_CONCURRENT_STREAMS) as 04 00 00, then flags 01 (PERSIST_VALUE).
  const v2 = control(2, 4, 0x01, hex(u32(2) + '040000' + '01' + u32(100) + '070000' + '02' + u32(65536)))
  const f2: Frame = { type: 'SETTINGS', clearSettings: true, entries: [{ id: 4, flags: 1, value: 100 }, { id: 7, flags: 2, value: 65536 }] }
  t.same(decode(2, v2), [f2])
  t.same(Buffer.from(new FrameEncoder({ version: 2 }).encode(f2)), v2)
  const v3 = control(3, 4, 0x00, hex(u32(2) + '01' + '000004' + u32(100) + '02' + '000007' + u32(0xffffffff)))
  const f3: Frame = { type: 'SETTINGS', clearSettings: false, entries: [{ id: 4, flags: 1, value: 100 }, { id: 7, flags: 2, value: 0xffffffff }] }
  t.same(decode(3, v3), [f3])
  t.same(Buffer.from(new FrameEncoder({ version: 3 }).encode(f3)), v3)
  const bad = decode(3, control(3, 4, 0, hex(u32(2) + '01000004' + u32(1))))
  t.equal(bad.length, 1)
  t.type((bad[0] as { error: unknown }).error, SessionProtocolError, 'a count that does not match the length ends the session')
})

t.test('NOOP exists in v2 only; in v3 type 5 is an unknown type, ignored (section 2.2.1)', async (t) => {
  const noop = hex('8002 0005 00 000000')
  t.same(decode(2, noop), [{ type: 'NOOP' }])
  t.same(Buffer.from(new FrameEncoder({ version: 2 }).encode({ type: 'NOOP' })), noop)
  t.same(decode(3, hex('8003 0005 00 000000')), [{ type: 'UNKNOWN', controlType: 5, flags: 0, length: 0 }])
})

t.test('PING, GOAWAY (4 bytes in v2, 8 with a status in v3), WINDOW_UPDATE (v3 only)', async (t) => {
  const ping = control(3, 6, 0, hex('fffffffe'))
  t.same(decode(3, ping), [{ type: 'PING', id: 0xfffffffe }])
  t.same(Buffer.from(new FrameEncoder({ version: 3 }).encode({ type: 'PING', id: 0xfffffffe })), ping)
  const g2 = control(2, 7, 0, hex(u32(5)))
  t.same(decode(2, g2), [{ type: 'GOAWAY', lastGoodStreamId: 5, status: 0 }])
  t.same(Buffer.from(new FrameEncoder({ version: 2 }).encode({ type: 'GOAWAY', lastGoodStreamId: 5, status: 0 })), g2)
  const g3 = control(3, 7, 0, hex(u32(5) + u32(2)))
  t.same(decode(3, g3), [{ type: 'GOAWAY', lastGoodStreamId: 5, status: 2 }])
  t.same(Buffer.from(new FrameEncoder({ version: 3 }).encode({ type: 'GOAWAY', lastGoodStreamId: 5, status: 2 })), g3)
  const w = control(3, 9, 0, hex(u32(0) + u32(0x7fffffff)))
  t.same(decode(3, w), [{ type: 'WINDOW_UPDATE', streamId: 0, deltaWindowSize: 0x7fffffff }], 'stream 0 is the SPDY/3.1 session window')
  t.same(Buffer.from(new FrameEncoder({ version: 3 }).encode({ type: 'WINDOW_UPDATE', streamId: 0, deltaWindowSize: 0x7fffffff })), w)
  t.same(decode(2, control(2, 9, 0, hex(u32(1) + u32(1)))), [{ type: 'UNKNOWN', controlType: 9, flags: 0, length: 8 }], 'no WINDOW_UPDATE in draft 2')
})

t.test('CREDENTIAL (v3 section 2.6.9) is parsed for its slot and ignored; unknown types are skipped', async (t) => {
  const cred = control(3, 10, 0, hex('0003' + u32(4) + 'deadbeef' + u32(2) + 'abcd'))
  t.same(decode(3, Buffer.concat([cred, control(3, 0xff, 0x42, hex('0102')), control(3, 6, 0, hex(u32(1)))])), [
    { type: 'CREDENTIAL', slot: 3 },
    { type: 'UNKNOWN', controlType: 0xff, flags: 0x42, length: 2 },
    { type: 'PING', id: 1 }
  ])
})

t.test('a control frame of another version: UNSUPPORTED_VERSION for a SYN_STREAM, then the session ends (section 2.4.1)', async (t) => {
  const d = new FrameDecoder({ version: 3 })
  const syn2 = control(2, 1, 0, Buffer.concat([hex(u32(1) + u32(0) + '0000'), nodeDeflate(2, rawBlock(2, [['method', 'GET']]))]))
  const ev = d.push(syn2)
  t.equal(ev.length, 2)
  t.equal(ev[0].type, 'STREAM_ERROR')
  const se = (ev[0] as { error: UnsupportedVersionError }).error
  t.type(se, UnsupportedVersionError)
  t.same([se.streamId, se.status], [1, 4])
  t.equal(ev[1].type, 'SESSION_ERROR')
  t.same(d.push(hex('8003 0006 00 000004 00000001')), [], 'dead after a session error')
  const ev2 = new FrameDecoder({ version: 2 }).push(control(3, 6, 0, hex(u32(1))))
  t.same(ev2.map((e) => e.type), ['SESSION_ERROR'], 'a PING of another version ends the session')
})

t.test('the encoder refuses a payload that does not fit the 24-bit length field instead of corrupting the flags', async (t) => {
  const enc = new FrameEncoder({ version: 3 })
  t.throws(() => enc.encodeDataHeader(1, true, 0x1000000), RangeError)
  t.throws(() => enc.encode({ type: 'DATA', streamId: 1, fin: false, data: new Uint8Array(0x1000000) }), RangeError)
  t.same(Buffer.from(enc.encodeDataHeader(1, true, 0xffffff)), hex('00000001 01 ffffff'))
})
