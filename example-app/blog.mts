/**
 * The demo blog: Markdown posts rendered to HTML, an index, tag pages, and static assets (enough per page that
 * multiplexing and push matter). It is a plain Fastify app; server.ts adds fastify-spdy to it exactly as a user would.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join, extname, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { marked } from 'marked'
import { crc32, deflateSync } from 'node:zlib'
import { createHash } from 'node:crypto'
import { gzipRendered, noneMatch, pick, staticFile, varyAcceptEncoding } from './gzip.mjs'

export interface Post { slug: string, title: string, date: string, tags: string[], html: string }

const ROOT = dirname(fileURLToPath(import.meta.url))
const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2'
}

export function loadPosts (dir = join(ROOT, 'posts')): Post[] {
  return readdirSync(dir).filter((f) => f.endsWith('.md')).sort().reverse().map((file) => {
    const text = readFileSync(join(dir, file), 'utf8')
    const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text)
    if (m === null) throw new Error(`${file}: missing front matter`)
    const meta = Object.fromEntries(m[1].split('\n').map((l) => { const i = l.indexOf(':'); return [l.slice(0, i).trim(), l.slice(i + 1).trim()] }))
    return {
      slug: file.replace(/\.md$/, ''),
      title: meta.title ?? file,
      date: meta.date ?? '',
      tags: (meta.tags ?? '').split(',').map((s: string) => s.trim()).filter(Boolean),
      html: marked.parse(m[2], { async: false })
    }
  })
}

/** Every asset a page references: what a SPDY server can push with the page. */
export function pageAssets (): string[] {
  const images = readdirSync(join(ROOT, 'public', 'img')).filter((f) => f.endsWith('.svg')).sort().map((f) => `/static/img/${f}`)
  return ['/static/style.css', '/static/print.css', '/static/app.js', '/static/favicon.svg', ...images]
}

/**
 * Two pages beyond the blog's own, for bench/pageload.ts (issue 14): what a skeptic's page has that the blog pages
 * lack. Each lists what a browser fetches for it, which is also what the page pushes over SPDY.
 *   /demo/chain  a dependency chain: HTML -> CSS -> web font and background image; HTML -> script -> JSON (/api/posts)
 *   /demo/photo  one large object: a 500 KB photo (PNG) under a short article
 */
export const DEMO_PAGES: Record<string, string[]> = {
  '/demo/chain': ['/static/chain/chain.css', '/static/chain/chain.js', '/static/chain/serif.woff2', '/static/chain/hero.svg', '/api/posts'],
  '/demo/photo': ['/static/style.css', '/static/big/photo.png']
}

/** xorshift32: the same bytes on every start, without shipping binaries in the repository. */
function noise (n: number, seed: number): Buffer {
  const out = Buffer.alloc(n)
  let x = seed
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; out[i] = x & 0xff }
  return out
}

/**
 * A valid PNG of `width` x `height` RGB noise, deflate level 0 (stored) so its size is what it claims: about
 * width x height x 3 bytes. PNG layout per RFC 2083: signature, IHDR, IDAT, IEND, each chunk CRC-32 over type+data.
 */
function noisePng (width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(td))
    return Buffer.concat([len, td, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // colour type: RGB
  const pixels = noise(height * (1 + width * 3), 0x2012)
  for (let y = 0; y < height; y++) pixels[y * (1 + width * 3)] = 0 // filter type None on every row
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(pixels, { level: 0 })), chunk('IEND', Buffer.alloc(0))])
}

/**
 * Files the demo pages need that are generated rather than stored: a 500 KB photo (400 x 416 RGB, ~500,000 bytes)
 * and a 24 KiB web font stand-in (a typical subset WOFF2's size; browsers fetch it because the text uses it, reject
 * its bytes and fall back to Georgia, so it costs the network what a real font would).
 */
