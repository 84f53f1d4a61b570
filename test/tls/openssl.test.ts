/** `openssl s_client` (OpenSSL 3.0, an independent implementation) against our server over real sockets. */
import t from 'tap'
import { loadCertificate } from '../../lib/tls/certificates'
import { sClient, startServer, testCerts, caFiles } from './harness'

const certs = testCerts()
const rsa = loadCertificate(certs.rsa)
const ec = loadCertificate(certs.ec)
const caFile = caFiles(t, 'tls')

t.test('NPN and ALPN with openssl s_client -tls1_2', async (t) => {
  const srv = await startServer({ certificates: [rsa] })
  t.teardown(srv.close)
  const npn = await sClient(srv.port, ['-tls1_2', '-nextprotoneg', 'spdy/3.1,spdy/3,spdy/2', '-CAfile', caFile.rsa, '-servername', 'localhost'], 'hello npn\n')
  t.match(npn, 'Next protocol: (1) spdy/3.1')
  t.match(npn, 'Protocols advertised by server: spdy/3.1, spdy/3, spdy/2, http/1.1')
  t.match(npn, 'Verify return code: 0 (ok)')
  t.match(npn, /---[\s\S]*hello npn/, 'echoed')
  const alpn = await sClient(srv.port, ['-tls1_2', '-alpn', 'http/1.1,spdy/3', '-CAfile', caFile.rsa], 'hello alpn\n')
  t.match(alpn, 'ALPN protocol: spdy/3')
  t.match(alpn, /---[\s\S]*hello alpn/)
  const hs = srv.events.filter((e) => e.type === 'handshake')
  t.same(hs.map((e) => e.type === 'handshake' && [e.protocol, e.negotiatedBy, e.servername]), [['spdy/3.1', 'npn', 'localhost'], ['spdy/3', 'alpn', null]])
  t.ok(srv.events.some((e) => e.type === 'data' && Buffer.from(e.data).toString() === 'hello npn\n'), 'server got the data')
  const none = await sClient(srv.port, ['-tls1_2', '-alpn', 'h2'])
  t.match(none, 'alert no application protocol')
  // no -tls1_2: OpenSSL offers 1.3 and 1.2 (supported_versions); we negotiate 1.2
  const v13 = await sClient(srv.port, [])
  t.match(v13, 'New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256')
})

t.test('suites x groups x certificate types', async (t) => {
  for (const type of ['rsa', 'ec'] as const) {
    const srv = await startServer({ certificates: [type === 'rsa' ? rsa : ec] })
    for (const bulk of ['AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'CHACHA20-POLY1305']) {
      // an ECDSA certificate's curve (P-256) must be among the client's groups (RFC 8422 section 5.1)
      for (const [group, shown] of [[type === 'rsa' ? 'X25519' : 'X25519:P-256', 'X25519'], ['P-256', 'prime256v1']]) {
        const cipher = `ECDHE-${type === 'rsa' ? 'RSA' : 'ECDSA'}-${bulk}`
        const out = await sClient(srv.port, ['-tls1_2', '-cipher', cipher, '-groups', group, '-CAfile', caFile[type], '-nextprotoneg', 'spdy/3.1'], `data ${cipher}\n`)
        t.match(out, `New, TLSv1.2, Cipher is ${cipher}`, `${cipher} ${group}`)
        t.match(out, `Server Temp Key: ${shown === 'X25519' ? 'X25519' : 'ECDH, prime256v1'}`)
        t.match(out, 'Verify return code: 0 (ok)')
        t.match(out, new RegExp(`---[\\s\\S]*data ${cipher}`), 'echoed')
      }
    }
    await srv.close()
  }
  const srv = await startServer({ certificates: [ec] })
  t.teardown(srv.close)
  const out = await sClient(srv.port, ['-tls1_2', '-groups', 'X25519', '-CAfile', caFile.ec])
  t.match(out, 'alert handshake failure', 'P-256 certificate, client without P-256')
})

t.test('resumption: -reconnect (ticket and session id) and -sess_out/-sess_in', async (t) => {
  const srv = await startServer({ certificates: [rsa] })
  t.teardown(srv.close)
  const tickets = await sClient(srv.port, ['-tls1_2', '-reconnect', '-CAfile', caFile.rsa])
  t.equal(tickets.match(/Reused, TLSv1\.2/g)?.length, 5, 'five reconnects reused (ticket)')
  const ids = await sClient(srv.port, ['-tls1_2', '-reconnect', '-no_ticket', '-CAfile', caFile.rsa])
  t.equal(ids.match(/Reused, TLSv1\.2/g)?.length, 5, 'five reconnects reused (session id cache)')
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const os = require('node:os') as typeof import('node:os')
  const file = `${os.tmpdir()}/fastify-spdy-sess-${process.pid}`
  t.teardown(() => require('node:fs').rmSync(file, { force: true }))
  const first = await sClient(srv.port, ['-tls1_2', '-sess_out', file, '-CAfile', caFile.rsa])
  t.match(first, 'New, TLSv1.2')
  t.match(first, 'TLS session ticket lifetime hint: 7200')
  const second = await sClient(srv.port, ['-tls1_2', '-sess_in', file, '-CAfile', caFile.rsa])
  t.match(second, 'Reused, TLSv1.2')
  t.ok(srv.events.some((e) => e.type === 'handshake' && e.resumed), 'server reports resumed')
})

t.test('renegotiation request from s_client is refused', async (t) => {
  const srv = await startServer({ certificates: [rsa] })
  t.teardown(srv.close)
  const out = await sClient(srv.port, ['-tls1_2', '-CAfile', caFile.rsa], 'R\n')
  t.match(out, 'RENEGOTIATING')
  t.match(out, /no renegotiation/)
})
