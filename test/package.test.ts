import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// The published shape: `npm run build` output loads through the package name from CommonJS and ESM alike, as the
// same plugin function, with types for both. `npm test` builds before tap starts: rebuilding here would delete
// dist/ under the demo end-to-end test, which runs the built package at the same time.
t.test('built package works from require() and import', async (t) => {
  const cjs = execFileSync(process.execPath, ['-e', `
    const p = require('fastify-spdy')
    console.log(JSON.stringify([typeof p, p === p.default, p === p.fastifySpdy, typeof p.SpdyError, p[Symbol.for('plugin-meta')].name]))
  `]).toString()
  t.same(JSON.parse(cjs), ['function', true, true, 'function', 'fastify-spdy'])
  const esm = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import p, { fastifySpdy, SpdyOptionsError, LIMITS } from 'fastify-spdy'
    console.log(JSON.stringify([typeof p, p === fastifySpdy, typeof SpdyOptionsError, LIMITS.maxConcurrentStreams.default]))
  `]).toString()
  t.same(JSON.parse(esm), ['function', true, 'function', 100])
  // fastify-spdy/client: the SPDY client, the same module from both systems
  const client = execFileSync(process.execPath, ['-e', `
    const c = require('fastify-spdy/client')
    console.log(JSON.stringify([typeof c.connect, typeof c.ClientResponseTooLargeError, c.DEFAULT_MAX_RESPONSE_BYTES]))
  `]).toString()
  t.same(JSON.parse(client), ['function', 'function', 64 * 1024 * 1024])
  const clientEsm = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import { connect, SpdyClientError } from 'fastify-spdy/client'
    import { createRequire } from 'node:module'
    const req = createRequire(import.meta.url)
    console.log(JSON.stringify([typeof connect, connect === req('fastify-spdy/client').connect, SpdyClientError === req('fastify-spdy/client').SpdyClientError]))
  `]).toString()
  t.same(JSON.parse(clientEsm), ['function', true, true])
  const r = execFileSync(process.execPath, ['-e', `
    const fs = require('fs')
    console.log(JSON.stringify([fs.existsSync('dist/cjs/index.d.ts'), fs.existsSync('dist/esm/index.d.mts'), fs.existsSync('dist/cjs/client/index.d.ts'), fs.existsSync('dist/esm/client.d.mts')]))
  `]).toString()
  t.same(JSON.parse(r), [true, true, true, true])
})

// fastify is the app's, not ours: a peer (any 5.x, fastify-plugin checks '5.x' at register) and a devDependency for
// our own tests, never a dependency, which would nest a second Fastify under the package and put the type
// augmentation on that copy. lib/ imports it for types only.
t.test('fastify is a peer dependency, not a dependency', async (t) => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as Record<string, Record<string, string> | undefined>
  t.equal(pkg.peerDependencies?.fastify, '^5')
  t.type(pkg.devDependencies?.fastify, 'string')
  t.equal(pkg.dependencies?.fastify, undefined)
  const cjs = execFileSync(process.execPath, ['-e', "console.log(require('fastify-spdy')[Symbol.for('plugin-meta')].fastify)"]).toString().trim()
  t.equal(cjs, '5.x', "fastify-plugin's range check")
})

// A consumer's install compiles nothing (issue 12, "No C at install"): the packed tarball has no C source, no
// node-gyp input and no install-time script, so `npm install fastify-spdy` needs no compiler, make or python.
t.test('the published tarball builds nothing at install', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-spdy-pack-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir]).toString()
  const [{ filename, files }] = JSON.parse(out) as Array<{ filename: string, files: Array<{ path: string }> }>
  const paths = files.map((f) => f.path)
  t.ok(paths.includes('dist/cjs/index.js'), 'the built package is packed')
  t.same(paths.filter((p) => /(^|\/)binding\.gyp$|\.(c|cc|cpp|h|node)$|^build\/|^native\//.test(p)), [], 'no C source, gyp file or binary is packed')
  execFileSync('tar', ['xzf', join(dir, filename), '-C', dir])
  const pkg = JSON.parse(readFileSync(join(dir, 'package', 'package.json'), 'utf8')) as { scripts?: Record<string, string>, gypfile?: boolean }
  for (const hook of ['preinstall', 'install', 'postinstall']) t.equal(pkg.scripts?.[hook], undefined, `no ${hook} script`)
  t.notOk(pkg.gypfile, 'npm is not told to run node-gyp')
})
