/**
 * What bench/pageload.ts's explanations are computed from: the slow-start delivery model behind its "why, in round
 * trips" lines (worked by hand), and the shaper's TLS record tally behind its repeat-visit bytes by kind, checked on
 * a real Node TLS connection through the shaper (every byte down is in some record, the records are the ones sent).
 */
import t from 'tap'
import tls from 'node:tls'
import type net from 'node:net'
import { deliveryRtts, judgeFirstVisit, roundTripWhy, verdictText, type Cell } from '../../bench/pageload'
import { startShaper } from '../../bench/shaper'
import { generateSelfSigned } from '../../lib/tls/certificates'

t.test('deliveryRtts: IW10 windows doubling, each round at least its serialisation', async (t) => {
  // 29,000 B at RTT 100 ms, 5 Mbit/s (62,500 B per RTT): 14,600 in the first window (a whole round trip, the
  // rest still to come), 14,400 in the second (0.2304 RTT of serialisation).
  const fast = deliveryRtts(29_000, 1, 100, 5)
  t.equal(fast.windows, 2)
  t.ok(Math.abs(fast.rtts - 1.2304) < 1e-9, `${fast.rtts}`)
  t.ok(Math.abs(fast.serial - 0.464) < 1e-9)
  // At 1 Mbit/s (12,500 B per RTT) the link, not the window, is the limit: delivery is the serialisation.
  const slow = deliveryRtts(29_000, 1, 100, 1)
  t.ok(Math.abs(slow.rtts - 2.32) < 1e-9 && Math.abs(slow.serial - 2.32) < 1e-9, `${slow.rtts}`)
  // Five connections open five windows at once: the same bytes in one round.
  t.equal(deliveryRtts(29_000, 5, 100, 5).windows, 1)
  t.same(deliveryRtts(0, 1, 100, 5), { windows: 0, rtts: 0, serial: 0 })
})

