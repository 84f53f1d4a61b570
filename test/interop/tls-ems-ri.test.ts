/**
 * README "Security notes", our engine: "Extended master secret (RFC 7627) and secure renegotiation indication
 * (RFC 5746) are sent". `openssl s_client -tls1_2 -nextprotoneg` (the NPN path, so our engine) reports both from
 * the ServerHello it got; the OpenSSL side (`-alpn`) is checked the same way, as the policy is one for the port.
 */
import t from 'tap'
import { sClientOutput, tlsApp } from './s-client-run'

t.test('EMS and secure renegotiation on both stacks, TLS 1.2', async (t) => {
  const port = await tlsApp(t)
  for (const [stack, args, proof] of [
    ['our engine (NPN)', ['-tls1_2', '-nextprotoneg', 'spdy/3.1'], 'Next protocol: (1) spdy/3.1'],
    ['OpenSSL (ALPN)', ['-tls1_2', '-alpn', 'spdy/3.1'], 'ALPN protocol: spdy/3.1']
  ] as const) {
    const out = await sClientOutput(port, 'localhost', [...args])
    t.match(out, proof, `${stack}: negotiated`)
    t.match(out, 'Secure Renegotiation IS supported', `${stack}: renegotiation_info sent (RFC 5746)`)
    t.match(out, /Extended master secret: yes/, `${stack}: extended_master_secret sent (RFC 7627)`)
  }
})
