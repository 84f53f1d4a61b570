/**
 * The one strict ClientHello parser (RFC 5246 section 7.4.1.2 and the extensions this package reads), shared by
 * our engine (lib/tls/server.ts) and by the connection driver that peeks at a hello before choosing a TLS stack.
 *
 * Pure: body in, a parsed hello out, or a TlsError. Every syntax error is decode_error (RFC 5246 section 7.2.2:
 * "a message could not be decoded because some field was out of the specified range or the length of the message
 * was incorrect"), as OpenSSL and Node answer them: every vector length is checked against its bounds, every
 * vector must be consumed exactly (trailing bytes inside an extension, a list or the message are decode_error),
 * and the lists the RFCs give a minimum length of one element may not be empty. RFC 8446 section 4 states the
 * same vector rules; OpenSSL applies them to 1.2 as well.
 *
 * Meaning (which version, suite, group or protocol we pick, resumption) is not decided here: the server does that
 * from the parsed values, so one syntax error never hides behind a meaning-level alert.
 */
import { TlsError } from '../errors'
import { Alert, Ext } from './constants'
import { parseExtensions, Reader } from './wire'

export interface ClientHello {
  /** client_version (legacy_version in a 1.3 hello). */
  version: number
  random: Buffer
  /** 0 to 32 bytes. */
  sessionId: Buffer
  /** cipher_suites, in the client's order (signalling values included). */
  cipherSuites: number[]
  /** compression_methods; null (0) is among them (checked). */
  compressionMethods: number[]
  /** Every extension by type, raw extension_data, for the ones parsed below and any other. */
  extensions: Map<number, Buffer>
  /** The host_name of server_name (RFC 6066 section 3), null when absent. */
  servername: string | null
  /** ALPN ProtocolNameList (RFC 7301 section 3.1), null when absent; never empty. */
  alpn: string[] | null
  /** The client sent next_protocol_negotiation (13172, draft-agl-tls-nextprotoneg-04 section 3). */
  npn: boolean
  /** signature_algorithms (RFC 5246 section 7.4.1.4.1), null when absent; never empty. */
  signatureAlgorithms: number[] | null
  /** supported_groups (RFC 8422 section 5.1.1), null when absent; never empty. */
  supportedGroups: number[] | null
  /** ec_point_formats (RFC 8422 section 5.1.2), null when absent; never empty. */
  ecPointFormats: number[] | null
  /** supported_versions (RFC 8446 section 4.2.1), null when absent; never empty. */
  supportedVersions: number[] | null
  /** extended_master_secret (RFC 7627 section 5.1), always empty when present. */
  extendedMasterSecret: boolean
  /** SessionTicket (RFC 5077 section 3.2): null when absent, empty when the client asks for a new ticket. */
  sessionTicket: Buffer | null
  /** renegotiated_connection of renegotiation_info (RFC 5746 section 3.2), null when absent. */
  renegotiationInfo: Buffer | null
}

const decodeError = (what: string): TlsError => new TlsError(Alert.decode_error, what)

/** A vector read from `r` that must hold at least `min` bytes and a whole number of `unit`-byte elements. */
const bounded = (v: Buffer, min: number, unit: number, what: string): Buffer => {
  if (v.length < min) throw decodeError(`${what}: empty`)
  if (v.length % unit !== 0) throw decodeError(`${what}: length ${v.length} is not a multiple of ${unit}`)
  return v
}

const u16List = (v: Buffer): number[] => {
  const out: number[] = []
  for (let i = 0; i < v.length; i += 2) out.push(v.readUInt16BE(i))
  return out
}

/** The whole of `data` is exactly one vector read by `read`; returns it. */
const only = (data: Buffer, read: (r: Reader) => Buffer, what: string): Buffer => {
  const r = new Reader(data)
  const v = read(r)
  if (r.left !== 0) throw decodeError(`${what}: ${r.left} trailing bytes`)
  return v
}
const vec8Of = (r: Reader): Buffer => r.vec8()
const vec16Of = (r: Reader): Buffer => r.vec16()

/** ProtocolNameList (RFC 7301 section 3.1): ProtocolName protocol_name_list<2..2^16-1>, ProtocolName<1..2^8-1>. */
const alpnList = (data: Buffer): string[] => {
  const list = new Reader(bounded(only(data, vec16Of, 'ALPN'), 2, 1, 'ALPN protocol_name_list'))
  const out: string[] = []
  while (list.left > 0) {
    const name = list.vec8()
    if (name.length === 0) throw decodeError('ALPN: empty protocol name')
    out.push(name.toString('latin1'))
  }
  return out
}

