/**
 * How much copying a queue's design asks for, without a clock (no timed assertions): counts the array entries that
 * Array.prototype.shift() and splice() move while `fn` runs. shift() on n entries moves the n - 1 behind the head;
 * splice(start, k) the ones behind the cut. V8 really copies them once an array's backing store is in large-object
 * space (past ~16K entries): a loop of shift() over n entries is then n^2/2 copies, where a head index is none.
 * Not a test file (tap runs *.test.ts only); the patch is undone before it returns, and tap runs each test file in
 * its own process.
 */
export function arrayMoves<T> (fn: () => T): { result: T, moves: number } {
  const proto = Array.prototype as unknown as Record<string, unknown>
  const shift = Array.prototype.shift
  const splice = Array.prototype.splice
  let moves = 0
  proto.shift = function (this: unknown[]) {
    if (this.length > 1) moves += this.length - 1
    return shift.call(this)
  }
  proto.splice = function (this: unknown[], ...args: unknown[]) {
    const len = this.length
    let start = Math.trunc(Number(args[0] ?? 0))
    start = start < 0 ? Math.max(0, len + start) : Math.min(len, start)
    const removed = args.length < 2 ? len - start : Math.min(len - start, Math.max(0, Math.trunc(Number(args[1]))))
    if (args.length - 2 !== removed) moves += len - start - removed
    return (splice as (...a: unknown[]) => unknown[]).apply(this, args)
  }
  try {
    return { result: fn(), moves }
  } finally {
    proto.shift = shift
    proto.splice = splice
  }
}
