/**
 * The client side of states.test.ts: every handshake message type, and ChangeCipherSpec, sent by our server in
 * place of what each state of our client waits for, full and resumed. Only the awaited message is read (an empty
 * body fails to decode, except ServerHelloDone, which is empty); HelloRequest is ignored during a handshake and
 * answered with a no_renegotiation warning after it (RFC 5246 section 7.4.1.1, RFC 5746 section 4.2); a late
 * NewSessionTicket is ignored; anything else is unexpected_message.
 */
import t from 'tap'
import { TlsServerConnection, TlsServerOptions } from '../../lib/tls/server'
import { TlsClientConnection, TlsClientOptions, TlsClientSession } from '../../lib/tls/client'
import { loadCertificate } from '../../lib/tls/certificates'
import { Alert, ContentType, HandshakeType } from '../../lib/tls/constants'
import { testCerts } from './harness'
import { At, eachState, injecting, Injection, runInjection, sessionToResume } from './inject'

const certs = testCerts()
const opts: TlsServerOptions = { certificates: [loadCertificate(certs.rsa)] }

const Injector = injecting(TlsServerConnection)

type StateName = 'server_hello' | 'certificate' | 'server_key_exchange' | 'server_hello_done' | 'new_session_ticket' | 'change_cipher_spec' | 'finished' | 'done'
/** The message a state reads (the server sends it in that place), and whether an empty one is valid. */
const STATES: Record<StateName, { reads: At | null, emptyIsValid?: true }> = {
  server_hello: { reads: HandshakeType.server_hello },
  certificate: { reads: HandshakeType.certificate },
  server_key_exchange: { reads: HandshakeType.server_key_exchange },
  server_hello_done: { reads: HandshakeType.server_hello_done, emptyIsValid: true },
  new_session_ticket: { reads: HandshakeType.new_session_ticket },
  change_cipher_spec: { reads: 'ccs' },
  finished: { reads: HandshakeType.finished },
  done: { reads: null }
}

/** What our client does with `inj` in `state`: 'alert N' (its error event), 'warning N' (the server got one), 'nothing'. */
const outcome = (state: StateName, inj: Injection, client: TlsClientOptions, session: TlsClientSession | null): string => {
  const s = new Injector(opts, Date.now())
  const c = new TlsClientConnection({ ...client, session }, Date.now())
  return runInjection(c, s, s, 'client', state === 'done' ? null : STATES[state].reads ?? 'ccs', inj)
}

const expected = (state: StateName, inj: Injection): string => {
  const { reads, emptyIsValid } = STATES[state]
  const type = inj.type === ContentType.change_cipher_spec ? 'ccs' : inj.data[0]
  if (type === HandshakeType.hello_request) return state === 'done' ? `warning ${Alert.no_renegotiation}` : 'nothing'
  if (state === 'done' && type === HandshakeType.new_session_ticket) return 'nothing'
  if (type === reads) return type === 'ccs' || emptyIsValid === true ? 'nothing' : `alert ${Alert.decode_error}`
  return `alert ${Alert.unexpected_message}`
}

const flows: Array<{ name: string, client: TlsClientOptions, resumed: boolean, states: StateName[] }> = [
  {
    name: 'full handshake, ticket issued',
    client: { insecure: true },
    resumed: false,
    states: ['server_hello', 'certificate', 'server_key_exchange', 'server_hello_done', 'new_session_ticket', 'change_cipher_spec', 'finished', 'done']
  },
  { name: 'resumed by ticket', client: { insecure: true }, resumed: true, states: ['change_cipher_spec', 'finished', 'done'] }
]

for (const flow of flows) {
  t.test(flow.name, async (t) => {
    const session = flow.resumed ? sessionToResume(flow.client, opts, true) : null
    if (flow.resumed) t.ok(session?.ticket, 'a ticket to resume with')
    eachState(t, flow.states, (state, inj) => outcome(state, inj, flow.client, session), expected)
  })
}
