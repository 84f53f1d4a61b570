/**
 * HTTPS/1.1 pipelining behind an unread 8 MiB response (issue 11: 400 MB of pipelined GETs were accepted on one
 * connection, RSS 596 MB). The bridge stops reading the TLS socket while the app's server does not take requests
 * (lib/server/http1-bridge.ts), and a peer that reads nothing is closed (unreadOutputTimeout, short here).
 * The checks are runAttack's: process lives, a normal client served before/during/after, RSS under the bound, every
 * attacker connection cut. No timed assertions.
 */
import t from 'tap'
import { runAttack, pipelineFlood, cutOutcome } from './harness'

t.test('HTTPS/1.1: 5 connections pipelining GETs behind an unread 8 MiB response', async (t) => {
  await runAttack(t, {
    // Our TLS engine and its bridge to the app's HTTP server (as an NPN client that falls back gets): a client that
    // offers only ALPN gets OpenSSL, whose TLS socket Node's HTTP server reads itself with its own backpressure.
    tls: 'engine',
    spdy: { unreadOutputTimeout: 500 },
    // Each connection holds its 8 MiB response twice (the app's buffer, then sealed in the socket) until cut, and
    // Node's HTTP parser takes every request of the last socket read before it pauses (~1,700 of these GETs per
    // 64 KB, each a request and reply queued behind the big one): measured 139 MB for 5 on Node 20 and up to 169 MB
    // on Node 24, against 596 MB for one connection before. About 50 MB per connection.
    rssBoundMB: 256,
    attack: async (port) => cutOutcome(await Promise.all(Array.from({ length: 5 }, () => pipelineFlood(port, { ms: 30_000, maxBytes: 64 << 20 }))))
  })
})