/**
 * ServerNameList (RFC 6066 section 3): ServerName server_name_list<1..2^16-1>, each a name_type and, for
 * host_name(0), HostName<1..2^16-1>. Every name type known so far carries a 16-bit vector, so the list is walked
 * whole (nothing left over); "MUST NOT contain more than one name of the same name_type".
 */
const serverName = (data: Buffer): string | null => {
  const list = new Reader(bounded(only(data, vec16Of, 'server_name'), 1, 1, 'server_name list'))
  const seen = new Set<number>()
  let host: string | null = null
  while (list.left > 0) {
    const type = list.u8()
    const name = list.vec16()
    if (name.length === 0) throw decodeError('server_name: empty name')
    if (seen.has(type)) throw new TlsError(Alert.illegal_parameter, `server_name: two names of type ${type}`)
    seen.add(type)
    if (type === 0) host = name.toString('latin1')
  }
  return host
}

/**
 * Parse a ClientHello body (the handshake message without its 4-byte header). Throws TlsError: decode_error for
 * any syntax error; illegal_parameter for a repeated extension (RFC 5246 section 7.4.1.4, as OpenSSL answers
 * it) or a repeated server name type.
 */
export const parseClientHello = (body: Buffer): ClientHello => {
  const r = new Reader(body)
  const version = r.u16()
  const random = r.bytes(32)
  // SessionID session_id<0..32> (section 7.4.1.2)
  const sessionId = r.vec8()
  if (sessionId.length > 32) throw decodeError(`session_id of ${sessionId.length} bytes`)
  // CipherSuite cipher_suites<2..2^16-2>
  const cipherSuites = u16List(bounded(r.vec16(), 2, 2, 'cipher_suites'))
  // CompressionMethod compression_methods<1..2^8-1>
  const compressionMethods = [...bounded(r.vec8(), 1, 1, 'compression_methods')]
  // Section 7.4.1.2: extensions are present when bytes follow compression_methods; then the block is exactly the
  // rest, and a repeated type is illegal_parameter (section 7.4.1.4).
  const extensions = parseExtensions(r)
  if (r.left !== 0) throw decodeError(`${r.left} trailing bytes after the extensions`)
  // "this vector MUST contain, and all implementations MUST support, CompressionMethod.null" (section 7.4.1.2);
  // OpenSSL answers its absence with decode_error.
  if (!compressionMethods.includes(0)) throw decodeError('null compression not offered')

  const get = <T>(type: number, parse: (d: Buffer) => T): T | null => {
    const d = extensions.get(type)
    return d === undefined ? null : parse(d)
  }
  const empty = (type: number, what: string): boolean => {
    const d = extensions.get(type)
    if (d !== undefined && d.length !== 0) throw decodeError(`${what} must be empty`)
    return d !== undefined
  }
  return {
    version,
    random,
    sessionId,
    cipherSuites,
    compressionMethods,
    extensions,
    servername: get(Ext.server_name, serverName),
    alpn: get(Ext.alpn, alpnList),
    // draft-agl-tls-nextprotoneg-04 section 3: "the extension_data field ... MUST be empty" from the client.
    npn: empty(Ext.next_protocol_negotiation, 'next_protocol_negotiation'),
    // SignatureAndHashAlgorithm supported_signature_algorithms<2..2^16-2>
    signatureAlgorithms: get(Ext.signature_algorithms, (d) => u16List(bounded(only(d, vec16Of, 'signature_algorithms'), 2, 2, 'signature_algorithms'))),
    // NamedCurve named_curve_list<2..2^16-1> (RFC 8422 section 5.1.1)
    supportedGroups: get(Ext.supported_groups, (d) => u16List(bounded(only(d, vec16Of, 'supported_groups'), 2, 2, 'supported_groups'))),
    // ECPointFormat ec_point_format_list<1..2^8-1> (RFC 8422 section 5.1.2)
    ecPointFormats: get(Ext.ec_point_formats, (d) => [...bounded(only(d, vec8Of, 'ec_point_formats'), 1, 1, 'ec_point_formats')]),
    // ProtocolVersion versions<2..254> (RFC 8446 section 4.2.1)
    supportedVersions: get(Ext.supported_versions, (d) => u16List(bounded(only(d, vec8Of, 'supported_versions'), 2, 2, 'supported_versions'))),
    // RFC 7627 section 5.1: "The extension_data field of this extension is empty."
    extendedMasterSecret: empty(Ext.extended_master_secret, 'extended_master_secret'),
    sessionTicket: extensions.get(Ext.session_ticket) ?? null,
    // opaque renegotiated_connection<0..255> (RFC 5746 section 3.2)
    renegotiationInfo: get(Ext.renegotiation_info, (d) => only(d, vec8Of, 'renegotiation_info'))
  }
}
