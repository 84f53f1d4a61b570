/**
 * The one socket pump every sans-IO engine runs on (issue 11, "one connection driver"): the server's connections
 * (lib/server/connection.ts), the client (lib/client/client.ts), the test harnesses and the benchmarks' load
 * generators. It knows nothing of Fastify, SPDY or TLS; it owns:
 * - the socket and its events, each run under one crash barrier (run()): an unexpected throw ends this connection
 *   only, and the subclass's failed() decides what is said and logged;
 * - the single timer of the connection, armed at the earliest of the engine's deadline (schedule()), the unread
 *   output check and the linger deadline. A deadline that moves later leaves the timer alone: it fires, sees the
 *   later deadline and re-arms then. Only an earlier deadline re-creates it. (An idle deadline moves on every read;
 *   clearing and re-making a setTimeout per read cost a timer-list insertion each time.)
 * - backpressure: sending while the socket holds over maxUnreadOutputBytes pauses reading (hold HOLD_OUTPUT), a
 *   drain resumes it; a peer that takes none of our output for unreadOutputTimeout is closed;
 * - closing: end -> linger -> destroy, always with a deadline (lingerMs), reading and dropping at most
 *   lingerDiscardBytes meanwhile so the peer's FIN is seen.
 * - reading: each read reaches received() as its own Buffer, through the socket's 'data' events or, once
 *   readInPlace() switched the socket over, straight from the read (net.Socket `onread`, no stream machinery).
 * Subclasses override the hooks (received, peerEnded, timedOut, failed, closed, ...); engine-driver.ts is the
 * adapter for pull-style engines (receive / takeOutbound / deadline / tick / done).
 */
import type net from 'node:net'
import { CLOSE_LINGER_MS, LINGER_DISCARD_BYTES } from './linger'
import { HOLD_OUTPUT } from './read-holds'

export interface DriverOptions {
  /** Unread output (bytes in the socket's buffer) past which reading pauses; Infinity: never. */
  maxUnreadOutputBytes?: number
  /** ms a congested socket may go without the peer taking any of our output before it is destroyed; 0: never. */
  unreadOutputTimeout?: number
  /** ms after our FIN before the socket is destroyed (default CLOSE_LINGER_MS). */
  lingerMs?: number
  /** Bytes read and dropped after our FIN before the socket is destroyed (default LINGER_DISCARD_BYTES). */
  lingerDiscardBytes?: number
}

/** Flushes up to this size are copied into one buffer before the socket write (see sendMany). */
const COALESCE_BYTES = 64 * 1024

/**
 * Where every in-place socket reads (readInPlace): one buffer for all of them, since each read is copied out before
 * its callback returns and the next read, of any socket, only comes from the event loop after that. 64 KiB is what
 * libuv gets for a read on Node's stream path too, so a bulk upload takes as many reads either way.
 */
const READ_BUFFER_BYTES = 64 * 1024
let readBuffer: Buffer | null = null

/**
 * net.Socket's `onread` option (Node >= 12, net docs: reads go into the given buffer and to a callback, with no
 * Buffer per read, no Readable push, no 'data' event) as its constructor stores it: three own symbol-keyed fields,
 * read on every read by Node's onStreamRead (lib/internal/stream_base_commons.js) and by Socket pause()/resume(),
 * plus the handle's useUserBuffer(), which makes libuv read into that buffer. Node offers the option only to sockets
 * it makes with `new net.Socket()`, never to the ones a net.Server accepts, and the SPDY port must first read a
 * socket the normal way to know whether it is ours at all (HTTP/1.1 and OpenSSL's clients need the stream). So an
 * accepted socket is switched over here, in place, once it is known to stay ours. Null when this Node has not the
 * same fields (checked on Node 20, 22 and 24): the socket then keeps its stream.
 */
interface OnreadFields { buffer: symbol, callback: symbol, generator: symbol }
let onreadFields: OnreadFields | null | undefined

function findOnreadFields (socket: net.Socket): OnreadFields | null {
  if (onreadFields !== undefined) return onreadFields
  const own = Object.getOwnPropertySymbols(socket)
  const find = (name: string): symbol | undefined => own.find((sym) => sym.description === name)
  const buffer = find('kBuffer')
  const callback = find('kBufferCb')
  const generator = find('kBufferGen')
  const fields = (socket as unknown as Record<symbol, unknown>)
  onreadFields = buffer !== undefined && callback !== undefined && generator !== undefined &&
    fields[buffer] === null && fields[callback] === null && fields[generator] === null
    ? { buffer, callback, generator }
    : null
  return onreadFields
}

