/**
 * Every handshake message type, and ChangeCipherSpec, in every state of our server's handshake (RFC 5246 section
 * 7.3 message flow): full and resumed, with NPN and with ALPN. Only the message the state waits for is read (here
 * with an empty body, so it fails to decode); anything else is unexpected_message; a ClientHello after the
 * handshake is refused with a no_renegotiation warning (RFC 5746 section 4.4).
 */
import t from 'tap'
import { TlsServerConnection, TlsServerOptions } from '../../lib/tls/server'
import { TlsClientConnection, TlsClientOptions, TlsClientSession } from '../../lib/tls/client'
import { loadCertificate } from '../../lib/tls/certificates'
import { Alert, AlertLevel, ContentType, HandshakeType } from '../../lib/tls/constants'
import { shuttle, testCerts } from './harness'
import { At, eachState, injecting, Injection, runInjection, sessionToResume } from './inject'

const certs = testCerts()
const opts: TlsServerOptions = { certificates: [loadCertificate(certs.rsa)] }

const Injector = injecting(TlsClientConnection)

type StateName = 'client_hello' | 'client_key_exchange' | 'change_cipher_spec' | 'next_protocol' | 'finished' | 'done'
/** The message a state reads, and where the client sends what the server reads in that state. */
const STATES: Record<StateName, { reads: number | 'ccs' | null, at: At | null }> = {
  client_hello: { reads: HandshakeType.client_hello, at: null },
  client_key_exchange: { reads: HandshakeType.client_key_exchange, at: HandshakeType.client_key_exchange },
  change_cipher_spec: { reads: 'ccs', at: 'ccs' },
  next_protocol: { reads: HandshakeType.next_protocol, at: HandshakeType.next_protocol },
  finished: { reads: HandshakeType.finished, at: HandshakeType.finished },
  done: { reads: null, at: null }
}

/** What the server does with `inj` in `state`: 'alert N' (its error event), 'warning N' (the client got one), or 'nothing'. */
const outcome = (state: StateName, inj: Injection, client: TlsClientOptions, session: TlsClientSession | null): string => {
  const s = new TlsServerConnection(opts, Date.now())
  const c = new Injector({ ...client, session }, Date.now())
  if (state === 'client_hello') {
    const ev = s.receive(Buffer.concat([Buffer.from([inj.type, 3, 1, 0, inj.data.length]), inj.data]), Date.now())
    const err = ev.find((e) => e.type === 'error')
    return err?.type === 'error' ? `alert ${err.error.alert}` : 'nothing'
  }
  return runInjection(c, s, c, 'server', state === 'done' ? null : STATES[state].at ?? 'ccs', inj)
}

/** The answer a state gives: unexpected_message to all but what it reads; with an empty body, that one fails to decode. */
const expected = (state: StateName, inj: Injection): string => {
  const reads = STATES[state].reads
  const isCcs = inj.type === ContentType.change_cipher_spec
  if (state === 'done' && !isCcs && inj.data[0] === HandshakeType.client_hello) return `warning ${Alert.no_renegotiation}`
  if (reads === 'ccs' && isCcs) return 'nothing' // taken; the server waits for what follows it
  if (typeof reads === 'number' && !isCcs && inj.data[0] === reads) return `alert ${Alert.decode_error}`
  return `alert ${Alert.unexpected_message}`
}

const flows: Array<{ name: string, client: TlsClientOptions, resumed: boolean, states: StateName[] }> = [
  { name: 'full, ALPN', client: { insecure: true, protocols: ['spdy/3.1'] }, resumed: false, states: ['client_hello', 'client_key_exchange', 'change_cipher_spec', 'finished', 'done'] },
  { name: 'full, NPN', client: { insecure: true, protocols: ['spdy/3.1'], negotiation: 'npn' }, resumed: false, states: ['client_key_exchange', 'change_cipher_spec', 'next_protocol', 'finished', 'done'] },
  { name: 'resumed by ticket, ALPN', client: { insecure: true, protocols: ['spdy/3.1'] }, resumed: true, states: ['change_cipher_spec', 'finished', 'done'] },
  { name: 'resumed by session id, NPN', client: { insecure: true, protocols: ['spdy/3.1'], negotiation: 'npn' }, resumed: true, states: ['change_cipher_spec', 'next_protocol', 'finished'] }
]

for (const flow of flows) {
  t.test(flow.name, async (t) => {
    // the session id flow: the same session without its ticket
    const session = flow.resumed ? sessionToResume(flow.client, opts, !flow.name.includes('session id')) : null
    if (flow.resumed) t.ok(session, 'a session to resume')
    eachState(t, flow.states, (state, inj) => outcome(state, inj, flow.client, session), expected)
  })
}

t.test('the warning after the handshake is a real warning alert record, the connection goes on', async (t) => {
  const s = new TlsServerConnection(opts, Date.now())
  const c = new Injector({ insecure: true }, Date.now())
  shuttle(c, s)
  c.send({ type: ContentType.handshake, data: Buffer.from([HandshakeType.client_hello, 0, 0, 0]) })
  shuttle(c, s)
  t.same(c.warnings, [Alert.no_renegotiation])
  t.equal(AlertLevel.warning, 1)
  c.write(Buffer.from('still here'))
  const ev = shuttle(c, s)
  t.same(ev.b.map((e) => e.type === 'data' ? Buffer.from(e.data).toString() : e.type), ['still here'])
})
