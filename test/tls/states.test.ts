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
import type { RecordProtection } from '../../lib/tls/crypto'
import type { TlsEvent } from '../../lib/tls/engine'
import { shuttle, testCerts } from './harness'

const certs = testCerts()
const opts: TlsServerOptions = { certificates: [loadCertificate(certs.rsa)] }

/** What the client sends in place of one of its messages: a record of `type` holding `data`. */
interface Injection { type: number, data: Buffer }
/** Where: in place of the handshake message of this type, or of the ChangeCipherSpec. */
type At = number | 'ccs'

/**
 * Our client, made to send `injection` in place of the message `at`, and nothing after it; through its own record
 * layer, so the record is encrypted exactly when the real one would have been.
 */
class Injector extends TlsClientConnection {
  // (undefined while the base constructor sends the ClientHello: fields are set after it returns)
  plan: { at: At, injection: Injection } | null = null
  private stopped = false
  warnings: number[] = []
  protected override sendHandshake (raw: Buffer): void {
    if (this.stopped) return
    if (this.plan?.at === raw[0]) return this.inject(this.plan.injection)
    super.sendHandshake(raw)
  }

  protected override sendChangeCipherSpec (state: RecordProtection): void {
    if (this.stopped) return
    if (this.plan?.at === 'ccs') return this.inject(this.plan.injection)
    super.sendChangeCipherSpec(state)
  }

  private inject (i: Injection): void {
    this.stopped = true
    this.sendRecord(i.type, i.data)
  }

  send (i: Injection): void { this.sendRecord(i.type, i.data) }
  protected override onWarningAlert (desc: number): void { this.warnings.push(desc) }
}

const TYPES = [
  HandshakeType.hello_request, HandshakeType.client_hello, HandshakeType.server_hello, HandshakeType.new_session_ticket,
  HandshakeType.certificate, HandshakeType.server_key_exchange, HandshakeType.certificate_request,
  HandshakeType.server_hello_done, HandshakeType.certificate_verify, HandshakeType.client_key_exchange,
  HandshakeType.finished, HandshakeType.next_protocol, 99
]
const injections: Array<[string, Injection]> = [
  ...TYPES.map((type): [string, Injection] => [`handshake type ${type}`, { type: ContentType.handshake, data: Buffer.from([type, 0, 0, 0]) }]),
  ['ChangeCipherSpec', { type: ContentType.change_cipher_spec, data: Buffer.from([1]) }]
]

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
  let ev: { a: TlsEvent[], b: TlsEvent[] }
  if (state === 'client_hello') {
    ev = { a: [], b: s.receive(Buffer.concat([Buffer.from([inj.type, 3, 1, 0, inj.data.length]), inj.data]), Date.now()) }
  } else if (state === 'done') {
    const first = shuttle(c, s)
    if (!first.b.some((e) => e.type === 'handshake')) return 'no handshake'
    c.send(inj)
    ev = shuttle(c, s)
  } else {
    c.plan = { at: STATES[state].at ?? 'ccs', injection: inj }
    ev = shuttle(c, s)
  }
  const err = ev.b.find((e) => e.type === 'error')
  if (err?.type === 'error') return `alert ${err.error.alert}`
  if (c.warnings.length > 0) return `warning ${c.warnings.join(',')}`
  return ev.b.some((e) => e.type === 'handshake') ? 'handshake' : 'nothing'
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
    let session: TlsClientSession | null = null
    if (flow.resumed) {
      const c = new TlsClientConnection(flow.client, Date.now())
      shuttle(c, new TlsServerConnection(opts, Date.now()))
      session = c.session
      // the session id flow: the same session without its ticket
      if (session !== null && flow.name.includes('session id')) session = { ...session, ticket: null }
      t.ok(session, 'a session to resume')
    }
    for (const state of flow.states) {
      const got: string[] = []
      const want: string[] = []
      for (const [name, inj] of injections) {
        got.push(`${name}: ${outcome(state, inj, flow.client, session)}`)
        want.push(`${name}: ${expected(state, inj)}`)
      }
      t.same(got, want, `in ${state}`)
    }
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
