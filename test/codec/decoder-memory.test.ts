/**
 * FrameDecoder memory follows the bytes that arrive, not the length a frame header announces (issue 11: 64 KB was
 * reserved as soon as a header announced a large frame, so 5,000 sockets that sent 8 bytes each cost 356 MB).
 * Frames are laid out by hand (SPDY/3 section 2.2), not by our encoder.
 */
import t from 'tap'
import { FrameDecoder } from '../../lib/codec'

const dataHeader = (id: number, len: number, fin = false): Buffer => {
  const h = Buffer.alloc(8)
  h.writeUInt32BE(id, 0)
  h.writeUInt32BE((((fin ? 1 : 0) << 24) | len) >>> 0, 4)
  return h
}

t.test('a header announcing 1 MiB reserves nothing; a trickle holds at most twice what arrived', async (t) => {
  const len = 1 << 20
  const d = new FrameDecoder({ version: 3, maxFrameLength: len })
  t.same(d.push(dataHeader(1, len, true)), [], 'header alone: no frame yet')
  t.equal(d.pendingBytes, 0, 'nothing reserved for the announced megabyte')
  const payload = Buffer.alloc(len)
  for (let i = 0; i < len; i++) payload[i] = (i * 7) & 0xff
  let sent = 0
  for (; sent < 1000; sent++) {
    if (d.push(payload.subarray(sent, sent + 1)).length !== 0) break
    if (d.pendingBytes > 2 * (8 + sent + 1)) break
  }
  t.equal(sent, 1000, 'held bytes stayed within 2x of the bytes received, byte by byte')
  t.ok(d.pendingBytes <= 2 * 1008, `1000 payload bytes in: ${d.pendingBytes} bytes held`)
  const evs = d.push(payload.subarray(sent))
  t.equal(evs.length, 1)
  const f = evs[0]
  t.ok(f.type === 'DATA' && f.fin && f.streamId === 1 && Buffer.compare(Buffer.from(f.data), payload) === 0, 'the frame decodes intact')
  t.equal(d.pendingBytes, 0, 'released after the frame')
})

t.test('a header split over two reads, then the payload in one: one buffer of the frame size', async (t) => {
  const d = new FrameDecoder({ version: 3 })
  const frame = Buffer.concat([dataHeader(3, 5000), Buffer.alloc(5000, 0x61)])
  t.same(d.push(frame.subarray(0, 5)), [])
  t.same(d.push(frame.subarray(5, 8)), [])
  t.equal(d.pendingBytes, 0)
  t.same(d.push(frame.subarray(8, 1008)), [])
  t.equal(d.pendingBytes, 1008, 'exactly what arrived')
  const evs = d.push(frame.subarray(1008))
  t.ok(evs.length === 1 && evs[0].type === 'DATA' && evs[0].data.length === 5000)
})

t.test('a frame cut inside one read keeps only its arrived tail', async (t) => {
  const d = new FrameDecoder({ version: 3 })
  const first = Buffer.concat([dataHeader(1, 10), Buffer.alloc(10, 1), dataHeader(3, 900_000), Buffer.alloc(100, 2)])
  const evs = d.push(first)
  t.equal(evs.length, 1, 'the complete frame decodes')
  t.equal(d.pendingBytes, 108, 'the cut frame holds its 108 arrived bytes, not 64 KB')
  const done = d.push(Buffer.alloc(900_000 - 100, 2))
  t.ok(done.length === 1 && done[0].type === 'DATA' && done[0].data.length === 900_000)
})

t.test('5,000 decoders that each got 8 bytes announcing 1 MiB hold no payload memory', async (t) => {
  const before = process.memoryUsage().arrayBuffers
  const ds: FrameDecoder[] = []
  for (let i = 0; i < 5000; i++) {
    const d = new FrameDecoder({ version: 3 })
    d.push(dataHeader(1, 1 << 20))
    ds.push(d)
  }
  const grew = process.memoryUsage().arrayBuffers - before
  t.equal(ds.reduce((n, d) => n + d.pendingBytes, 0), 0)
  // Before the fix: 5,000 x 64 KiB = 320 MiB of array buffers.
  t.ok(grew < 5000 * 1024, `array buffers grew by ${(grew / 1024).toFixed(0)} KiB`)
})
