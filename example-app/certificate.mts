/**
 * A self-signed certificate for the demo, made on first run and kept in example-app/.local/ (ignored by git).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateSelfSigned } from 'fastify-spdy'

const DIR = join(dirname(fileURLToPath(import.meta.url)), '.local')

export async function ensureCertificate (host: string): Promise<{ cert: string, key: string }> {
  const certPath = join(DIR, 'cert.pem')
  const keyPath = join(DIR, 'key.pem')
  if (existsSync(certPath) && existsSync(keyPath)) {
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') }
  }
  mkdirSync(DIR, { recursive: true })
  const altNames = [...new Set(['localhost', '127.0.0.1', '::1', host])]
  const { cert, key } = generateSelfSigned({ commonName: 'localhost', altNames })
  writeFileSync(certPath, cert)
  writeFileSync(keyPath, key, { mode: 0o600 })
  process.stdout.write(`made a self-signed certificate in ${certPath}\n`)
  return { cert, key }
}
