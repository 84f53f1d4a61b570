/**
 * bench/pageload.ts's loaders on the demo blog that gzips its text (example-app/gzip.mts): each of Node https
 * (`gzip, deflate`), lib/client spdy and spdy+push (SPDY-era Chrome's `gzip,deflate,sdch`) must find every asset a
 * browser fetches, in gzip bodies they decode themselves: the post page's link/script/img references, the chain
 * page's CSS url()s and the script's fetch() of /api/posts. What they count is the bodies as sent, less than the
 * files they are made of.
 */
import t from 'tap'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { loadPage, type Mode } from '../../bench/pageload'

interface Blog {
  buildBlog: (opts?: object, blog?: { push?: boolean }) => FastifyInstance
  pageAssets: () => string[]
  DEMO_PAGES: Record<string, string[]>
}

const POST = '/posts/2012-08-20-server-push'

t.test('every loader finds the same assets through gzip bodies', async (t) => {
  const { buildBlog, pageAssets, DEMO_PAGES } = await import('../../example-app/blog.mjs') as Blog
  const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'], keyType: 'rsa' })
  const https = buildBlog({ https: { cert, key, maxVersion: 'TLSv1.2' } })
  await https.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => https.close())
  const ports: Record<Mode, number> = { https: (https.server.address() as AddressInfo).port, spdy: 0, push: 0, push13: 0 }
  for (const mode of ['spdy', 'push'] as const) {
    const app = buildBlog({}, { push: mode === 'push' })
    await app.register(spdy, { port: 0, tls: { cert, key } })
    await app.listen({ port: 0, host: '127.0.0.1' })
    t.teardown(() => app.close())
    ports[mode] = app.spdy.port!
  }
  // What a browser fetches: the post page's assets but its favicon (parseAssets skips rel="icon"), the chain's all.
  const expected: Record<string, string[]> = {
    [POST]: pageAssets().filter((p) => p !== '/static/favicon.svg').sort(),
    '/demo/chain': [...DEMO_PAGES['/demo/chain']].sort()
  }
  for (const [page, want] of Object.entries(expected)) {
    // The pages' bodies uncompressed, with no Accept-Encoding: what the loaders' byte counts must be under.
    const plain = await https.inject({ url: page })
    t.equal(plain.headers['content-encoding'], undefined)
    let identityBytes = plain.rawPayload.length
    for (const p of want) identityBytes += (await https.inject({ url: p })).rawPayload.length
    for (const mode of ['https', 'spdy', 'push'] as const) {
      const l = await loadPage(mode, ports[mode], page)
      t.same([...l.paths].sort(), want, `${mode} ${page}: every asset found`)
      t.ok(l.bytes < identityBytes, `${mode} ${page}: ${l.bytes} B as sent < ${identityBytes} B uncompressed`)
      if (mode === 'push') t.ok(l.pushed > 0, 'push: assets came pushed')
    }
  }
})
