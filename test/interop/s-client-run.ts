/** `openssl s_client` against 127.0.0.1:port with stdin closed at once: its whole output (stderr too if asked). */
import { spawn } from 'node:child_process'
import type { Test } from 'tap'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'

export async function sClientOutput (port: number, servername: string, args: string[], withStderr = false): Promise<string> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', servername, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString('latin1') })
  if (withStderr) child.stderr.on('data', (c: Buffer) => { out += c.toString('latin1') })
  child.stdin.end()
  // Bounded: a server that never answers must not hang the test run.
  const killer = setTimeout(() => child.kill(), 10_000)
  await new Promise((resolve) => child.on('close', resolve))
  clearTimeout(killer)
  return out
}

/** A Fastify app with the plugin on a TLS listener (self-signed localhost certificate, default options): its SPDY port. */
export async function tlsApp (t: Test): Promise<number> {
  const app = Fastify()
  await app.register(spdy, { tls: generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] }), port: 0 })
  app.get('/', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return app.spdy.port!
}
