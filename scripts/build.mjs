// Builds the package for both module systems: TypeScript compiles lib/ to CommonJS in dist/cjs, and a thin
// ESM entry re-exports it, so `import` and `require` share one instance of the plugin (no dual-package hazard).
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
rmSync('dist', { recursive: true, force: true })
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
mkdirSync('dist/esm', { recursive: true })
writeFileSync('dist/esm/index.mjs', "import cjs from '../cjs/index.js'\nexport * from '../cjs/index.js'\nexport default cjs.default\n")
writeFileSync('dist/esm/index.d.mts', "export * from '../cjs/index.js'\nexport { default } from '../cjs/index.js'\n")
