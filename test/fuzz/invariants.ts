/**
 * What every fuzz target checks, whatever the input: nothing escapes our code but our typed errors (lib/errors.ts),
 * and each error an engine reports as an event is one of them too. Anything else (a TypeError, a RangeError from a
 * Buffer read, an assertion) is a crash: the fuzzer keeps the input.
 */
import { SpdyError } from '../../lib/errors'

export class FuzzInvariantError extends Error {}

/** Rethrows anything that is not one of our typed errors. */
export function onlyTyped (err: unknown): void {
  if (!(err instanceof SpdyError)) throw err
}

/** An error carried by an event must be ours. */
export function typedEvent (what: string, err: unknown): void {
  if (!(err instanceof SpdyError)) throw new FuzzInvariantError(`${what}: untyped error in an event: ${String(err)}`)
}

/**
 * The same bytes cut into reads of varied sizes (1 byte to 4 KB), from a seed taken from the input's length so a
 * saved input replays identically: engines must give the same answer however the socket slices the stream.
 */
export function* slices (buf: Uint8Array): Generator<Uint8Array> {
  let seed = (buf.length * 2654435761) >>> 0
  let off = 0
  while (off < buf.length) {
    seed = (seed * 1103515245 + 12345) >>> 0
    const sizes = [1, 3, 8, 64, 1024, 4096]
    const n = sizes[seed % sizes.length]
    yield buf.subarray(off, off + n)
    off += n
  }
}

/** A fuzz target: one input in, resolves when the input is fully handled; throws (or rejects) on a crash. */
export interface FuzzTarget { fuzz: (buf: Buffer) => void | Promise<void> }

/**
 * Under `npm run fuzz` (FUZZ_HANG_MS set), an input that was handled but took longer than that is a crash too: the
 * fuzzer's own timeout only catches inputs that never finish. The replay test leaves it unset (no timed asserts).
 */
const HANG_MS = Number(process.env.FUZZ_HANG_MS ?? 0)
export function bounded<T> (what: string, run: () => T): T {
  if (HANG_MS <= 0) return run()
  const start = performance.now()
  const result = run()
  const took = performance.now() - start
  if (took > HANG_MS) throw new FuzzInvariantError(`${what}: one input took ${took.toFixed(0)} ms (over ${HANG_MS} ms)`)
  return result
}