export class Driver {
  /** The engine's deadline (schedule()); null: none. */
  private wantAt: number | null = null
  /** When the unread-output check runs (watchOutput); null: not watching. */
  private stallAt: number | null = null
  /** When a closing socket is destroyed (end()); null: not closing. */
  private lingerAt: number | null = null
  /** The one timer and the time it was armed for: it stands for every deadline at or after timerAt. */
  private timer: NodeJS.Timeout | null = null
  private timerAt = 0
  private writableWaiters: Array<() => void> = []
  /** Our FIN went out (or the socket is destroyed): nothing is sent or read for the engine any more. */
  protected ended = false
  /** An unexpected throw ended this connection: nothing calls into the engine any more. */
  protected crashed = false
  /** Why reading is paused (HOLD_* bits, lib/server/read-holds.ts); reading goes on when none is left. */
  private readHolds = 0
  private progressAt = 0
  private queuedAt = 0
  bytesRead = 0
  /** Bytes read and dropped after our end(). */
  private discarded = 0
  /** readInPlace() switched the socket over: reads come to onSocketRead, not as 'data'. */
  private inPlace = false
  /** readInPlace() was asked for but had to wait (reading held, bytes buffered in the stream): retried per read. */
  private inPlaceWanted = false
  private readonly maxUnread: number
  private readonly unreadTimeout: number
  private readonly lingerMs: number
  private readonly lingerDiscard: number

  constructor (readonly socket: net.Socket, options: DriverOptions = {}) {
    this.maxUnread = options.maxUnreadOutputBytes ?? Infinity
    this.unreadTimeout = options.unreadOutputTimeout ?? 0
    this.lingerMs = options.lingerMs ?? CLOSE_LINGER_MS
    this.lingerDiscard = options.lingerDiscardBytes ?? LINGER_DISCARD_BYTES
    socket.on('data', this.onSocketData)
    socket.on('drain', this.onSocketDrain)
    socket.on('error', this.onSocketError)
    socket.on('end', this.onSocketEnd)
    socket.on('close', this.onSocketClose)
  }

  // ---- hooks for subclasses ----

  /** Bytes from the peer (under the crash barrier). */
  protected received (_chunk: Buffer): void {}
  /** The peer's FIN (under the crash barrier). */
  protected peerEnded (): void {}
  /** The engine's deadline passed (under the crash barrier); `now` is at least the deadline asked for. */
  protected timedOut (_now: number): void {}
  /**
   * An unexpected throw (the crash barrier): log it, say what can still be said. The driver then ends the socket
   * (end -> linger -> destroy) unless this destroyed it.
   */
  protected failed (_err: unknown): void {}
  /** The socket is closed (not under the barrier: there is no connection left to end). */
  protected closed (): void {}
  /** A socket error; peers vanish all the time (ECONNRESET, EPIPE), 'close' follows. */
  protected socketError (_err: NodeJS.ErrnoException): void {}
  /** The peer took none of our output within unreadOutputTimeout; the socket is destroyed next. */
  protected unreadOutput (_unread: number): void {}
  /** detach() gave the socket to another layer: nothing more of it reaches this connection (closed() never comes). */
  protected detached (): void {}

  // ---- entry points ----

  private readonly onSocketDrain = (): void => this.run(this.onDrain)
  private readonly onSocketEnd = (): void => this.run(() => this.peerEnded())
  private readonly onSocketError = (err: NodeJS.ErrnoException): void => this.socketError(err)
  private readonly onSocketClose = (): void => this.onClose()
  /** A read of `nread` bytes into the shared read buffer (readInPlace): copied out, then handled as 'data'. */
  private readonly onSocketRead = (nread: number, buf: Buffer): void => {
    // The copy is a slice of Node's buffer pool below 4 KiB: far less than the stream path's ArrayBuffer per read.
    // The engines keep views of what they are given (a DATA frame's payload, a record cut by a read), and the
    // shared buffer is overwritten by the next read.
    const chunk = Buffer.allocUnsafe(nread)
    buf.copy(chunk, 0, 0, nread)
    this.onSocketData(chunk)
  }

  private readonly onSocketData = (chunk: Buffer): void => {
    if (this.ended) {
      // We sent our FIN: nothing the peer says now can be answered. Dropped, up to lingerDiscardBytes.
      this.discarded += chunk.length
      if (this.discarded > this.lingerDiscard) this.socket.destroy()
      return
    }
    this.bytesRead += chunk.length
    if (this.crashed) return
    try { this.received(chunk) } catch (err) { this.crash(err); return }
    // What we owe the peer grows with what it sends (PING and SETTINGS answers, responses): if it does not read,
    // stop reading it until the socket drains (issue 11: a PING flood from non-readers took 2.6 GB).
    if (this.socket.writableLength > this.maxUnread) this.hold(HOLD_OUTPUT, true)
    else if (this.inPlaceWanted) this.readInPlace()
  }

