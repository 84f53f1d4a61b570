/**
 * PING floods from peers that never read (issue 11), over plain SPDY and TLS. Before issue 11, 10 PING flooders
 * took the server to 1 GB and 150 to 2.6 GB. The session counts the replies it owes a peer, queued or handed to a
 * socket that has not written them (SpdySession.transportBacklog), against maxQueuedControlFrames, and past it sends
 * GOAWAY and the connection is closed: unreadOutputTimeout is 10 minutes here, so every cut seen is the session's.
 * Every case checks that the process lives, that a normal client on another connection is served before, during
 * and after, that the server's RSS stays under the stated bound, and that every attacker connection was cut
 * (harness.ts runAttack; the server runs in a child process). No timed assertions.
 */
import t from 'tap'
import { runAttack, pingFlood, cutOutcome } from './harness'

/**
 * 10 flooders. With 30 on this 2-core machine, before the session's budget, the server spent its CPU answering the
 * ~8 MB of PINGs each peer's kernel buffers absorb before a pause can happen, and a normal GET waited past 10 s.
 */
const PINGERS = 10
/** Only the session can cut within the attack's bound (15 s): the driver's own deadline is out of reach. */
const NO_DRIVER_CUT = { unreadOutputTimeout: 600_000 }

for (const useTls of [false, true]) {
  t.test(`${useTls ? 'TLS' : 'plain'}: PING flood from ${PINGERS} peers that never read`, async (t) => {
    const r = await runAttack(t, {
      tls: useTls,
      spdy: NO_DRIVER_CUT,
      // 10 x 256 KiB held at most, plus a read's answers each; the rest is garbage from answering ~8 MB of PINGs
      // per peer before its kernel buffers fill (measured +31 MB plain, +50 MB TLS on Node 20; up to +123 MB on
      // Node 24, whose V8 lets the heap grow further before collecting; 1 GB before for 10 peers).
      rssBoundMB: 160,
      probeAfterMs: 500,
      attack: async (port) => cutOutcome(await Promise.all(Array.from({ length: PINGERS }, () => pingFlood(port, { tls: useTls, ms: 15_000, maxBytes: 256 << 20 }))))
    })
    t.equal(r.outcome.cut, PINGERS, 'every flooder was cut (by the session: unreadOutputTimeout is 10 minutes)')
  })
}

/**
 * A socket read carries at most 64 KiB, 5,461 PINGs: with maxQueuedControlFrames at 20,000 no single read can
 * trip the budget, so the flooders are cut only because the replies the socket holds unwritten keep counting.
 * maxUnreadOutputBytes is raised past those 20,000 replies (240 KB) so reading does not pause first. Without the
 * socket's backlog in the count, no flooder is cut within the bound (the driver would cut them after 10 minutes).
 */
for (const useTls of [false, 'engine'] as const) {
  t.test(`${useTls === false ? 'plain' : 'TLS (our engine)'}: replies the socket has not written count against the session's budget`, async (t) => {
    const flooders = 3
    const r = await runAttack(t, {
      tls: useTls,
      spdy: { ...NO_DRIVER_CUT, maxQueuedControlFrames: 20_000, maxUnreadOutputBytes: 2 << 20 },
      rssBoundMB: 160,
      probeAfterMs: 500,
      attack: async (port) => cutOutcome(await Promise.all(Array.from({ length: flooders }, () => pingFlood(port, { tls: useTls !== false, ms: 15_000, maxBytes: 256 << 20 }))))
    })
    t.equal(r.outcome.cut, flooders, 'every flooder was cut')
  })
}