function generatedFiles (): Map<string, { body: Buffer, type: string }> {
  return new Map([
    ['/static/big/photo.png', { body: noisePng(400, 416), type: TYPES['.png'] }],
    ['/static/chain/serif.woff2', { body: noise(24 * 1024, 0x5e71f), type: TYPES['.woff2'] }]
  ])
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function layout (title: string, body: string, assets: string[], protocol: string): string {
  const images = assets.filter((a) => a.startsWith('/static/img/'))
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="/static/favicon.svg">
<link rel="stylesheet" href="/static/style.css">
<link rel="stylesheet" href="/static/print.css" media="print">
<script src="/static/app.js" defer></script>
</head>
<body>
<header class="site"><a class="brand" href="/">fastify-spdy blog</a><span class="proto" data-proto="${escapeHtml(protocol)}">served over ${escapeHtml(protocol)}</span><span class="proto" data-load-time></span></header>
<main>
${body}
<section class="gallery">
${images.map((src) => `<img src="${src}" alt="${src.slice(12, -4)}" width="240" height="160">`).join('\n')}
</section>
</main>
<footer>Served by Fastify with fastify-spdy.</footer>
</body>
</html>
`
}

/** `push: false` leaves the page routes without push config (bench/pageload.ts measures SPDY with and without). */
export function buildBlog (opts: FastifyServerOptions = {}, blog: { push?: boolean } = {}): FastifyInstance {
  const app = Fastify(opts)
  const posts = loadPosts()
  const assets = pageAssets()
  const files = new Map<string, { body: Buffer, type: string }>()
  for (const path of assets) {
    files.set(path, { body: readFileSync(join(ROOT, 'public', path.slice('/static/'.length))), type: TYPES[extname(path)] ?? 'application/octet-stream' })
  }
  for (const path of ['/static/chain/chain.css', '/static/chain/chain.js', '/static/chain/hero.svg']) {
    files.set(path, { body: readFileSync(join(ROOT, 'public', path.slice('/static/'.length))), type: TYPES[extname(path)] })
  }
  for (const [path, file] of generatedFiles()) files.set(path, file)
  const protocolOf = (req: { spdy?: { version: number } | null, protocol: string }): string =>
    req.spdy != null ? `SPDY/${req.spdy.version}` : req.protocol === 'https' ? 'HTTPS/1.1' : 'HTTP/1.1'
  const pageConfig = { spdy: { push: blog.push === false ? [] : assets } }
  // Rendered text (pages, JSON) is gzipped per response when the request accepts it (example-app/gzip.mts).
  const page = { config: pageConfig, onSend: gzipRendered }

  app.get('/', page, async (req, reply) => {
    const list = posts.map((p) => `<li><a href="/posts/${p.slug}">${escapeHtml(p.title)}</a><div class="meta">${p.date} · ${p.tags.map((t) => `<a href="/tags/${t}">${t}</a>`).join(' ')}</div></li>`).join('\n')
    reply.type('text/html; charset=utf-8')
    return layout('fastify-spdy blog', `<h1>Posts</h1>\n<ul class="posts">\n${list}\n</ul>`, assets, protocolOf(req as never))
  })

  app.get<{ Params: { slug: string } }>('/posts/:slug', page, async (req, reply) => {
    const post = posts.find((p) => p.slug === req.params.slug)
    if (post === undefined) return reply.callNotFound()
    reply.type('text/html; charset=utf-8')
    const tags = `<p class="tags">${post.tags.map((t) => `<a href="/tags/${t}">#${t}</a>`).join('')}</p>`
    return layout(post.title, `<article><p class="meta">${post.date}</p>${post.html}${tags}</article>`, assets, protocolOf(req as never))
  })

  app.get<{ Params: { tag: string } }>('/tags/:tag', page, async (req, reply) => {
    const tagged = posts.filter((p) => p.tags.includes(req.params.tag))
    if (tagged.length === 0) return reply.callNotFound()
    reply.type('text/html; charset=utf-8')
    const list = tagged.map((p) => `<li><a href="/posts/${p.slug}">${escapeHtml(p.title)}</a></li>`).join('\n')
    return layout(`#${req.params.tag}`, `<h1>Tagged #${escapeHtml(req.params.tag)}</h1><ul class="posts">${list}</ul>`, assets, protocolOf(req as never))
  })

  const demoConfig = (path: string): { config: { spdy: { push: string[] } }, onSend: typeof gzipRendered } =>
    ({ config: { spdy: { push: blog.push === false ? [] : DEMO_PAGES[path] } }, onSend: gzipRendered })
  // The demo pages' HTML: a head naming the page's style sheet (and script), then the body.
  const demoPage = (title: string, head: string, body: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
${head}
</head>
<body>
${body}
</body>
</html>
`
  app.get('/demo/chain', demoConfig('/demo/chain'), async (req, reply) => {
    reply.type('text/html; charset=utf-8')
    return demoPage('Dependency chain', '<link rel="stylesheet" href="/static/chain/chain.css">\n<script src="/static/chain/chain.js" defer></script>', `<div class="hero"></div>
<main>
<h1>Posts, fetched by a script</h1>
<p>Served over ${escapeHtml(protocolOf(req as never))}. The font and the banner come from the style sheet; the list below from /api/posts.</p>
<ul id="posts"></ul>
</main>`)
  })

  app.get('/demo/photo', demoConfig('/demo/photo'), async (req, reply) => {
    reply.type('text/html; charset=utf-8')
    return demoPage('One large photo', '<link rel="stylesheet" href="/static/style.css">', `<main>
<h1>A photo</h1>
<p>Served over ${escapeHtml(protocolOf(req as never))}. One 500 KB image: a page where bandwidth, not round trips, decides.</p>
<img src="/static/big/photo.png" alt="noise" width="400" height="416">
</main>`)
  })

  // A strong ETag from each file's content (what @fastify/static and nginx give too): a browser revalidates with
  // it once max-age has run out, and cache-aware push (fastify-spdy's cacheAwarePush) tells versions apart by it.
  // Text files also have a gzip variant made once here, with its own ETag (example-app/gzip.mts).
  const statics = new Map([...files].map(([path, f]) => [path, staticFile(f.type, f.body, `"${createHash('sha256').update(f.body).digest('base64url').slice(0, 16)}"`)]))
  app.get('/static/*', async (req, reply) => {
    const path = req.url.split('?')[0]
    const file = statics.get(path)
    if (file === undefined) return reply.callNotFound()
    const { body, etag, gzip } = pick(file, req)
    reply.type(file.type).header('cache-control', 'public, max-age=3600').header('etag', etag)
    // Vary on both variants (RFC 9110 section 12.5.5), and on the 304 too (section 15.4.5).
    if (file.vary) varyAcceptEncoding(reply)
    if (noneMatch(req.headers['if-none-match'], etag)) return reply.code(304).send()
    if (gzip) reply.header('content-encoding', 'gzip')
    return body
  })

  app.get('/api/posts', { onSend: gzipRendered }, async () => posts.map(({ html: _html, ...meta }) => meta))
  return app
}
