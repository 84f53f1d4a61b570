/**
 * README's Options and limits tables say what a user gets without configuring anything; this checks them against
 * what the plugin actually resolves (lib/options.ts resolveOptions, lib/limits.ts LIMITS), row by row and both
 * ways: a limit added to LIMITS without a README row, a row left for a removed limit, or a default changed on one
 * side only fails here.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { resolveOptions, LIMITS } from '../lib/options'

const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8')

/** The rows of the markdown table whose header row starts with `| first |`: first two cells, backticks removed. */
function table (first: string): Array<[string, string]> {
  const lines = readme.split('\n')
  const start = lines.findIndex((l) => l.startsWith(`| ${first} |`))
  if (start < 0) throw new Error(`README has no table starting with | ${first} |`)
  const rows: Array<[string, string]> = []
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    const cells = line.split('|').slice(1, -1).map((c) => c.trim())
    rows.push([cells[0].replace(/`/g, ''), cells[1].replace(/`/g, '')])
  }
  return rows
}

t.test('README limits table: one row per LIMITS entry, with its default', async (t) => {
  const rows = table('limit')
  const names = rows.map(([n]) => n)
  t.same([...names].sort(), Object.keys(LIMITS).sort(), 'the same limits, no more, no fewer')
  t.equal(new Set(names).size, names.length, 'no limit listed twice')
  const resolved = resolveOptions({ tls: false }) as unknown as Record<string, number>
  for (const [name, def] of rows) {
    if (!(name in LIMITS)) continue
    t.equal(Number(def), LIMITS[name as keyof typeof LIMITS].default, `${name}: README default is LIMITS' default`)
    t.equal(Number(def), resolved[name], `${name}: README default is what an app without options gets`)
  }
})

t.test('README options table: the defaults an app without options gets', async (t) => {
  const rows = new Map(table('option'))
  const o = resolveOptions({ tls: false })
  t.same([...rows.keys()].sort(), ['alternateProtocol', 'cacheAwarePush', 'host', 'port', 'protocols', 'proxyProtocol', 'tls'].sort(),
    'every non-limit option has a row')
  t.equal(rows.get('tls'), 'required')
  t.throws(() => resolveOptions({}), { code: 'FST_SPDY_INVALID_OPTION' }, 'tls is required')
  t.equal(Number(rows.get('port')), o.port, 'port')
  t.equal(rows.get('host'), "the app's listen host")
  t.equal(o.host, null, 'host: none of its own (the plugin binds where the app listens)')
  t.same(JSON.parse((rows.get('protocols') ?? '').replace(/'/g, '"')), o.protocols, 'protocols')
  t.equal(rows.get('alternateProtocol'), "{ protocol: 'spdy/v2', altSvc: false }")
  t.same(o.alternateProtocol, { protocol: 'spdy/v2', altSvc: false }, 'alternateProtocol')
  t.equal(rows.get('cacheAwarePush'), 'false')
  t.equal(o.cacheAwarePush, false, 'cacheAwarePush off')
  t.equal(rows.get('proxyProtocol'), 'false')
  t.equal(o.proxyProtocol, false, 'proxyProtocol off')
})

t.test("README's cache-aware push defaults are the option's", async (t) => {
  const o = resolveOptions({ tls: false, cacheAwarePush: true })
  const row = readme.split('\n').find((l) => l.startsWith('| `cacheAwarePush` |')) ?? ''
  const m = /\{ cookieName: '([^']+)', maxAge: (\d+), hashBits: (\d+) \}/.exec(row)
  t.ok(m, 'the options row names the defaults')
  t.same(o.cacheAwarePush, { cookieName: m?.[1], maxAge: Number(m?.[2]), hashBits: Number(m?.[3]) }, 'cacheAwarePush: true')
  // The prose of "Cache-aware push" repeats them.
  t.match(readme, new RegExp(`The cookie: \`${m?.[1]}\` \\(option \`cookieName\`\\), \`Path=/; Max-Age=${m?.[2]}\``), 'cookie name and Max-Age in the prose')
  t.match(readme, new RegExp(`2\\^${m?.[3]} by default`), 'hashBits in the prose')
  t.match(readme, new RegExp(`at most \`maxPushCookieBytes\` \\(${LIMITS.maxPushCookieBytes.default}\\)\\s+characters`), 'maxPushCookieBytes in the prose')
})

t.test('README points at the file holding the reasons for each limit', async (t) => {
  const m = /the reasons for each number are in `([^`]+)`/.exec(readme)
  t.ok(m, 'README names the file')
  const src = readFileSync(join(__dirname, '..', m?.[1] ?? 'missing'), 'utf8')
  for (const name of Object.keys(LIMITS)) t.match(src, new RegExp(`\\* - [^\\n]*\\b${name}\\b`), `${m?.[1]} gives the reason for ${name}`)
})
