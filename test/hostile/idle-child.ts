/**
 * Idle peers in a process of their own (harness.ts idleInChildren), so a test can hold more connections than one
 * process's descriptor limit allows (20,000 on the CI machine, for the server, the test and its sockets together).
 * argv[2]: JSON { port, n }. Opens n TCP connections that send nothing, `BATCH` at a time, reads (and drops) what
 * the server sends so its FIN is seen, and once every socket is closed or `boundMs` has passed, sends the parent
 * { opened, failed, closed } and exits.
 */
import net from 'node:net'

const { port, n, boundMs } = JSON.parse(process.argv[2] ?? '{}') as { port: number, n: number, boundMs: number }
const BATCH = 200
let opened = 0
let failed = 0
let closed = 0
const end = Date.now() + boundMs

function connect (): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    let up = false
    s.on('connect', () => { up = true; opened++; resolve() })
    s.on('error', () => { if (!up) { failed++; resolve() } })
    s.on('close', () => { if (up) closed++ })
    s.resume()
  })
}

async function main (): Promise<void> {
  for (let i = 0; i < n && Date.now() < end; i += BATCH) await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, connect))
  process.send?.({ phase: 'opened', opened, failed })
  while (closed < opened && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 50))
  process.send?.({ phase: 'done', opened, failed, closed })
}

main().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1) })
process.on('disconnect', () => process.exit(0))
