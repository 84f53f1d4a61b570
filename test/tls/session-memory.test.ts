/**
 * Cached sessions own their bytes (issue 12): a master secret used to be a 48-byte slice of Node's shared 8 KiB
 * Buffer pool, and the session cache kept it, with the whole pool, for 2 hours. Measured here as growth of
 * process.memoryUsage().arrayBuffers (the memory behind Buffers, outside the JS heap) across garbage collections.
 */
import t from 'tap'
import * as crypto from 'node:crypto'
import * as v8 from 'node:v8'
import * as vm from 'node:vm'
import { TlsServerConnection, TlsServerOptions, serverContext } from '../../lib/tls/server'
import { TlsClientConnection } from '../../lib/tls/client'
import { loadCertificate } from '../../lib/tls/certificates'
import { prf } from '../../lib/tls/crypto'
import { SessionCache, TicketKeys } from '../../lib/tls/session'
import { shuttle, testCerts } from './harness'

// tap runs each test file in a process of its own: turning on --expose-gc here affects this file only.
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
const settle = (): NodeJS.MemoryUsage => { gc(); gc(); return process.memoryUsage() }

/** arrayBuffers and heap growth per session while `fill` runs `n` times (warm-up first, then measured). */
const perSession = (n: number, fill: (i: number) => void): { arrayBuffers: number, heap: number } => {
  for (let i = 0; i < 20; i++) fill(-1 - i)
  const before = settle()
  for (let i = 0; i < n; i++) fill(i)
  const after = settle()
  return { arrayBuffers: (after.arrayBuffers - before.arrayBuffers) / n, heap: (after.heapUsed - before.heapUsed) / n }
}

t.test('10,000 sessions cached as the server caches them (prf master secret): <= 1 KB of arrayBuffers each', async (t) => {
  const cache = new SessionCache(20_000)
  const tickets = new TicketKeys(undefined)
  const premaster = crypto.randomBytes(48)
  const m = perSession(10_000, (i) => {
    // what onClientKeyExchange derives and onFinished caches, with the same calls; the ticket sealed from it too
    const master = prf('sha256', premaster, 'extended master secret', crypto.randomBytes(32), 48)
    const state = { master, suiteId: 0xc02f, version: 0x0303, ems: true, servername: 'localhost', created: 0 }
    cache.set(crypto.randomBytes(32), state)
    tickets.seal(state, 0)
    if (i === 0) t.equal(master.buffer.byteLength <= 64, true, `prf output owns its memory (${master.buffer.byteLength} bytes)`)
  })
  t.equal(cache.size, 10_020)
  t.ok(m.arrayBuffers <= 1024, `arrayBuffers ${m.arrayBuffers.toFixed(0)} B per cached session`)
  t.comment(`per session: arrayBuffers ${m.arrayBuffers.toFixed(0)} B, heap ${m.heap.toFixed(0)} B`)
})

t.test('1,000 full handshakes of our server: the session cache holds <= 1 KB of arrayBuffers each', async (t) => {
  const certs = testCerts()
  const opts: TlsServerOptions = { certificates: [loadCertificate(certs.ec)] }
  const ctx = serverContext(opts, Date.now())
  let done = 0
  const m = perSession(1000, (i) => {
    const s = new TlsServerConnection(opts, Date.now())
    const ev = shuttle(new TlsClientConnection({ insecure: true, groups: ['x25519', 'P-256'] }, Date.now()), s)
    if (i >= 0 && ev.b.some((e) => e.type === 'handshake')) done++
  })
  t.equal(done, 1000, 'every handshake finished')
  t.equal(ctx.sessions.size, 1020, 'and was cached')
  t.ok(m.arrayBuffers <= 1024, `arrayBuffers ${m.arrayBuffers.toFixed(0)} B per cached session`)
  t.comment(`per session: arrayBuffers ${m.arrayBuffers.toFixed(0)} B, heap ${m.heap.toFixed(0)} B`)
})
