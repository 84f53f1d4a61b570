/**
 * The smallest I/O loop around a SpdySession, for interop tests: socket bytes in, events out, outbound frames
 * written with the socket's backpressure honoured. Not the server layer (lib/server/); just enough to put the
 * sans-IO engine on a real TCP connection.
 */
import type net from 'node:net'
import type { SpdySession, SessionEvent } from '../../lib/session'

export class SessionSocket {
  private blocked = false
  private ended = false
  constructor (readonly socket: net.Socket, readonly session: SpdySession, private readonly onEvent: (ev: SessionEvent) => void) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.dispatch(session.receive(chunk, Date.now()))
      this.pump()
    })
    socket.on('drain', () => { this.blocked = false; this.pump() })
    socket.on('error', () => { /* the test sees the effects through the session */ })
    socket.on('close', () => { if (!session.closed) { session.close('socket closed'); this.dispatch(session.takeEvents()) } })
  }

  private dispatch (events: SessionEvent[]): void {
    for (const ev of events) this.onEvent(ev)
  }

  /** Call after any command: hands events raised by commands to the handler and writes what is due. */
  pump (): void {
    let guard = 0
    for (; guard < 64; guard++) {
      const events = this.session.takeEvents()
      this.dispatch(events)
      if (this.blocked || this.socket.destroyed) return
      // A bounded slice per write so a big download does not monopolise memory in the socket buffer.
      const out = this.session.takeOutbound(256 * 1024)
      if (out.length === 0) {
        if (events.length === 0) break
        continue
      }
      this.socket.cork()
      let ok = true
      for (const b of out) ok = this.socket.write(b)
      this.socket.uncork()
      if (!ok) { this.blocked = true; return }
    }
    // Still more to write but we yielded: let the event loop breathe, then go on.
    if (guard === 64) { setImmediate(() => this.pump()); return }
    if (this.session.closed && !this.ended && this.session.bufferedBytes === 0) {
      this.ended = true
      // Give the peer a moment to read our last frames and close first: spdy-transport inflates header blocks on
      // the zlib thread pool, and a FIN arriving meanwhile makes it drop the stream whose SYN_REPLY is in flight.
      const s = this.socket
      setTimeout(() => s.end(), 500).unref()
    }
  }
}
