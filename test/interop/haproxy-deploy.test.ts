/**
 * The two HAProxy deployments of README "Deployment", with Debian's haproxy started here in front of 2 app
 * instances (send-proxy-v2, health checks on each instance's HTTP port). The configs are read from README.md's
 * ```haproxy blocks; only addresses, ports and the certificate path are replaced.
 * (a) TCP passthrough to our TLS: openssl s_client -nextprotoneg (and spdy-transport over it), our client over
 *     ALPN, curl for the HTTPS/1.1 fallback; every request sees the client's address (::1, while the instances'
 *     sockets come from haproxy on 127.0.0.1) and both instances serve.
 * (b) TLS ended in haproxy (npn + alpn on the bind line), plain SPDY to `tls: false` listeners: the PROXY v2
 *     header's ALPN TLV pins the version (2, 3 and 3.1 over NPN, 3.1 over ALPN), request.protocol is https,
 *     and curl's HTTP/1.1 reaches the app's own server with the client's address.
 */
import t, { type Test } from 'tap'
import { spawn, execFile } from 'node:child_process'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { connect } from '../../lib/client'
import { haproxyBinary, HAPROXY_MISSING, freePort, startHaproxy, readmeHaproxyConfigs, localConfig } from './haproxy-harness'
import { spdyOverSClient, spdyGet } from './spdy-over-s-client'

const run = promisify(execFile)
const bin = haproxyBinary()
const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
const dir = mkdtempSync(join(tmpdir(), 'fastify-spdy-deploy-'))
const caFile = join(dir, 'ca.pem')
const pemFile = join(dir, 'site.pem')
writeFileSync(caFile, cert)
writeFileSync(pemFile, cert + '\n' + key)

interface Who { instance: string, ip: string, port: number, protocol: string, spdy: number | null }

