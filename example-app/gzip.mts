/**
 * gzip for the demo blog's text responses, as every real deployment has it (nginx `gzip on`, @fastify/compress):
 * HTML pages and JSON compressed per response, static text assets (CSS, JS, SVG) compressed once at start-up.
 * The same for every protocol the blog is served over (HTTP/1.1, HTTPS/1.1, HTTP/2, SPDY and SPDY push): it is
 * plain Fastify, keyed on the request's Accept-Encoding only. A pushed stream runs through the app with its page's
 * accept-encoding (lib/server/push.ts, the inherited headers), so it is gzip exactly when the page's request was.
 * A demo-level helper, not a plugin option: Fastify users compress with @fastify/compress.
 */
import { gzipSync } from 'node:zlib'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** Media types worth compressing: text, JSON, JavaScript, SVG (PNG and WOFF2 are compressed already). */
const COMPRESSIBLE = /^(?:text\/|application\/(?:json|javascript)\b|image\/svg\+xml\b)/i

export const compressible = (contentType: string): boolean => COMPRESSIBLE.test(contentType)

/**
 * Whether Accept-Encoding allows gzip (RFC 9110 section 12.5.3): `gzip` (or its alias `x-gzip`, section 8.4.1.3)
 * listed with a qvalue above 0, or not listed and `*` is with one. No header, or an empty one, allows only identity.
 */
export function acceptsGzip (header: string | string[] | undefined): boolean {
  if (header === undefined) return false
  let gzip: number | null = null
  let star: number | null = null
  for (const item of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [coding, ...params] = item.split(';').map((s) => s.trim())
    if (coding === '') continue
    let q = 1
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/i.exec(p)
      if (m !== null) q = Number(m[1])
    }
    if (Number.isNaN(q)) q = 0
    const c = coding.toLowerCase()
    if (c === 'gzip' || c === 'x-gzip') gzip = Math.max(gzip ?? 0, q)
    else if (c === '*') star = q
  }
  return (gzip ?? star ?? 0) > 0
}

/** Adds Accept-Encoding to the response's Vary (RFC 9110 section 12.5.5) unless it is there already. */
export function varyAcceptEncoding (reply: FastifyReply): void {
  const had = reply.getHeader('vary')
  const list = had === undefined ? [] : String(had).split(',').map((s) => s.trim()).filter(Boolean)
  if (list.some((v) => v === '*' || v.toLowerCase() === 'accept-encoding')) return
  reply.header('vary', [...list, 'Accept-Encoding'].join(', '))
}

/**
 * If-None-Match against the representation's strong ETag (RFC 9110 section 13.1.2: `*` or a list of entity tags,
 * weak comparison).
 */
export function noneMatch (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  if (header.trim() === '*') return true
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)
}

/** A static file's two representations, chosen per request. */
export interface StaticFile { type: string, body: Buffer, etag: string, gzip: { body: Buffer, etag: string } | null, vary: boolean }

/**
 * A static file's representations, computed once. Level 9: done once at start-up, so its CPU costs no request
 * (for these few-hundred-byte files it is as small as level 6). The gzip variant is kept only when it is smaller
 * (a 93-byte style sheet grows by gzip's 18-byte framing); it gets its own ETag, the identity one with `-gz`, as
 * nginx and Apache do: a cache, and cache-aware push's cookie (lib/cache-aware-push.ts), then never take one for
 * the other.
 */
export function staticFile (type: string, body: Buffer, etag: string): StaticFile {
  if (!compressible(type)) return { type, body, etag, gzip: null, vary: false }
  const gz = gzipSync(body, { level: 9 })
  return { type, body, etag, gzip: gz.length < body.length ? { body: gz, etag: `${etag.slice(0, -1)}-gz"` } : null, vary: true }
}

/** The representation of `file` for `req`: body, ETag, and whether it is gzip. */
export function pick (file: StaticFile, req: FastifyRequest): { body: Buffer, etag: string, gzip: boolean } {
  if (file.gzip !== null && acceptsGzip(req.headers['accept-encoding'])) return { ...file.gzip, gzip: true }
  return { body: file.body, etag: file.etag, gzip: false }
}

/**
 * onSend hook for routes that render text (pages, JSON): a 200 whose payload is a string or Buffer of a
 * compressible type is gzipped when the request accepts it. Level 6 (zlib's default), per response: the pages say
 * which protocol served them, so they differ by request; a few KiB take well under a millisecond.
 */
export async function gzipRendered (req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (reply.statusCode !== 200 || reply.getHeader('content-encoding') !== undefined) return payload
  if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload
  if (!compressible(String(reply.getHeader('content-type') ?? ''))) return payload
  varyAcceptEncoding(reply)
  if (!acceptsGzip(req.headers['accept-encoding'])) return payload
  const gz = gzipSync(payload, { level: 6 })
  if (gz.length >= Buffer.byteLength(payload)) return payload
  reply.header('content-encoding', 'gzip')
  return gz
}
