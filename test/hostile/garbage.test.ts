/**
 * Garbage (issue 11): 4 KB of random bytes on each of 300 connections, plain and TLS; the log stays within its
 * per-second budget however many connections misbehave.
 * Every case checks that the process lives, that a normal client on another connection is served before, during
 * and after, that the server's RSS stays under the stated bound, and that every attacker connection got its
 * protocol answer or was cut (harness.ts runAttack; the server runs in a child process). No timed assertions: the
 * deadlines are short so each case settles in seconds, and the waits are bounds, not expectations.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { runAttack, settle, openSockets, anyBytes } from './harness'

for (const useTls of [false, true]) {
  t.test(`${useTls ? 'TLS' : 'plain'}: 4 KB of random bytes on 300 connections`, async (t) => {
    let elapsed = 0
    const r = await runAttack(t, {
      tls: useTls,
      spdy: { idleTimeout: 1000, handshakeTimeout: 1000 },
      rssBoundMB: 64,
      attack: async (port) => {
        const start = Date.now()
        const out = await settle(await openSockets(port, 300, (s) => s.write(randomBytes(4096))), 15_000, anyBytes)
        elapsed = Date.now() - start
        return out
      }
    })
    // Log lines bounded by the per-second budget (default 100), whatever the number of bad connections.
    t.ok(r.stats.logLines <= 100 * (Math.ceil(elapsed / 1000) + 2), `${r.stats.logLines} log lines for 300 garbage connections`)
  })
}
