/**
 * Rolling restart behind Debian's haproxy (README's TCP-passthrough config: send-proxy-v2, HTTP health checks,
 * redispatch): 10 SpdyAgents (one TLS connection each at a time) keep 10 requests each in flight for ~20 s while
 * each of the 2 instances in turn is closed (app.close(): GOAWAY, in-flight streams finish, listener closed) and
 * started again on the same ports. Every request either completes or was never processed (above GOAWAY's
 * last-good-stream-id) and is retried by the agent on a new connection: failed must be 0. Prints sent, completed,
 * retried, failed.
 */
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import spdy from '../../lib/index'
import { generateSelfSigned } from '../../lib/tls/certificates'
import { SpdyAgent } from '../../lib/client'
import { haproxyBinary, HAPROXY_MISSING, freePort, startHaproxy, readmeHaproxyConfigs, localConfig } from './haproxy-harness'

const bin = haproxyBinary()
const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] })
const dir = mkdtempSync(join(tmpdir(), 'fastify-spdy-rolling-'))
const pemFile = join(dir, 'site.pem')
writeFileSync(pemFile, cert + '\n' + key)
const ticketKeys = [Buffer.alloc(48, 7)]

const LOAD_MS = 20_000
const AGENTS = 10
const STREAMS = 10
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** One instance on fixed ports, so its restart takes the same place in haproxy's config. */
async function instance (name: string, ports: { spdy: number, http: number }, served: Map<string, number>): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(spdy, { port: ports.spdy, tls: { cert, key, ticketKeys }, proxyProtocol: ['127.0.0.1'], gracefulTimeout: 5000 })
  app.get('/health', async () => 'ok')
  // A few ms of work keeps streams in flight when GOAWAY comes.
  app.get('/work', async () => { await sleep(5); served.set(name, (served.get(name) ?? 0) + 1); return name })
  await app.listen({ port: ports.http, host: '127.0.0.1' })
  return app
}

if (bin === null) {
  t.comment(HAPROXY_MISSING)
} else {
  t.test('rolling restart of 2 instances behind haproxy: no request fails', async (t) => {
    const ports = [{ spdy: await freePort(), http: await freePort() }, { spdy: await freePort(), http: await freePort() }]
    const served = new Map<string, number>()
    const apps = [await instance('app1', ports[0], served), await instance('app2', ports[1], served)]
    t.teardown(async () => { for (const a of apps) await a.close() })
    const front = await freePort('::1')
    await startHaproxy(t, bin, localConfig(readmeHaproxyConfigs()[0], front, ports, pemFile), [['::1', front]])

    const agents = Array.from({ length: AGENTS }, () => new SpdyAgent({ host: '::1', port: front, tls: true, ca: cert, servername: 'localhost', maxConnectAttempts: 5 }))
    t.teardown(async () => { for (const a of agents) await a.close() })
    const counts = { sent: 0, completed: 0, failed: 0 }
    const failures: string[] = []
    const until = Date.now() + LOAD_MS
    const loop = async (agent: SpdyAgent): Promise<void> => {
      while (Date.now() < until) {
        counts.sent++
        try {
          const res = await agent.request({ path: '/work' })
          if (res.status === 200) counts.completed++
          else { counts.failed++; failures.push(`status ${res.status}`) }
        } catch (err) {
          counts.failed++
          if (failures.length < 10) failures.push(`${(err as Error).constructor.name}: ${(err as Error).message}`)
        }
      }
    }
    const load = Promise.all(agents.flatMap((a) => Array.from({ length: STREAMS }, async () => await loop(a))))

    const restarts: string[] = []
    for (const i of [0, 1]) {
      await sleep(4000)
      const before = counts.completed
      await apps[i].close()
      apps[i] = await instance(`app${i + 1}'`, ports[i], served)
      restarts.push(`app${i + 1} restarted (${counts.completed - before} requests completed meanwhile)`)
      // The health checks (inter 1s, rise 2) see it up again before the next one goes down.
      await sleep(3000)
    }
    await load
    const retried = agents.reduce((n, a) => n + a.retried, 0)
    const connections = agents.reduce((n, a) => n + a.connections, 0)
    t.comment(restarts.join('; '))
    t.comment(`sent ${counts.sent}, completed ${counts.completed}, retried ${retried}, failed ${counts.failed}; ${connections} connections opened by ${AGENTS} agents; served: ${[...served.entries()].map(([k, v]) => `${k} ${v}`).join(', ')}`)
    t.equal(counts.failed, 0, `failed 0${failures.length > 0 ? ': ' + failures.join(' | ') : ''}`)
    t.equal(counts.completed, counts.sent, 'every request sent completed')
    // SPDY connections are long-lived: agents leaving app2 land on app1' (app2 refuses while it restarts), and stay.
    t.ok((served.get("app1'") ?? 0) > 0, 'the first restarted instance took connections again')
    t.ok(connections > AGENTS, 'the agents moved to new connections after GOAWAY')
  })
}
