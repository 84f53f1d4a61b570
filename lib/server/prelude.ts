/**
 * What a connection shows before it knows its protocol (the PROXY header stage, the TLS stack choice): nothing
 * negotiated, no streams, nothing in flight, so at maxSessions it may be closed for another. A leaf module, so both
 * stages share it without importing each other.
 */
export abstract class Prelude {
  readonly protocol = null
  readonly version = null
  readonly openStreams = 0
  readonly streamsServed = 0
  readonly rttMs = null
  readonly compressionContextsLive = false
  readonly idle = true
  /** No session yet: nothing to ping. */
  ping (): boolean { return false }
}
