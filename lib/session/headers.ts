/**
 * SPDY header blocks <-> HTTP semantics, for both versions, in one place.
 *
 * Requests: v2 `method url version` + `host` `scheme` (SPDY/2 section 3.2.1); v3 `:method :path :version :host
 * :scheme` (SPDY/3 section 3.2.1). Replies: v2 `status: "200 OK"` + `version` (SPDY/2 section 3.2.2); v3 `:status`
 * `:version` (SPDY/3 section 3.2.2). Connection-specific headers (connection, keep-alive, proxy-connection,
 * transfer-encoding) mean nothing in SPDY (SPDY/3 section 3.2.1: "MUST NOT be sent"): never sent, dropped on input.
 */
import { STATUS_CODES } from 'node:http'
import type { HeaderList, SpdyVersion } from '../codec/types'
import { tableFor } from '../codec/versions'

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'])

export type HttpHeaders = Record<string, string | string[]>

export interface RequestHead {
  method: string
  /** Path and query, as in an HTTP/1.1 request line. */
  path: string
  /** host[:port] */
  authority: string
  scheme: string
  httpVersion: string
  /** Regular headers, Node style: lowercase names, set-cookie an array, cookie joined with '; ', others ', '. */
  headers: HttpHeaders
}

const wire = (v: SpdyVersion): 2 | 3 => (v === 2 ? 2 : 3)

/** Splits NUL-joined values into Node's header object shape. */
function addHeader (out: HttpHeaders, name: string, value: string): void {
  if (!value.includes('\0')) {
    if (name === 'set-cookie') out[name] = [value]
    else out[name] = value
    return
  }
  const parts = value.split('\0')
  if (name === 'set-cookie') out[name] = parts
  else out[name] = parts.join(name === 'cookie' ? '; ' : ', ')
}

/** Returns the request head, or a string saying what is missing (answered with RST_STREAM PROTOCOL_ERROR). */
export function requestHead (version: SpdyVersion, list: HeaderList): RequestHead | string {
  const n = tableFor(wire(version)).names
  let method = ''
  let path = ''
  let httpVersion = ''
  let authority = ''
  let scheme = ''
  const headers: HttpHeaders = {}
  for (const [name, value] of list) {
    if (name === n.method) method = value
    else if (name === n.path) path = value
    else if (name === n.version) httpVersion = value
    else if (n.host !== null && name === n.host) authority = value
    else if (n.scheme !== null && name === n.scheme) scheme = value
    else if (name.charCodeAt(0) === 58 /* ':' */) continue // unknown pseudo header: not for HTTP
    else if (HOP_BY_HOP.has(name)) continue
    else if (version === 2 && name === 'scheme') scheme = value
    else addHeader(headers, name, value)
  }
  if (authority === '') {
    const h = headers.host
    if (typeof h === 'string') authority = h
  }
  if (method === '' || path === '' || httpVersion === '') {
    return `request lacks ${[method === '' ? n.method : '', path === '' ? n.path : '', httpVersion === '' ? n.version : ''].filter(Boolean).join(', ')}`
  }
  if (version === 2 && path.charCodeAt(0) !== 0x2f /* '/' */ && path !== '*') {
    // SPDY/2 clients may send an absolute url (SPDY/2 section 3.2.1): split it into authority and path, by hand
    // (WHATWG URL would also rewrite the path, and throws on a bad authority such as `http://[bad/`).
    const u = splitAbsolute(path)
    if (typeof u === 'string') return u
    if (authority === '') authority = u.authority
    if (scheme === '') scheme = u.scheme
    path = u.path
  }
  if (authority !== '' && headers.host === undefined) headers.host = authority
  return { method, path, authority, scheme: scheme === '' ? 'https' : scheme, httpVersion, headers }
}

/** `scheme://authority[/path][?query]`, the absolute-form of RFC 9112 section 3.2.2 (no userinfo, no fragment). */
const ABSOLUTE = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^#]*)$/i

function splitAbsolute (url: string): { scheme: string, authority: string, path: string } | string {
  const m = ABSOLUTE.exec(url)
  if (m === null) return 'url is neither a path nor an absolute URL'
  if (!validAuthority(m[2])) return 'url has an invalid authority'
  const rest = m[3]
  return { scheme: m[1].toLowerCase(), authority: m[2], path: rest === '' ? '/' : rest.charCodeAt(0) === 0x3f /* '?' */ ? `/${rest}` : rest }
}

/** RFC 3986 unreserved / sub-delims / '%' (pct-encoded): the characters of a reg-name or IPv4 host. */
const REG_NAME = new Uint8Array(128)
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&\'()*+,;=%') REG_NAME[c.charCodeAt(0)] = 1

function digitsOnly (s: string, from: number): boolean {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return false
  }
  return true
}

