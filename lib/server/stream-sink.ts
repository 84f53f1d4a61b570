/**
 * What a response needs from a SPDY stream. The SPDY handler implements it over the session; tests can record it.
 */
import type { OutgoingHeaders } from '../session/headers'

export interface StreamSink {
  /** SYN_REPLY with the status and headers (mapped to the version's names by the sink). */
  respond (status: number, headers: OutgoingHeaders, fin: boolean): void
  /** Queues DATA; false = over the high-water mark, wait for onDrain. */
  write (chunk: Uint8Array): boolean
  /** FIN after what was written. */
  end (): void
  /** RST_STREAM. */
  reset (status: 'CANCEL' | 'INTERNAL_ERROR'): void
  /** Calls cb once when the stream can take more after write() returned false. */
  onDrain (cb: () => void): void
}

/** Connection facts every request of one SPDY session shares, exposed as `req.socket`. */
export interface ConnectionInfo {
  remoteAddress: string | undefined
  remotePort: number | undefined
  remoteFamily: string | undefined
  localAddress: string | undefined
  localPort: number | undefined
  encrypted: boolean
}
