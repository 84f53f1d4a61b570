/**
 * A raw SPDY peer over a real socket for the request-head tests (not a test file: tap runs *.test.ts only). Our
 * client session frames whatever header list it is given, unchecked (the encoder validates nothing), so a test can
 * put on the wire exactly the head a hostile client would: uppercase or CRLF names, absolute :path, two hosts...
 * Each send() resolves with what the server answered on that stream: RST_STREAM with its status, a reply, or the
 * session's end (GOAWAY, socket closed).
 */
import net from 'node:net'
import tls from 'node:tls'
import { SpdySession, type SessionEvent } from '../../lib/session/session'
import { replyStatus } from '../../lib/session/headers'
import type { HeaderList, SpdyVersion } from '../../lib/codec/types'

export type Outcome =
  | { kind: 'reset', status: number }
  | { kind: 'reply', status: number, body: string }
  | { kind: 'goaway', status: number }
  | { kind: 'closed' }

interface Pending { resolve: (o: Outcome) => void, status: number, body: string }

export interface SendOptions {
  /** SYN_STREAM carries FLAG_FIN (default: true when no data is given). */
  fin?: boolean
  /** DATA payloads after the SYN_STREAM; the last one carries FLAG_FIN unless dataFin is false. */
  data?: Array<string | Uint8Array>
  dataFin?: boolean
}

export class WirePeer {
  readonly session: SpdySession
  private readonly pending = new Map<number, Pending>()
  private ended = false
  /** The status of the GOAWAY the server sent, null while none came. */
  goaway: number | null = null
  /** Resolves when the socket is closed (by either side). */
  readonly closed: Promise<void>

  private constructor (readonly socket: net.Socket, readonly version: SpdyVersion) {
    this.session = new SpdySession({ role: 'client', version }, Date.now())
    socket.on('data', (chunk: Buffer) => { this.events(this.session.receive(chunk, Date.now())); this.flush() })
    socket.on('error', () => { /* seen as 'close' */ })
    this.closed = new Promise((resolve) => socket.on('close', () => { this.end({ kind: 'closed' }); resolve() }))
  }

  static async connect (port: number, version: SpdyVersion, tlsCa?: string): Promise<WirePeer> {
    const socket = tlsCa === undefined
      ? net.connect(port, '127.0.0.1')
      : tls.connect({ host: '127.0.0.1', port, ca: tlsCa, servername: 'localhost', ALPNProtocols: [version === 2 ? 'spdy/2' : version === 3 ? 'spdy/3' : 'spdy/3.1'] })
    await new Promise<void>((resolve, reject) => {
      socket.once(tlsCa === undefined ? 'connect' : 'secureConnect', () => resolve())
      socket.once('error', reject)
    })
    const peer = new WirePeer(socket, version)
    peer.flush()
    return peer
  }

  /** Opens a stream with exactly these headers (and optional DATA); resolves with the server's answer on it. */
  send (headers: HeaderList, opts: SendOptions = {}): Promise<Outcome> {
    const data = opts.data ?? []
    const id = this.session.request(headers, { fin: opts.fin ?? data.length === 0 })
    const done = new Promise<Outcome>((resolve) => {
      if (this.ended) resolve({ kind: 'closed' })
      else this.pending.set(id, { resolve, status: 0, body: '' })
    })
    for (let i = 0; i < data.length; i++) {
      const d = data[i]
      this.session.write(id, typeof d === 'string' ? Buffer.from(d, 'latin1') : d, i === data.length - 1 && opts.dataFin !== false)
    }
    this.flush()
    return done
  }

  /** Raw bytes, for frames our session would not produce. */
  write (bytes: Uint8Array): void { this.socket.write(bytes) }

  close (): void { this.socket.destroy() }

  private flush (): void {
    this.events(this.session.takeEvents())
    const out = this.session.takeOutbound()
    if (out.length > 0 && !this.socket.destroyed) this.socket.write(Buffer.concat(out))
  }

  private settle (id: number, o: Outcome): void {
    const p = this.pending.get(id)
    if (p === undefined) return
    this.pending.delete(id)
    p.resolve(o)
  }

  private end (o: Outcome): void {
    this.ended = true
    for (const id of [...this.pending.keys()]) this.settle(id, o)
  }

  private events (evs: SessionEvent[]): void {
    for (const ev of evs) {
      switch (ev.type) {
        case 'streamReset': this.settle(ev.streamId, { kind: 'reset', status: ev.status }); break
        case 'response': {
          const p = this.pending.get(ev.streamId)
          if (p !== undefined) p.status = replyStatus(this.version, ev.headers)
          if (ev.fin && p !== undefined) this.settle(ev.streamId, { kind: 'reply', status: p.status, body: p.body })
          break
        }
        case 'data': {
          this.session.consume(ev.streamId, ev.data.length)
          const p = this.pending.get(ev.streamId)
          if (p === undefined) break
          p.body += Buffer.from(ev.data).toString('latin1')
          if (ev.fin) this.settle(ev.streamId, { kind: 'reply', status: p.status, body: p.body })
          break
        }
        case 'goaway': this.goaway = ev.status; this.end({ kind: 'goaway', status: ev.status }); break
        case 'closed': this.end({ kind: 'closed' }); break
        default: break
      }
    }
  }
}

/** A well-formed request head for `version`, with `extra` pairs appended and `drop` names left out. */
export function goodHead (version: SpdyVersion, authority: string, path = '/', method = 'GET', extra: HeaderList = [], drop: string[] = []): HeaderList {
  const base: HeaderList = version === 2
    ? [['method', method], ['url', path], ['version', 'HTTP/1.1'], ['host', authority], ['scheme', 'http']]
    : [[':method', method], [':path', path], [':version', 'HTTP/1.1'], [':host', authority], [':scheme', 'http']]
  return base.filter(([n]) => !drop.includes(n)).concat(extra)
}
