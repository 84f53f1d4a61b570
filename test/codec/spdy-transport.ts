/**
 * Drives the npm spdy-transport package's SPDY framer and parser on their own (no sockets), as an independent
 * implementation to produce golden bytes and to read ours. Its API is untyped JavaScript; the small surface we use is
 * typed here.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import { EventEmitter } from 'node:events'

interface Readable extends EventEmitter { read (): Buffer | null, write (b: Buffer): boolean }
export interface StFramer extends Readable {
  setVersion (v: number): void
  setCompression (pair: unknown): void
  requestFrame (f: Record<string, unknown>, cb?: (err?: Error) => void): void
  responseFrame (f: Record<string, unknown>, cb?: (err?: Error) => void): void
  pushFrame (f: Record<string, unknown>, cb?: (err?: Error) => void): void
  headersFrame (f: Record<string, unknown>, cb?: (err?: Error) => void): void
  dataFrame (f: Record<string, unknown>, cb?: (err?: Error) => void): void
  pingFrame (f: Record<string, unknown>, cb?: (err?: Error) => void): void
  rstFrame (f: Record<string, unknown>, cb?: (err?: Error) => void): void
  settingsFrame (f: Record<string, unknown>, cb?: (err?: Error) => void): void
  windowUpdateFrame (f: Record<string, unknown>, cb?: (err?: Error) => void): void
  goawayFrame (f: Record<string, unknown>, cb?: (err?: Error) => void): void
  enablePush (e: boolean): void
}
export interface StParser extends EventEmitter {
  setVersion (v: number): void
  setCompression (pair: unknown): void
  skipPreface (): void
  write (b: Buffer): boolean
}

const transport = require('spdy-transport')

/**
 * spdy-transport compresses on Node's zlib thread pool: wait until its output stops growing. Every caller has
 * just handed it a frame, so output is due: wait for the first of it (up to 2 s; a loaded machine can take longer
 * than a few polls to run a zlib job), then until it has been stable for 3 polls.
 * Stable means 10 polls (50 ms): with 3 (15 ms), a loaded machine cut golden.test's frames short on Node 20 and 24.
 */
async function settle (count: () => number): Promise<void> {
  const start = count()
  for (let waited = 0; count() === start && waited < 10_000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5))
  let last = -1
  let stable = 0
  // Quiet for 40 checks (~200 ms): spdy-transport's zlib runs on the thread pool, and on a loaded machine (the whole
  // suite on 2 cores) 50 ms between two of its chunks happened, cutting a take() short.
  while (stable < 40) {
    await new Promise((resolve) => setTimeout(resolve, 5))
    const now = count()
    stable = now === last ? stable + 1 : 0
    last = now
  }
}
const spdy = transport.protocol.spdy

function window (isServer: boolean): unknown {
  const big = 1 << 30
  return new transport.Window({ id: 0, isServer, recv: { size: big, max: big }, send: { size: big, max: big } })
}

/** A spdy-transport framer (writer) with its own compression context for `version` (2, 3 or 3.1). */
export function stFramer (version: number, isServer = false): { framer: StFramer, take: () => Promise<Buffer> } {
  const pool = spdy.compressionPool.create(true)
  const framer = spdy.framer.create({ window: window(isServer), timeout: 0 }) as StFramer
  framer.setVersion(version)
  framer.setCompression(pool.get(version))
  framer.enablePush(isServer)
  const chunks: Buffer[] = []
  framer.on('data', (c: Buffer) => chunks.push(c))
  // The framer is an async stream (zlib is async): let it drain before taking its bytes.
  const take = async (): Promise<Buffer> => {
    await settle(() => chunks.length)
    return Buffer.concat(chunks.splice(0))
  }
  return { framer, take }
}

/** A spdy-transport parser (reader) for `version`, collecting the frames it emits. */
export function stParser (version: number, isServer: boolean): { parser: StParser, frames: Array<Record<string, unknown>>, errors: Error[], feed: (b: Uint8Array) => Promise<void> } {
  const pool = spdy.compressionPool.create(true)
  const parser = spdy.parser.create({ isServer, window: window(isServer) }) as StParser
  parser.setVersion(version)
  parser.setCompression(pool.get(version))
  if (!isServer) parser.skipPreface()
  const frames: Array<Record<string, unknown>> = []
  const errors: Error[] = []
  parser.on('data', (f: Record<string, unknown>) => frames.push(f))
  parser.on('error', (e: Error) => errors.push(e))
  const feed = async (b: Uint8Array): Promise<void> => {
    parser.write(Buffer.from(b))
    await settle(() => frames.length + errors.length)
  }
  return { parser, frames, errors, feed }
}