  /** The crash barrier: every entry point into the connection goes through here. */
  run (fn: () => void): void {
    if (this.crashed) return
    try { fn() } catch (err) { this.crash(err) }
  }

  private crash (err: unknown): void {
    if (this.crashed) return
    this.crashed = true
    // failed() is the subclass's: it may throw too, and the socket must be closed regardless.
    try { this.failed(err) } catch { /* the peer sees the TCP close */ }
    if (!this.socket.destroyed) this.end()
  }

  // ---- output ----

  get congested (): boolean {
    return this.socket.writableNeedDrain
  }

  /** Bytes sent that the socket has not yet written (the session's answer budget: SpdySession.transportBacklog). */
  get unwrittenBytes (): number { return this.socket.writableLength }

  send (chunk: Uint8Array): void {
    if (this.ended || this.socket.destroyed) return
    this.socket.write(chunk)
  }

  /**
   * Several chunks in one go (one write or writev). `done`, if given, is called (under the barrier) once the socket
   * has written all of them, with an error if it failed.
   */
  sendMany (chunks: Uint8Array[], done?: (err?: Error | null) => void): void {
    if (this.ended || this.socket.destroyed || chunks.length === 0) return
    const written = done === undefined ? undefined : (err?: Error | null) => this.run(() => done(err))
    if (chunks.length === 1) { this.socket.write(chunks[0], written); return }
    let total = 0
    for (let i = 0; i < chunks.length; i++) total += chunks[i].length
    if (total <= COALESCE_BYTES) {
      // Many small frames: one copy costs less than a socket.write per frame and a writev of as many iovecs.
      this.socket.write(Buffer.concat(chunks, total), written)
      return
    }
    // Bulk: corking turns the chunks into one writev without copying the payloads.
    this.socket.cork()
    const last = chunks.length - 1
    for (let i = 0; i < last; i++) this.socket.write(chunks[i])
    this.socket.write(chunks[last], written)
    this.socket.uncork()
  }

  /** `cb` on the next drain (under the barrier). */
  onWritable (cb: () => void): void {
    this.writableWaiters.push(cb)
    this.watchOutput()
  }

