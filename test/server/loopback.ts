/**
 * A loopback net.Server for the driver tests (driver.test.ts, read-in-place.test.ts): `make` wraps each accepted
 * socket (a driver and its engine); next() resolves them in accept order.
 */
import type { Test } from 'tap'
import net from 'node:net'
import { once } from 'node:events'

export async function loopbackServer<S> (t: Test, make: (socket: net.Socket) => S): Promise<{ port: number, next: () => Promise<S> }> {
  const waiting: Array<(s: S) => void> = []
  const ready: S[] = []
  const srv = net.createServer((socket) => {
    const s = make(socket)
    const w = waiting.shift()
    if (w !== undefined) w(s); else ready.push(s)
  })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  t.teardown(() => { srv.close() })
  return {
    port: (srv.address() as net.AddressInfo).port,
    next: async () => await new Promise<S>((resolve) => { const s = ready.shift(); if (s !== undefined) resolve(s); else waiting.push(resolve) })
  }
}
