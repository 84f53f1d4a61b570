/**
 * Fuzz target: the session engine's receive in the server role (lib/session), with a fake clock: each read
 * advances `now` by an amount taken from the input, and tick() runs whenever the session's deadline has passed, so
 * timers (compression compaction, the 3.1 probe, PING timeouts) run inside the fuzzer too. Every request is answered
 * the way lib/server does (request head parsed, a reply with a body, written until the window stops it), so the
 * send side's flow control and the header rules (lib/session/headers.ts) are reached as well.
 */
import { SpdySession } from '../../../lib/session/session'
import { requestHead, responseHeaderList } from '../../../lib/session/headers'
import { bounded, onlyTyped, slices } from '../invariants'

const BODY = Buffer.alloc(3000, 0x61)

export function fuzz (buf: Buffer): void {
  bounded('session', () => run(buf))
}

function run (buf: Buffer): void {
  const version = buf.length >= 2 && (buf[0] & 0x80) !== 0 && buf[1] === 2 ? 2 : 3.1
  const session = new SpdySession({ role: 'server', version, maxConcurrentStreams: 8, compactAfter: 50 }, 0)
  let now = 0
  const handle = (events: ReturnType<SpdySession['receive']>): void => {
    for (const ev of events) {
      if (ev.type === 'request') {
        let head
        try { head = requestHead(version, ev.headers) } catch (err) { onlyTyped(err); continue }
        if (typeof head === 'string') { session.reset(ev.streamId, 1); continue }
        session.respond(ev.streamId, responseHeaderList(version, 200, { 'content-type': 'text/plain' }))
        session.write(ev.streamId, BODY, ev.fin)
      } else if (ev.type === 'data') {
        session.consume(ev.streamId, ev.data.length)
      }
    }
  }
  for (const chunk of slices(buf)) {
    if (session.closed) break
    now += chunk[0] ?? 0
    handle(session.receive(chunk, now))
    const d = session.deadline
    if (d !== null && d <= now) handle(session.tick(now))
    session.takeOutbound(16384)
  }
  now += 60_000
  handle(session.tick(now))
  session.takeOutbound()
}
