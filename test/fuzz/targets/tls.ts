/**
 * Fuzz target: our TLS server engine's receive (lib/tls/server.ts): ClientHello parsing (extensions, SNI, NPN,
 * ALPN, suites, curves), the record layer, alerts, and whatever handshake steps the input gets through. The engine
 * promises never to throw and to report failures as an alert plus an `error` event carrying a TlsError. A fake
 * clock runs the handshake timeout.
 */
import { TlsServerConnection } from '../../../lib/tls/server'
import { generateSelfSigned, loadCertificate } from '../../../lib/tls/certificates'
import { bounded, slices, typedEvent } from '../invariants'

// One certificate for the whole run (key generation is the slow part); EC keeps the handshake's signing cheap.
const certificate = loadCertificate(generateSelfSigned({ commonName: 'localhost', altNames: ['localhost'], keyType: 'ec' }))
// Fixed ticket keys so a saved ticket in a seed stays openable across runs.
const ticketKeys = Buffer.alloc(48, 7)

export function fuzz (buf: Buffer): void {
  bounded('tls', () => run(buf))
}

function run (buf: Buffer): void {
  const legacy = buf.length > 9 && buf[9] === 0x01 // ClientHello.client_version major 3, minor 1: let TLS 1.0 in too
  const engine = new TlsServerConnection({ certificates: [certificate], legacy, ticketKeys, handshakeTimeout: 1000 }, 0)
  let now = 0
  for (const chunk of slices(buf)) {
    now += 10
    for (const ev of engine.receive(Buffer.from(chunk), now)) {
      if (ev.type === 'error') typedEvent('tls error event', ev.error)
    }
    engine.takeOutboundChunks()
  }
  for (const ev of engine.tick(now + 2000)) if (ev.type === 'error') typedEvent('tls error event', ev.error)
  engine.takeOutboundChunks()
  engine.dispose()
}