/**
 * `host[:port]` as RFC 9110 section 7.2 has it in Host and SPDY/3 section 3.2.1 in :host: a reg-name, IPv4 or
 * bracketed IPv6 host (RFC 3986 section 3.2.2), an optional decimal port, nothing else (no userinfo, no path).
 */
export function validAuthority (a: string): boolean {
  const n = a.length
  if (n === 0) return false
  let end: number
  if (a.charCodeAt(0) === 0x5b /* '[' */) {
    end = a.indexOf(']')
    if (end < 2) return false
    for (let i = 1; i < end; i++) {
      const c = a.charCodeAt(i)
      if (!((c >= 0x30 && c <= 0x3a) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) || c === 0x2e)) return false
    }
    end++
    if (end === n) return true
  } else {
    end = 0
    while (end < n) {
      const c = a.charCodeAt(end)
      if (c === 0x3a /* ':' */) break
      if (c >= 128 || REG_NAME[c] === 0) return false
      end++
    }
    if (end === 0) return false
    if (end === n) return true
  }
  return a.charCodeAt(end) === 0x3a && digitsOnly(a, end + 1)
}

export type OutgoingHeaders = Record<string, string | number | string[] | undefined>

/** Status lines made so far, by code: one string per status instead of one per response. */
const statusLines: string[] = []

function statusLine (status: number): string {
  const cached = statusLines[status]
  if (cached !== undefined) return cached
  const line = `${status} ${STATUS_CODES[status] ?? 'Unknown'}`
  // Codes are 100-999 (checked by the response's writeHead); anything else is not worth a slot.
  if (Number.isInteger(status) && status >= 100 && status <= 999) statusLines[status] = line
  return line
}

function appendRegular (list: HeaderList, headers: OutgoingHeaders): void {
  for (const key in headers) {
    const value = headers[key]
    if (value === undefined) continue
    const name = key.toLowerCase()
    if (HOP_BY_HOP.has(name) || name.charCodeAt(0) === 58) continue
    // SPDY/3 section 2.6.10: several values of one name travel NUL-separated in one pair.
    list.push([name, Array.isArray(value) ? value.join('\0') : String(value)])
  }
}

/** SYN_REPLY headers for an HTTP status and response headers. */
export function responseHeaderList (version: SpdyVersion, status: number, headers: OutgoingHeaders): HeaderList {
  const n = tableFor(wire(version)).names
  const list: HeaderList = [[n.status, statusLine(status)], [n.version, 'HTTP/1.1']]
  appendRegular(list, headers)
  return list
}

/** SYN_STREAM headers for a request (client role). */
export function requestHeaderList (version: SpdyVersion, head: { method: string, path: string, authority: string, scheme?: string }, headers: OutgoingHeaders = {}): HeaderList {
  const n = tableFor(wire(version)).names
  const list: HeaderList = [[n.method, head.method], [n.path, head.path], [n.version, 'HTTP/1.1']]
  if (version === 2) {
    list.push(['host', head.authority], ['scheme', head.scheme ?? 'https'])
  } else {
    list.push([n.host!, head.authority], [n.scheme!, head.scheme ?? 'https'])
  }
  const rest = { ...headers }
  delete rest.host
  appendRegular(list, rest)
  return list
}

/**
 * Headers of a pushed stream's SYN_STREAM: the URL (v2: absolute `url`, SPDY/2 section 3.3.1; v3: `:scheme :host
 * :path`, SPDY/3 section 3.3.1) and, in the same block, the response status and headers (accepted by Chrome for
 * both versions, and it saves a HEADERS frame per pushed resource).
 */
export function pushHeaderList (version: SpdyVersion, url: { scheme: string, authority: string, path: string }, status: number, headers: OutgoingHeaders): HeaderList {
  const n = tableFor(wire(version)).names
  const list: HeaderList = version === 2
    ? [['url', `${url.scheme}://${url.authority}${url.path}`]]
    : [[':scheme', url.scheme], [':host', url.authority], [':path', url.path]]
  // The method is not required by the drafts for a push, but a pushed resource is always a GET and node-spdy's
  // client rejects a SYN_STREAM without one (it reads every SYN_STREAM as a request head).
  list.push([n.method, 'GET'], [n.status, statusLine(status)], [n.version, 'HTTP/1.1'])
  appendRegular(list, headers)
  return list
}

/** Response status from a reply's headers (client role): "200 OK" or "200" -> 200; 0 when absent or malformed. */
export function replyStatus (version: SpdyVersion, list: HeaderList): number {
  const name = tableFor(wire(version)).names.status
  for (const [k, v] of list) if (k === name) return Number.parseInt(v, 10) || 0
  return 0
}

/** Regular headers of a reply, Node style (client role). */
export function replyHeaders (list: HeaderList): HttpHeaders {
  const out: HttpHeaders = {}
  for (const [name, value] of list) {
    if (name.charCodeAt(0) === 58 || name === 'status' || name === 'version' || HOP_BY_HOP.has(name)) continue
    addHeader(out, name, value)
  }
  return out
}
