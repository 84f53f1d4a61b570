/**
 * Limits of the TLS engine. Each one bounds what a peer can make us buffer or how long it can hold a connection
 * before the handshake completes.
 */
import { LIMITS } from '../limits'

/**
 * Largest handshake message the client role reassembles (RFC 5246 section 7.4 allows 2^24-1): the largest it
 * receives is the server's Certificate chain, typically 3-8 KiB, rarely above 30 KiB. 64 KiB keeps every real chain
 * while capping what one connection can make us hold before it authenticates.
 */
export const DEFAULT_MAX_HANDSHAKE_MESSAGE_SIZE = 64 * 1024

/**
 * Largest ClientHello body the server role takes, and so its default maxHandshakeMessageSize: the largest legal
 * one, a 32-byte session id, 32,767 cipher suites, 255 compression methods and a full 65,535-byte extensions block
 * (2 + 32 + 33 + 2 + 65,534 + 1 + 255 + 2 + 65,535 = 131,396; RFC 5246 section 7.4.1.2). OpenSSL's
 * CLIENT_HELLO_MAX_LENGTH is the same number. Real hellos are under 2 KiB, but refusing a legal one is a
 * conformance failure, and reassembly is linear (engine.ts), so the size costs memory only: at most twice what
 * the peer sent, until the handshake timeout.
 */
export const MAX_CLIENT_HELLO_SIZE = 131_396

/**
 * Milliseconds from the first byte to a finished handshake. A real handshake is 2 round trips plus a few ms of
 * crypto; 10 s covers slow mobile links several times over, and stops slowloris-style clients from pinning sockets
 * (Node's default of 120 s is generous for a server that exists to be reached by browsers).
 */
export const DEFAULT_HANDSHAKE_TIMEOUT = LIMITS.handshakeTimeout.default

/** RFC 5246 section 6.2.1: TLSPlaintext.length MUST NOT exceed 2^14. */
export const MAX_PLAINTEXT = 16384
/** RFC 5246 section 6.2.3: TLSCiphertext.length MUST NOT exceed 2^14 + 2048. */
export const MAX_CIPHERTEXT = 16384 + 2048

/**
 * Session-id cache entries kept per server context (RFC 5246 section 7.4.1.2 leaves the size to us). An entry
 * owns its 48-byte master secret (never a slice of a shared Buffer pool) and measures 0.6-1.3 KB of JS heap with
 * its key (test/tls/session-memory.test.ts), so 10,000 is ~6-13 MB: enough for a busy server's clients coming back
 * within minutes, bounded under a flood of new sessions because the least recently used entry is dropped.
 */
export const DEFAULT_SESSION_CACHE_SIZE = 10_000

/**
 * Lifetime of a cached session or ticket, in ms. RFC 5246 section F.1.4 suggests at most 24 h; 2 h matches what
 * browsers keep and limits the window in which a stolen ticket key decrypts recorded traffic.
 */
export const DEFAULT_SESSION_LIFETIME = 2 * 60 * 60 * 1000

/**
 * Warning alerts taken: during the handshake in all, after it in a row. The fifth is a fatal unexpected_message,
 * as in OpenSSL (MAX_WARN_ALERT_COUNT 5) since CVE-2016-8610, where a peer kept a server busy with endless
 * warnings. No legitimate peer sends more than one or two (no_renegotiation, a close_notify).
 */
export const MAX_WARNING_ALERTS = 4

/**
 * Empty records taken in a row; the 33rd is a fatal unexpected_message, as OpenSSL's MAX_EMPTY_RECORDS. TLS 1.0
 * CBC clients of the BEAST era sent one empty application_data record before each real one; nobody sends 32 in a
 * row, and each costs us a record's processing (and a MAC check) for 5 bytes of the peer's.
 */
export const MAX_EMPTY_RECORDS = 32

/** Renegotiation attempts answered with a no_renegotiation warning before we give up on the peer (RFC 5746 section 4.4). */
export const MAX_RENEGOTIATION_REFUSALS = 3
