/**
 * SPDY header blocks <-> HTTP semantics, for both versions, in one place.
 *
 * Requests: v2 `method url version` + `host` `scheme` (SPDY/2 section 3.2.1); v3 `:method :path :version :host
 * :scheme` (SPDY/3 section 3.2.1). Replies: v2 `status: "200 OK"` + `version` (SPDY/2 section 3.2.2); v3 `:status`
 * `:version` (SPDY/3 section 3.2.2). Connection-specific headers (connection, keep-alive, proxy-connection,
 * transfer-encoding, upgrade) mean nothing in SPDY (SPDY/3 section 3.2.1: "MUST NOT be sent"): never sent, and a
 * request carrying one is refused (requestHead).
 */
import { STATUS_CODES } from 'node:http'
import type { HeaderList, SpdyVersion } from '../codec/types'
import { tableFor } from '../codec/versions'

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'])

export type HttpHeaders = Record<string, string | string[]>

/**
 * Header fields by lowercase name in an object with nothing inherited: a field named `constructor`, `toString` or
 * `__proto__` is a field like any other (with `{}`, assigning `__proto__` sets the prototype, and a string one is
 * ignored: the field is lost), as Node's http2 header objects (null prototype) have it. Object.create(null) gives
 * that too but starts as a hash table, ~190 bytes before any field is set, against ~30 for an object made by a
 * constructor whose prototype has a null prototype, which V8 keeps a fast-properties object (bench/dispatch.ts
 * allocation column).
 */
export const HeaderFields = function HeaderFields () {} as unknown as new <V>() => Record<string, V>
HeaderFields.prototype = Object.create(null) as object

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

/**
 * Request headers that are answered with RST_STREAM PROTOCOL_ERROR. Connection-specific headers "are not valid and
 * MUST not be sent" (SPDY/3 section 3.2.1; RFC 9113 section 8.2.2 makes the same list, upgrade included, malformed
 * in HTTP/2): a client sending them is broken or smuggling, and Node's HTTP/1.1 parser answers 400 to what they
 * would mean here (transfer-encoding with content-length). Responses drop them instead (appendRegular).
 */
const REFUSED_ON_REQUEST = HOP_BY_HOP

/**
 * RFC 9110 section 5.6.2 tchar, one flag per ASCII code: 1 for every tchar, 2 added for those allowed in a SPDY
 * header name (lowercase: SPDY/3 section 2.6.10 "header names must all be lowercase"; the codec refuses uppercase).
 */
const TCHAR = new Uint8Array(128)
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 3
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') TCHAR[c.charCodeAt(0)] = 1

function isToken (s: string, flag: 1 | 2): boolean {
  const n = s.length
  if (n === 0) return false
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c >= 128 || (TCHAR[c] & flag) === 0) return false
  }
  return true
}

/** Longest string PassedStrings remembers: with its slots, at most 64 KiB of characters held per instance. */
const PASSED_MAX_LENGTH = 256

/**
 * Strings that passed one check, direct-mapped by length and a few characters (a miss replaces the slot). Peers
 * repeat most names and values in every head, and the decoder hands the same string object for repeated ones
 * (lib/codec/decoder.ts StringCache), so a hit is one pointer compare; a content-equal string from elsewhere
 * compares its characters. A hit stands for content that passed this very check before, so nothing is skipped that
 * would fail; a hostile peer thrashing the slots only costs the full check it would cost anyway.
 */
class PassedStrings {
  private readonly slots: Array<string | null> = new Array<string | null>(256).fill(null)
  has (s: string): boolean { return this.slots[slotOf(s)] === s }
  add (s: string): void { if (s.length <= PASSED_MAX_LENGTH) this.slots[slotOf(s)] = s }
}

function slotOf (s: string): number {
  const n = s.length
  if (n === 0) return 0
  return (n * 31 + s.charCodeAt(0) * 7 + s.charCodeAt(n - 1) * 3 + s.charCodeAt(n >> 1)) & 255
}