t.test('roundTripWhy: push\'s floor against what the goal allows, from the cell\'s own figures', async (t) => {
  // The chain page at RTT 100 ms, 5 Mbit/s as a run measured it: push 530 ms with 29,082 B down on 1 connection,
  // Chromium h1 910 ms with 30,208 B over 4.
  const sample = (ms: number, bytesDown: number, connections: number): unknown => ({ ms, bytesDown, connections, handshakes: null, requestMs: null, protocol: null })
  const cell = { page: { path: '/demo/chain' }, rtt: 100, mbps: 5, samples: new Map([['push', [sample(530, 29_082, 1)]], ['chromium-h1', [sample(910, 30_208, 4)]]]) } as unknown as Cell
  const why = roundTripWhy(cell, 'chromium-h1', 0.45, 11)
  // 0.45 x 9.1 = 4.1 allowed; floor 3 + deliveryRtts(29,082, 1, 100, 5) = 3 + 1 + 14,482 / 62,500 = 4.2.
  t.match(why, /the goal allows 0\.45 x 9\.1 = 4\.1 RTTs/)
  t.match(why, /\+ 1\.2 to deliver its 28\.4 KiB down on one connection = 4\.2 RTTs, measured 5\.3: above what the goal allows before any CPU/)
  t.match(why, /0\.5 RTTs are the bytes' serialisation at 5 Mbit\/s, which no protocol saves, and 0\.8 slow start: 2 windows from IW10/)
  t.match(why, /Chromium HTTPS\/1\.1's 4 connections opened 4 x IW10 at once for its 29\.5 KiB \(1 window,/)
  // With room under the goal, the rest is named as CPU or scheduling, not round trips.
  const roomy = roundTripWhy({ ...cell, samples: new Map([['push', [sample(520, 29_082, 1)]], ['chromium-h1', [sample(2000, 30_208, 4)]]]) } as unknown as Cell, 'chromium-h1', 0.45, 11)
  t.match(roomy, /under what the goal allows with push's own CPU \(0\.1 RTTs unshaped\)/)
})

t.test('judgeFirstVisit: met only where both the raw and the CPU-corrected ratio are within the goal', async (t) => {
  // Made-up cells, ms. Chromium's CPU large, ours small: raw 400 / 1000 = 0.40 meets 0.45, but with each client's
  // unshaped time out, (400 - 16) / (1000 - 200) = 0.48 does not: Chromium's CPU carried the raw ratio.
  const carried = judgeFirstVisit({ shaped: 400, unshaped: 16 }, { shaped: 1000, unshaped: 200 }, 0.45)
  t.ok(Math.abs(carried.raw - 0.4) < 1e-9 && Math.abs(carried.corrected! - 0.48) < 1e-9, JSON.stringify(carried))
  t.equal(carried.met, false)
  t.match(verdictText(carried), /^raw 0\.40x, CPU-corrected 0\.48x \(goal 0\.45x\): not met$/)
  // Both within: met.
  const both = judgeFirstVisit({ shaped: 400, unshaped: 20 }, { shaped: 1000, unshaped: 100 }, 0.45)
  t.equal(both.met, true, `${both.raw} ${both.corrected}`)
  t.match(verdictText(both), /: met$/)
  // Our CPU large, the anchor's small: corrected (400 - 150) / (600 - 10) = 0.42 is within 0.45, raw 0.67 is not.
  const ours = judgeFirstVisit({ shaped: 400, unshaped: 150 }, { shaped: 600, unshaped: 10 }, 0.45)
  t.ok(ours.corrected! < 0.45 && ours.raw > 0.45)
  t.equal(ours.met, false, 'our own CPU does not carry it either')
  // The anchor's unshaped time is all of its shaped time: no link time to compare, not met.
  const fast = judgeFirstVisit({ shaped: 50, unshaped: 10 }, { shaped: 180, unshaped: 200 }, 0.9)
  t.equal(fast.corrected, null)
  t.equal(fast.met, false)
  t.match(verdictText(fast), /CPU-corrected n\/a .*: not met$/)
})

t.test('roundTripWhy with the anchor\'s unshaped time: the link time the goal allows', async (t) => {
  const sample = (ms: number, bytesDown: number, connections: number): unknown => ({ ms, bytesDown, connections, handshakes: null, requestMs: null, protocol: null })
  // Post-like cell at RTT 100 ms, 5 Mbit/s: push 410 ms (16,600 B, 1 connection), Chromium h1 930 ms (20,800 B over
  // 6) of which 250 ms unshaped. Raw: 0.45 x 9.3 = 4.2 RTTs allowed, push's floor 3 + 1.0 = 4.0 is under it; link
  // time: 0.45 x (9.3 - 2.5) = 3.1 RTTs, under the floor.
  const cell = { page: { path: PAGE_POST }, rtt: 100, mbps: 5, samples: new Map([['push', [sample(410, 16_600, 1)]], ['chromium-h1', [sample(930, 20_800, 6)]]]) } as unknown as Cell
  const why = roundTripWhy(cell, 'chromium-h1', 0.45, 20, 250)
  t.match(why, /the goal allows 0\.45 x 9\.3 = 4\.2 RTTs, or 3\.1 RTTs of link time with each client's unshaped time taken out \(0\.45 x \(9\.3 - 2\.5\)\)/)
  t.match(why, /under the raw allowance, but above the 3\.1 RTTs of link time it allows once Chromium HTTPS\/1\.1's own 2\.5 RTTs unshaped are out/)
  // Without the anchor's unshaped time only the raw allowance is named.
  t.notMatch(roundTripWhy(cell, 'chromium-h1', 0.45, 20), /link time/)
})

const PAGE_POST = '/posts/2012-08-20-server-push'

t.test('shaper: the down direction tallied by TLS record type, every byte in a record', async (t) => {
  const { cert, key } = generateSelfSigned({ commonName: 'localhost' })
  const server = tls.createServer({ cert, key, maxVersion: 'TLSv1.2' }, (s) => {
    s.setNoDelay(true)
    // Three writes, each in its own tick: Node's TLS seals each into its own application-data record.
    s.write('a'.repeat(100))
    setTimeout(() => { s.write('b'.repeat(200)); setTimeout(() => s.end('c'.repeat(300)), 20) }, 20)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const shaper = await startShaper({ targetPort: (server.address() as net.AddressInfo).port, rttMs: 2, mbps: 1000 })
  t.teardown(async () => { await shaper.close(); server.close() })
  const got = await new Promise<number>((resolve, reject) => {
    let n = 0
    const c = tls.connect({ host: '127.0.0.1', port: shaper.port, rejectUnauthorized: false, maxVersion: 'TLSv1.2' })
    c.on('data', (d: Buffer) => { n += d.length })
    c.on('end', () => { c.end(); resolve(n) })
    c.on('error', reject)
  })
  t.equal(got, 600)
  await new Promise((resolve) => setTimeout(resolve, 50))
  const st = shaper.stats()
  const r = st.recordsDown
  t.equal(r.handshake.bytes + r.ccs.bytes + r.alert.bytes + r.data.bytes + r.other.bytes, st.bytesDown, 'every byte down is in a record')
  t.equal(r.other.records, 0)
  t.equal(r.ccs.records, 1, 'one ChangeCipherSpec from the server')
  t.ok(r.handshake.records >= 2, 'server hello flight and Finished')
  t.equal(r.data.records, 3, 'the three writes')
  // AES-GCM in TLS 1.2: 5-byte header, 8-byte explicit nonce, 16-byte tag around each record's plaintext.
  t.equal(r.data.bytes, 600 + 3 * 29)
  t.equal(r.alert.records, 1, 'close_notify')
})
