/**
 * A SPDY client stack we did not write: `openssl s_client -quiet` does the TLS and the NPN, spdy-transport's
 * client speaks SPDY over its stdin/stdout. Used by the TLS interop tests (modern TLS 1.2 and `tls.legacy`).
 */
import type { Test } from 'tap'
import { spawn } from 'node:child_process'
import { Duplex } from 'node:stream'
// eslint-disable-next-line @typescript-eslint/no-require-imports
const transport = require('spdy-transport')

type Stream = Duplex & { on (e: 'response', cb: (code: number) => void): void }
export interface SpdyConnection {
  request: (o: Record<string, unknown>, cb: (err: Error | null, stream: Stream) => void) => void
  end: () => void
}

/**
 * Connects to 127.0.0.1:port with `openssl s_client -quiet` plus `args` (protocol flags, -nextprotoneg, -cipher),
 * and starts a spdy-transport client connection of `version` over it. `done` resolves with s_client's stderr
 * once it exits.
 */
export function spdyOverSClient (t: Test, port: number, version: 2 | 3 | 3.1, args: string[]): { conn: SpdyConnection, done: Promise<string> } {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-quiet', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  // spdy-transport may still write (GOAWAY) after the test ends and openssl is gone: that EPIPE is not ours.
  child.stdin.on('error', () => {})
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const pipe = new Duplex({
    read () {},
    write (chunk, _enc, cb) { if (child.stdin.writable) child.stdin.write(chunk, () => cb()); else cb() },
    final (cb) { child.stdin.end(); cb() }
  })
  child.stdout.on('data', (c: Buffer) => pipe.push(c))
  child.stdout.on('end', () => pipe.push(null))
  t.teardown(() => { child.kill() })
  const conn = transport.connection.create(pipe, { protocol: 'spdy', isServer: false }) as SpdyConnection & { start: (v: number) => void }
  conn.start(version)
  return { conn, done: new Promise((resolve) => child.on('close', () => resolve(stderr))) }
}

/** A GET on the connection: status and body as text. */
export const spdyGet = async (conn: SpdyConnection, path: string): Promise<{ status: number, body: string }> => await new Promise((resolve, reject) => {
  conn.request({ method: 'GET', path, host: 'localhost', headers: {} }, (err, stream) => {
    if (err !== null) return reject(err)
    let status = 0
    let body = ''
    stream.on('response', (code: number) => { status = code })
    stream.on('data', (c: Buffer) => { body += c.toString() })
    stream.on('end', () => resolve({ status, body }))
    stream.on('error', reject)
    stream.end()
  })
})
