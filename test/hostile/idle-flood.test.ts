/**
 * Idle floods (issue 11): 1,500 connections that send nothing against maxSessions 300, plain and TLS. The oldest
 * idle ones make room for new clients (listener.ts), the rest are cut by handshakeTimeout.
 * Every case checks that the process lives, that a normal client on another connection is served before, during
 * and after, that the server's RSS stays under the stated bound, and that every attacker connection got its
 * protocol answer or was cut (harness.ts runAttack; the server runs in a child process). No timed assertions: the
 * deadlines are short so each case settles in seconds, and the waits are bounds, not expectations.
 */
import t from 'tap'
import { runAttack, settle, openSockets } from './harness'

for (const useTls of [false, true]) {
  t.test(`${useTls ? 'TLS' : 'plain'}: 1,500 idle connections against maxSessions 300`, async (t) => {
    await runAttack(t, {
      tls: useTls,
      spdy: { maxSessions: 300, handshakeTimeout: 1000 },
      rssBoundMB: 64,
      attack: async (port) => settle(await openSockets(port, 1500, () => {}), 15_000)
    })
  })
}

