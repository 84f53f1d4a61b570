/**
 * A stream's outbound DATA queue under many small writes (a route writing one small chunk at a time): every byte
 * goes out once, in write order, FIN on the last DATA frame, and taking the chunks is linear in their number: the
 * queue is read by a head index (lib/session/session.ts takeFrame), counted here as array entries moved (see
 * test/array-moves.ts), not timed.
 */
import t from 'tap'
import { SpdySession } from '../../lib/session'
import { FrameDecoder, FrameEncoder, type Frame } from '../../lib/codec'
import { requestHeaderList, responseHeaderList } from '../../lib/session/headers'
import { arrayMoves } from '../array-moves'

for (const V of [2, 3, 3.1] as const) {
  t.test(`spdy/${V}: 40,000 two-byte writes taken a slice at a time while the route tops up: in order, linear`, async (t) => {
    const wire = V === 2 ? 2 : 3
    const s = new SpdySession({ role: 'server', version: V }, 0)
    const peer = new FrameEncoder({ version: wire })
    const read = new FrameDecoder({ version: wire })
    const frames: Frame[] = []
    let moves = 0
    const take = (maxBytes?: number): number => {
      const r = arrayMoves(() => s.takeOutbound(maxBytes))
      moves += r.moves
      let n = 0
      for (const c of r.result) { n += c.length; for (const f of read.push(c)) frames.push(f as Frame) }
      return n
    }
    take()
    if (V !== 2) {
      // Windows wide open, so only takeOutbound's budget slices the queue (SPDY/3 section 2.6.8 SETTINGS id 7).
      s.receive(peer.encode({ type: 'SETTINGS', clearSettings: false, entries: [{ id: 7, flags: 0, value: 0x7fffffff }] }), 0)
      if (V === 3.1) s.receive(peer.encode({ type: 'WINDOW_UPDATE', streamId: 0, deltaWindowSize: 0x7fffffff - 65536 }), 0)
    }
    s.receive(peer.encode({ type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, fin: true, unidirectional: false, headers: requestHeaderList(V, { method: 'GET', path: '/', authority: 'x' }) }), 0)
    s.respond(1, responseHeaderList(V, 200, {}), false)
    const N = 40_000
    let written = 0
    const write = (count: number): void => {
      for (const end = Math.min(N, written + count); written < end; written++) {
        const c = new Uint8Array(2)
        c[0] = written >> 8
        c[1] = written & 0xff
        s.write(1, c)
      }
    }
    write(30_000)
    // Part of the queue at a time, with more writes in between: the head moves, the tail grows.
    while (written < N) { take(9_000); write(1_000) }
    s.end(1)
    while (take() > 0);

    const data = frames.filter((f): f is Extract<Frame, { type: 'DATA' }> => f.type === 'DATA' && f.streamId === 1)
    const body = Buffer.concat(data.map((f) => f.data))
    t.equal(body.length, 2 * N, 'every byte once')
    let inOrder = true
    for (let i = 0; i < N && inOrder; i++) inOrder = body.readUInt16BE(2 * i) === i
    t.ok(inOrder, 'in write order')
    t.ok(data.at(-1)?.fin, 'FIN on the last DATA frame')
    t.equal(data.filter((f) => f.fin).length, 1)
    t.ok(data.length > 10, `sliced into many frames (${data.length})`)
    t.ok(moves <= 2 * N, `array entries moved while taking: ${moves}, linear bound ${2 * N}`)
  })
}
