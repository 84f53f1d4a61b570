/**
 * Session resumption across instances: two apps (two listeners, two ticket-key states, as two processes or machines
 * behind a balancer) with the same `tls.ticketKeys`. A ticket that instance A issued resumes on instance B, with
 * `openssl s_client -tls1_2 -sess_out/-sess_in` and with the package's client; key rotation (README "Session
 * tickets across instances"): an instance whose list is [new, old] still opens old tickets and issues new ones, an
 * instance that dropped the old key answers with a full handshake. A session id alone (no ticket) is per instance.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { connect, type TlsClientSession } from '../../lib/client'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
const dir = mkdtempSync(join(tmpdir(), 'fastify-spdy-resume-'))
writeFileSync(join(dir, 'ca.pem'), cert)
const OLD = randomBytes(48)
const NEW = randomBytes(48)

async function instance (t: Test, name: string, ticketKeys: Buffer[]): Promise<number> {
  const app: FastifyInstance = Fastify()
  await app.register(spdy, { port: 0, tls: { cert, key, ticketKeys } })
  app.get('/', async () => name)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return app.spdy.port!
}

/** One s_client handshake (NPN spdy/3.1, TLS 1.2); returns its stdout ("New, ..." or "Reused, ..."). */
async function sClient (port: number, args: string[]): Promise<string> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-servername', 'localhost', '-nextprotoneg', 'spdy/3.1', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stdin.end()
  await new Promise((resolve) => child.on('close', resolve))
  return out
}
const reused = (out: string): string => /^(New|Reused), TLSv1\.2/m.exec(out)?.[1] ?? `no session line in: ${out.slice(0, 200)}`

t.test('openssl s_client: a ticket from A resumes on B (same keys), rotation keeps the previous key', async (t) => {
  const a = await instance(t, 'A', [OLD])
  const b = await instance(t, 'B', [OLD])
  const rotated = await instance(t, 'rotated', [NEW, OLD])
  const dropped = await instance(t, 'dropped', [NEW])
  const sess = join(dir, 'a.sess')
  const first = await sClient(a, ['-sess_out', sess])
  t.equal(reused(first), 'New', 'A: full handshake')
  t.match(first, /TLS session ticket lifetime hint/, 'A issued a ticket')
  t.match(first, /Next protocol: \(1\) spdy\/3\.1/)
  t.equal(reused(await sClient(b, ['-sess_in', sess])), 'Reused', 'B resumes A\'s ticket')
  t.equal(reused(await sClient(rotated, ['-sess_in', sess])), 'Reused', '[new, old]: the previous key still opens it')
  t.equal(reused(await sClient(dropped, ['-sess_in', sess])), 'New', '[new] only: full handshake, no failure')

  // A session id without a ticket is kept by the instance that made it only: tickets are the way across instances.
  const idOnly = join(dir, 'id.sess')
  t.equal(reused(await sClient(a, ['-no_ticket', '-sess_out', idOnly])), 'New')
  t.equal(reused(await sClient(a, ['-no_ticket', '-sess_in', idOnly])), 'Reused', 'A resumes its own session id')
  t.equal(reused(await sClient(b, ['-no_ticket', '-sess_in', idOnly])), 'New', 'B has no such id')
})

t.test('fastify-spdy/client: a ticket from A resumes on B', async (t) => {
  const a = await instance(t, 'A', [OLD])
  const b = await instance(t, 'B', [OLD])
  const other = await instance(t, 'other', [NEW])
  const opts = { host: '127.0.0.1', tls: true, ca: cert, servername: 'localhost' }
  const c1 = await connect({ ...opts, port: a })
  t.equal(c1.tls?.resumed, false)
  t.equal((await c1.request({ path: '/' })).body.toString(), 'A')
  const session = c1.tlsSession as TlsClientSession
  t.ok(session?.ticket !== null && session?.ticket !== undefined, 'A issued a ticket')
  await c1.close()
  for (const [port, name, resumed] of [[b, 'B', true], [other, 'other', false]] as const) {
    const c = await connect({ ...opts, port, session })
    t.equal(c.tls?.resumed, resumed, `${name}: resumed ${resumed}`)
    t.equal((await c.request({ path: '/' })).body.toString(), name, `${name}: SPDY works on the ${resumed ? 'resumed' : 'new'} session`)
    await c.close()
  }
})
