/** One HTTPS/1.1 exchange with Node's TLS client (ALPN http/1.1: the plugin's OpenSSL side). */
import tls from 'node:tls'

export interface HttpsExchange { reused: boolean, body: string, session: Buffer | null }

/** GET / over a fresh TLS connection (resuming `session` if given): whether it resumed, the reply, the new ticket. */
export async function httpsExchange (port: number, ca: string, session?: Buffer): Promise<HttpsExchange> {
  const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ALPNProtocols: ['http/1.1'], session })
  let ticket: Buffer | null = null
  s.on('session', (sess: Buffer) => { ticket = sess })
  await new Promise((resolve, reject) => { s.once('secureConnect', resolve); s.once('error', reject) })
  const reused = s.isSessionReused()
  // TLS 1.3 tickets arrive after the handshake: a whole exchange reads them.
  s.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
  let body = ''
  s.on('data', (c: Buffer) => { body += c.toString() })
  await new Promise((resolve) => s.on('close', resolve))
  return { reused, body, session: ticket }
}
