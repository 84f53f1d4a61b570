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
  maxQueuedControlFrames?: number
  maxInflatedHeaderBytesPerWindow?: number
  maxHeadersFramesPerStream?: number
  maxProxyHeaderBytes?: number
  maxUnreadOutputBytes?: number
  unreadOutputTimeout?: number
  maxSessionHeaderBytes?: number
  maxProcessHeaderBytes?: number
  maxProcessResetsPerSecond?: number
  streamWindowTimeout?: number
  requestBodyTimeout?: number
  maxLogLinesPerConnection?: number
  maxLogLinesPerSecond?: number
  maxPushCookieBytes?: number
  maxWorklessFramesPerWindow?: number
  maxHeaderRefusalsPerWindow?: number
}

/** A limit: its default and bounds, and why the default is what it is. */
export interface LimitSpec { default: number; min: number; max: number; unit: string }

const MAX_31 = 0x7fffffff

/**
 * The least maxPushCookieBytes can be: the cache-aware push cookie's value for the empty set, its 4-byte header
 * (lib/server/casper.ts: version and hash bits, Rice parameter, count) in base64url without padding, 6 characters.
 * lib/server/casper.ts takes it from here (a test checks it against the encoder), so the bound and the format agree.
 */
export const MIN_COOKIE_BYTES = 6

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
 * - maxOutstandingPings 10: Node's http2 maxOutstandingPings: our own PINGs awaiting an answer (SpdySession.ping,
 *   app.spdy.sessions()[i].ping()); a peer's PING flood is bounded by maxQueuedControlFrames, not by this.
 * - maxSettingsPerWindow 100 / maxResetsPerWindow 200 per 10 s: far above what a browser does, far below a flood
 *   (the "rapid reset" pattern opens and cancels thousands of streams a second).
 * - maxInvalidFrames 100: a few stray frames after a race are normal, a stream of them is an attack. Request heads
 *   and bodies refused with RST_STREAM PROTOCOL_ERROR (SpdySession.refuse) count too.
 * - maxSessionBufferedBytes 4 MiB: outbound bytes queued per session before writes report backpressure; queued
 *   control frames count with their memory (~150 bytes for a 12-byte PING reply), and reading pauses past it.
 * - maxSessions 10000: open connections on the listener; each idle SPDY session costs tens of KB. At the cap the
 *   oldest idle connection is closed for a new one (lib/server/listener.ts), so idle sockets cannot lock the port.
 * - idleTimeout 120 s: nginx's spdy_keepalive_timeout was 3 min, Node's http2 has none; a dead peer is freed.
 * - handshakeTimeout 10 s: slow-handshake (slowloris-style) connections are dropped; a PROXY protocol header
 *   (option proxyProtocol) gets the same time to arrive, the spec asking for at least 3 s (a TCP retransmit).
 * - gracefulTimeout 5 s: how long `fastify.close()` lets in-flight streams finish after GOAWAY.
 * - maxPushesPerRequest 32: a page's critical assets; every push runs a request through the app and competes
 *   with the page itself for the connection, so a route pushing hundreds is a bug to be stopped.
 * - compressionIdleTimeout 250 ms: a session with no open stream keeps its header compression contexts (~60 KB,
 *   the inflater's 32 KB window being most of it) this long, then frees them down to their windows' bytes (~4 KB);
 *   the next header block rebuilds them (~45 us). Long enough for a page's burst of requests on a fast link, short
 *   enough that a storm of new connections does not hold 60 KB each: measured with bench/memory.ts, 1,000 idle
 *   plain connections cost 80.5 KB each in RSS at 1 s and 46.6 KB at 200 ms (the burst's freed memory stays mapped).
 * - maxQueuedControlFrames 1000: control frames the peer's own frames made us queue (PING replies, RST_STREAMs,
 *   WINDOW_UPDATEs) waiting for it to read them, in the session's queue or in the socket's unwritten output (the
 *   driver reports that backlog, SpdySession.transportBacklog); past this it is flooding without reading: GOAWAY,
 *   and the connection closes at once if the socket is backed up. Kept well under maxUnreadOutputBytes in replies
 *   (1000 PING replies are 12 KB), so the budget trips before reading pauses and unreadOutputTimeout is needed. nghttp2's
 *   max_outbound_ack and Envoy's max_outbound_control_frames default (the CVE-2019-9512/9515 fixes); a browser
 *   has a handful queued at most. About 150 bytes each in memory, so 150 KB per session at worst.
 * - maxHeadersFramesPerStream 16: HEADERS frames the peer may send on one stream after its SYN_STREAM (SPDY/3 section
 *   2.6.7), and per 10 s on streams we reset for the peer's error (dropped, SPDY/3 section 2.4.2, yet inflated); past
 *   it GOAWAY. HEADERS on streams the app cancelled are the race's leftovers, not an error: they cost
 *   maxWorklessFramesPerWindow instead, so many cancels never add up to a false GOAWAY. A request uses none, or one for
 *   trailers, and the server reads only their FIN; 16 leaves room for a peer that splits its trailers. Without it,
 *   HEADERS on one open stream cost only the inflation budget above: 10 peers each sending 16 KB blocks kept the server
 *   inflating with a normal GET's p99 5x to 200x its value before (bench/hostile.ts, loaded machine), where Node's
 *   http2 cuts the CONTINUATION flood that is its equivalent; with the cap all 10 were cut and the p99 did not move.
 * - maxInflatedHeaderBytesPerWindow 256 MiB per 10 s: header-block bytes one session may make us inflate, every
 *   block counted (HEADERS on streams already reset, blocks that fail their checks); past it GOAWAY. It bounds the
 *   CPU a compression bomb buys: ~1000:1 deflate let one connection make us inflate 2.6 GB in 20 s (issue 11), 5x
 *   this rate. 25.6 MB/s stays above what one busy session inflates: bench/session.ts runs ~50k small GETs a
 *   second on one session with 200-byte heads (10 MB/s), a browser-like head is ~390 bytes (65k of them a second
 *   fit), and a browser's page load inflates a few hundred KB.
 * - maxProxyHeaderBytes 2048: the most a PROXY protocol header (option proxyProtocol) may take, buffered before
 *   anything else of the connection. A v1 line is at most 107 bytes; a v2 header is 16 bytes, a 36-byte IPv6
 *   address block and TLVs: HAProxy's fullest (ALPN, SNI authority up to 255, a 128-byte unique id, the SSL TLV with
 *   version, cipher, signature and key algorithms and a client certificate CN) stays under ~700 bytes. 2 KiB leaves
 *   room for that and is 1/32 of the 64 KiB a v2 length field can announce. The minimum, 232, is a v2 AF_UNIX
 *   address block (16 + 2 x 108) with no TLV. The header is read within handshakeTimeout.
 * - maxUnreadOutputBytes 256 KiB: output written to a socket and not yet taken by the kernel, above which we stop
 *   reading that peer until it drains. One flush of DATA is at most 256 KiB (lib/server/spdy-handler.ts FLUSH_BYTES)
 *   and waits for the drain, so a reading peer rarely reaches it, while a peer flooding PINGs without reading holds
 *   at most this plus one read's answers (150 such peers: ~40 MB, where the same flood took 2.6 GB unbounded).
 * - unreadOutputTimeout 10 s: how long a congested socket may go without the peer taking a single byte before it
 *   is closed. Any progress restarts it, so a slow reader is never cut; one that reads nothing frees its slot.
 * - maxSessionHeaderBytes 2 MiB: decoded header-block bytes held by one session's open streams; a new stream past
 *   it is refused (REFUSED_STREAM). maxConcurrentStreams (100) streams with 20 KB heads each (a 16 KB cookie jar,
 *   Node's whole HTTP/1.1 head limit, plus the rest) fit; 100 blocks of maxHeaderBlockBytes (6.4 MB) do not.
 * - maxProcessHeaderBytes 128 MiB: the same, all sessions of the process together (issue 11: 50 sessions x 100
 *   streams x 60 KB blocks took RSS from 70 to 742 MB, ~2.4 bytes of RSS per block byte). 85,000 requests with
 *   1.5 KB heads in flight at once fit; at the measured ratio it bounds header memory near 300 MB.
 * - maxProcessResetsPerSecond 1000: peer-opened streams reset by peers per second, all sessions together; past it,
 *   a session whose peer resets gets GOAWAY at once ("rapid reset" spread over many connections stays under every
 *   per-session rate: 2 million resets over 6,624 connections in issue 11). A browser cancels a few streams on a
 *   navigation: 1000 a second is 100 navigations a second cancelling 10 streams each, or 50 sessions each at the
 *   per-session ceiling (maxResetsPerWindow, 20 a second). Pushes the client declines do not count.
 * - streamWindowTimeout 60 s: how long a stream's response may wait on the peer's flow-control window at zero
 *   (no WINDOW_UPDATE) before RST_STREAM CANCEL; GOAWAY when every open stream is so stalled. nginx's send_timeout
 *   (60 s between two writes to a client); a browser re-opens the window within a round trip of reading.
 * - requestBodyTimeout 60 s: how long a request whose body is still open may go without DATA (while our window
 *   lets the peer send) before RST_STREAM CANCEL; nginx's client_body_timeout (60 s between two reads of a body).
 * - maxLogLinesPerConnection 10 / maxLogLinesPerSecond 100: warn and error lines about peers (protocol errors,
 *   malformed requests, internal errors). Ten say what a peer did wrong; past that, one summary line with counts
 *   at close. 100 a second is a readable log that a busy server's pipeline takes without noticing, where one line
 *   per bad frame made 2.7 million lines in 30 s; what is dropped is counted in one line a second.
 * - maxPushCookieBytes 512: characters of the cache-aware push cookie's value (option cacheAwarePush), read and
 *   written. A longer cookie is not decoded at all (treated as empty), so a hostile one costs at most this much
 *   work; the one we write drops the oldest pages' entries to fit. Golomb coding takes about log2(2^hashBits / N)
 *   + 1.5 bits an entry (hashBits 13: ~10 for 20 entries, ~5.5 for 500), so 512 characters name ~500 assets, twenty
 *   pages' worth of the demo blog (test/server/casper-size.test.ts), and add at most ~520 bytes to each request's
 *   Cookie header before SPDY's header compression. Minimum MIN_COOKIE_BYTES (6): the empty set. Maximum 4096: what
 *   RFC 6265 section 6.1 asks browsers to keep of one cookie.
 * - maxWorklessFramesPerWindow 1000 per 10 s, plus 2 per DATA frame we sent in that time: frames that cost us a
 *   decode and move nothing forward (WINDOW_UPDATE, PING, SETTINGS, NOOP, CREDENTIAL, unknown control types, DATA
 *   with no bytes and no FIN, HEADERS on streams the app cancelled, DATA on a stream we reset beyond the window it
 *   had then, which the peer cannot have had in flight); past it GOAWAY. Each DATA frame we send earns
 *   the peer a stream and a session WINDOW_UPDATE, so a fast download is never cut (1 GB in 10 s is 64k frames of
 *   ours, at most 128k updates of its). A browser sends a handful of the others a minute. SPDY/2 DATA on a stream
 *   we reset counts by volume, one per initialWindowSize bytes past the first window (draft 2 has no flow control
 *   to bound what an upload had in flight: megabytes at speed, in frames of a few KB). Without it a peer could
 *   make us decode frames as fast as it writes them, reading our answers or not: 10 connections sending 1-byte
 *   session WINDOW_UPDATEs took a normal GET's p99 from 36 to 406 ms (Node's http2, with no such limit, 42 to 884
 *   ms); Envoy bounds the same thing per DATA frame sent (max_inbound_window_update_frames_per_data_frame_sent) and empty DATA frames.
 * - maxHeaderRefusalsPerWindow 10 per 10 s: peer streams refused because their header block would take the
 *   session over maxSessionHeaderBytes (or the process over maxProcessHeaderBytes while this session holds at least
 *   half its own budget); past it GOAWAY. Each refused stream still cost a full inflate, and the budgets bound memory,
 *   not that CPU: a peer sending 60 KB header blocks that deflate to ~100 bytes (a zlib bomb) was refused stream
 *   after stream and kept the connection. A client inside the budget (100 streams with 20 KB heads) is never
 *   refused, so it is never cut; one over it by a burst gets 10 refusals to slow down.
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
  maxQueuedControlFrames: { default: 1000, min: 16, max: 1e6, unit: 'control frames queued or unwritten, unread' },
  maxInflatedHeaderBytesPerWindow: { default: 256 << 20, min: 1 << 20, max: 2 ** 40, unit: 'header-block bytes inflated per 10 s' },
  maxHeadersFramesPerStream: { default: 16, min: 1, max: 1e6, unit: 'HEADERS frames per stream, and per 10 s on reset streams' },
  maxProxyHeaderBytes: { default: 2048, min: 232, max: 16 + 65535, unit: 'bytes' },
  maxUnreadOutputBytes: { default: 256 << 10, min: 16 << 10, max: 1 << 30, unit: 'bytes' },
  unreadOutputTimeout: { default: 10_000, min: 100, max: 600_000, unit: 'ms' },
  maxSessionHeaderBytes: { default: 2 << 20, min: 64 << 10, max: 2 ** 40, unit: 'header-block bytes held by open streams per session' },
  maxProcessHeaderBytes: { default: 128 << 20, min: 64 << 10, max: 2 ** 40, unit: 'header-block bytes held by open streams, all sessions' },
  maxProcessResetsPerSecond: { default: 1000, min: 1, max: 1e9, unit: 'streams reset by peers per second, all sessions' },
  streamWindowTimeout: { default: 60_000, min: 0, max: 86_400_000, unit: 'ms on a zero send window (0 = none)' },
  requestBodyTimeout: { default: 60_000, min: 0, max: 86_400_000, unit: 'ms without request DATA (0 = none)' },
  maxLogLinesPerConnection: { default: 10, min: 0, max: 1e6, unit: 'warn/error lines per connection' },
  maxLogLinesPerSecond: { default: 100, min: 0, max: 1e6, unit: 'warn/error lines per second per listener' },
  maxPushCookieBytes: { default: 512, min: MIN_COOKIE_BYTES, max: 4096, unit: 'characters of the cache-aware push cookie value' },
  maxWorklessFramesPerWindow: { default: 1000, min: 10, max: 1e9, unit: 'frames doing no work per 10 s, plus 2 per DATA frame sent' },
  maxHeaderRefusalsPerWindow: { default: 10, min: 1, max: 1e6, unit: 'streams refused for header memory per 10 s' }
}
