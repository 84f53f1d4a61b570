/**
 * What one socket read costs on the Driver's two read paths (lib/server/driver.ts): Node's stream ('data' events)
 * and readInPlace() (net.Socket's onread, in place). Issue 14: a client that writes each frame in pieces costs the
 * server a read per piece. One process, one loopback connection: the client writes a small piece, the server's
 * Driver reads it and, from received(), has the client write the next one, so every piece is exactly one read (and
 * one client write, the same in both modes). CPU (process.cpuUsage, user and system) per round, both modes
 * alternating in the same process, `--rounds` times each, minimum and median reported.
 *
 *   taskset -c 0 npx tsx bench/read-path.ts [--pieces 100000] [--rounds 6] [--bytes 16] [--dist]
 *
 * The difference between the modes is the server's per-read cost that readInPlace removes; the rest (the client's
 * write, the wakeups, the kernel) is common to both.
 */
import net from 'node:net'
import { once } from 'node:events'
import type { Driver as DriverType } from '../lib/server/driver'

const argN = (name: string, d: number): number => { const i = process.argv.indexOf(`--${name}`); return i >= 0 ? Number(process.argv[i + 1]) : d }
const pieces = argN('pieces', 100000)
const rounds = argN('rounds', 6)
const bytes = argN('bytes', 16)
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Driver } = (process.argv.includes('--dist') ? require('../dist/cjs/server/driver.js') : require('../lib/server/driver')) as { Driver: typeof DriverType }

/** Counts reads; each one asks for the next piece. */
class Reader extends Driver {
  reads = 0
  next: () => void = () => {}
  protected override received (_chunk: Buffer): void { this.reads++; this.next() }
}

interface Sample { mode: string, userUs: number, systemUs: number, wallUs: number }

async function run (inPlace: boolean): Promise<Sample> {
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve))
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  client.setNoDelay(true)
  await once(client, 'connect')
  const socket = await accepted
  const reader = new Reader(socket)
  const piece = Buffer.alloc(bytes, 0x61)
  // Warm the path (and JIT) before measuring; then the switch, as a SPDY connection makes it after its first read.
  await new Promise<void>((resolve) => {
    reader.next = () => { if (reader.reads < 2000) client.write(piece); else resolve() }
    client.write(piece)
  })
  if (inPlace && !reader.readInPlace()) throw new Error('readInPlace() declined')
  const start = reader.reads
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await new Promise<void>((resolve) => {
    reader.next = () => { if (reader.reads - start < pieces) client.write(piece); else resolve() }
    client.write(piece)
  })
  const cpu = process.cpuUsage(cpu0)
  const wall = Number(process.hrtime.bigint() - t0) / 1000
  const n = reader.reads - start
  client.destroy()
  socket.destroy()
  return { mode: inPlace ? 'in place' : 'stream', userUs: cpu.user / n, systemUs: cpu.system / n, wallUs: wall / n }
}

const server = net.createServer({ noDelay: true })

async function main (): Promise<void> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const samples: Sample[] = []
  for (let r = 0; r < rounds; r++) {
    // Alternating, order flipped every other round.
    for (const inPlace of r % 2 === 0 ? [false, true] : [true, false]) samples.push(await run(inPlace))
  }
  server.close()
  const stat = (xs: number[]): string => {
    const s = [...xs].sort((a, b) => a - b)
    return `min ${s[0].toFixed(2)} median ${s[Math.floor(s.length / 2)].toFixed(2)}`
  }
  for (const mode of ['stream', 'in place']) {
    const m = samples.filter((s) => s.mode === mode)
    process.stdout.write(`${mode.padEnd(8)} per read: user ${stat(m.map((s) => s.userUs))} us, system ${stat(m.map((s) => s.systemUs))} us, wall ${stat(m.map((s) => s.wallUs))} us (${rounds} x ${pieces} reads of ${bytes} B)\n`)
  }
}

main().catch((err) => { console.error(err); process.exit(1) })
