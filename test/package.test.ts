import t from 'tap'
import { execFileSync } from 'node:child_process'

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
  const r = execFileSync(process.execPath, ['-e', `
    const fs = require('fs')
    console.log(JSON.stringify([fs.existsSync('dist/cjs/index.d.ts'), fs.existsSync('dist/esm/index.d.mts')]))
  `]).toString()
  t.same(JSON.parse(r), [true, true])
})
