/**
 * A new session's opening frames (SETTINGS) wait for the first answer only while one is expected soon, and never
 * longer than OPENING_HOLD_MS (lib/server/spdy-handler.ts). The policy is pure and checked here case by case; that
 * SETTINGS then shares the answer's TLS record, and that a handler that does not answer does not hold them back, is
 * shown against openssl s_client and spdy-transport in test/interop/opening-frames.test.ts.
 */
import t from 'tap'
import { holdOpening, OPENING_HOLD_MS } from '../../lib/server/spdy-handler'

t.test('holdOpening: only opening frames queued, and a request in flight or awaiting its answer', async (t) => {
  t.ok(holdOpening(true, 0, false), 'nothing received yet (the handshake\'s last flight came alone): the request is on its way')
  t.ok(holdOpening(true, 2, true), 'SETTINGS and SYN_STREAM received, the stream not answered yet')
  t.notOk(holdOpening(true, 1, false), 'the peer sent only SETTINGS (or PING, answered already), no request: SETTINGS at once')
  t.notOk(holdOpening(false, 2, true), 'anything else queued (a PING reply, the SYN_REPLY, RST_STREAM, GOAWAY) goes now, with SETTINGS')
  t.notOk(holdOpening(false, 0, false))
  t.ok(OPENING_HOLD_MS > 0 && OPENING_HOLD_MS <= 10, 'a small fixed bound')
})
