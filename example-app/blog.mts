/**
 * The demo blog: Markdown posts rendered to HTML, an index, tag pages, and static assets (enough per page that
 * multiplexing and push matter). It is a plain Fastify app; server.ts adds fastify-spdy to it exactly as a user would.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join, extname, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { marked } from 'marked'

export interface Post { slug: string, title: string, date: string, tags: string[], html: string }

const ROOT = dirname(fileURLToPath(import.meta.url))
const TYPES: Record<string, string> = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml' }

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
  const protocolOf = (req: { spdy?: { version: number } | null, protocol: string }): string =>
    req.spdy != null ? `SPDY/${req.spdy.version}` : req.protocol === 'https' ? 'HTTPS/1.1' : 'HTTP/1.1'
  const pageConfig = { spdy: { push: blog.push === false ? [] : assets } }

  app.get('/', { config: pageConfig }, async (req, reply) => {
    const list = posts.map((p) => `<li><a href="/posts/${p.slug}">${escapeHtml(p.title)}</a><div class="meta">${p.date} · ${p.tags.map((t) => `<a href="/tags/${t}">${t}</a>`).join(' ')}</div></li>`).join('\n')
    reply.type('text/html; charset=utf-8')
    return layout('fastify-spdy blog', `<h1>Posts</h1>\n<ul class="posts">\n${list}\n</ul>`, assets, protocolOf(req as never))
  })

  app.get<{ Params: { slug: string } }>('/posts/:slug', { config: pageConfig }, async (req, reply) => {
    const post = posts.find((p) => p.slug === req.params.slug)
    if (post === undefined) return reply.callNotFound()
    reply.type('text/html; charset=utf-8')
    const tags = `<p class="tags">${post.tags.map((t) => `<a href="/tags/${t}">#${t}</a>`).join('')}</p>`
    return layout(post.title, `<article><p class="meta">${post.date}</p>${post.html}${tags}</article>`, assets, protocolOf(req as never))
  })

  app.get<{ Params: { tag: string } }>('/tags/:tag', { config: pageConfig }, async (req, reply) => {
    const tagged = posts.filter((p) => p.tags.includes(req.params.tag))
    if (tagged.length === 0) return reply.callNotFound()
    reply.type('text/html; charset=utf-8')
    const list = tagged.map((p) => `<li><a href="/posts/${p.slug}">${escapeHtml(p.title)}</a></li>`).join('\n')
    return layout(`#${req.params.tag}`, `<h1>Tagged #${escapeHtml(req.params.tag)}</h1><ul class="posts">${list}</ul>`, assets, protocolOf(req as never))
  })

  app.get('/static/*', async (req, reply) => {
    const file = files.get(req.url.split('?')[0])
    if (file === undefined) return reply.callNotFound()
    reply.type(file.type).header('cache-control', 'public, max-age=3600')
    return file.body
  })

  app.get('/api/posts', async () => posts.map(({ html: _html, ...meta }) => meta))
  return app
}
