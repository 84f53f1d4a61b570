/**
 * bench/RESULTS.md is shared by every benchmark: each owns one section between markers and rewrites only that.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'

const FILE = join(__dirname, 'RESULTS.md')

export function machine (): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
  return `${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`
}

/** The 1, 5 and 15 minute load averages, to print beside figures measured on a shared machine. */
export function loadavg (): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
}

export function writeSection (name: string, markdown: string): void {
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const body = `${start}\n${markdown.trim()}\n${end}`
  let text = existsSync(FILE) ? readFileSync(FILE, 'utf8') : '# Benchmark results\n\nEach section is rewritten by the command it names. Ratios compare against an anchor measured in the same run.\n'
  const i = text.indexOf(start)
  const j = text.indexOf(end)
  if (i >= 0 && j > i) text = text.slice(0, i) + body + text.slice(j + end.length)
  else text = text.trimEnd() + '\n\n' + body + '\n'
  writeFileSync(FILE, text)
}

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}
