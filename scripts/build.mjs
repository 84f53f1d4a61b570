// Builds the package for both module systems: TypeScript compiles lib/ to CommonJS in dist/cjs, and a thin
// ESM entry re-exports it, so `import` and `require` share one instance of the plugin (no dual-package hazard).
import { execFileSync } from 'node:child_process'
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { resolve } from 'node:path'

const require = createRequire(import.meta.url)
rmSync('dist', { recursive: true, force: true })
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
// CommonJS users `require('fastify-spdy')` and register the result directly, as with every Fastify plugin: make the
// module the plugin function itself, still carrying the named exports (and `default` for TypeScript's interop).
appendFileSync('dist/cjs/index.js', '\nmodule.exports = Object.assign(exports.default, exports)\n')
mkdirSync('dist/esm', { recursive: true })
// Named exports are listed explicitly: Node's CJS export detection does not follow TypeScript's re-export helpers.
const names = Object.keys(require(resolve('dist/cjs/index.js'))).filter((n) => n !== 'default')
writeFileSync('dist/esm/index.mjs', "import cjs from '../cjs/index.js'\nexport default cjs\nexport const { " +
  names.join(', ') + ' } = cjs\n')
// fastify-spdy/client: the SPDY client (lib/client), named exports only.
const clientNames = Object.keys(require(resolve('dist/cjs/client/index.js')))
writeFileSync('dist/esm/client.mjs', "import cjs from '../cjs/client/index.js'\nexport const { " + clientNames.join(', ') + ' } = cjs\n')
writeFileSync('dist/esm/client.d.mts', "export * from '../cjs/client/index.js'\n")
// Types for ESM: TypeScript sees a CommonJS module's default import as the whole module object, so name the
// plugin's own type explicitly.
writeFileSync('dist/esm/index.d.mts', "import * as cjs from '../cjs/index.js'\nexport * from '../cjs/index.js'\n" +
  'declare const plugin: typeof cjs.fastifySpdy\nexport default plugin\n')
