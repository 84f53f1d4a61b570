/**
 * Plugin options: pure validation (no I/O) and the DEFAULT_* limits.
 *
 * Limits are flat options named after what they protect (after Node's http2 options), kept apart from the SETTINGS
 * we advertise to the peer. Every message names the option path and what it accepts.
 */
import { SpdyOptionsError } from './errors'
import { altSvcProtocolId, type AlternateProtocolSettings } from './alternate-protocol'

export type SpdyProtocol = 'spdy/3.1' | 'spdy/3' | 'spdy/2' | 'http/1.1'
export const SPDY_PROTOCOLS: readonly SpdyProtocol[] = ['spdy/3.1', 'spdy/3', 'spdy/2', 'http/1.1']

/** PEM text or bytes. */
export type Pem = string | Buffer

export interface SpdyTlsCertificateOptions {
  cert: Pem
  key: Pem
}

export interface SpdyTlsOptions extends SpdyTlsCertificateOptions {
  /** Certificates by server name (SNI), e.g. `{ 'api.example.com': { cert, key }, '*.example.org': {...} }`. */
  sni?: Record<string, SpdyTlsCertificateOptions>
  /** TLS 1.0/1.1 and RSA-AES-CBC-SHA for SPDY-era clients. Off: they are weak. */
  legacy?: boolean
  /** RFC 5077 ticket key material (>= 32 bytes each; the first seals, all open); share them between processes. */
  ticketKeys?: Buffer[]
  /** NSS key log lines (`CLIENT_RANDOM ...`) for Wireshark. Never enable in production. */
  keylog?: (line: string) => void
}

export interface AlternateProtocolOptions {
  /** Token after `PORT:`; default `spdy/v2`. */
  protocol?: string
  /** Emit `Alt-Svc` too: true, or `{ protocolId, maxAge }`. Default false. */
  altSvc?: boolean | { protocolId?: string; maxAge?: number }
}

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
}

export interface FastifySpdyOptions extends SpdyLimits {
  /** SPDY listener port; 0 (default) takes a free port, advertised through Alternate-Protocol. */
  port?: number
  /** Address to bind; default: the host the app itself listens on. */
  host?: string
  /** `{ cert, key, ... }` for SPDY over NPN/ALPN TLS, or `false` for plain SPDY (Chrome `--use-spdy=no-ssl`). */
  tls: false | SpdyTlsOptions
  /** NPN/ALPN offer, in order of preference. */
  protocols?: SpdyProtocol[]
  /** Advertise the listener on plain HTTP responses; false to turn it off. */
  alternateProtocol?: boolean | AlternateProtocolOptions
}

/** A limit: its default and bounds, and why the default is what it is. */
interface LimitSpec { default: number; min: number; max: number; unit: string }

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
 * - maxSessions 10000: open connections on the listener; each idle SPDY session costs tens of KB.
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
  compressionIdleTimeout: { default: 250, min: 0, max: 600_000, unit: 'ms (0 = never free)' }
}

export const DEFAULT_MAX_CONCURRENT_STREAMS = LIMITS.maxConcurrentStreams.default
export const DEFAULT_INITIAL_WINDOW_SIZE = LIMITS.initialWindowSize.default
export const DEFAULT_MAX_FRAME_LENGTH = LIMITS.maxFrameLength.default
export const DEFAULT_MAX_HEADER_BLOCK_BYTES = LIMITS.maxHeaderBlockBytes.default
export const DEFAULT_MAX_HEADER_PAIRS = LIMITS.maxHeaderPairs.default
export const DEFAULT_MAX_OUTSTANDING_PINGS = LIMITS.maxOutstandingPings.default
export const DEFAULT_MAX_SETTINGS_PER_WINDOW = LIMITS.maxSettingsPerWindow.default
export const DEFAULT_MAX_RESETS_PER_WINDOW = LIMITS.maxResetsPerWindow.default
export const DEFAULT_MAX_INVALID_FRAMES = LIMITS.maxInvalidFrames.default
export const DEFAULT_MAX_SESSION_BUFFERED_BYTES = LIMITS.maxSessionBufferedBytes.default
export const DEFAULT_MAX_SESSIONS = LIMITS.maxSessions.default
export const DEFAULT_IDLE_TIMEOUT = LIMITS.idleTimeout.default
export const DEFAULT_HANDSHAKE_TIMEOUT = LIMITS.handshakeTimeout.default
export const DEFAULT_GRACEFUL_TIMEOUT = LIMITS.gracefulTimeout.default

