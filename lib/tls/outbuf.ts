/**
 * Buffers that sealed records are written into, reused once the socket layer says it has written them.
 *
 * Why: a server sending 1 GB/s over TLS seals ~16,000 application writes of 64 KB a second. A fresh buffer for each
 * is external memory to V8, and V8 schedules garbage collections by external memory growth: in bench/tls.ts's bulk
 * profile, allocation plus the collections it drove were ~16% of the server's CPU. Native TLS allocates nothing per
 * record. A slab that comes back is also still in cache when it is filled again.
 *
 * The pool is per process and bounded (POOL_SLABS slabs of SLAB_BYTES, ~1 MB), so an idle connection holds none
 * and memory per connection does not grow. Only a caller that knows the bytes left for the kernel may give a slab
 * back (lib/server/tls-layer.ts does it from the socket write callback); giving back a buffer still queued for
 * writing would let the next record overwrite it, so recycle() refuses anything not taken from here or given twice.
 *
 * Today no record sealer fills these: the node:crypto path cannot write into a caller's buffer (Cipher.update
 * always returns its own), and copying into a slab would add a 64 KB copy per write. What filled them was
 * the native record layer, removed by issue 12 ("No C at install"); the socket side (WrittenSlabs) stays wired in
 * lib/server/tls-layer.ts so a sealer that can write in place only has to call takeOutputBuffer.
 */
import { MAX_PLAINTEXT } from './limits'

/** Four full AEAD records (2^14 plaintext + 5 header + 8 explicit nonce + 16 tag): one 64 KB application write. */
export const SLAB_BYTES = 4 * (MAX_PLAINTEXT + 29)
/** Free slabs kept at most: 16 x 64 KB. More in flight than that are simply left to the garbage collector. */
export const POOL_SLABS = 16
/**
 * Smaller outputs get a buffer of their own size (Node's shared 8 KB pool below 4 KB): a slab for a 300-byte
 * response would make 1,000 connections answering in the same tick allocate 64 MB instead of 300 KB, and the
 * allocation cost the pool saves only matters for bulk.
 */
export const MIN_POOLED_BYTES = MAX_PLAINTEXT

const free: ArrayBuffer[] = []
/** Every slab made here; a WeakSet, so slabs dropped by their users are collected as usual. */
const made = new WeakSet<ArrayBuffer>()
/** Slabs currently in `free` (guards against a slab given back twice). */
const idle = new WeakSet<ArrayBuffer>()

/** A buffer of `length` bytes for sealed records: a pooled slab for bulk-sized output that fits, else a fresh one. */
export const takeOutputBuffer = (length: number): Buffer => {
  if (length > SLAB_BYTES || length < MIN_POOLED_BYTES) return Buffer.allocUnsafe(length)
  let ab = free.pop()
  if (ab === undefined) {
    ab = new ArrayBuffer(SLAB_BYTES)
    made.add(ab)
  } else {
    idle.delete(ab)
  }
  return Buffer.from(ab, 0, length)
}

/** True for a buffer from takeOutputBuffer's pool: the socket layer may hand it back once written. */
export const isRecyclable = (chunk: Uint8Array): boolean => made.has(chunk.buffer as ArrayBuffer)

/**
 * Give a written buffer back. The caller promises nothing references its bytes any more (the socket wrote them).
 * Buffers not from the pool, or already given back, are ignored.
 */
export const recycle = (chunk: Uint8Array): void => {
  const ab = chunk.buffer as ArrayBuffer
  if (!made.has(ab) || idle.has(ab) || free.length >= POOL_SLABS) return
  idle.add(ab)
  free.push(ab)
}

/** Free slabs now (for tests). */
export const pooledSlabs = (): number => free.length

/**
 * Gives pooled buffers back once the socket wrote them, for a socket loop that writes flushes in order: track()
 * each flush just before writing it and pass what it returns as the last write's callback. Socket writes complete
 * in order, so each callback gives back its own flush's buffers; a failed write gives nothing back (its bytes may
 * still be referenced), leaving them to the garbage collector.
 */
export class WrittenSlabs {
  private readonly inFlight: Uint8Array[][] = []
  private readonly written = (err?: Error | null): void => {
    const slabs = this.inFlight.shift()
    if (slabs !== undefined && (err === undefined || err === null)) for (const s of slabs) recycle(s)
  }

  /** The write callback for this flush, or undefined when none of its chunks came from the pool. */
  track (chunks: Uint8Array[]): ((err?: Error | null) => void) | undefined {
    let slabs: Uint8Array[] | null = null
    for (const c of chunks) if (isRecyclable(c)) (slabs ??= []).push(c)
    if (slabs === null) return undefined
    this.inFlight.push(slabs)
    return this.written
  }
}
