/**
 * The decoder reuses the strings of names and values it decoded before (StringCache in lib/codec/decoder.ts): these
 * blocks, compressed on one context by Node's zlib as a peer would, are built to land on the same cache slot
 * (same length and same first, middle and last bytes) while differing elsewhere, so a cache that trusted its slot
 * without comparing every byte would hand back the other string.
 */
import t from 'tap'
import * as zlib from 'node:zlib'
import { FrameDecoder, DICTIONARY_V3, type DecodeEvent } from '../../lib/codec'
import { RstStatus } from '../../lib/errors'

const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b }
const rawBlock = (pairs: Array<[string, string]>): Buffer =>
  Buffer.concat([u32(pairs.length), ...pairs.flatMap(([k, v]) => [u32(k.length), Buffer.from(k, 'latin1'), u32(v.length), Buffer.from(v, 'latin1')])])

function synStream (id: number, block: Buffer): Buffer {
  const payload = Buffer.concat([u32(id), u32(0), Buffer.from([0, 0]), block])
  const h = Buffer.alloc(8)
  h.writeUInt16BE(0x8003, 0); h.writeUInt16BE(1, 2); h.writeUInt32BE(payload.length, 4)
  return Buffer.concat([h, payload])
}

/** One peer compression context (SPDY/3 section 2.6.10.1), each block ended with Z_SYNC_FLUSH. */
function peer (): (raw: Buffer) => Promise<Buffer> {
  const def = zlib.createDeflate({ dictionary: DICTIONARY_V3 })
  let parts: Buffer[] = []
  def.on('data', (b: Buffer) => parts.push(b))
  return async (raw) => {
    def.write(raw)
    await new Promise<void>((resolve) => def.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()))
    const out = Buffer.concat(parts)
    parts = []
    return out
  }
}

const headersOf = (ev: DecodeEvent): Array<[string, string]> => {
  if (ev.type !== 'SYN_STREAM') throw new Error(`expected SYN_STREAM, got ${ev.type}`)
  return ev.headers
}

t.test('strings that share a cache slot come back as sent, block after block', async (t) => {
  // Length 12, first and last 'p', middle (index 6) 'q': they differ only at index 5.
  const a = 'pqqqqqqqqqqp'
  const b = 'pqqqqrqqqqqp'
  t.equal(a.length, b.length)
  const compress = peer()
  const d = new FrameDecoder({ version: 3 })
  const sequence = [a, b, b, a, a, b, a]
  for (let i = 0; i < sequence.length; i++) {
    const v = sequence[i]
    const other = v === a ? b : a
    // The same string as a name and as a value, next to its twin.
    const pairs: Array<[string, string]> = [[':method', 'GET'], [':path', `/${i}`], [v, other], ['x-twin', v]]
    const events = d.push(synStream(2 * i + 1, await compress(rawBlock(pairs))))
    t.equal(events.length, 1)
    t.same(headersOf(events[0]), pairs, `block ${i}`)
  }
})

t.test('duplicate names are refused in small blocks (scan) and large ones (set)', async (t) => {
  const compress = peer()
  const d = new FrameDecoder({ version: 3 })
  for (const count of [3, 40]) {
    const pairs: Array<[string, string]> = Array.from({ length: count }, (_, i) => [`h${i}`, 'v'])
    pairs.push([`h${count - 2}`, 'again'])
    const [ev] = d.push(synStream(count * 2 + 1, await compress(rawBlock(pairs))))
    t.equal(ev.type, 'STREAM_ERROR', `${count + 1} pairs`)
    if (ev.type === 'STREAM_ERROR') {
      t.equal(ev.error.status, RstStatus.PROTOCOL_ERROR)
      t.match(ev.error.message, `duplicate header name h${count - 2}`)
    }
    // Not duplicates: the same count of distinct names decodes.
    const fine = Array.from({ length: count + 1 }, (_, i): [string, string] => [`h${i}`, 'v'])
    t.same(headersOf(d.push(synStream(count * 2 + 3, await compress(rawBlock(fine))))[0]), fine)
  }
})

t.test('a cached value is no pass for the same bytes as a name, and a refused block caches nothing', async (t) => {
  const compress = peer()
  const d = new FrameDecoder({ version: 3 })
  const ok = [[':method', 'GET'], ['x-kind', 'Mixed']] as Array<[string, string]>
  t.same(headersOf(d.push(synStream(1, await compress(rawBlock(ok))))[0]), ok)
  // "Mixed" was a fine value; as a name its capital letter breaks SPDY/3 section 2.6.10.
  for (const id of [3, 5]) {
    const [ev] = d.push(synStream(id, await compress(rawBlock([['Mixed', 'v']]))))
    t.equal(ev.type, 'STREAM_ERROR', `uppercase name, stream ${id}`)
    if (ev.type === 'STREAM_ERROR') t.match(ev.error.message, 'lowercase')
  }
  // An empty value between NULs is refused every time it comes, not only the first.
  for (const id of [7, 9]) {
    const [ev] = d.push(synStream(id, await compress(rawBlock([['x-list', 'a\0\0b']]))))
    t.equal(ev.type, 'STREAM_ERROR', `doubled NUL, stream ${id}`)
    if (ev.type === 'STREAM_ERROR') t.match(ev.error.message, 'empty value between NULs')
  }
  const multi = [['x-list', 'a\0b']] as Array<[string, string]>
  t.same(headersOf(d.push(synStream(11, await compress(rawBlock(multi))))[0]), multi)
})