export const DEFAULT_ALTERNATE_PROTOCOL = 'spdy/v2'
/** One day, as Chrome's Alt-Svc default (RFC 7838 section 3.1). */
export const DEFAULT_ALT_SVC_MAX_AGE = 86400

export interface ResolvedOptions extends Required<SpdyLimits> {
  port: number
  host: string | null
  tls: false | SpdyTlsOptions
  protocols: SpdyProtocol[]
  alternateProtocol: false | AlternateProtocolSettings
}

const KNOWN = new Set<string>(['port', 'host', 'tls', 'protocols', 'alternateProtocol', ...Object.keys(LIMITS)])
const TLS_KNOWN = new Set<string>(['cert', 'key', 'sni', 'legacy', 'ticketKeys', 'keylog'])

const fail = (path: string, what: string, got: unknown): never => {
  throw new SpdyOptionsError(`fastify-spdy: options.${path} must be ${what}, got ${describe(got)}`)
}

function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)
  if (typeof v === 'object') return 'an object'
  return `${typeof v} ${String(v)}`
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isPem = (v: unknown): v is Pem => (typeof v === 'string' && v.length > 0) || (Buffer.isBuffer(v) && v.length > 0)

function checkUnknown (obj: Record<string, unknown>, known: Set<string>, prefix: string): void {
  for (const k of Object.keys(obj)) {
    if (!known.has(k)) {
      throw new SpdyOptionsError(`fastify-spdy: unknown option ${prefix}${k}; known options are ${[...known].join(', ')}`)
    }
  }
}

function checkCertPair (v: unknown, path: string): void {
  if (!isObject(v)) fail(path, 'an object { cert, key } with PEM strings or Buffers', v)
  const o = v as Record<string, unknown>
  if (!isPem(o.cert)) fail(`${path}.cert`, 'a PEM certificate chain (string or Buffer)', o.cert)
  if (!isPem(o.key)) fail(`${path}.key`, 'a PEM private key (string or Buffer)', o.key)
}

function resolveTls (tls: unknown): false | SpdyTlsOptions {
  if (tls === false) return false
  if (tls === undefined) {
    throw new SpdyOptionsError('fastify-spdy: options.tls is required: { cert, key } for SPDY over NPN/ALPN TLS, ' +
      'or false for plain SPDY (as Chrome did with --use-spdy=no-ssl)')
  }
  if (!isObject(tls)) return fail('tls', 'false or an object { cert, key }', tls)
  checkUnknown(tls, TLS_KNOWN, 'tls.')
  checkCertPair(tls, 'tls')
  if (tls.sni !== undefined) {
    if (!isObject(tls.sni)) fail('tls.sni', 'an object mapping server names to { cert, key }', tls.sni)
    for (const [name, pair] of Object.entries(tls.sni as Record<string, unknown>)) {
      if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(name)) {
        fail(`tls.sni[${JSON.stringify(name)}]`, 'keyed by a DNS name or *.wildcard', name)
      }
      checkCertPair(pair, `tls.sni[${JSON.stringify(name)}]`)
    }
  }
  // true: TLS 1.0/1.1 and the CBC-SHA suites as well (lib/tls/server.ts TlsServerOptions.legacy); weak, off by default.
  if (tls.legacy !== undefined && typeof tls.legacy !== 'boolean') fail('tls.legacy', 'a boolean', tls.legacy)
  if (tls.ticketKeys !== undefined) {
    if (!Array.isArray(tls.ticketKeys) || tls.ticketKeys.length === 0) fail('tls.ticketKeys', 'a non-empty array of 48-byte Buffers', tls.ticketKeys)
    ;(tls.ticketKeys as unknown[]).forEach((k, i) => {
      if (!Buffer.isBuffer(k) || k.length < 32) fail(`tls.ticketKeys[${i}]`, 'a Buffer of at least 32 bytes', k)
    })
  }
  if (tls.keylog !== undefined && typeof tls.keylog !== 'function') fail('tls.keylog', 'a function (line: string) => void', tls.keylog)
  return tls as unknown as SpdyTlsOptions
}

