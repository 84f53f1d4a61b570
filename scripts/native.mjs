// `npm install` hook: builds the optional record-layer accelerator (native/aead.c -> build/Release) with node-gyp.
// Optional by design: without a C compiler or Node's headers the build fails, this prints one line saying so, and
// lib/tls seals records through node:crypto instead (same bytes, more CPU per MB; see lib/tls/native-aead.ts).
// FASTIFY_SPDY_NATIVE_AEAD=0 skips the build.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const say = (msg) => process.stderr.write(`fastify-spdy: ${msg}\n`)

if (process.env.FASTIFY_SPDY_NATIVE_AEAD === '0') {
  say('native AEAD build skipped (FASTIFY_SPDY_NATIVE_AEAD=0)')
  process.exit(0)
}
// npm names its bundled node-gyp in npm_config_node_gyp for lifecycle scripts; run by hand, look beside npm.
const candidates = [process.env.npm_config_node_gyp,
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')]
const gyp = candidates.find((f) => f !== undefined && existsSync(f))
if (gyp === undefined) {
  say('native AEAD not built: node-gyp not found; TLS records use node:crypto')
  process.exit(0)
}
// Build against the headers installed beside this Node (official builds ship include/node, OpenSSL's included)
// unless npm names a nodedir: node-gyp would otherwise try to download them, which fails on a closed network.
const prefix = join(dirname(process.execPath), '..')
const args = [gyp, 'rebuild']
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`)
const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' })
if (r.status === 0) {
  say('native AEAD built (build/Release/fastify_spdy_aead.node)')
} else {
  const why = `${r.stderr ?? ''}${r.stdout ?? ''}`.split('\n').filter((l) => /error|ERR!/i.test(l)).slice(0, 3).join(' | ')
  say(`native AEAD not built, TLS records use node:crypto (${why || `node-gyp exited ${r.status}`})`)
}
