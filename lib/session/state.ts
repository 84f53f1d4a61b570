/**
 * The stream state machine as an explicit table: (state, input) -> next state or a defined protocol answer.
 * Anything not in the table is a protocol error: the lookup falls back to RST_STREAM(PROTOCOL_ERROR).
 *
 * States after SPDY/3 section 2.3 (there is no "reserved" state: a pushed stream is opened half-closed).
 * "local" is us, "remote" the peer; half_closed_local means we sent FIN and may still receive.
 */
import { RstStatus, type RstStatusCode } from '../errors'

export type StreamState = 'open' | 'half_closed_local' | 'half_closed_remote' | 'closed'

export type StreamInput =
  | 'recv_data' // DATA without FIN
  | 'recv_fin' // DATA or HEADERS with FIN
  | 'recv_headers' // HEADERS without FIN
  | 'recv_syn_reply' // client only: the reply to our SYN_STREAM
  | 'recv_rst'
  | 'recv_window_update'
  | 'send_data'
  | 'send_fin'
  | 'send_rst'

export type Transition =
  | { next: StreamState }
  /** Answer the peer with RST_STREAM(status); the stream is closed. */
  | { rst: RstStatusCode, why: string }
  /** Nothing to do (e.g. a WINDOW_UPDATE for a stream we finished sending on). */
  | { ignore: true }

const rst = (status: RstStatusCode, why: string): Transition => ({ rst: status, why })

/**
 * SPDY/3 section 2.4.2: data after the peer's FIN is STREAM_ALREADY_CLOSED; a second SYN_REPLY is STREAM_IN_USE
 * (2.6.2); frames after our RST are ignored (2.4.2, "after sending a RST_STREAM, the sender must ignore frames").
 */
export const TABLE: Record<StreamState, Record<StreamInput, Transition>> = {
  open: {
    recv_data: { next: 'open' },
    recv_fin: { next: 'half_closed_remote' },
    recv_headers: { next: 'open' },
    recv_syn_reply: { next: 'open' },
    recv_rst: { next: 'closed' },
    recv_window_update: { next: 'open' },
    send_data: { next: 'open' },
    send_fin: { next: 'half_closed_local' },
    send_rst: { next: 'closed' }
  },
  half_closed_local: {
    recv_data: { next: 'half_closed_local' },
    recv_fin: { next: 'closed' },
    recv_headers: { next: 'half_closed_local' },
    recv_syn_reply: { next: 'half_closed_local' },
    recv_rst: { next: 'closed' },
    recv_window_update: { ignore: true },
    send_data: rst(RstStatus.PROTOCOL_ERROR, 'data after our own FIN'),
    send_fin: rst(RstStatus.PROTOCOL_ERROR, 'second FIN from us'),
    send_rst: { next: 'closed' }
  },
  half_closed_remote: {
    recv_data: rst(RstStatus.STREAM_ALREADY_CLOSED, 'DATA after the peer\'s FIN'),
    recv_fin: rst(RstStatus.STREAM_ALREADY_CLOSED, 'FIN after the peer\'s FIN'),
    recv_headers: rst(RstStatus.STREAM_ALREADY_CLOSED, 'HEADERS after the peer\'s FIN'),
    recv_syn_reply: rst(RstStatus.STREAM_IN_USE, 'second SYN_REPLY'),
    recv_rst: { next: 'closed' },
    recv_window_update: { next: 'half_closed_remote' },
    send_data: { next: 'half_closed_remote' },
    send_fin: { next: 'closed' },
    send_rst: { next: 'closed' }
  },
  closed: {
    recv_data: rst(RstStatus.STREAM_ALREADY_CLOSED, 'DATA on a closed stream'),
    recv_fin: rst(RstStatus.STREAM_ALREADY_CLOSED, 'FIN on a closed stream'),
    recv_headers: rst(RstStatus.STREAM_ALREADY_CLOSED, 'HEADERS on a closed stream'),
    recv_syn_reply: rst(RstStatus.STREAM_IN_USE, 'SYN_REPLY on a closed stream'),
    recv_rst: { ignore: true },
    recv_window_update: { ignore: true },
    send_data: rst(RstStatus.PROTOCOL_ERROR, 'data on a closed stream'),
    send_fin: rst(RstStatus.PROTOCOL_ERROR, 'FIN on a closed stream'),
    send_rst: { ignore: true }
  }
}

export const STATES = Object.keys(TABLE) as StreamState[]
export const INPUTS = Object.keys(TABLE.open) as StreamInput[]

export function transition (state: StreamState, input: StreamInput): Transition {
  return TABLE[state][input] ?? rst(RstStatus.PROTOCOL_ERROR, `${input} in state ${state}`)
}
