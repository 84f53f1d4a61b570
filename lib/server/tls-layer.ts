/**
 * TLS on the SPDY listener: our sans-IO TLS 1.2 engine between the socket and what NPN/ALPN chose.
 *
 * `spdy/*` goes to a SPDY session of that version; `http/1.1` or no protocol at all goes to the app's own HTTP/1.1
 * server over the decrypted stream (Http1Bridge), so browsers and curl reach the same routes on the SPDY port.
 * For the inner handler this layer is the Transport: what it sends is encrypted, many frames per record.
 */
import type { ConnectionContext, Handler, Transport } from './contracts'
import type { SpdyVersion } from '../codec/types'
import { TlsServerConnection, type TlsEvent, type TlsServerOptions } from '../tls/server'
import { WrittenSlabs } from '../tls/outbuf'
import { SpdyHandler } from './spdy-handler'
import { Http1Bridge } from './http1-bridge'

const VERSIONS: Record<string, SpdyVersion> = { 'spdy/3.1': 3.1, 'spdy/3': 3, 'spdy/2': 2 }

export class TlsLayer implements Transport {
  private readonly engine: TlsServerConnection
  private inner: Handler | null = null
  private bridge: Http1Bridge | null = null
  private innerDeadline: number | null = null
  private failed = false
  protocol: string | null = null
  /** Pooled record buffers (lib/tls/outbuf.ts) go back to the pool from the socket's write callbacks. */
  private readonly slabs = new WrittenSlabs()

  constructor (private readonly conn: ConnectionContext, options: TlsServerOptions) {
    this.engine = new TlsServerConnection(options, Date.now())
    conn.schedule(this.engine.deadline)
    // Our engine keeps this socket whatever the handshake chooses (http/1.1 goes through Http1Bridge, not a
    // handoff): its reads need not go through Node's stream (issue 14, per-read cost).
    conn.readInPlace()
  }

  get version (): SpdyVersion | null { return this.inner?.version ?? null }
  get openStreams (): number { return this.inner?.openStreams ?? 0 }
  get streamsServed (): number { return this.inner?.streamsServed ?? 0 }
  get rttMs (): number | null { return this.inner?.rttMs ?? null }
  ping (): boolean { return this.inner?.ping() ?? false }
  get compressionContextsLive (): boolean { return this.inner?.compressionContextsLive ?? false }

  /** Handshaking, or a SPDY session with no stream open (an HTTP/1.1 bridge is the app server's to judge). */
  get idle (): boolean { return this.bridge === null && (this.inner === null || this.inner.idle) }

  run (fn: () => void): void { this.conn.run(fn) }

  receive (chunk: Uint8Array): void {
    this.handle(this.engine.receive(chunk, Date.now()))
    this.flushTls()
  }

  tick (now: number): void {
    this.handle(this.engine.tick(now))
    if (this.inner !== null && this.innerDeadline !== null && now >= this.innerDeadline) this.inner.tick(now)
    this.flushTls()
    this.reschedule()
  }

  onEnd (): void {
    this.inner?.onEnd()
    this.bridge?.deliverEnd()
  }

  onClose (): void {
    this.engine.dispose()
    this.inner?.onClose()
    if (this.bridge !== null && !this.bridge.destroyed) this.bridge.destroy()
  }

  fail (): void {
    if (this.inner !== null) this.inner.fail() // sends through send()/sendMany(), sealed and flushed
    else this.engine.close()
    this.flushTls()
  }

  shutdown (): void {
    if (this.inner !== null) this.inner.shutdown()
    else if (this.bridge === null) this.conn.destroy() // still handshaking: nothing in flight to wait for
    // an HTTP/1.1 connection is the app's server's to close when idle
  }

  private handle (events: TlsEvent[]): void {
    for (const ev of events) {
      switch (ev.type) {
        case 'handshake': this.start(ev.protocol); break
        case 'data':
          if (this.inner !== null) this.inner.receive(ev.data)
          else this.bridge?.deliver(ev.data)
          break
        case 'close': this.onEnd(); break
        case 'error':
          if (this.failed) break
          this.failed = true
          // Handshake failures are the peer's problem and frequent (scanners, old clients): debug, not warn.
          this.conn.listener.fastify.log.debug({ remoteAddress: this.conn.remoteAddress, alert: ev.error.alert, err: ev.error.message }, 'fastify-spdy: TLS error')
          this.flushTls()
          this.conn.end()
          break
      }
    }
  }

  private start (protocol: string | null): void {
    this.protocol = protocol ?? 'http/1.1'
    const version = protocol !== null ? VERSIONS[protocol] : undefined
    const log = this.conn.listener.fastify.log
    if (version !== undefined) {
      log.debug({ remoteAddress: this.conn.remoteAddress, protocol }, 'fastify-spdy: TLS session negotiated SPDY')
      this.inner = new SpdyHandler(this.conn, this, version, true)
      return
    }
    const s = this.conn.socket
    this.bridge = new Http1Bridge(this, {
      // The Connection's: the client named by a PROXY protocol header, else the socket's peer.
      remoteAddress: this.conn.remoteAddress ?? undefined,
      remotePort: this.conn.remotePort ?? undefined,
      remoteFamily: s.remoteFamily,
      localAddress: s.localAddress,
      localPort: s.localPort,
      protocol
    })
    // From here the app's HTTP server owns the conversation; it closes the bridge (and with it the socket).
    this.conn.listener.fastify.server.emit('connection', this.bridge)
  }

  // ---- Transport for the inner handler ----

  get congested (): boolean { return this.conn.congested }
  /** Records, not frames: the session takes their overhead for its own bytes, which only makes it cautious. */
  get unwrittenBytes (): number { return this.conn.unwrittenBytes }

  send (chunk: Uint8Array): void {
    this.engine.write(chunk)
    this.flushTls()
  }

  sendMany (chunks: Uint8Array[]): void {
    // One record carries many small frames (an 8-byte DATA header, a SYN_REPLY): join them first, so the
    // record overhead (29 bytes with AES-GCM) and the cipher calls are paid per 16 KB, not per frame.
    this.engine.write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))
    this.flushTls()
  }

  onWritable (cb: () => void): void { this.conn.onWritable(cb) }

  hold (reason: number, on: boolean): void { this.conn.hold(reason, on) }

  end (): void {
    this.engine.close()
    this.flushTls()
    this.conn.end()
  }

  destroy (): void { this.conn.destroy() }

  schedule (deadline: number | null): void {
    this.innerDeadline = deadline
    this.reschedule()
  }

  private reschedule (): void {
    const a = this.engine.deadline
    const b = this.innerDeadline
    this.conn.schedule(a === null ? b : b === null ? a : Math.min(a, b))
  }

  private flushTls (): void {
    const out = this.engine.takeOutboundChunks()
    if (out.length > 0) this.conn.sendMany(out, this.slabs.track(out))
  }

}
