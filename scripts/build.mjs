// Builds the package for both module systems: TypeScript compiles lib/ to CommonJS in dist/cjs, and a thin
// ESM entry re-exports it, so `import` and `require` share one instance of the plugin (no dual-package hazard).
import { execFileSync } from 'node:child_process'
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'

const require = createRequire(import.meta.url)
// `--if-stale` (test/interop/dist.ts, under a lock): build only when dist/ is missing or older than lib/.
if (process.argv.includes('--if-stale') && fresh()) process.exit(0)
rmSync('dist', { recursive: true, force: true })
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
// CommonJS users `require('fastify-spdy')` and register the result directly, as with every Fastify plugin: make the
// module the plugin function itself, still carrying the named exports (and `default` for TypeScript's interop).
appendFileSync('dist/cjs/index.js', '\nmodule.exports = Object.assign(exports.default, exports)\n')
// The `fastify-spdy` bin (package.json "bin"): npm makes it executable when it installs the package elsewhere, but
// in this repository `npx fastify-spdy get ...` (README) runs the file as tsc wrote it, 0644: "Permission denied".
chmodSync('dist/cjs/cli/main.js', 0o755)
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
// plugin's own type explicitly. They read the ES-style declarations tsc wrote (dist/cjs/exports.d.ts, below).
writeFileSync('dist/esm/index.d.mts', "import * as cjs from '../cjs/exports.js'\nexport * from '../cjs/exports.js'\n" +
  'declare const plugin: typeof cjs.fastifySpdy\nexport default plugin\n')

// Types for CommonJS must say what the module is at run time: module.exports IS the plugin (see above), which
// only `export =` can describe, so `import spdy = require('fastify-spdy')` and `const spdy = require(...)` type-check
// as the plugin. tsc's ES-style declarations move to exports.d.ts (types only, no .js beside it), and index.d.ts
// becomes the plugin function merged with a namespace aliasing every export, as Fastify's own types are written.
renameSync('dist/cjs/index.d.ts', 'dist/cjs/exports.d.ts')
writeFileSync('dist/cjs/index.d.ts', cjsDeclarations('dist/cjs/exports.d.ts'))

/** index.d.ts for module.exports = plugin: every export of `file` aliased in a namespace merged with the plugin. */
function cjsDeclarations (file) {
  const ts = require('typescript')
  const program = ts.createProgram([file], { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, skipLibCheck: true, types: ['node'] })
  const checker = program.getTypeChecker()
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)))
    .filter((s) => s.getName() !== 'default' && s.getName() !== 'fastifySpdy')
    .sort((a, b) => a.getName() < b.getName() ? -1 : 1)
  if (exports.length < 10) throw new Error(`build: only ${exports.length} exports found in ${file}`)
  // A value (class, function, const) is aliased with `export import`, which carries its type too; a type-only export
  // cannot be (TS1379), so it gets a type alias, which would drop type parameters: none of ours has any.
  const line = (s) => {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s
    if (target.flags & ts.SymbolFlags.Value) return `  export import ${s.getName()} = exported.${s.getName()}`
    if ((target.declarations ?? []).some((d) => (d.typeParameters?.length ?? 0) > 0)) throw new Error(`build: generic type export ${s.getName()}`)
    return `  export type ${s.getName()} = exported.${s.getName()}`
  }
  return [
    '// Written by scripts/build.mjs: module.exports is the plugin itself, carrying the named exports.',
    "import exported = require('./exports.js')",
    'type FastifySpdyPlugin = typeof exported.fastifySpdy',
    'declare function fastifySpdy (...params: Parameters<FastifySpdyPlugin>): ReturnType<FastifySpdyPlugin>',
    'declare namespace fastifySpdy {',
    ...exports.map(line),
    '  export const fastifySpdy: FastifySpdyPlugin',
    '  export { fastifySpdy as default }',
    '}',
    'export = fastifySpdy',
    ''
  ].join('\n')
}

/** Whether both entry points exist and are no older than the newest file under lib/. */
function fresh () {
  const newest = (dir) => readdirSync(dir, { withFileTypes: true }).reduce((m, e) =>
    Math.max(m, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs), 0)
  const lib = newest('lib')
  return ['dist/cjs/index.js', 'dist/esm/index.mjs'].every((p) => existsSync(p) && statSync(p).mtimeMs >= lib)
}
