/**
 * A self-signed certificate for the demo, made on first run and kept in example-app/.local/ (ignored by git).
 */
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateSelfSigned } from 'fastify-spdy'

const DIR = join(dirname(fileURLToPath(import.meta.url)), '.local')

interface Pair { cert: string, key: string }

function read (dir: string): Pair | null {
  const certPath = join(dir, 'cert.pem')
  const keyPath = join(dir, 'key.pem')
  if (!existsSync(certPath) || !existsSync(keyPath)) return null
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') }
}

/**
 * Several demos can start at once on a fresh checkout (the cluster's primary, or two tests each running the demo):
 * each makes its own pair, but only one may land, or a process serves one certificate while cert.pem (what clients
 * trust) holds another, or a key.pem from a second process sits next to the first one's cert.pem. So the pair is
 * written into a private directory and published with one rename(2) of that directory to `dir`, which fails when
 * `dir` already holds files: the first rename wins, the others read the winner's pair. A reader never sees half of
 * a pair, because cert.pem and key.pem appear together.
 */
export async function ensureCertificate (host: string, dir = DIR): Promise<Pair> {
  const kept = read(dir)
  if (kept !== null) return kept
  const altNames = [...new Set(['localhost', '127.0.0.1', '::1', host])]
  const made = generateSelfSigned({ commonName: 'localhost', altNames })
  const staging = mkdtempSync(`${dir}-`)
  writeFileSync(join(staging, 'cert.pem'), made.cert)
  writeFileSync(join(staging, 'key.pem'), made.key, { mode: 0o600 })
  try {
    // Replaces `dir` only when it is missing or empty (ENOTEMPTY/EEXIST otherwise: someone else's pair is there).
    renameSync(staging, dir)
    process.stdout.write(`made a self-signed certificate in ${join(dir, 'cert.pem')}\n`)
    return made
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
  }
  const won = read(dir)
  if (won !== null) {
    rmSync(staging, { recursive: true, force: true })
    return won
  }
  // `dir` holds files but not a whole pair (an older version killed between its two writes, a stray file):
  // replace the two files, each with one rename so that a reader sees a whole file or none.
  renameSync(join(staging, 'key.pem'), join(dir, 'key.pem'))
  renameSync(join(staging, 'cert.pem'), join(dir, 'cert.pem'))
  rmSync(staging, { recursive: true, force: true })
  process.stdout.write(`made a self-signed certificate in ${join(dir, 'cert.pem')}\n`)
  return made
}
