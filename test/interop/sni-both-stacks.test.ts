/**
 * README Options, `tls`: "`sni`, `ticketKeys` and `keylog` apply to both stacks". `tls.sni` through the plugin,
 * checked with `openssl s_client` on each stack of the one TLS port: `-alpn` without NPN gets OpenSSL (TLS 1.3),
 * `-tls1_2 -nextprotoneg` gets our engine. For each server name, both stacks present the same certificate: the
 * exact name's, a wildcard's one label up, else the default one; names match whatever their case (RFC 6066
 * section 3: host names are compared case-insensitively). (`ticketKeys` and `keylog` on both stacks:
 * test/interop/tls-stacks.test.ts.)
 */
import t from 'tap'
import Fastify from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { sClientOutput } from './s-client-run'

const main = generateSelfSigned({ commonName: 'default.test', altNames: ['default.test'] })
const a = generateSelfSigned({ commonName: 'a.example.com', altNames: ['a.example.com'] })
const wild = generateSelfSigned({ commonName: '*.example.org', altNames: ['*.example.org'], keyType: 'ec' })

async function presented (port: number, servername: string, args: string[]): Promise<{ cn: string, out: string }> {
  const out = await sClientOutput(port, servername, args)
  // OpenSSL 3.0 prints "subject=CN = name", later releases "subject=CN=name".
  return { cn: /^subject=\s*CN\s*=\s*(\S+)/m.exec(out)?.[1] ?? '(none)', out }
}

t.test('tls.sni picks the same certificate on the OpenSSL side and on our engine', async (t) => {
  const app = Fastify()
  await app.register(spdy, { tls: { ...main, sni: { 'a.example.com': a, '*.example.org': wild } }, port: 0 })
  app.get('/', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const port = app.spdy.port!

  const stacks = [
    ['OpenSSL (ALPN, TLS 1.3)', ['-alpn', 'spdy/3.1'], /New, TLSv1\.3/],
    ['our engine (NPN, TLS 1.2)', ['-tls1_2', '-nextprotoneg', 'spdy/3.1'], /Next protocol: \(1\) spdy\/3\.1/]
  ] as const
  const cases: Array<[string, string]> = [
    ['a.example.com', 'a.example.com'],
    ['A.Example.COM', 'a.example.com'],
    ['x.example.org', '*.example.org'],
    ['deep.x.example.org', 'default.test'],
    ['example.org', 'default.test'],
    ['other.test', 'default.test']
  ]
  for (const [stack, args, proof] of stacks) {
    for (const [name, cn] of cases) {
      const got = await presented(port, name, [...args])
      t.match(got.out, proof, `${stack}: ${name} reached this stack`)
      t.equal(got.cn, cn, `${stack}: ${name} gets ${cn}'s certificate`)
    }
  }
})
