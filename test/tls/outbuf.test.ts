/**
 * WrittenSlabs over a real loopback socket whose reader has stopped: writes go asynchronous and libuv holds the
 * pooled buffers until the kernel takes them. Each flush happens in its own turn of the event loop (as a streaming
 * response's writes do), so a buffer given back before its write callback would be handed out again and
 * overwritten while still queued. The reader then drains everything and checks every block.
 */
import t from 'tap'
import * as net from 'node:net'
import { SLAB_BYTES, takeOutputBuffer, WrittenSlabs } from '../../lib/tls/outbuf'

t.test('pooled buffers come back only after the socket wrote them', async (t) => {
  const ROUNDS = 200 // 200 x 64 KB = 13 MB: more than loopback's socket buffers hold, so writes queue in libuv
  let received: Buffer[] = []
  let serverSide: net.Socket | null = null
  const server = net.createServer((s) => {
    serverSide = s
    s.pause()
    s.on('data', (b: Buffer) => received.push(b))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  await new Promise((resolve) => sock.once('connect', resolve))
  const slabs = new WrittenSlabs()
  let queued = 0
  let untracked = 0
  for (let r = 0; r < ROUNDS; r++) {
    const buf = takeOutputBuffer(SLAB_BYTES)
    buf.fill(r & 0xff)
    const written = slabs.track([buf])
    if (written === undefined) untracked++
    if (!sock.write(buf, written)) queued++
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.equal(untracked, 0, 'every flush of pooled buffers got a write callback')
  t.ok(queued > 0, `writes went asynchronous (${queued} of ${ROUNDS} over the high-water mark)`)
  const done = new Promise((resolve) => serverSide?.once('end', resolve))
  sock.end()
  serverSide!.resume()
  await done
  const all = Buffer.concat(received)
  received = []
  t.equal(all.length, ROUNDS * SLAB_BYTES)
  let bad = 0
  for (let r = 0; r < ROUNDS; r++) {
    const block = all.subarray(r * SLAB_BYTES, (r + 1) * SLAB_BYTES)
    if (block.some((x) => x !== (r & 0xff))) bad++
  }
  t.equal(bad, 0, 'every block arrived as written')
  t.equal(slabs.track([Buffer.alloc(10)]), undefined, 'a flush with no pooled buffer needs no callback')
})
