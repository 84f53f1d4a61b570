/**
 * Plugin options: pure validation (no I/O). The limits' defaults and bounds live in ./limits (a leaf module).
 *
 * Limits are flat options named after what they protect (after Node's http2 options), kept apart from the SETTINGS
 * we advertise to the peer. Every message names the option path and what it accepts.
 */
import { SpdyOptionsError } from './errors'
import { LIMITS, type LimitSpec, type SpdyLimits } from './limits'
import { altSvcProtocolId, type AlternateProtocolSettings } from './alternate-protocol'
import { isIP } from 'node:net'

export type SpdyProtocol = 'spdy/3.1' | 'spdy/3' | 'spdy/2' | 'http/1.1'
export { LIMITS, type SpdyLimits }

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
  /**
   * true (default): clients that do not offer NPN get OpenSSL through node:tls (TLS 1.2 and 1.3, ALPN); only NPN
   * clients (and, with `legacy`, pre-1.2 ones) get fastify-spdy's own TLS 1.2 engine. false: every client gets our
   * engine (for tests of it, or one TLS stack for everything).
   */
  openssl?: boolean
}

export interface AlternateProtocolOptions {
  /** Token after `PORT:`; default `spdy/v2`. */
  protocol?: string
  /** Emit `Alt-Svc` too: true, or `{ protocolId, maxAge }`. Default false. */
  altSvc?: boolean | { protocolId?: string; maxAge?: number }
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
  /**
   * PROXY protocol v1/v2 header before the first byte of TLS or SPDY (HAProxy `send-proxy`/`send-proxy-v2`):
   * `false` (default) none; `true` required on every connection; a list of trusted sources (`'10.0.0.0/8'`,
   * `'::1'`, ...) required from those, while a connection from anywhere else is served as a direct client and
   * closed if it starts with a PROXY header (a client cannot claim another address).
   */
  proxyProtocol?: boolean | string[]
  /**
   * Cache-aware push (lib/cache-aware-push.ts): a cookie names what the browser was pushed (by path and ETag), and
   * pushes of what it has are skipped. `false` (default) off; `true` or `{ cookieName, maxAge, hashBits }`.
   */
  cacheAwarePush?: boolean | CacheAwarePushOptions
}

export interface CacheAwarePushOptions {
  /** Default 'spdy-casper'. */
  cookieName?: string
  /** Cookie lifetime in seconds (Max-Age); default 86400 (one day). */
  maxAge?: number
  /** Hash universe 2^hashBits, 8 to 32; default 13. N entries give false positives at about N / 2^hashBits. */
  hashBits?: number
}

/** cacheAwarePush, validated (the cookie's size is the limit maxPushCookieBytes). */
export type CacheAwarePushSetting = false | Required<CacheAwarePushOptions>

/** proxyProtocol, validated: trusted sources as [address, prefix length, family]; 'all' for true. */
export type ProxyProtocolSetting = false | 'all' | Array<{ address: string, prefix: number, family: 'ipv4' | 'ipv6' }>

const DEFAULT_ALTERNATE_PROTOCOL = 'spdy/v2'
/** One day, as Chrome's Alt-Svc default (RFC 7838 section 3.1). */
const DEFAULT_ALT_SVC_MAX_AGE = 86400

/**
 * Cache-aware push defaults. maxAge one day: a cookie outliving the browser's copy only costs that asset one
 * request (the push was skipped, the browser asks), a shorter one re-pushes what is still cached. 400 days is the
 * most a browser keeps a cookie (RFC 6265bis section 5.6.2). hashBits 13: h2o's capacity-bits default; the 25
 * assets of the demo blog's pages give false positives at 25 / 8192 = 0.3% and take ~11 bits each in the cookie.
 */
const CASPER_DEFAULTS: Required<CacheAwarePushOptions> = { cookieName: 'spdy-casper', maxAge: 86400, hashBits: 13 }
const COOKIE_MAX_AGE_LIMIT = 400 * 86400

export interface ResolvedOptions extends Required<SpdyLimits> {
  port: number
  host: string | null
  tls: false | SpdyTlsOptions
  protocols: SpdyProtocol[]
  alternateProtocol: false | AlternateProtocolSettings
  proxyProtocol: ProxyProtocolSetting
  cacheAwarePush: CacheAwarePushSetting
}

const KNOWN = new Set<string>(['port', 'host', 'tls', 'protocols', 'alternateProtocol', 'proxyProtocol', 'cacheAwarePush', ...Object.keys(LIMITS)])
const TLS_KNOWN = new Set<string>(['cert', 'key', 'sni', 'legacy', 'ticketKeys', 'keylog', 'openssl'])

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
  if (tls.openssl !== undefined && typeof tls.openssl !== 'boolean') fail('tls.openssl', 'a boolean', tls.openssl)
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

