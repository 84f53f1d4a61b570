/**
 * SPDY session <-> Fastify. Placeholder until the session engine lands: refuses the connection cleanly.
 */
import type { Connection, Transport } from './connection'
import type { SpdyVersion } from '../codec/types'
import type { Handler } from './protocol'

export class SpdyHandler implements Handler {
  openStreams = 0
  streamsServed = 0
  rttMs: number | null = null
  constructor (private readonly conn: Connection, private readonly transport: Transport, readonly version: SpdyVersion) {}
  receive (): void { this.transport.destroy() }
  tick (): void {}
  onEnd (): void { this.transport.end() }
  onClose (): void {}
  shutdown (): void { this.transport.end() }
}
