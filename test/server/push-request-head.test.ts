/**
 * README "Server push": "A pushed path runs through the app itself as a GET (same routes, hooks and headers a
 * browser's GET would get, with the page's `user-agent`, `accept-encoding`, `accept-language`, `cookie` and
 * `authorization`)". End to end through the plugin, with spdy-transport (an independent client) sending a POST page
 * with those headers and others: the pushed route sees a GET for the pushed path, the page's authority as its host,
 * exactly those five headers with the page's values, and none of the page's other headers.
 */
import t from 'tap'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { StClient } from '../interop/spdy-transport-peer'

const INHERITED = {
  'user-agent': 'Mozilla/5.0 (test) Chrome/30.0',
  'accept-encoding': 'gzip, deflate',
  'accept-language': 'fr-CH, fr;q=0.9',
  cookie: 'session=abc; theme=dark',
  authorization: 'Basic dXNlcjpwYXNz'
}
const NOT_INHERITED = { accept: 'text/html', referer: 'https://example.com/', 'x-page-only': 'yes', 'content-type': 'text/plain' }

for (const version of [2, 3, 3.1] as const) {
  t.test(`SPDY/${version}: the pushed GET carries the page's five inherited headers and no others`, async (t) => {
    const app = Fastify()
    await app.register(spdy, { tls: false, port: 0 })
    app.addHook('onRequest', async (req) => { (req as unknown as { hooked: boolean }).hooked = true })
    app.get('/echo.json', async (req) => ({
      method: req.method,
      url: req.url,
      hooked: (req as unknown as { hooked?: boolean }).hooked === true,
      headers: req.headers
    }))
    app.post('/page', { config: { spdy: { push: ['/echo.json?from=page'] } } }, async () => 'page')
    await app.listen({ port: 0, host: '127.0.0.1' })
    t.teardown(() => app.close())

    const client = await StClient.connect({ port: app.spdy.port!, version })
    t.teardown(() => client.close())
    const res = await client.request({ method: 'POST', path: '/page', body: 'x', headers: { ...INHERITED, ...NOT_INHERITED } })
    t.equal(res.body.toString(), 'page')
    t.equal(res.pushes.length, 1, 'one push')
    const seen = JSON.parse(res.pushes[0].body.toString()) as { method: string, url: string, hooked: boolean, headers: Record<string, string> }
    t.equal(seen.method, 'GET', 'a pushed path is a GET, whatever the page\'s method')
    t.equal(seen.url, '/echo.json?from=page')
    t.ok(seen.hooked, 'the app\'s hooks ran for it')
    t.equal(seen.headers.host, client.host, 'host is the page\'s authority (spdy-transport sends it without a port)')
    for (const [name, value] of Object.entries(INHERITED)) t.equal(seen.headers[name], value, `${name} inherited`)
    for (const name of Object.keys(NOT_INHERITED)) t.equal(seen.headers[name], undefined, `${name} not inherited`)
    t.equal(seen.headers['content-length'], undefined, 'no body headers on the pushed GET')
  })
}