/** Fastify's own register options (RegisterOptions in fastify/types/register.d.ts): they mean to us what they mean to every plugin. */
export interface SpdyRegisterOptions {
  /** Accepted; the plugin adds no routes, so there is nothing to prefix. */
  prefix?: string
  /** Level of the plugin's own log lines ('silent' silences them). */
  logLevel?: string
  /** Serializers for the plugin's own log lines. */
  logSerializers?: Record<string, (value: unknown) => string>
}

const REGISTER_KEYS: ReadonlyArray<keyof SpdyRegisterOptions> = ['prefix', 'logLevel', 'logSerializers']

/**
 * Splits what `register(plugin, opts)` hands the plugin into Fastify's register options and the plugin's own, so
 * `prefix` and `logLevel` are not refused as unknown plugin options. Fastify validates them itself.
 */
export function splitRegisterOptions (input: unknown): { pluginOptions: unknown, registerOptions: SpdyRegisterOptions } {
  if (!isObject(input)) return { pluginOptions: input, registerOptions: {} }
  const pluginOptions: Record<string, unknown> = { ...input }
  const registerOptions: Record<string, unknown> = {}
  for (const k of REGISTER_KEYS) {
    if (k in pluginOptions) {
      registerOptions[k] = pluginOptions[k]
      delete pluginOptions[k]
    }
  }
  if (registerOptions.logLevel !== undefined && typeof registerOptions.logLevel !== 'string') {
    fail('logLevel', "a log level name such as 'info' or 'silent'", registerOptions.logLevel)
  }
  return { pluginOptions, registerOptions: registerOptions as SpdyRegisterOptions }
}

/** `true`, `false`, or CIDRs / bare addresses (a bare address is a /32 or /128). */
function resolveProxyProtocol (v: unknown): ProxyProtocolSetting {
  if (v === undefined || v === false) return false
  if (v === true) return 'all'
  const what = 'true, false, or a non-empty array of trusted source addresses or CIDRs such as "10.0.0.0/8" or "::1"'
  if (!Array.isArray(v) || v.length === 0) return fail('proxyProtocol', what, v)
  return (v as unknown[]).map((x, i) => {
    const m = typeof x === 'string' ? /^([^/]+)(?:\/(\d{1,3}))?$/.exec(x) : null
    const ip = m === null ? 0 : isIP(m[1])
    const bits = ip === 4 ? 32 : 128
    const prefix = m?.[2] === undefined ? bits : Number(m[2])
    if (m === null || ip === 0 || prefix > bits) fail(`proxyProtocol[${i}]`, 'an IPv4 or IPv6 address, optionally with a /prefix length', x)
    return { address: m![1], prefix, family: ip === 4 ? 'ipv4' as const : 'ipv6' as const }
  })
}

function resolveCacheAwarePush (v: unknown): CacheAwarePushSetting {
  if (v === undefined || v === false) return false
  if (v === true) return { ...CASPER_DEFAULTS }
  if (!isObject(v)) return fail('cacheAwarePush', 'a boolean or { cookieName, maxAge, hashBits }', v)
  checkUnknown(v, new Set(Object.keys(CASPER_DEFAULTS)), 'cacheAwarePush.')
  const out = { ...CASPER_DEFAULTS }
  if (v.cookieName !== undefined) {
    // RFC 6265 section 4.1.1: a cookie-name is an HTTP token.
    if (typeof v.cookieName !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/.test(v.cookieName)) fail('cacheAwarePush.cookieName', 'a cookie name (an HTTP token, 1 to 64 characters)', v.cookieName)
    out.cookieName = v.cookieName as string
  }
  if (v.maxAge !== undefined) {
    if (!Number.isInteger(v.maxAge) || (v.maxAge as number) < 1 || (v.maxAge as number) > COOKIE_MAX_AGE_LIMIT) fail('cacheAwarePush.maxAge', `a whole number of seconds from 1 to ${COOKIE_MAX_AGE_LIMIT}`, v.maxAge)
    out.maxAge = v.maxAge as number
  }
  if (v.hashBits !== undefined) {
    if (!Number.isInteger(v.hashBits) || (v.hashBits as number) < 8 || (v.hashBits as number) > 32) fail('cacheAwarePush.hashBits', 'an integer from 8 to 32', v.hashBits)
    out.hashBits = v.hashBits as number
  }
  return out
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
    alternateProtocol: resolveAlternateProtocol(input.alternateProtocol),
    proxyProtocol: resolveProxyProtocol(input.proxyProtocol),
    cacheAwarePush: resolveCacheAwarePush(input.cacheAwarePush)
  }
}
