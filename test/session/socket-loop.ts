/**
 * A SpdySession on a real TCP connection, for interop tests: the shared driver (lib/server/engine-driver.ts) pumps
 * it (socket bytes in, events out, outbound frames written with the socket's backpressure honoured, one timer at
 * the session's deadline, end -> linger -> destroy). Not the server layer (lib/server/); just enough to put the
 * sans-IO engine on a socket.
 */
import type net from 'node:net'
import type { SpdySession, SessionEvent } from '../../lib/session'
import { EngineDriver } from '../../lib/server/engine-driver'

/**
 * How long a closed session waits before our FIN: spdy-transport inflates header blocks on the zlib thread pool,
 * and a FIN arriving meanwhile makes it drop the stream whose SYN_REPLY is in flight. A deadline of the engine,
 * not a timer of its own.
 */
const FIN_DELAY_MS = 500

export class SessionSocket {
  private readonly driver: EngineDriver<SessionEvent>
  private closedAt: number | null = null
  constructor (readonly socket: net.Socket, readonly session: SpdySession, private readonly onEvent: (ev: SessionEvent) => void) {
    socket.setNoDelay(true)
    const self = this // eslint-disable-line @typescript-eslint/no-this-alias
    const engine = {
      receive: (b: Uint8Array, now: number) => session.receive(b, now),
      tick: (now: number) => session.tick(now),
      takeOutbound: () => session.takeOutbound(),
      takeEvents: () => session.takeEvents(),
      get deadline (): number | null {
        return self.closedAt !== null ? self.closedAt + FIN_DELAY_MS : session.deadline
      }
    }
    this.driver = new EngineDriver(socket, engine, {
      events: (events) => this.dispatch(events),
      done: () => this.finished(),
      closed: () => { if (!session.closed) { session.close('socket closed'); this.dispatch(session.takeEvents()) } },
      // The test sees an engine throw as a closed connection (and its own assertion failing).
      failed: (err) => { process.emitWarning(`socket-loop: ${String(err)}`) }
    })
  }

  /** Those the handlers' own commands raise come back through the driver's takeEvents. */
  private dispatch (events: SessionEvent[]): void {
    for (const ev of events) this.onEvent(ev)
  }

  private finished (): boolean {
    if (!this.session.closed || this.session.bufferedBytes > 0) return false
    this.closedAt ??= Date.now()
    return Date.now() >= this.closedAt + FIN_DELAY_MS
  }

  /** Call after any command: hands events raised by commands to the handler and writes what is due. */
  pump (): void { this.driver.wake() }
}
