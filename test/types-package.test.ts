/**
 * The shipped types, as a user gets them: `npm pack` the package, install the tarball into a throwaway consumer
 * project next to the oldest (5.0.0) and the newest Fastify 5 release, and check it with tstyche (a type-test runner
 * from the ecosystem) imported three ways, each its own TypeScript project so one form's import cannot load the
 * types for another: ESM (.mts), CommonJS (.cts, compiled to require) and `import x = require()`. In each,
 * `app.spdy`, `request.spdy`, `reply.push` and the route's `config.spdy` must resolve, the plugin must register
 * with its options and Fastify's register options, and wrong uses must be type errors.
 *
 * One `npm install` per Fastify version (the consumer's typescript, @types/node and tstyche are ours, pinned in the
 * same install). `npm test` builds dist/ before tap starts; this test packs what is there (--ignore-scripts: a
 * rebuild would delete dist/ under tests running at the same time).
 */
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// Two installs and six TypeScript projects: about a minute alone, several on a busy machine; the suite's 120 s per
// file is too tight for it.
t.setTimeout(360_000)

const ours = JSON.parse(readFileSync('package.json', 'utf8')) as { devDependencies: Record<string, string> }
const tools = ['typescript', '@types/node', 'tstyche'].map((name) => `${name}@${ours.devDependencies[name]}`)

/** What each form imports; the test body below names the same things in all three. */
const FORMS: Record<string, { file: string, head: string }> = {
  esm: {
    file: 'plugin.tst.mts',
    head: `import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import spdy, { fastifySpdy, SpdyOptionsError, type FastifySpdyOptions, type SpdyListenerInfo, type SpdyRequestInfo } from 'fastify-spdy'
import { expect, test } from 'tstyche'`
  },
  commonjs: {
    file: 'plugin.tst.cts',
    head: `import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import spdy, { fastifySpdy, SpdyOptionsError, type FastifySpdyOptions, type SpdyListenerInfo, type SpdyRequestInfo } from 'fastify-spdy'
import { expect, test } from 'tstyche'`
  },
  'import-require': {
    file: 'plugin.tst.cts',
    head: `import Fastify = require('fastify')
import spdy = require('fastify-spdy')
import { expect, test } from 'tstyche'
import fastifySpdy = spdy.fastifySpdy
import SpdyOptionsError = spdy.SpdyOptionsError
type FastifyReply = Fastify.FastifyReply
type FastifyRequest = Fastify.FastifyRequest
type FastifySpdyOptions = spdy.FastifySpdyOptions
type SpdyListenerInfo = spdy.SpdyListenerInfo
type SpdyRequestInfo = spdy.SpdyRequestInfo
test('the module is the plugin, also as .default (TypeScript interop without esModuleInterop)', () => {
  expect(Fastify().register(spdy.default, { tls: false })).type.not.toRaiseError()
})`
  }
}

const BODY = `
const app = Fastify()

test('the plugin registers with its options and with Fastify register options', () => {
  expect(app.register(spdy, { tls: false, port: 0 })).type.not.toRaiseError()
  expect(app.register(fastifySpdy, { tls: { cert: 'PEM', key: 'PEM' }, protocols: ['spdy/3.1', 'http/1.1'], maxConcurrentStreams: 10 })).type.not.toRaiseError()
  expect(app.register(spdy, { tls: false, prefix: '/spdy', logLevel: 'silent' })).type.not.toRaiseError()
  expect(app.register(spdy, { port: 0 })).type.toRaiseError()
  expect(app.register(spdy, { tls: false, maxConcurrentStreams: '50' })).type.toRaiseError()
  expect(app.register(spdy, { tls: false, protocols: ['h2'] })).type.toRaiseError()
  expect<FastifySpdyOptions>().type.toBeAssignableFrom({ tls: false as const, alternateProtocol: { protocol: 'npn-spdy/3', altSvc: true } })
})

test('app.spdy', () => {
  expect(app.spdy).type.toBe<SpdyListenerInfo>()
  expect(app.spdy.port).type.toBe<number | null>()
})

test('request.spdy, reply.push, route config.spdy', () => {
  expect<FastifyRequest['spdy']>().type.toBe<SpdyRequestInfo | null>()
  expect<FastifyReply['push']>().type.toBe<(path: string) => Promise<boolean>>()
  expect(app.get('/', { config: { spdy: { push: ['/a.css'], alternateProtocol: false } } }, async () => 'ok')).type.not.toRaiseError()
  expect(app.get('/', { config: { spdy: { alternateProtocol: 'no' } } }, async () => 'ok')).type.toRaiseError()
  expect(app.get('/', { config: { spdy: { push: '/a.css' } } }, async () => 'ok')).type.toRaiseError()
})

test('exported errors', () => {
  expect<SpdyOptionsError>().type.toBeAssignableTo<Error & { code: string }>()
})
`

const TSCONFIG = JSON.stringify({
  compilerOptions: {
    module: 'node16',
    moduleResolution: 'node16',
    target: 'ES2022',
    strict: true,
    noEmit: true,
    esModuleInterop: true,
    types: ['node']
  }
})

t.test('the packed types, in a consumer project, on the oldest and newest Fastify 5', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-spdy-types-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const [{ filename }] = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir]).toString()) as Array<{ filename: string }>
  const tarball = join(dir, filename)

  for (const fastify of ['5.0.0', '5']) {
    t.test(`fastify@${fastify}`, async (t) => {
      const consumer = join(dir, `consumer-${fastify}`)
      mkdirSync(consumer)
      writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'commonjs' }))
      execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', tarball, `fastify@${fastify}`, ...tools],
        { cwd: consumer, stdio: 'pipe' })
      const installed = (JSON.parse(readFileSync(join(consumer, 'node_modules/fastify/package.json'), 'utf8')) as { version: string }).version
      if (fastify === '5.0.0') t.equal(installed, '5.0.0')
      else t.match(installed, /^5\.(?!0\.0$)/, `the newest 5.x: ${installed}`)
      t.notOk(existsSync(join(consumer, 'node_modules/fastify-spdy/node_modules/fastify')), 'no second Fastify nested under the package')

      for (const [form, { file, head }] of Object.entries(FORMS)) {
        mkdirSync(join(consumer, form))
        writeFileSync(join(consumer, form, 'tsconfig.json'), TSCONFIG)
        writeFileSync(join(consumer, form, file), head + '\n' + BODY)
      }
      const run = spawnSync(process.execPath, [join(consumer, 'node_modules/tstyche/build/bin.js')], { cwd: consumer, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
      const out = run.stdout + run.stderr
      t.equal(run.status, 0, 'tstyche passes', { output: out })
      t.match(out, /Test files:\s+3 passed, 3 total/, 'all three forms ran')
      t.match(out, /Assertions:\s+\d+ passed, \d+ total/)
      t.comment(`fastify@${installed}: ` + (/Assertions:.*/.exec(out)?.[0] ?? ''))
    })
  }
})
