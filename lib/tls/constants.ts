/**
 * Wire numbers of TLS 1.2 (RFC 5246) and the extensions this engine speaks. Names follow the RFCs so a reader
 * can grep the spec for them.
 */

/** ContentType, RFC 5246 section 6.2.1. */
export const ContentType = {
  change_cipher_spec: 20,
  alert: 21,
  handshake: 22,
  application_data: 23
} as const

/** HandshakeType, RFC 5246 section 7.4, RFC 5077 (new_session_ticket), draft-agl-tls-nextprotoneg-04 (next_protocol). */
export const HandshakeType = {
  hello_request: 0,
  client_hello: 1,
  server_hello: 2,
  new_session_ticket: 4,
  certificate: 11,
  server_key_exchange: 12,
  certificate_request: 13,
  server_hello_done: 14,
  certificate_verify: 15,
  client_key_exchange: 16,
  finished: 20,
  next_protocol: 67
} as const

/** AlertDescription, RFC 5246 section 7.2 plus RFC 7301 (no_application_protocol) and RFC 7507 (inappropriate_fallback). */
export const Alert = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  no_renegotiation: 100,
  unsupported_extension: 110,
  unrecognized_name: 112,
  no_application_protocol: 120
} as const

export const alertName = (code: number): string =>
  (Object.keys(Alert) as Array<keyof typeof Alert>).find((k) => Alert[k] === code) ?? `alert_${code}`

export const AlertLevel = { warning: 1, fatal: 2 } as const

/** ExtensionType values (IANA registry). */
export const Ext = {
  server_name: 0, // RFC 6066 section 3
  supported_groups: 10, // RFC 8422 section 5.1.1 (was elliptic_curves)
  ec_point_formats: 11, // RFC 8422 section 5.1.2
  signature_algorithms: 13, // RFC 5246 section 7.4.1.4.1
  alpn: 16, // RFC 7301 section 3.1
  extended_master_secret: 23, // RFC 7627 section 5.1
  session_ticket: 35, // RFC 5077 section 3.2
  supported_versions: 43, // RFC 8446 section 4.2.1, read only to find 1.2 in a 1.3 ClientHello
  next_protocol_negotiation: 13172, // draft-agl-tls-nextprotoneg-04 section 3
  renegotiation_info: 0xff01 // RFC 5746 section 3.2
} as const

/** ProtocolVersion on the wire. */
export const Version = { TLS10: 0x0301, TLS11: 0x0302, TLS12: 0x0303 } as const
export const versionName = (v: number): string =>
  v === Version.TLS12 ? 'TLSv1.2' : v === Version.TLS11 ? 'TLSv1.1' : v === Version.TLS10 ? 'TLSv1' : `0x${v.toString(16)}`

/** NamedGroup, RFC 8422 section 5.1.1 / RFC 7748. */
export const Group = { secp256r1: 23, secp384r1: 24, x25519: 29 } as const

/** SignatureScheme (RFC 8446 section 4.2.3 numbering, which reads as RFC 5246 hash/signature byte pairs in 1.2). */
export const SigScheme = {
  rsa_pkcs1_sha1: 0x0201,
  ecdsa_sha1: 0x0203,
  rsa_pkcs1_sha256: 0x0401,
  ecdsa_secp256r1_sha256: 0x0403,
  rsa_pkcs1_sha384: 0x0501,
  ecdsa_secp384r1_sha384: 0x0503,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805
} as const

/** Signalling cipher suite values: RFC 5746 section 3.3 and RFC 7507 section 2. */
export const TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff
export const TLS_FALLBACK_SCSV = 0x5600
