/**
 * Socket harness for tests and the CLI: pipes net.Sockets through our sans-IO engines on the same driver lib/server
 * and lib/client run on: data -> receive -> flush, one timer on `deadline`, end -> linger -> destroy.
 */
import * as net from 'node:net'
import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TlsServerConnection, TlsServerOptions } from '../../lib/tls/server'
import type { TlsEvent } from '../../lib/tls/engine'
import { EngineDriver } from '../../lib/server/engine-driver'

export interface Engine {
  receive: (b: Uint8Array, now: number) => TlsEvent[]
  takeOutbound: () => Uint8Array
  tick: (now: number) => TlsEvent[]
  readonly deadline: number | null
  write: (d: Uint8Array) => void
  close: () => void
}

/**
 * Drive one socket with one engine on the shared driver (lib/server/engine-driver.ts); `onEvent` may call
 * engine.write/close, the driver writes what they queued. A fatal error or close_notify ends the socket (our FIN,
 * then the driver's linger deadline).
 */
export const pipe = (socket: net.Socket, engine: Engine, onEvent: (e: TlsEvent, engine: Engine) => void): { flush: () => void } => {
  let over = false
  const driver = new EngineDriver(socket, engine, {
    events: (events) => {
      for (const e of events) {
        if (over) return
        onEvent(e, engine)
        if (e.type === 'error' || e.type === 'close') over = true
      }
    },
    done: () => over
  })
  driver.wake()
  return { flush: () => driver.wake() }
}

export interface EchoServer { port: number, events: TlsEvent[], close: () => Promise<void> }

/**
 * A TCP server that runs our TLS server engine on every connection. By default it echoes application data back;
 * `respond` can replace that (e.g. a tiny HTTP/1.1 response for curl).
 */
export const startServer = async (opts: TlsServerOptions, respond?: (data: Uint8Array, engine: Engine) => void): Promise<EchoServer> => {
  const events: TlsEvent[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    const conn = new TlsServerConnection(opts, Date.now())
    pipe(socket, conn, (e, engine) => {
      events.push(e)
      if (e.type === 'data') {
        if (respond !== undefined) respond(e.data, engine)
        else engine.write(e.data)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    events,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** Run two engines against each other in memory until neither has anything to say. */
export const shuttle = (a: Engine, b: Engine, now = Date.now()): { a: TlsEvent[], b: TlsEvent[] } => {
  const ev = { a: [] as TlsEvent[], b: [] as TlsEvent[] }
  for (let i = 0; i < 100; i++) {
    const fromA = a.takeOutbound()
    if (fromA.length > 0) ev.b.push(...b.receive(fromA, now))
    const fromB = b.takeOutbound()
    if (fromB.length > 0) ev.a.push(...a.receive(fromB, now))
    if (fromA.length === 0 && fromB.length === 0) break
  }
  return ev
}

let certs: Record<'rsa' | 'ec', { cert: string, key: string }> | null = null
/** Self-signed RSA and ECDSA certificates for localhost/127.0.0.1, generated once per test process. */
export const testCerts = (): Record<'rsa' | 'ec', { cert: string, key: string }> => {
  if (certs === null) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { generateSelfSigned } = require('../../lib/tls/certificates') as typeof import('../../lib/tls/certificates')
    certs = {
      rsa: generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'], keyType: 'rsa' }),
      ec: generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'], keyType: 'ec' })
    }
  }
  return certs
}

/**
 * The test certificates as PEM files for `openssl s_client -CAfile`, in the temp folder, removed when `t` ends.
 * `tag` keeps two test files running at once apart.
 */
export const caFiles = (t: { teardown: (fn: () => void) => void }, tag: string): Record<'rsa' | 'ec', string> => {
  const out = {} as Record<'rsa' | 'ec', string>
  for (const type of ['rsa', 'ec'] as const) {
    const file = join(tmpdir(), `fastify-spdy-${tag}-${process.pid}-${type}.pem`)
    writeFileSync(file, testCerts()[type].cert)
    t.teardown(() => rmSync(file, { force: true }))
    out[type] = file
  }
  return out
}

/**
 * Run `openssl s_client` against a port. When `send` is given it is written once the handshake summary is out and
 * stdin is closed once the echo came back; otherwise stdin is closed at once. Resolves with stdout+stderr; a
 * stuck run is killed after 15 s so a test fails instead of hanging.
 */
export const sClient = async (port: number, args: string[], send?: string): Promise<string> => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawn } = require('node:child_process') as typeof import('node:child_process')
  const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let sent = false
  const kill = setTimeout(() => p.kill('SIGKILL'), 15_000)
  p.stdin.on('error', () => {})
  const onOut = (b: Buffer): void => {
    out += b.toString('latin1')
    if (send === undefined) return
    const at = out.indexOf('Verify return code')
    if (!sent && at >= 0 && out.indexOf('---', at) >= 0) { sent = true; p.stdin.write(send) }
    if (sent && out.lastIndexOf(send.trim()) > at) p.stdin.end()
  }
  p.stdout.on('data', onOut)
  p.stderr.on('data', (b: Buffer) => { out += b.toString('latin1') })
  if (send === undefined) p.stdin.end()
  return await new Promise((resolve) => p.on('close', () => { clearTimeout(kill); resolve(out) }))
}
