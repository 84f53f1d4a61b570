/**
 * False Start in our TLS client (RFC 7918), sans-IO against our server engine, flight by flight: when it applies
 * (ECDHE + AEAD + TLS 1.2 + a protocol from ALPN/NPN, full handshake, option on) the application data written at
 * the early 'handshake' event leaves in the same flight as our Finished, and the server reads it; when it does not,
 * nothing leaves before the server's Finished. A server Finished with a wrong verify_data (re-sealed under the
 * server's real keys, so only the Finished check can catch it) is a fatal decrypt_error.
 */
import t from 'tap'
import { TlsServerConnection, type TlsServerOptions } from '../../lib/tls/server'
import { TlsClientConnection, type TlsClientOptions } from '../../lib/tls/client'
import { loadCertificate } from '../../lib/tls/certificates'
import { Alert, ContentType, Version } from '../../lib/tls/constants'
import { deriveKeys, suiteById } from '../../lib/tls/crypto'
import type { TlsEvent } from '../../lib/tls/engine'
import { shuttle, testCerts } from './harness'

const certs = testCerts()
const server: TlsServerOptions = { certificates: [loadCertificate(certs.rsa)], protocols: ['spdy/3.1', 'http/1.1'] }
const REQUEST = Buffer.from('early SPDY frames')

/** Record types in a flight, in order. */
const types = (bytes: Uint8Array): number[] => {
  const b = Buffer.from(bytes)
  const out: number[] = []
  for (let pos = 0; pos + 5 <= b.length; pos += 5 + b.readUInt16BE(pos + 3)) out.push(b[pos])
  return out
}

/**
 * ClientHello -> server's first flight -> client; writes REQUEST at a 'handshake' event if one comes then. Returns
 * the client's second flight and what the client reported.
 */
function firstRound (c: TlsClientConnection, s: TlsServerConnection): { flight: Uint8Array, events: TlsEvent[] } {
  s.receive(c.takeOutbound(), 0)
  const events = c.receive(s.takeOutbound(), 0)
  if (events.some((e) => e.type === 'handshake')) c.write(REQUEST)
  return { flight: c.takeOutbound(), events }
}

const client = (o: Partial<TlsClientOptions>): TlsClientConnection => new TlsClientConnection({ insecure: true, protocols: ['spdy/3.1'], falseStart: true, ...o }, 0)

t.test('applies: the request leaves with our Finished; the server reads it; its Finished completes quietly', async (t) => {
  for (const negotiation of ['alpn', 'npn'] as const) {
    for (const cipher of ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-CHACHA20-POLY1305']) {
      const c = client({ negotiation, ciphers: [cipher] })
      const s = new TlsServerConnection(server, 0)
      const { flight, events } = firstRound(c, s)
      t.match(events, [{ type: 'handshake', protocol: 'spdy/3.1', negotiatedBy: negotiation, cipher, falseStart: true }], `${negotiation} ${cipher}: early event`)
      t.equal(c.session, null, 'no session before the server\'s Finished')
      t.equal(types(flight).at(-1), ContentType.application_data, 'the flight ends with application data, after our Finished')
      t.equal(types(flight).filter((x) => x === ContentType.change_cipher_spec).length, 1)
      const sev = s.receive(flight, 0)
      t.match(sev, [{ type: 'handshake', protocol: 'spdy/3.1' }, { type: 'data' }], 'the server finishes and reads the early data')
      t.same(Buffer.from((sev[1] as { data: Uint8Array }).data), REQUEST)
      const later = c.receive(s.takeOutbound(), 0)
      t.same(later, [], 'no second handshake event, no error')
      t.not(c.session, null, 'the server\'s Finished verified: a session to resume')
      s.write(Buffer.from('reply'))
      const reply = c.receive(s.takeOutbound(), 0)
      t.match(reply, [{ type: 'data' }], 'the server\'s answer is read once the handshake is done')
    }
  }
})

t.test('does not apply: off, no protocol agreed, NPN without overlap, resumption', async (t) => {
  const cases: Array<[string, Partial<TlsClientOptions>, TlsServerOptions]> = [
    ['falseStart: false', { falseStart: false }, server],
    ['no protocol offered', { protocols: [] }, server],
    ['NPN, server lists none of ours', { negotiation: 'npn', protocols: ['spdy/2'] }, server]
  ]
  for (const [name, o, so] of cases) {
    const c = client(o)
    const s = new TlsServerConnection(so, 0)
    const { flight, events } = firstRound(c, s)
    t.same(events, [], `${name}: no event before the server's Finished`)
    c.write(REQUEST)
    t.notOk(types(flight).includes(ContentType.application_data), `${name}: no application data in our flight`)
    t.notOk(types(c.takeOutbound()).includes(ContentType.application_data), `${name}: a write waits`)
  }
  // Resumed: our Finished follows the server's anyway (RFC 5246 section 7.3), so the data goes with it.
  const c1 = client({})
  const s1 = new TlsServerConnection(server, 0)
  shuttle(c1, s1, 0)
  t.not(c1.session, null)
  const c2 = client({ session: c1.session })
  const s2 = new TlsServerConnection(server, 0)
  s2.receive(c2.takeOutbound(), 0)
  const ev = c2.receive(s2.takeOutbound(), 0)
  t.match(ev, [{ type: 'handshake', resumed: true }], 'resumed: the ordinary event')
  t.equal((ev[0] as { falseStart?: boolean }).falseStart, undefined, 'resumed: not a False Start')
})

t.test('a server Finished with a wrong verify_data, correctly sealed, is a fatal decrypt_error after the early data', async (t) => {
  let master: Buffer | null = null
  const c = client({ negotiation: 'alpn', ciphers: ['ECDHE-RSA-AES128-GCM-SHA256'], onKeylog: (line) => { master = Buffer.from(line.split(' ')[2], 'hex') } })
  const s = new TlsServerConnection(server, 0)
  const hello = Buffer.from(c.takeOutbound())
  s.receive(hello, 0)
  const first = Buffer.from(s.takeOutbound())
  c.receive(first, 0)
  c.write(REQUEST)
  s.receive(c.takeOutbound(), 0)
  const second = Buffer.from(s.takeOutbound())
  // Randoms from the hellos (record header 5 + handshake header 4 + version 2), suite from the ServerHello.
  const clientRandom = hello.subarray(11, 43)
  const serverRandom = first.subarray(11, 43)
  const suite = suiteById.get(first.readUInt16BE(43 + 1 + first[43]))!
  // The server's second flight: [NewSessionTicket] CCS Finished; the Finished is the first record under its keys.
  let pos = 0
  while (second[pos] !== ContentType.change_cipher_spec) pos += 5 + second.readUInt16BE(pos + 3)
  pos += 6
  const fin = second.subarray(pos, pos + 5 + second.readUInt16BE(pos + 3))
  const plain = Buffer.from(deriveKeys(suite, Version.TLS12, master!, clientRandom, serverRandom).server.open(ContentType.handshake, Version.TLS12, Buffer.from(fin.subarray(5))))
  t.equal(plain.length, 16, 'Finished: 4-byte header and 12 bytes of verify_data')
  plain[15] ^= 1
  const resealed = Buffer.concat(deriveKeys(suite, Version.TLS12, master!, clientRandom, serverRandom).server.seal(ContentType.handshake, Version.TLS12, plain))
  const events = c.receive(Buffer.concat([second.subarray(0, pos), resealed]), 0)
  t.match(events, [{ type: 'error', error: { alert: Alert.decrypt_error, message: /Finished does not verify/ } }])
  t.equal(c.session, null)
})
