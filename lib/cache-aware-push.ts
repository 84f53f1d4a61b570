/**
 * Cache-aware push (option `cacheAwarePush`; CASPer, the h2o server's technique): a cookie names what the browser
 * was pushed, as a Golomb-coded set of (path, ETag) hashes (lib/server/casper.ts), and a repeat visit pushes only
 * what is not in it.
 *
 * On a page request over SPDY: the cookie is read once; each push is started as usual, and once the app has
 * produced the pushed response's status and headers (and nothing is sent yet) the push is skipped when the
 * (path, version) pair is in the set. The page's response then carries a Set-Cookie naming what the browser now
 * has: what was pushed on this visit, what was skipped because present, then what the cookie held before (other
 * pages' assets) while it fits `maxPushCookieBytes`; none when that is the cookie the request came with.
 *
 * An asset's version is its ETag, or its Last-Modified without one. A response with neither, a status other than
 * 200, or `Cache-Control: no-store` is never skipped and never recorded: the server could not tell a changed asset
 * from the one the browser has, or the browser keeps no copy.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { PushFunction } from './server/push'
import { casperHash, decodeCasperCookie, encodeCasperCookie, hasValue } from './server/casper'

export interface CacheAwarePushSettings {
  /** Cookie name (default 'spdy-casper'). */
  cookieName: string
  /** Cookie lifetime in seconds (Max-Age). */
  maxAge: number
  /** Hash universe 2^hashBits: with N entries a lookup is a false positive with probability about N / 2^hashBits. */
  hashBits: number
  /** Most characters of the cookie's value, read or written (the limit maxPushCookieBytes). */
  maxCookieBytes: number
  /** Add `Secure`: the listener speaks TLS. */
  secure: boolean
}

/** What one page request's pushes found and did. */
interface PageState {
  /** The decoded cookie (sorted), empty when absent or invalid. */
  have: number[]
  /** The cookie's value as it came, when it decoded. */
  received: string | null
  /** What the browser has after this visit: pushed now, or skipped because present. */
  now: Set<number>
  /** Pushes started from the handler (reply.push), awaited before the cookie is written. */
  pending: Array<Promise<boolean>>
}

const states = new WeakMap<object, PageState>()

/** The first cookie called `name` in a Cookie header (RFC 6265 section 5.4: `name=value` pairs joined by "; "). */
export function readCookie (header: string | string[] | undefined, name: string): string | null {
  if (header === undefined) return null
  for (const line of Array.isArray(header) ? header : [header]) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=')
      if (eq >= 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
    }
  }
  return null
}

const first = (v: string | string[] | undefined): string | undefined => Array.isArray(v) ? v[0] : v

/** The pushed response's version (ETag, else Last-Modified), or null when it is not to be tracked. */
export function assetVersion (status: number, headers: Readonly<Record<string, string | string[]>>): string | null {
  if (status !== 200) return null
  const cc = first(headers['cache-control'])
  if (cc !== undefined && /(?:^|,)\s*no-store\s*(?:,|$)/i.test(cc)) return null
  return first(headers.etag) ?? first(headers['last-modified']) ?? null
}

function stateOf (request: FastifyRequest, s: CacheAwarePushSettings): PageState {
  let st = states.get(request.raw)
  if (st === undefined) {
    const value = readCookie(request.headers.cookie, s.cookieName)
    // An absent, oversized or malformed cookie is an empty set: the browser gets every push and a fresh cookie.
    const dec = value === null ? null : decodeCasperCookie(value, s.hashBits, s.maxCookieBytes)
    st = dec?.ok === true ? { have: dec.values, received: value, now: new Set(), pending: [] } : { have: [], received: null, now: new Set(), pending: [] }
    states.set(request.raw, st)
  }
  return st
}

/** Pushes `path` unless the browser has this version of it; resolves whether the pushed stream was opened. */
export function pushUnlessCached (request: FastifyRequest, fn: PushFunction, path: string, s: CacheAwarePushSettings): Promise<boolean> {
  const st = stateOf(request, s)
  let key: number | null = null
  const p = fn(path, {
    skip: (status, headers) => {
      const version = assetVersion(status, headers)
      if (version === null) return false
      key = casperHash(path, version, s.hashBits)
      if (!hasValue(st.have, key)) return false
      st.now.add(key)
      return true
    }
  }).then((opened) => {
    if (opened && key !== null) st.now.add(key)
    return opened
  })
  st.pending.push(p)
  return p
}

/** Whether a push was started for this request (`config.spdy.push`, `reply.push()`): only then is a cookie due. */
export function pushesStarted (request: FastifyRequest): boolean {
  return states.has(request.raw)
}

/** After the page's pushes: the Set-Cookie naming what the browser now has. Nothing when no push was attempted. */
export async function setPushCookie (request: FastifyRequest, reply: FastifyReply, s: CacheAwarePushSettings): Promise<void> {
  const st = states.get(request.raw)
  if (st === undefined) return
  await Promise.all(st.pending)
  // Unchanged (a repeat visit that skipped everything, or another page whose assets the cookie already names):
  // no Set-Cookie, and nothing to encode. Its bytes are most of what such a visit adds to the page, and the
  // lifetime then keeps counting from when the assets were last pushed, as the browser's cached copies' own ages do.
  if (st.received !== null && namesAll(st.have, st.now)) return
  const { value } = encodeCasperCookie(st.now, st.have, s.hashBits, s.maxCookieBytes)
  if (value === st.received) return
  // Path=/: pushes are site-wide. HttpOnly: no script needs it. SameSite=Lax: sent on top-level navigations,
  // which is when pages (and their pushes) are requested.
  reply.header('set-cookie', `${s.cookieName}=${value}; Path=/; Max-Age=${s.maxAge}; HttpOnly; SameSite=Lax${s.secure ? '; Secure' : ''}`)
}

/** Whether the received cookie's set already names every key of this visit (a loop: no array of the keys per page). */
function namesAll (have: number[], keys: Set<number>): boolean {
  for (const k of keys) if (!hasValue(have, k)) return false
  return true
}
