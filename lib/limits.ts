/**
 * The limits' defaults and bounds: a leaf module (no imports), so lib/codec, lib/session and lib/tls take their
 * defaults from the same numbers the plugin validates, without reaching up to lib/options.ts.
 *
 * Limits are flat options named after what they protect (after Node's http2 options), kept apart from the SETTINGS
 * we advertise to the peer.
 */

/** Limits: each protects one resource from a misbehaving peer. */
export interface SpdyLimits {
  maxConcurrentStreams?: number
  initialWindowSize?: number
  maxFrameLength?: number
  maxHeaderBlockBytes?: number
  maxHeaderPairs?: number
  maxOutstandingPings?: number
  maxSettingsPerWindow?: number
  maxResetsPerWindow?: number
  maxInvalidFrames?: number
  maxSessionBufferedBytes?: number
  maxSessions?: number
  idleTimeout?: number
  handshakeTimeout?: number
  gracefulTimeout?: number
  maxPushesPerRequest?: number
  compressionIdleTimeout?: number
  maxUnreadOutputBytes?: number
  unreadOutputTimeout?: number
  maxLogLinesPerConnection?: number
  maxLogLinesPerSecond?: number
}

/** A limit: its default and bounds, and why the default is what it is. */
export interface LimitSpec { default: number; min: number; max: number; unit: string }

const MAX_31 = 0x7fffffff

/**
 * The numbers, with why:
 * - maxConcurrentStreams 100: what Chrome and Node's http2 use; enough to fetch a page's assets at once, while
 *   bounding per-session state to 100 streams (each holds a request and response object).
 * - initialWindowSize 65536 (64 KiB): the SPDY/3 default (section 2.6.8); larger windows let one stream buffer more in us.
 * - maxFrameLength 1 MiB: above any sane DATA frame (peers send 4-16 KB) and any real header block, far below
 *   the 16 MiB the 24-bit length field allows, so one frame cannot make us buffer 16 MiB.
 * - maxHeaderBlockBytes 64 KiB: decompressed; 4x Node's HTTP/1.1 16 KiB header limit to allow big cookies, and
 *   it caps a zlib bomb (a few bytes inflating to megabytes).
 * - maxHeaderPairs 128: Node's http2 maxHeaderListPairs default.
 * - maxOutstandingPings 10: Node's http2 maxOutstandingPings; a ping flood answered without reading is refused.
 * - maxSettingsPerWindow 100 / maxResetsPerWindow 200 per 10 s: far above what a browser does, far below a flood
 *   (the "rapid reset" pattern opens and cancels thousands of streams a second).
 * - maxInvalidFrames 100: a few stray frames after a race are normal, a stream of them is an attack.
 * - maxSessionBufferedBytes 4 MiB: outbound bytes queued per session before writes report backpressure.
 * - maxSessions 10000: open connections on the listener; each idle SPDY session costs tens of KB. At the cap the
 *   oldest idle connection is closed for a new one (lib/server/listener.ts), so idle sockets cannot lock the port.
 * - idleTimeout 120 s: nginx's spdy_keepalive_timeout was 3 min, Node's http2 has none; a dead peer is freed.
 * - handshakeTimeout 10 s: slow-handshake (slowloris-style) connections are dropped.
 * - gracefulTimeout 5 s: how long `fastify.close()` lets in-flight streams finish after GOAWAY.
 * - maxPushesPerRequest 32: a page's critical assets; every push runs a request through the app and competes
 *   with the page itself for the connection, so a route pushing hundreds is a bug to be stopped.
 * - compressionIdleTimeout 250 ms: a session with no open stream keeps its header compression contexts (~60 KB,
 *   the inflater's 32 KB window being most of it) this long, then frees them down to their windows' bytes (~4 KB);
 *   the next header block rebuilds them (~45 us). Long enough for a page's burst of requests on a fast link, short
 *   enough that a storm of new connections does not hold 60 KB each: measured with bench/memory.ts, 1,000 idle
 *   plain connections cost 80.5 KB each in RSS at 1 s and 46.6 KB at 200 ms (the burst's freed memory stays mapped).
 * - maxUnreadOutputBytes 256 KiB: output written to a socket and not yet taken by the kernel, above which we stop
 *   reading that peer until it drains. One flush of DATA is at most 256 KiB (lib/server/spdy-handler.ts FLUSH_BYTES)
 *   and waits for the drain, so a reading peer rarely reaches it, while a peer flooding PINGs without reading holds
 *   at most this plus one read's answers (150 such peers: ~40 MB, where the same flood took 2.6 GB unbounded).
 * - unreadOutputTimeout 10 s: how long a congested socket may go without the peer taking a single byte before it
 *   is closed. Any progress restarts it, so a slow reader is never cut; one that reads nothing frees its slot.
 * - maxLogLinesPerConnection 10 / maxLogLinesPerSecond 100: warn and error lines about peers (protocol errors,
 *   malformed requests, internal errors). Ten say what a peer did wrong; past that, one summary line with counts
 *   at close. 100 a second is a readable log that a busy server's pipeline takes without noticing, where one line
 *   per bad frame made 2.7 million lines in 30 s; what is dropped is counted in one line a second.
 */
export const LIMITS: Record<keyof SpdyLimits, LimitSpec> = {
  maxConcurrentStreams: { default: 100, min: 1, max: MAX_31, unit: 'streams' },
  initialWindowSize: { default: 65536, min: 1, max: MAX_31, unit: 'bytes' },
  maxFrameLength: { default: 1 << 20, min: 1024, max: 0xffffff, unit: 'bytes' },
  maxHeaderBlockBytes: { default: 64 << 10, min: 1024, max: 16 << 20, unit: 'bytes' },
  maxHeaderPairs: { default: 128, min: 4, max: 65535, unit: 'pairs' },
  maxOutstandingPings: { default: 10, min: 1, max: 10000, unit: 'pings' },
  maxSettingsPerWindow: { default: 100, min: 1, max: 1e6, unit: 'frames per 10 s' },
  maxResetsPerWindow: { default: 200, min: 1, max: 1e6, unit: 'streams reset per 10 s' },
  maxInvalidFrames: { default: 100, min: 0, max: 1e6, unit: 'frames' },
  maxSessionBufferedBytes: { default: 4 << 20, min: 16 << 10, max: 1 << 30, unit: 'bytes' },
  maxSessions: { default: 10000, min: 1, max: 1e7, unit: 'connections' },
  idleTimeout: { default: 120_000, min: 0, max: 86_400_000, unit: 'ms (0 = none)' },
  handshakeTimeout: { default: 10_000, min: 100, max: 600_000, unit: 'ms' },
  gracefulTimeout: { default: 5_000, min: 0, max: 600_000, unit: 'ms' },
  maxPushesPerRequest: { default: 32, min: 0, max: 1000, unit: 'pushed streams per request' },
  compressionIdleTimeout: { default: 250, min: 0, max: 600_000, unit: 'ms (0 = never free)' },
  maxUnreadOutputBytes: { default: 256 << 10, min: 16 << 10, max: 1 << 30, unit: 'bytes' },
  unreadOutputTimeout: { default: 10_000, min: 100, max: 600_000, unit: 'ms' },
  maxLogLinesPerConnection: { default: 10, min: 0, max: 1e6, unit: 'warn/error lines per connection' },
  maxLogLinesPerSecond: { default: 100, min: 0, max: 1e6, unit: 'warn/error lines per second per listener' }
}
