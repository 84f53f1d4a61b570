/**
 * README "Security notes": a client that does not offer NPN gets OpenSSL (`node:tls`), "with TLS 1.3 and TLS 1.2
 * restricted to ECDHE with AEAD suites", the same policy as our engine's. Checked with `openssl s_client -alpn` (no
 * NPN, so the OpenSSL side) pinned to TLS 1.2 and offering one suite at a time: the ECDHE + AEAD ones are taken,
 * RSA key exchange, DHE, CBC and non-AEAD SHA-2 suites are refused with a handshake failure. The client lowers its
 * own security level so that the refusal is the server's, not the client's.
 */
import t from 'tap'
import { sClientOutput, tlsApp } from './s-client-run'

t.test('OpenSSL side at TLS 1.2: ECDHE with AEAD only', async (t) => {
  const port = await tlsApp(t)

  for (const suite of ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305']) {
    const out = await sClientOutput(port, 'localhost', ['-tls1_2', '-alpn', 'spdy/3.1', '-cipher', `${suite}:@SECLEVEL=0`], true)
    t.match(out, `New, TLSv1.2, Cipher is ${suite}`, `${suite} is taken`)
    t.match(out, 'ALPN protocol: spdy/3.1')
  }
  for (const suite of ['AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'DHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-SHA',
    'ECDHE-RSA-AES256-SHA', 'ECDHE-RSA-AES128-SHA256', 'AES128-SHA', 'AES128-SHA256']) {
    const out = await sClientOutput(port, 'localhost', ['-tls1_2', '-alpn', 'spdy/3.1', '-cipher', `${suite}:@SECLEVEL=0`], true)
    t.notMatch(out, /New, TLSv1\.2, Cipher is [A-Z]/, `${suite} alone: no session`)
    t.match(out, /alert handshake failure|no shared cipher/, `${suite} alone: refused by the server`)
  }
})
