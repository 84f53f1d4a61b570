/**
 * Everything that differs between SPDY/2 and SPDY/3 on the wire, in one table.
 *
 * SPDY/3.1 is version 3 on the wire: its only differences (the session flow-control window, WINDOW_UPDATE on
 * stream 0; no CREDENTIAL use) live in the session layer, so the codec knows versions 2 and 3 only.
 */
import type { WireVersion } from './types'

export interface VersionTable {
  version: WireVersion
  /** Bytes of each length/count field inside a header block: 2 in v2 (section 2.6.10), 4 in v3 (section 2.6.10). */
  headerLengthBytes: 2 | 4
  /** Bits of SYN_STREAM priority: 2 in v2 (section 2.6.1), 3 in v3 (section 2.6.1). */
  priorityBits: 2 | 3
  /** Highest priority number (lowest urgency). */
  lowestPriority: number
  /** Unused bytes after the stream id in SYN_REPLY and HEADERS: 2 in v2 (sections 2.6.2, 2.6.7), 0 in v3. */
  replyPadding: 0 | 2
  /** GOAWAY carries a status code in v3 (section 2.6.6) but not in v2. */
  goawayHasStatus: boolean
  goawayLength: 4 | 8
  /** NOOP exists in v2 only (section 2.6.6 of draft 2); CREDENTIAL in v3 only (section 2.6.9). */
  hasNoop: boolean
  hasCredential: boolean
  /** WINDOW_UPDATE exists in v3 only (section 2.6.8); draft 2 defines no flow control. */
  hasWindowUpdate: boolean
  /**
   * SPDY/2 SETTINGS entries: the draft says "ID: 24 bits, Flags: 8 bits", but Chrome (and after it every
   * implementation, spdy-transport included) wrote the 24-bit id little-endian ahead of the flags byte, while v3
   * puts the flags byte first and the id big-endian (section 2.6.4).
   */
  settingsIdLittleEndian: boolean
  /** Highest RST_STREAM status code defined: 7 in v2, 11 in v3. */
  maxRstStatus: number
  /** Names of the request/response pseudo headers. */
  names: {
    method: string
    path: string
    version: string
    host: string | null
    scheme: string | null
    status: string
  }
}

export const V2: VersionTable = {
  version: 2,
  headerLengthBytes: 2,
  priorityBits: 2,
  lowestPriority: 3,
  replyPadding: 2,
  goawayHasStatus: false,
  goawayLength: 4,
  hasNoop: true,
  hasCredential: false,
  hasWindowUpdate: false,
  settingsIdLittleEndian: true,
  maxRstStatus: 7,
  names: { method: 'method', path: 'url', version: 'version', host: null, scheme: null, status: 'status' }
}

export const V3: VersionTable = {
  version: 3,
  headerLengthBytes: 4,
  priorityBits: 3,
  lowestPriority: 7,
  replyPadding: 0,
  goawayHasStatus: true,
  goawayLength: 8,
  hasNoop: false,
  hasCredential: true,
  hasWindowUpdate: true,
  settingsIdLittleEndian: false,
  maxRstStatus: 11,
  names: { method: ':method', path: ':path', version: ':version', host: ':host', scheme: ':scheme', status: ':status' }
}

export const tableFor = (v: WireVersion): VersionTable => (v === 2 ? V2 : V3)
