/**
 * Slow peers (issue 11): a frame header then silence, a ClientHello a byte at a time, a 2^24-1 DATA frame trickled.
 * Every case checks that the process lives, that a normal client on another connection is served before, during
 * and after, that the server's RSS stays under the stated bound, and that every attacker connection got its
 * protocol answer or was cut (harness.ts runAttack; the server runs in a child process). No timed assertions: the
 * deadlines are short so each case settles in seconds, and the waits are bounds, not expectations.
 */
import t from 'tap'
import { runAttack, settle, sleep, openSockets, spdyAnswer, anyBytes } from './harness'
import { clientHello } from './attack-bytes'

t.test('a frame header announcing 60,000 bytes, then silence, on 300 connections', async (t) => {
  const header = Buffer.from([0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0xea, 0x60]) // SYN_STREAM, length 60000
  await runAttack(t, {
    spdy: { idleTimeout: 1000 },
    rssBoundMB: 96,
    attack: async (port) => settle(await openSockets(port, 300, (s) => s.write(header)), 15_000, spdyAnswer)
  })
})

t.test('a ClientHello sent a byte every 50 ms, 20 connections', async (t) => {
  const hello = await clientHello()
  await runAttack(t, {
    tls: true,
    spdy: { handshakeTimeout: 1000 },
    rssBoundMB: 32,
    attack: async (port) => {
      const socks = await openSockets(port, 20, () => {})
      // Trickles until the server cuts each one (bounded: the whole hello at most, ~15 s).
      void Promise.all(socks.map(async (s) => {
        for (let i = 0; i < hello.length && !s.destroyed && !s.closed; i++) { s.write(hello.subarray(i, i + 1)); await sleep(50) }
      }))
      return await settle(socks, 15_000, anyBytes)
    }
  })
})

t.test('a DATA frame of 2^24-1 bytes trickled 1 KB at a time, 20 connections', async (t) => {
  const header = Buffer.from([0x00, 0x00, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff]) // DATA stream 1, length 16 MiB - 1
  const chunk = Buffer.alloc(1024, 0x61)
  await runAttack(t, {
    spdy: { idleTimeout: 1000 },
    rssBoundMB: 32,
    attack: async (port) => {
      const socks = await openSockets(port, 20, (s) => s.write(header))
      const end = Date.now() + 2000
      while (Date.now() < end) { for (const s of socks) if (!s.destroyed) s.write(chunk); await sleep(20) }
      // Then silence: the idle deadline cuts what the frame's answer did not.
      return await settle(socks, 15_000, spdyAnswer)
    }
  })
})