function resolveAlternateProtocol (v: unknown): false | AlternateProtocolSettings {
  if (v === false) return false
  const base: AlternateProtocolSettings = { protocol: DEFAULT_ALTERNATE_PROTOCOL, altSvc: false }
  if (v === undefined || v === true) return base
  if (!isObject(v)) return fail('alternateProtocol', 'a boolean or { protocol, altSvc }', v)
  checkUnknown(v, new Set(['protocol', 'altSvc']), 'alternateProtocol.')
  if (v.protocol !== undefined) {
    // The value travels in a header as `PORT:TOKEN`: keep it to visible ASCII with no separators that break parsing.
    if (typeof v.protocol !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9/._-]*$/.test(v.protocol)) {
      fail('alternateProtocol.protocol', 'a protocol token such as "spdy/v2" or "npn-spdy/3"', v.protocol)
    }
    base.protocol = v.protocol as string
  }
  const alt = v.altSvc
  if (alt === undefined || alt === false) return base
  const altSvc = { protocolId: altSvcProtocolId('spdy/3.1'), maxAge: DEFAULT_ALT_SVC_MAX_AGE }
  if (alt !== true) {
    if (!isObject(alt)) return fail('alternateProtocol.altSvc', 'a boolean or { protocolId, maxAge }', alt)
    checkUnknown(alt, new Set(['protocolId', 'maxAge']), 'alternateProtocol.altSvc.')
    if (alt.protocolId !== undefined) {
      if (typeof alt.protocolId !== 'string' || alt.protocolId === '') fail('alternateProtocol.altSvc.protocolId', 'an ALPN protocol id such as "spdy/3.1"', alt.protocolId)
      altSvc.protocolId = altSvcProtocolId(alt.protocolId as string)
    }
    if (alt.maxAge !== undefined) {
      if (!Number.isInteger(alt.maxAge) || (alt.maxAge as number) < 0) fail('alternateProtocol.altSvc.maxAge', 'a whole number of seconds >= 0', alt.maxAge)
      altSvc.maxAge = alt.maxAge as number
    }
  }
  base.altSvc = altSvc
  return base
}

/** Validates and fills in defaults. Throws SpdyOptionsError naming the option. */
export function resolveOptions (input: unknown): ResolvedOptions {
  if (!isObject(input)) return fail('', 'an object', input)
  checkUnknown(input, KNOWN, '')
  const port = input.port ?? 0
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) fail('port', 'an integer from 0 to 65535', input.port)
  const host = input.host ?? null
  if (host !== null && (typeof host !== 'string' || host === '')) fail('host', 'a non-empty string (address or name to bind)', input.host)

  let protocols: SpdyProtocol[] = [...SPDY_PROTOCOLS]
  if (input.protocols !== undefined) {
    const p = input.protocols
    if (!Array.isArray(p) || p.length === 0) fail('protocols', `a non-empty array of ${SPDY_PROTOCOLS.map((x) => JSON.stringify(x)).join(', ')}`, p)
    const seen = new Set<string>()
    ;(p as unknown[]).forEach((x, i) => {
      if (!SPDY_PROTOCOLS.includes(x as SpdyProtocol)) fail(`protocols[${i}]`, `one of ${SPDY_PROTOCOLS.map((y) => JSON.stringify(y)).join(', ')}`, x)
      if (seen.has(x as string)) fail(`protocols[${i}]`, 'listed once', x)
      seen.add(x as string)
    })
    if (!(p as string[]).some((x) => x.startsWith('spdy/'))) fail('protocols', 'an array with at least one SPDY version', p)
    protocols = p as SpdyProtocol[]
  }

  const limits = {} as Required<SpdyLimits>
  for (const [name, spec] of Object.entries(LIMITS) as Array<[keyof SpdyLimits, LimitSpec]>) {
    const v = input[name]
    if (v === undefined) { limits[name] = spec.default; continue }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < spec.min || v > spec.max) {
      fail(name, `an integer from ${spec.min} to ${spec.max} (${spec.unit}); default ${spec.default}`, v)
    }
    limits[name] = v as number
  }

  return {
    ...limits,
    port: port as number,
    host: host as string | null,
    tls: resolveTls(input.tls),
    protocols,
    alternateProtocol: resolveAlternateProtocol(input.alternateProtocol)
  }
}
