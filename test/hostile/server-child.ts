/**
 * A server in its own process, for attacks whose effect is measured in memory: the parent (harness.spawnServer)
 * reads this process's RSS over IPC while it attacks, undisturbed by its own allocations.
 * argv[2]: JSON { tls, spdy } as startServer takes them. Messages: 'stats' -> { rss, peakRss, sessions, heapUsed }.
 */
import { startServer } from './harness'

const opts = JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof startServer>[0]
let peakRss = 0
const sample = (): number => { const r = process.memoryUsage.rss(); if (r > peakRss) peakRss = r; return r }

startServer(opts).then((s) => {
  // Sampled often: the peak is what an attack costs, not the value when the parent happens to ask.
  const sampler = setInterval(sample, 20)
  process.on('message', (m: unknown) => {
    if (m === 'stats') {
      const rss = sample()
      process.send?.({ rss, peakRss, sessions: s.app.spdy.sessions().length, heapUsed: process.memoryUsage().heapUsed, logLines: s.logs.length })
    } else if (m === 'close') {
      clearInterval(sampler)
      s.close().then(() => process.exit(0), () => process.exit(1))
    }
  })
  process.send?.({ port: s.port })
}, (err: unknown) => { console.error(err); process.exit(1) })
// The parent going away (a failed test) must not leave this server behind.
process.on('disconnect', () => process.exit(0))