  /**
   * From here on the socket's reads skip Node's stream machinery (see OnreadFields): each comes to received() as a
   * Buffer of its own, as before, without the per-read Buffer over a fresh ArrayBuffer, Readable push, 'data' emit
   * and nextTick that a 'data' consumer pays (issue 14: a client writing each frame in pieces costs a read per
   * piece). For a socket that stays ours for good: the switch cannot be undone, so detach() (HTTP/1.1, OpenSSL)
   * must not follow. pause()/resume() (hold()), 'end', 'error' and 'close' work as before; the socket's own
   * read timer too. A TCP socket and a TLSSocket both qualify (tls.connect documents `onread` too: TLSWrap hands
   * each decrypted run to the same callback). While reading is held, or bytes wait in the socket's stream buffer
   * (they would be read after newer ones), the switch waits for a later read (false now). False for good when
   * this Node stores `onread` differently or the handle has no useUserBuffer().
   */
  readInPlace (): boolean {
    if (this.inPlace) return true
    const socket = this.socket
    const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buf: Uint8Array) => void } | null })._handle
    this.inPlaceWanted = false
    if (this.ended || this.crashed || socket.destroyed || typeof handle?.useUserBuffer !== 'function') return false
    const fields = findOnreadFields(socket)
    if (fields === null) return false
    if (this.readHolds !== 0 || socket.readableLength !== 0 || socket.readableFlowing !== true) {
      // Retried after each read on the stream path (onSocketData) until it can be made.
      this.inPlaceWanted = true
      return false
    }
    const buf = readBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES)
    const own = socket as unknown as Record<symbol, unknown>
    own[fields.buffer] = buf
    own[fields.callback] = this.onSocketRead
    handle.useUserBuffer(buf)
    this.inPlace = true
    return true
  }

  /** Pauses (or resumes) reading the socket for one reason; reading goes on only when no reason is left. */
  hold (reason: number, on: boolean): void {
    const before = this.readHolds
    this.readHolds = on ? before | reason : before & ~reason
    if (this.ended || this.socket.destroyed) return
    if (before === 0 && this.readHolds !== 0) this.socket.pause()
    else if (before !== 0 && this.readHolds === 0) this.socket.resume()
    if (reason === HOLD_OUTPUT && on) this.watchOutput()
  }

  private readonly onDrain = (): void => {
    const waiters = this.writableWaiters
    this.writableWaiters = []
    for (const cb of waiters) cb()
    if ((this.readHolds & HOLD_OUTPUT) !== 0) this.hold(HOLD_OUTPUT, false)
  }

  /** While the socket is congested, checks every unreadOutputTimeout that the peer takes some of our output. */
  private watchOutput (): void {
    if (this.stallAt !== null || this.ended || this.unreadTimeout <= 0) return
    this.progressAt = this.completedBytes
    this.queuedAt = this.inFlightBytes
    this.stallAt = Date.now() + this.unreadTimeout
    this.arm()
  }

  private checkOutput (): void {
    this.stallAt = null
    if (this.ended || this.socket.destroyed || this.socket.writableLength === 0) return
    // Progress: a write completed, or the one in progress shrank (a single large write completes only at its end).
    if (this.completedBytes > this.progressAt || this.inFlightBytes < this.queuedAt) { this.watchOutput(); return }
    this.unreadOutput(this.socket.writableLength)
    this.destroy()
  }

  /** Bytes whose writes completed (handed to the kernel). */
  private get completedBytes (): number { return this.socket.bytesWritten - this.socket.writableLength }

  /** Bytes of the write in progress still in libuv's queue (net.Socket's own bufferSize used to add the same). */
  private get inFlightBytes (): number {
    return (this.socket as unknown as { _handle?: { writeQueueSize?: number } | null })._handle?.writeQueueSize ?? 0
  }

  // ---- closing ----

  /** Flush, FIN, and destroy if the peer has not closed within the linger time. */
  end (): void {
    if (this.ended) return
    this.ended = true
    this.wantAt = null
    this.stallAt = null
    this.socket.end()
    // Keep reading (and dropping) so the peer's FIN is seen even if reading was paused for backpressure.
    this.socket.resume()
    if (!this.socket.destroyed) { this.lingerAt = Date.now() + this.lingerMs; this.arm() }
  }

  destroy (): void {
    this.ended = true
    this.stopTimer()
    this.socket.destroy()
  }

  /**
   * Our listeners come off the socket (another layer takes it: the app's HTTP server, OpenSSL) and reading pauses;
   * nothing of ours runs for it any more. Its errors and its close are the new owner's: http.Server and
   * tls.TLSSocket each listen for the socket's 'error' as they take it (synchronously, after this returns), and a
   * listener that still counts the connection (an OpenSSL handshake in progress) hears 'close' on its own.
   */
  detach (): net.Socket {
    // After readInPlace() no 'data' would ever reach the new owner.
    if (this.inPlace) throw new Error('detach() after readInPlace()')
    this.stopTimer()
    const socket = this.socket
    socket.off('data', this.onSocketData)
    socket.off('drain', this.onSocketDrain)
    socket.off('end', this.onSocketEnd)
    socket.off('error', this.onSocketError)
    socket.off('close', this.onSocketClose)
    socket.pause()
    this.detached()
    return socket
  }

  private onClose (): void {
    this.stopTimer()
    this.ended = true
    this.closed()
  }

  // ---- the one timer ----

  /** The engine wants timedOut() at `deadline` (ms since epoch), or never (null). */
  schedule (deadline: number | null): void {
    this.wantAt = deadline
    // A later (or no) deadline keeps the armed timer: when it fires it re-arms for what is wanted then.
    if (deadline !== null && (this.timer === null || deadline < this.timerAt)) this.arm()
  }

  private stopTimer (): void {
    this.wantAt = null
    this.stallAt = null
    this.lingerAt = null
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
  }

  /** Arms the timer at the earliest deadline, unless it is armed already at or before it. */
  private arm (): void {
    let at = this.wantAt
    if (this.stallAt !== null && (at === null || this.stallAt < at)) at = this.stallAt
    if (this.lingerAt !== null && (at === null || this.lingerAt < at)) at = this.lingerAt
    if (at === null || (this.timer !== null && this.timerAt <= at)) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(this.fire, Math.max(0, at - Date.now()))
    // The timer never keeps the process alive on its own: closing the server (or client) is what ends connections.
    this.timer.unref()
  }

  private readonly fire = (): void => {
    this.timer = null
    // Node's timers run on libuv's loop clock, which can be a millisecond behind Date.now() when the timer fires:
    // an engine comparing `now >= deadline` would then do nothing and never be called again. The timer was armed
    // for timerAt, so that is the earliest time it stands for.
    const now = Math.max(Date.now(), this.timerAt)
    if (this.lingerAt !== null && this.lingerAt <= now) { this.lingerAt = null; this.socket.destroy(); return }
    if (this.stallAt !== null && this.stallAt <= now) this.checkOutput()
    const want = this.wantAt
    if (want !== null && want <= now && !this.ended) {
      this.wantAt = null // the engine asks again (schedule) if it wants another tick
      this.run(() => this.timedOut(now))
    }
    if (!this.socket.destroyed) this.arm()
  }
}
