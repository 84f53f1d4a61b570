/**
 * Reading stops when output is not drained: peers that flood PINGs and never read are paused (the server stops
 * reading them once maxUnreadOutputBytes of answers wait in the socket) and then closed (unreadOutputTimeout with
 * no byte taken). Server in a child process so its RSS is its own. Bounds asserted are on outcomes and memory,
 * never on time.
 */
import t from 'tap'
import { spawnServer, pingFlood, normalGet, sleep } from '../hostile/harness'

const ATTACKERS = 10
/** RSS the attack may add to the server: 10 x 256 KiB held per peer, plus a read's answers, plus slack for GC. */
const RSS_BOUND = 64 << 20

for (const useTls of [false, true]) {
  t.test(`${useTls ? 'TLS' : 'plain'}: PING flood from ${ATTACKERS} peers that never read`, async (t) => {
    const s = await spawnServer({ tls: useTls, spdy: { unreadOutputTimeout: 500 } })
    t.teardown(s.close)
    t.equal(await normalGet(s.port, useTls), 200, 'served before')
    const before = await s.stats()
    const attacks = Array.from({ length: ATTACKERS }, () => pingFlood(s.port, { tls: useTls, ms: 30_000, maxBytes: 256 << 20 }))
    await sleep(500)
    t.equal(await normalGet(s.port, useTls), 200, 'a normal client on another connection is served during the flood')
    const results = await Promise.all(attacks)
    const after = await s.stats()
    t.ok(s.alive(), 'server process lives')
    const sent = results.reduce((n, r) => n + r.sent, 0)
    t.equal(results.filter((r) => r.cut).length, ATTACKERS, `every attacker was cut (they sent ${(sent / 2 ** 20).toFixed(0)} MB in all)`)
    const grew = after.peakRss - before.rss
    t.ok(grew < RSS_BOUND, `server RSS grew by ${(grew / 2 ** 20).toFixed(1)} MB (bound ${RSS_BOUND / 2 ** 20} MB)`)
    t.equal(await normalGet(s.port, useTls), 200, 'served after')
  })
}
