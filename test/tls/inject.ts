/**
 * For the exhaustive state tests (states.test.ts, client-states.test.ts): one engine, client or server, made to
 * send a chosen record in place of one of its own handshake messages (or its ChangeCipherSpec) and nothing of its
 * own after it, through its own record layer, so the record is encrypted exactly when the real one would have been.
 */
import type { Test } from 'tap'
import { ContentType, HandshakeType } from '../../lib/tls/constants'
import type { RecordProtection } from '../../lib/tls/crypto'
import type { TlsEngine, TlsEvent } from '../../lib/tls/engine'
import { Engine, shuttle } from './harness'
import { TlsClientConnection, TlsClientOptions, TlsClientSession } from '../../lib/tls/client'
import { TlsServerConnection, TlsServerOptions } from '../../lib/tls/server'

/** A record of `type` holding `data`. */
export interface Injection { type: number, data: Buffer }
/** In place of the handshake message of this type, or of the ChangeCipherSpec. */
export type At = number | 'ccs'

/** Every handshake type of RFC 5246 section 7.4 (with RFC 5077's and NPN's) and an unassigned one. */
const TYPES = [
  HandshakeType.hello_request, HandshakeType.client_hello, HandshakeType.server_hello, HandshakeType.new_session_ticket,
  HandshakeType.certificate, HandshakeType.server_key_exchange, HandshakeType.certificate_request,
  HandshakeType.server_hello_done, HandshakeType.certificate_verify, HandshakeType.client_key_exchange,
  HandshakeType.finished, HandshakeType.next_protocol, 99
]
/** Each type with an empty body, and a ChangeCipherSpec. */
export const injections: Array<[string, Injection]> = [
  ...TYPES.map((type): [string, Injection] => [`handshake type ${type}`, { type: ContentType.handshake, data: Buffer.from([type, 0, 0, 0]) }]),
  ['ChangeCipherSpec', { type: ContentType.change_cipher_spec, data: Buffer.from([1]) }]
]

// A mixin's base constructor must take `...args: any[]` (TypeScript's rule for mixin classes).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type EngineClass = new (...args: any[]) => TlsEngine

/**
 * `Base` (TlsClientConnection or TlsServerConnection) with `plan` (what to send in place of which message), `send`
 * (a record now) and the warnings it got.
 */
// eslint-disable-next-line @typescript-eslint/explicit-function-return-type
export const injecting = <B extends EngineClass>(Base: B) => {
  // abstract here only because TlsEngine's handlers are abstract in B's type; every Base passed implements them
  abstract class Injecting extends Base {
    // (undefined while a client's constructor sends its ClientHello: fields are set after the base constructor)
    plan: { at: At, injection: Injection } | null = null
    stopped = false
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

    inject (i: Injection): void {
      this.stopped = true
      // in our transcript as the peer will hash it, so an injection that is a valid message keeps Finished right
      if (i.type === ContentType.handshake) this.addTranscript(i.data)
      this.sendRecord(i.type, i.data)
    }

    send (i: Injection): void { this.sendRecord(i.type, i.data) }
    protected override onWarningAlert (desc: number): void { this.warnings.push(desc) }
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  // A named type, not the anonymous class: declaration emit cannot name the engine's private members through it.
  return Injecting as unknown as new (...args: any[]) => InstanceType<B> & Injector
}

/** One assertion per state: what every injection got against what it should get. */
export const eachState = <S extends string>(t: Test, states: S[], outcome: (state: S, inj: Injection) => string, expected: (state: S, inj: Injection) => string): void => {
  for (const state of states) {
    const got: string[] = []
    const want: string[] = []
    for (const [name, inj] of injections) {
      got.push(`${name}: ${outcome(state, inj)}`)
      want.push(`${name}: ${expected(state, inj)}`)
    }
    t.same(got, want, `in ${state}`)
  }
}

/** What a test drives of an injecting engine. */
interface Injector { plan: { at: At, injection: Injection } | null, stopped: boolean, warnings: number[], send: (i: Injection) => void, inject: (i: Injection) => void }

/**
 * Run `client` against `server` in memory, `injector` (one of them) sending `inj` in place of its message `at`, or
 * once the handshake is done when `at` is null, and say what the other side (`peer`) made of it: 'alert N' (its
 * error event), 'warning N' (the injector got a warning), 'handshake' or 'nothing'.
 */
export const runInjection = (client: Engine, server: Engine, injector: Injector, peer: 'client' | 'server', at: At | null, inj: Injection): string => {
  const side = (ev: { a: TlsEvent[], b: TlsEvent[] }): TlsEvent[] => peer === 'client' ? ev.a : ev.b
  if (at === null) {
    if (!side(shuttle(client, server)).some((e) => e.type === 'handshake')) return 'no handshake'
    injector.send(inj)
  } else {
    injector.plan = { at, injection: inj }
  }
  const ev = side(shuttle(client, server))
  const err = ev.find((e) => e.type === 'error')
  if (err?.type === 'error') return `alert ${err.error.alert}`
  if (injector.warnings.length > 0) return `warning ${injector.warnings.join(',')}`
  return ev.some((e) => e.type === 'handshake') ? 'handshake' : 'nothing'
}

/** A session from one full handshake, to resume: with its ticket, or (`ticket` false) by session id only. */
export const sessionToResume = (client: TlsClientOptions, server: TlsServerOptions, ticket: boolean): TlsClientSession | null => {
  const c = new TlsClientConnection(client, Date.now())
  shuttle(c, new TlsServerConnection(server, Date.now()))
  const s = c.session
  return s === null || ticket ? s : { ...s, ticket: null }
}
