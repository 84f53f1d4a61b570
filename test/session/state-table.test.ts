/**
 * Walks every (state, input) pair of the stream state table on a real session: the stream is driven into the
 * state with real frames, the input is applied as a real frame (recv_*) or command (send_*), and the outcome on the
 * wire and in the session must be what the table says.
 */
import t from 'tap'
import { SpdySession, TABLE, STATES, INPUTS, type StreamInput, type StreamState } from '../../lib/session'
import { FrameDecoder, FrameEncoder, type Frame } from '../../lib/codec'
import { requestHeaderList, responseHeaderList } from '../../lib/session/headers'

const V = 3 as const
const req = requestHeaderList(V, { method: 'GET', path: '/', authority: 'x' })
const reply = responseHeaderList(V, 200, {})

function outbound (s: SpdySession, d: FrameDecoder): Frame[] {
  const frames: Frame[] = []
  for (const c of s.takeOutbound()) for (const e of d.push(c)) if (e.type !== 'STREAM_ERROR' && e.type !== 'SESSION_ERROR') frames.push(e)
  return frames
}

/** A server session with stream 1 in `state` (or a client session with stream 1, for recv_syn_reply). */
function setup (state: StreamState, role: 'server' | 'client'): { s: SpdySession, peer: FrameEncoder, read: FrameDecoder } {
  const s = new SpdySession({ role, version: V }, 0)
  const peer = new FrameEncoder({ version: V })
  const read = new FrameDecoder({ version: V })
  outbound(s, read) // our SETTINGS
  if (role === 'server') {
    const fin = state === 'half_closed_remote' || state === 'closed'
    s.receive(peer.encode({ type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, fin, unidirectional: false, headers: req }), 0)
    if (state === 'half_closed_local' || state === 'closed') s.respond(1, reply, true)
  } else {
    const fin = state === 'half_closed_local' || state === 'closed'
    s.request(req, { fin })
    if (state === 'half_closed_remote' || state === 'closed') {
      s.receive(peer.encode({ type: 'SYN_REPLY', streamId: 1, fin: true, headers: reply }), 0)
    }
  }
  outbound(s, read)
  return { s, peer, read }
}

function apply (input: StreamInput, s: SpdySession, peer: FrameEncoder): boolean | undefined {
  switch (input) {
    case 'recv_data': s.receive(peer.encode({ type: 'DATA', streamId: 1, fin: false, data: Buffer.from('x') }), 0); return
    case 'recv_fin': s.receive(peer.encode({ type: 'DATA', streamId: 1, fin: true, data: Buffer.from('x') }), 0); return
    case 'recv_headers': s.receive(peer.encode({ type: 'HEADERS', streamId: 1, fin: false, headers: [['x-a', 'b']] }), 0); return
    case 'recv_syn_reply': s.receive(peer.encode({ type: 'SYN_REPLY', streamId: 1, fin: false, headers: reply }), 0); return
    case 'recv_rst': s.receive(peer.encode({ type: 'RST_STREAM', streamId: 1, status: 5 }), 0); return
    case 'recv_window_update': s.receive(peer.encode({ type: 'WINDOW_UPDATE', streamId: 1, deltaWindowSize: 100 }), 0); return
    case 'send_data': return s.write(1, Buffer.from('y'))
    case 'send_fin': s.end(1); return
    case 'send_rst': s.reset(1, 5); return
  }
}

for (const state of STATES) {
  for (const input of INPUTS) {
    const expected = TABLE[state][input]
    t.test(`${state} + ${input}`, async (t) => {
      const role = input === 'recv_syn_reply' ? 'client' : 'server'
      const { s, peer, read } = setup(state, role)
      t.equal(s.streamState(1), state === 'closed' ? null : state, 'driven into the state')
      const result = apply(input, s, peer)
      const frames = outbound(s, read)
      const rsts = frames.filter((f): f is Extract<Frame, { type: 'RST_STREAM' }> => f.type === 'RST_STREAM' && f.streamId === 1)
      if ('next' in expected) {
        const ownReset = input === 'send_rst' ? 1 : 0
        t.equal(rsts.length, ownReset, 'no protocol answer')
        t.equal(s.streamState(1), expected.next === 'closed' ? null : expected.next, `-> ${expected.next}`)
      } else if ('rst' in expected) {
        if (input.startsWith('send_')) {
          // Our own misuse is refused without punishing the peer.
          t.equal(rsts.length, 0, 'command refused, nothing sent')
          if (input === 'send_data') t.equal(result, false, 'write() refused')
        } else {
          t.same(rsts.map((f) => f.status), [expected.rst], `answered RST_STREAM ${expected.rst}`)
          t.equal(s.streamState(1), null, 'stream closed')
        }
      } else {
        t.equal(rsts.length, 0, 'ignored: no answer')
        t.equal(s.streamState(1), state === 'closed' ? null : state, 'state unchanged')
      }
    })
  }
}
