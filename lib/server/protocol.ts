/**
 * Decides what a connection speaks and hands it to the right handler.
 *
 * Plain listener (`tls: false`): the first byte tells. A SPDY client opens with a control frame (high bit set,
 * SPDY/3 section 2.2: SYN_STREAM or SETTINGS), an HTTP/1.1 client with an ASCII method, so both share the port and
 * HTTP/1.1 goes to the app's own server. A TLS ClientHello (0x16) on a plain listener is refused: nothing here could
 * answer it.
 * TLS listener: the handshake's NPN/ALPN result decides (see tls-layer.ts).
 */
import type { ConnectionContext, Handler, Transport } from './contracts'
import type { SpdyVersion } from '../codec/types'
import { SpdyHandler } from './spdy-handler'

export class ProtocolHandler {
  private inner: Handler | null = null
  protocol: string | null = null

  constructor (private readonly conn: ConnectionContext) {}

  get version (): SpdyVersion | null { return this.inner?.version ?? null }
  get openStreams (): number { return this.inner?.openStreams ?? 0 }
  get streamsServed (): number { return this.inner?.streamsServed ?? 0 }
  get rttMs (): number | null { return this.inner?.rttMs ?? null }
  ping (): boolean { return this.inner?.ping() ?? false }
  get compressionContextsLive (): boolean { return this.inner?.compressionContextsLive ?? false }
  /** Before the first byte, or a SPDY session with no stream open. */
  get idle (): boolean { return this.inner === null || this.inner.idle }

  receive (chunk: Uint8Array): void {
    if (this.inner !== null) { this.inner.receive(chunk); return }
    if (chunk.length === 0) return
    const first = chunk[0]
    if (first === 0x80) {
      // SPDY control frame: version in the low bits of the first 16 bits. SPDY/3.1 is version 3 on the wire and
      // only NPN/ALPN tells it from 3. Over plain TCP with both offered (the default), the session starts as 3.1
      // and settles on 3 if the peer shows it has no session window (SpdySession sessionFlowControl 'auto'): a
      // 3.1 peer left without session WINDOW_UPDATEs would stall, and so would a 3 peer held to a session window.
      const wire = chunk.length >= 2 ? chunk[1] : 3
      const offered = this.conn.listener.options.protocols
      const version: SpdyVersion = wire === 2 ? 2 : offered.includes('spdy/3.1') ? 3.1 : 3
      const auto = version === 3.1 && offered.includes('spdy/3')
      this.startSpdy(version, this.conn, false, auto ? 'auto' : 'on')
      // A SPDY peer stays on this socket: later reads need not go through Node's stream (issue 14, per-read cost).
      this.conn.readInPlace()
      this.inner!.receive(chunk)
      return
    }
    if (first >= 0x41 && first <= 0x5a) {
      // 'A'..'Z': an HTTP/1.x request line. Give the socket, with the bytes already read, to the app's server.
      this.protocol = 'http/1.1'
      this.conn.handOffToHttp(chunk)
      return
    }
    this.conn.logLine('warn', 'not SPDY nor HTTP/1.x', { remoteAddress: this.conn.remoteAddress, firstByte: first },
      first === 0x16 ? 'fastify-spdy: TLS ClientHello on a plain SPDY listener (options.tls is false); closing' : 'fastify-spdy: neither SPDY nor HTTP/1.x; closing')
    this.conn.destroy()
  }

  startSpdy (version: SpdyVersion, transport: Transport, encrypted: boolean, sessionFlowControl: 'on' | 'auto' = 'on'): void {
    this.protocol = version === 2 ? 'spdy/2' : version === 3 ? 'spdy/3' : 'spdy/3.1'
    this.inner = new SpdyHandler(this.conn, transport, version, encrypted, sessionFlowControl)
  }

  tick (now: number): void {
    if (this.inner !== null) { this.inner.tick(now); return }
    // The first-byte deadline (armed by the Connection) passed with nothing received.
    if (this.protocol === null) {
      this.conn.listener.fastify.log.debug({ remoteAddress: this.conn.remoteAddress }, 'fastify-spdy: no first byte before handshakeTimeout; closing')
      this.conn.destroy()
    }
  }

  fail (): void { this.inner?.fail() }
  onEnd (): void { this.inner?.onEnd() }
  onClose (): void { this.inner?.onClose() }
  shutdown (): void {
    if (this.inner !== null) this.inner.shutdown()
    else this.conn.destroy()
  }
}