const goodNames = new PassedStrings()
const goodValues = new PassedStrings()
const goodPaths = new PassedStrings()
const goodAuthorities = new PassedStrings()

/** A SPDY header name: a lowercase RFC 9110 token. */
function isName (s: string): boolean {
  if (goodNames.has(s)) return true
  if (!isToken(s, 2)) return false
  goodNames.add(s)
  return true
}

/**
 * Not a field-value (RFC 9110 section 5.5: HTAB, SP, VCHAR, obs-text), as Node's HTTP/1.1 parser has it: it answers
 * 400 to CR, LF, NUL, the other controls and DEL in a value. NUL passes here: it is SPDY's separator of several
 * values (SPDY/3 section 2.6.10), checked on its own. A regular expression scans about twice as fast as a
 * charCodeAt loop (bench figures in the commit that made it).
 */
const NOT_FIELD_VALUE = /[^\0\t\x20-\x7e\x80-\xff]/

function isFieldValue (s: string): boolean {
  if (goodValues.has(s)) return true
  if (NOT_FIELD_VALUE.test(s)) return false
  // NULs only between non-empty values (also checked by the codec's parseHeaderBlock for decoded blocks).
  const nul = s.indexOf('\0')
  if (nul !== -1 && (nul === 0 || s.charCodeAt(s.length - 1) === 0 || s.includes('\0\0'))) return false
  goodValues.add(s)
  return true
}

/** Origin-form (RFC 9112 section 3.2.1): `/` then visible ASCII only, as Node's parser takes a request target. */
const ORIGIN_FORM = /^\/[\x21-\x7e]*$/

function isOriginForm (s: string): boolean {
  if (goodPaths.has(s)) return true
  if (!ORIGIN_FORM.test(s)) return false
  goodPaths.add(s)
  return true
}

function isAuthority (s: string): boolean {
  if (goodAuthorities.has(s)) return true
  if (!validAuthority(s)) return false
  goodAuthorities.add(s)
  return true
}

/** One decimal number (RFC 9110 section 8.6), no sign, no list; at most 15 digits so it stays an exact integer. */
function isContentLength (s: string): boolean {
  return s.length > 0 && s.length <= 15 && digitsOnly(s, 0)
}

/**
 * Returns the request head, or a string saying what is wrong with it: the caller answers RST_STREAM PROTOCOL_ERROR
 * and the app never sees the stream. As strict as Node's HTTP/1.1 parser where it answers 400, and as SPDY/3
 * section 3.2.1 asks: names are lowercase tokens, values field-values; :method a token, :version HTTP/1.x, :path
 * origin-form (or `*` for OPTIONS; SPDY/2's `url` may be absolute and is split); the authority (:host, or host)
 * present, well formed and not contradicted by a host header; content-length one decimal number; no
 * connection-specific header. The request's `host` header is always the authority.
 */
