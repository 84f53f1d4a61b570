/**
 * The Driver (./driver.ts) for pull-style sans-IO engines: the SPDY session (lib/session), the TLS engines
 * (lib/tls), or a stack of them (the client). The engine contract:
 *   receive(bytes, now) -> events     bytes from the socket;
 *   tick(now) -> events               called once `deadline` (ms since epoch, or null) has passed;
 *   takeOutbound() -> bytes           what to write now (one buffer or a list; empty when nothing);
 *   takeEvents() -> events (optional) events raised by commands or by taking output;
 *   done (an option)                  nothing more to say: the socket is ended (end -> linger -> destroy).
 * After every receive, tick and wake() (the engine was given a command from outside: a request, a write), the
 * driver hands the events to `events`, takes the output and writes it, re-arms its one timer at the engine's
 * deadline, and ends the socket once `done` says so. While the socket is congested the output stays in the engine
 * (the session's own queue is bounded) and is taken on drain.
 */
import type net from 'node:net'
import { Driver, type DriverOptions } from './driver'

export interface PullEngine<E> {
  receive (bytes: Uint8Array, now: number): E[] | undefined | void
  tick (now: number): E[] | undefined | void
  readonly deadline: number | null
  takeOutbound (): Uint8Array[] | Uint8Array
  /** Events raised outside receive/tick: by commands, or by taking output (a session that closes once drained). */
  takeEvents? (): E[]
}

export interface EngineDriverOptions<E> extends DriverOptions {
  /** The events of a receive or tick, before output is taken: commands given to the engine here go out with it. */
  events?: (events: E[]) => void
  /** True once the engine has nothing more to say: the socket is ended. Checked after every pump. */
  done?: () => boolean
  /** The peer's FIN. */
  peerEnded?: () => void
  /** The socket closed (not under the barrier). */
  closed?: () => void
  /** The crash barrier's callback: an engine or event handler threw; the socket is ended next. */
  failed?: (err: unknown) => void
  socketError?: (err: NodeJS.ErrnoException) => void
  /**
   * For a list of chunks about to be written: a callback for when the socket wrote them (lib/tls/outbuf.ts
   * WrittenSlabs.track gives pooled record buffers back from there), or undefined.
   */
  written?: (chunks: Uint8Array[]) => ((err?: Error | null) => void) | undefined
}

export class EngineDriver<E> extends Driver {
  private waiting = false
  constructor (socket: net.Socket, readonly engine: PullEngine<E>, private readonly opts: EngineDriverOptions<E> = {}) {
    super(socket, opts)
  }

  /** After a command given to the engine from outside: write what it queued, re-arm, end if done. */
  wake (): void { this.run(this.pump) }

  protected override received (chunk: Buffer): void {
    const ev = this.engine.receive(chunk, Date.now())
    if (ev !== undefined && ev.length > 0) this.opts.events?.(ev)
    this.pump()
  }

  protected override timedOut (now: number): void {
    const ev = this.engine.tick(now)
    if (ev !== undefined && ev.length > 0) this.opts.events?.(ev)
    this.pump()
  }

  protected override peerEnded (): void { this.opts.peerEnded?.() }
  protected override closed (): void { this.opts.closed?.() }
  protected override failed (err: unknown): void { this.opts.failed?.(err) }
  protected override socketError (err: NodeJS.ErrnoException): void { this.opts.socketError?.(err) }

  private readonly pump = (): void => {
    // Events and output feed each other (an event handler queues a reply; taking the output closes a drained
    // session): go round until both are quiet, a bounded number of times, then yield to the event loop.
    let round = 0
    // Only an engine with nothing left to write may end the socket: a congested socket or a pump cut at 16 rounds
    // still holds its last frames (GOAWAY, close_notify), and ending would drop them. Drain or the next turn pumps again.
    let quiet = false
    for (; round < 16; round++) {
      if (this.ended) return
      const ev = this.engine.takeEvents?.()
      if (ev !== undefined && ev.length > 0) this.opts.events?.(ev)
      if (this.congested) {
        // The peer is behind: what the engine has stays there until the socket drains.
        if (!this.waiting) { this.waiting = true; this.onWritable(this.afterDrain) }
        break
      }
      const out = this.engine.takeOutbound()
      if (out instanceof Uint8Array) { if (out.length > 0) this.send(out) } else if (out.length > 0) this.sendMany(out, this.opts.written?.(out))
      if ((out.length === 0) && (ev === undefined || ev.length === 0)) { quiet = true; break }
    }
    if (this.ended) return
    if (round === 16) setImmediate(this.wakeUp)
    if (quiet && this.opts.done?.() === true) { this.end(); return }
    this.schedule(this.engine.deadline)
  }

  private readonly wakeUp = (): void => this.wake()

  private readonly afterDrain = (): void => { this.waiting = false; this.pump() }
}
