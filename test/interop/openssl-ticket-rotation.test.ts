/**
 * README "Security notes" and "Session tickets across instances": the OpenSSL side's ticket key is derived from the
 * first of `tls.ticketKeys`, and "OpenSSL opens tickets under the current key only: after a rotation its clients
 * make one full handshake". With Node's TLS client (ALPN, so the OpenSSL side, TLS 1.3): a ticket from an instance
 * on [k1] resumes on another on [k1], not on one rotated to [k2, k1], where the handshake is a full one and succeeds.
 * (Our engine, which opens tickets under every listed key, is test/tls/resume-across.test.ts.)
 */
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { httpsExchange } from './https-exchange'

const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })

async function instance (t: Test, ticketKeys: Buffer[]): Promise<number> {
  const app = Fastify()
  await app.register(spdy, { tls: { cert, key, ticketKeys }, port: 0 })
  app.get('/', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return app.spdy.port!
}

t.test('OpenSSL side: a rotation to [k2, k1] costs k1 tickets one full handshake, never a failure', async (t) => {
  const k1 = randomBytes(48)
  const k2 = randomBytes(48)
  const a = await instance(t, [k1])
  const same = await instance(t, [k1])
  const rotated = await instance(t, [k2, k1])
  const first = await httpsExchange(a, cert)
  t.notOk(first.reused, 'first: full handshake')
  t.ok(first.session, 'a ticket was issued')
  t.ok((await httpsExchange(same, cert, first.session!)).reused, '[k1] on another instance resumes it')
  const after = await httpsExchange(rotated, cert, first.session!)
  t.notOk(after.reused, '[k2, k1]: not resumed on the OpenSSL side')
  t.match(after.body, /^HTTP\/1\.1 200/, 'the full handshake served the request')
})
