/**
 * README "Security notes", our engine: "ECDHE key exchange (x25519, P-256, P-384)". Each group alone from
 * `openssl s_client -tls1_2 -nextprotoneg` (the NPN path, so our engine) through the plugin, with an RSA certificate:
 * the handshake completes with that group (s_client's "Server Temp Key"), and a group we do not offer (P-521) alone
 * gets a handshake failure. test/tls/openssl.test.ts covers X25519 and P-256 on the bare engine.
 */
import t from 'tap'
import { sClientOutput, tlsApp } from './s-client-run'

t.test('our engine: x25519, P-256 and P-384 each alone; P-521 refused', async (t) => {
  const port = await tlsApp(t)
  for (const [group, shown] of [['X25519', 'X25519'], ['P-256', 'ECDH, prime256v1'], ['P-384', 'ECDH, secp384r1']]) {
    const out = await sClientOutput(port, 'localhost', ['-tls1_2', '-nextprotoneg', 'spdy/3.1', '-groups', group])
    t.match(out, 'Next protocol: (1) spdy/3.1', `${group}: our engine (NPN)`)
    t.match(out, `Server Temp Key: ${shown}`, `${group}: negotiated`)
  }
  const none = await sClientOutput(port, 'localhost', ['-tls1_2', '-nextprotoneg', 'spdy/3.1', '-groups', 'P-521'], true)
  t.match(none, /alert handshake failure/, 'P-521 alone: handshake_failure')
})
