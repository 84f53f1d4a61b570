/**
 * CONTRIBUTING.md "Architecture": "codec, session and tls take bytes and return bytes/events, no sockets, timers or
 * Fastify inside ... Time is handed in (`now` arguments), never read from a clock inside." test/layout.test.ts checks
 * their relative imports; this checks the rest of the promise on their source: no clock read, no timer, no socket,
 * HTTP or Fastify module. Comments are stripped first, so a doc example (`conn.receive(b, Date.now())`) is not
 * mistaken for a call. The one exception is named: generateSelfSigned (lib/tls/certificates.ts), a test and demo
 * helper that dates the certificate it makes, not part of any engine; and two pure imports (isIP, STATUS_CODES).
 */
import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const ROOT = join(__dirname, '..')
const FLOORS = ['lib/codec', 'lib/session', 'lib/tls']

function files (dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

/** Source without comments (block and line comments; string contents in this code never hold comment markers). */
const code = (src: string): string => src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1')

const FORBIDDEN: Array<[string, RegExp]> = [
  ['a clock read', /\bDate\.now\s*\(|\bnew Date\s*\(\s*\)|\bperformance\.now\s*\(|\bprocess\.hrtime\b/],
  ['a timer', /\b(setTimeout|setInterval|setImmediate)\s*\(|\bqueueMicrotask\s*\(|\bprocess\.nextTick\s*\(/],
  ['a socket or HTTP module', /from\s+'node:(net|tls|dgram|http|https|http2)'/],
  ['Fastify', /from\s+'fastify(-plugin)?'/]
]
/** file -> what it may do, and why. */
const ALLOWED: Record<string, string[]> = {
  // isIP only (a pure string check), for the SNI rule that an IP address is never a server name (RFC 6066 section 3).
  'lib/tls/client.ts': ['a socket or HTTP module'],
  // STATUS_CODES only (the reason phrases SPDY/2 and 3 put in :status), a constant table.
  'lib/session/headers.ts': ['a socket or HTTP module'],
  // generateSelfSigned dates the certificate it makes for tests and demos; no engine calls it.
  'lib/tls/certificates.ts': ['a clock read']
}

t.test('the sans-IO floors read no clock, set no timer, open no socket, know no Fastify', async (t) => {
  const all = FLOORS.flatMap((d) => files(join(ROOT, d)))
  t.ok(all.length > 20, `${all.length} files read`)
  for (const f of all) {
    const name = relative(ROOT, f)
    const src = code(readFileSync(f, 'utf8'))
    for (const [what, re] of FORBIDDEN) {
      if ((ALLOWED[name] ?? []).includes(what)) continue
      t.notMatch(src, re, `${name}: no ${what}`)
    }
  }
})

t.test('the exceptions are what they say', async (t) => {
  const client = code(readFileSync(join(ROOT, 'lib/tls/client.ts'), 'utf8'))
  t.same(client.match(/import [^\n]* from 'node:(net|tls|dgram|http|https|http2)'/g), ["import { isIP } from 'node:net'"], 'lib/tls/client.ts takes isIP and nothing else')
  const headers = code(readFileSync(join(ROOT, 'lib/session/headers.ts'), 'utf8'))
  t.same(headers.match(/import [^\n]* from 'node:(net|tls|dgram|http|https|http2)'/g), ["import { STATUS_CODES } from 'node:http'"], 'lib/session/headers.ts takes STATUS_CODES and nothing else')
  const certs = code(readFileSync(join(ROOT, 'lib/tls/certificates.ts'), 'utf8'))
  const reads = certs.match(/Date\.now\s*\(/g) ?? []
  t.equal(reads.length, 1, 'one clock read in lib/tls/certificates.ts')
  const gen = certs.slice(certs.indexOf('export const generateSelfSigned'))
  t.match(gen.slice(0, gen.indexOf('\n}\n')), /Date\.now\s*\(/, 'and it is inside generateSelfSigned')
})

t.test('a clock read is caught (the check can fail)', async (t) => {
  t.match(code('const x = 1\nconst now = Date.now()\n'), FORBIDDEN[0][1])
  t.notMatch(code('/** conn.receive(b, Date.now()) */\nconst x = 1 // Date.now()\n'), FORBIDDEN[0][1])
  t.match(code("import net from 'node:net'\n"), FORBIDDEN[2][1])
})