async function instance (name: string, opts: Record<string, unknown>): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(spdy, { port: 0, proxyProtocol: ['127.0.0.1'], ...opts } as never)
  app.get('/health', async () => 'ok')
  app.get('/big', async () => 'b'.repeat(300_000))
  app.get('/who', async (req): Promise<Who> => ({ instance: name, ip: req.ip, port: req.socket.remotePort ?? 0, protocol: req.protocol, spdy: req.spdy?.version ?? null }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

const httpPort = (app: FastifyInstance): number => (app.server.address() as { port: number }).port

const sClient = async (args: string[]): Promise<string> => {
  const child = spawn('openssl', ['s_client', '-tls1_2', '-servername', 'localhost', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stdin.end()
  await new Promise((resolve) => child.on('close', resolve))
  return out
}

const curlWho = async (front: number): Promise<Who> => {
  const { stdout } = await run('curl', ['-s', '--http1.1', '--cacert', caFile, '--resolve', `localhost:${front}:[::1]`, `https://localhost:${front}/who`])
  return JSON.parse(stdout) as Who
}

async function deployment (t: Test, which: 0 | 1, appOpts: Record<string, unknown>): Promise<number> {
  const configs = readmeHaproxyConfigs()
  t.equal(configs.length, 2, 'README shows two haproxy configs')
  const apps = [await instance('app1', appOpts), await instance('app2', appOpts)]
  t.teardown(async () => { for (const a of apps) await a.close() })
  const front = await freePort('::1')
  const config = localConfig(configs[which], front, apps.map((a) => ({ spdy: a.spdy.port!, http: httpPort(a) })), pemFile)
  await startHaproxy(t, bin!, config, [['::1', front]])
  return front
}

if (bin === null) {
  t.comment(HAPROXY_MISSING)
} else {
  t.test('(a) TCP passthrough to our TLS, PROXY v2', async (t) => {
    const front = await deployment(t, 0, { tls: { cert, key } })
    t.match(await sClient(['-connect', `[::1]:${front}`, '-nextprotoneg', 'spdy/3.1,spdy/3,spdy/2']), /Next protocol: \(1\) spdy\/3\.1/, 'NPN through haproxy')
    t.match(await sClient(['-connect', `[::1]:${front}`, '-alpn', 'spdy/3.1,http/1.1']), /ALPN protocol: spdy\/3\.1/, 'ALPN through haproxy')

    const served = new Set<string>()
    for (const version of [2, 3, 3.1] as const) {
      const { conn } = spdyOverSClient(t, front, version, ['-tls1_2', '-servername', 'localhost', '-nextprotoneg', `spdy/${version}`, '-connect', `[::1]:${front}`])
      const res = await spdyGet(conn, '/who')
      const who = JSON.parse(res.body) as Who
      t.same({ status: res.status, ip: who.ip, protocol: who.protocol, spdy: who.spdy }, { status: 200, ip: '::1', protocol: 'https', spdy: version }, `spdy-transport over s_client -nextprotoneg spdy/${version}`)
      served.add(who.instance)
      conn.end()
    }
    for (let i = 0; i < 2; i++) {
      const client = await connect({ host: '::1', port: front, tls: true, ca: cert, servername: 'localhost', negotiation: 'alpn' })
      const who = JSON.parse((await client.request({ path: '/who' })).body.toString()) as Who
      t.same({ ip: who.ip, protocol: who.protocol, spdy: who.spdy, by: client.negotiatedBy }, { ip: '::1', protocol: 'https', spdy: 3.1, by: 'alpn' }, 'our client over ALPN')
      served.add(who.instance)
      await client.close()
    }
    for (let i = 0; i < 2; i++) {
      const who = await curlWho(front)
      t.same({ ip: who.ip, protocol: who.protocol, spdy: who.spdy }, { ip: '::1', protocol: 'https', spdy: null }, 'curl: the HTTPS/1.1 fallback')
      served.add(who.instance)
    }
    t.same([...served].sort(), ['app1', 'app2'], 'both instances served')
  })

  t.test('(b) TLS ended in haproxy, plain SPDY to tls: false listeners', async (t) => {
    const front = await deployment(t, 1, { tls: false })
    t.match(await sClient(['-connect', `[::1]:${front}`, '-nextprotoneg', 'spdy/3.1,spdy/3,spdy/2']), /Next protocol: \(1\) spdy\/3\.1/, 'haproxy answers NPN')
    const served = new Set<string>()
    for (const version of [2, 3, 3.1] as const) {
      const { conn } = spdyOverSClient(t, front, version, ['-tls1_2', '-servername', 'localhost', '-nextprotoneg', `spdy/${version}`, '-connect', `[::1]:${front}`])
      const res = await spdyGet(conn, '/who')
      const who = JSON.parse(res.body) as Who
      t.same({ status: res.status, ip: who.ip, protocol: who.protocol, spdy: who.spdy }, { status: 200, ip: '::1', protocol: 'https', spdy: version }, `NPN spdy/${version}: the ALPN TLV pinned the version`)
      // 300 KB, past a 64 KB session window: a SPDY/3 peer held to 3.1's session window would stall here.
      t.equal((await spdyGet(conn, '/big')).body.length, 300_000, `NPN spdy/${version}: a 300 KB body`)
      served.add(who.instance)
      conn.end()
    }
    const client = await connect({ host: '::1', port: front, tls: true, ca: cert, servername: 'localhost', negotiation: 'alpn' })
    const who = JSON.parse((await client.request({ path: '/who' })).body.toString()) as Who
    t.same({ ip: who.ip, protocol: who.protocol, spdy: who.spdy }, { ip: '::1', protocol: 'https', spdy: 3.1 }, 'our client over ALPN')
    served.add(who.instance)
    await client.close()
    const h1 = await curlWho(front)
    t.same({ ip: h1.ip, protocol: h1.protocol, spdy: h1.spdy }, { ip: '::1', protocol: 'https', spdy: null }, 'curl HTTP/1.1 through haproxy\'s TLS reaches the app\'s server')
    served.add(h1.instance)
    t.same([...served].sort(), ['app1', 'app2'], 'both instances served')
  })
}