export function requestHead (version: SpdyVersion, list: HeaderList): RequestHead | string {
  const n = tableFor(wire(version)).names
  let method = ''
  let path = ''
  let httpVersion = ''
  let authority = ''
  let host = ''
  let scheme = ''
  const headers: HttpHeaders = {}
  for (let i = 0; i < list.length; i++) {
    const name = list[i][0]
    const value = list[i][1]
    // The request-line fields are checked below, each by its own rule (which refuses any control character);
    // regular headers here.
    if (name === n.method) method = value
    else if (name === n.path) path = value
    else if (name === n.version) httpVersion = value
    else if (name === n.host) authority = value
    else if (name === n.scheme) scheme = value
    else if (!isName(name)) return name.charCodeAt(0) === 58 /* ':' */ ? 'unknown pseudo-header' : 'header name is not a lowercase token'
    else if (REFUSED_ON_REQUEST.has(name)) return `connection-specific header ${name}`
    else if (name === 'host') host = value // checked as the authority, or against it
    else if (version === 2 && name === 'scheme') scheme = value
    else {
      if (!isFieldValue(value)) return `header ${name} has a control character or an empty value between NULs`
      if (name === 'content-length' && !isContentLength(value)) return 'content-length is not one decimal number'
      addHeader(headers, name, value)
    }
  }
  if (method === '' || path === '' || httpVersion === '') {
    return `request lacks ${[method === '' ? n.method : '', path === '' ? n.path : '', httpVersion === '' ? n.version : ''].filter(Boolean).join(', ')}`
  }
  if (!isToken(method, 1)) return `${n.method} is not a token`
  if (httpVersion !== 'HTTP/1.1' && httpVersion !== 'HTTP/1.0') return `${n.version} is not HTTP/1.1 or HTTP/1.0`
  if (version === 2 && path.charCodeAt(0) !== 0x2f /* '/' */ && path !== '*') {
    // SPDY/2 clients may send an absolute url (SPDY/2 section 3.2.1): split it into authority and path, by hand
    // (WHATWG URL would also rewrite the path, and throws on a bad authority such as `http://[bad/`).
    const u = splitAbsolute(path)
    if (typeof u === 'string') return u
    authority = u.authority
    if (scheme === '') scheme = u.scheme
    path = u.path
  }
  if (path === '*') {
    if (method !== 'OPTIONS') return `${n.path} * is for OPTIONS only`
  } else if (!isOriginForm(path)) {
    return `${n.path} is not an origin-form path`
  }
  // SPDY/3 section 3.2.1: ":host" is the Host header. SPDY/2 has only "host" (or the url's authority). Hosts
  // compare case-insensitively (RFC 3986 section 3.2.2).
  if (authority === '') authority = host
  else if (host !== '' && host !== authority && host.toLowerCase() !== authority.toLowerCase()) return 'host header disagrees with the request authority'
  if (authority === '') return 'request lacks a host' // Node's HTTP/1.1 server answers 400 to a request without Host
  if (!isAuthority(authority)) return 'request authority is not host[:port]'
  if (scheme !== '' && scheme !== 'https' && scheme !== 'http') return `${n.scheme ?? 'scheme'} is neither http nor https`
  headers.host = authority
  return { method, path, authority, scheme: scheme === '' ? 'https' : scheme, httpVersion, headers }
}

/** Request headers a pushed GET inherits from the page's request, so it is answered as the browser's own would be. */
const INHERITED = ['user-agent', 'accept-encoding', 'accept-language', 'cookie', 'authorization']

/**
 * The request head of a pushed GET for `path`, run through the app as if the client had asked (SPDY/3 section
 * 3.3.1: a push is a resource the client would have requested): the page's authority, which is also its host
 * header, the given scheme, and the page's INHERITED headers. null when `path` is not origin-form (the app gave a
 * URL, or one with a space or a control character, that no client could have requested).
 */
export function pushRequestHead (parent: RequestHead, path: string, scheme: string): RequestHead | null {
  if (path === '*' || !isOriginForm(path)) return null
  const headers: HttpHeaders = { host: parent.authority }
  for (const name of INHERITED) { const v = parent.headers[name]; if (v !== undefined) headers[name] = v }
  return { method: 'GET', path, authority: parent.authority, scheme, httpVersion: 'HTTP/1.1', headers }
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
    // IPv6address: hex digits, ':' (at least two) and '.' (an embedded IPv4); IPvFuture is not accepted.
    end = a.indexOf(']')
    let colons = 0
    for (let i = 1; i < end; i++) {
      const c = a.charCodeAt(i)
      if (c === 0x3a) colons++
      else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) || c === 0x2e)) return false
    }
    if (colons < 2) return false
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

/**
 * Regular headers of a reply (or of a pushed stream: its request and response headers), Node style (client role),
 * in a HeaderFields object: a server's header is never lost to, nor confused with, an Object.prototype member.
 */
export function replyHeaders (list: HeaderList): HttpHeaders {
  const out = new HeaderFields<string | string[]>()
  for (const [name, value] of list) {
    if (name.charCodeAt(0) === 58 || name === 'status' || name === 'version' || HOP_BY_HOP.has(name)) continue
    addHeader(out, name, value)
  }
  return out
}
