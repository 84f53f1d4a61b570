/**
 * The layering of lib/ (CONTRIBUTING.md "Architecture"), checked on the import graph itself:
 * - no import cycle anywhere in lib/, type imports included (issue 13): `import type` is erased by the build and
 *   cannot cycle at run time, but a type cycle still ties the files' designs together; lib/server's parts meet in
 *   the interfaces of lib/server/contracts.ts instead;
 * - the sans-IO floors (lib/codec, lib/session, lib/tls) import nothing from the plugin's top (lib/options.ts,
 *   lib/index.ts) nor from the I/O layer (lib/server, lib/client): their limits come from the leaf lib/limits.ts.
 * The walker reads `import ... from './x'` / `export ... from './x'` lines, which is every relative import in lib/.
 */
import t from 'tap'
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'

const LIB = join(__dirname, '..', 'lib')

interface Edge { to: string, typeOnly: boolean }

function files (dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

function edges (file: string): Edge[] {
  const src = readFileSync(file, 'utf8')
  const out: Edge[] = []
  const re = /^(?:import|export)\s+(type\s+)?[^'"]*?from\s+'(\.[^']*)'/gm
  for (let m = re.exec(src); m !== null; m = re.exec(src)) {
    const base = normalize(join(dirname(file), m[2]))
    const to = [base + '.ts', join(base, 'index.ts')].find((c) => existsSync(c))
    if (to !== undefined) out.push({ to, typeOnly: m[1] !== undefined })
  }
  return out
}

const graph = new Map(files(LIB).map((f) => [f, edges(f)]))
const rel = (f: string): string => relative(join(LIB, '..'), f)

/** Strongly connected components of more than one file (Tarjan) of `graph`, over the edges `keep` accepts. */
function cycles (graph: Map<string, Edge[]>, keep: (e: Edge) => boolean = () => true): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const on = new Set<string>()
  const found: string[][] = []
  let next = 0
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++
    stack.push(v); on.add(v)
    for (const e of graph.get(v) ?? []) {
      if (!keep(e)) continue
      if (!index.has(e.to)) { visit(e.to); low.set(v, Math.min(low.get(v)!, low.get(e.to)!)) } else if (on.has(e.to)) low.set(v, Math.min(low.get(v)!, index.get(e.to)!))
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = []
      let w: string
      do { w = stack.pop()!; on.delete(w); c.push(rel(w)) } while (w !== v)
      if (c.length > 1) found.push(c.sort())
    }
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return found
}

t.test('the walker sees the graph (a check that cannot fail is no check)', async (t) => {
  t.ok(graph.size > 40, `${graph.size} files in lib/`)
  t.ok(graph.get(join(LIB, 'index.ts'))!.some((e) => e.to === join(LIB, 'options.ts')), 'lib/index.ts imports lib/options.ts')
  t.ok(graph.get(join(LIB, 'server', 'listener.ts'))!.some((e) => e.typeOnly && e.to === join(LIB, 'server', 'contracts.ts')), 'type imports are edges')
  // The same Tarjan finds the cycles of a small graph that has them: a -> b -> c -> a through a type import, and
  // d <-> e; f only points into a cycle and is in none.
  const e = (to: string, typeOnly = false): Edge => ({ to: join(LIB, to), typeOnly })
  const synthetic = new Map<string, Edge[]>([
    [join(LIB, 'a'), [e('b')]], [join(LIB, 'b'), [e('c')]], [join(LIB, 'c'), [e('a', true)]],
    [join(LIB, 'd'), [e('e', true)]], [join(LIB, 'e'), [e('d')]], [join(LIB, 'f'), [e('a')]]
  ])
  t.same(cycles(synthetic).sort(), [['lib/a', 'lib/b', 'lib/c'], ['lib/d', 'lib/e']], 'cycles of a synthetic graph')
  t.same(cycles(synthetic, (x) => !x.typeOnly), [], 'none left without the type imports')
})

t.test('no import cycle in lib/, type imports included', async (t) => {
  t.same(cycles(graph), [])
})

t.test('the sans-IO floors do not import the plugin top or the I/O layer', async (t) => {
  const forbidden = ['options.ts', 'index.ts', 'server', 'client', 'cli'].map((p) => join(LIB, p))
  for (const floor of ['codec', 'session', 'tls']) {
    const bad: string[] = []
    for (const [f, es] of graph) {
      if (!f.startsWith(join(LIB, floor) + '/')) continue
      for (const e of es) if (forbidden.some((p) => e.to === p || e.to.startsWith(p + '/'))) bad.push(`${rel(f)} -> ${rel(e.to)}`)
    }
    t.same(bad, [], `lib/${floor}`)
  }
})

t.test('header rules are written once, in lib/session/headers.ts (issue 13)', async (t) => {
  const home = join(LIB, 'session', 'headers.ts')
  // Names only a connection-specific header filter spells (transfer-encoding is also Fastify's body marker in
  // dispatch.ts), and the host header defaulted from the request authority.
  const rules: Array<[string, RegExp]> = [
    ['hop-by-hop filter', /'(?:keep-alive|proxy-connection)'/],
    ['host defaulting', /\bhost\s*[:=]\s*[\w.]*authority\b/]
  ]
  t.ok(rules.every(([, re]) => re.test(readFileSync(home, 'utf8'))), 'lib/session/headers.ts has each rule (the patterns match)')
  const copies: string[] = []
  for (const f of graph.keys()) {
    if (f === home) continue
    const src = readFileSync(f, 'utf8')
    for (const [what, re] of rules) if (re.test(src)) copies.push(`${rel(f)}: ${what}`)
  }
  t.same(copies, [])
})

/**
 * One socket pump (issue 11): lib/server/driver.ts and its engine adapter are the only connection loop. The
 * places that used to carry their own copy (and drifted: 200 ms linger in one, 500 ms in another) may create
 * engines but must run them on the driver: no socket 'data'/'drain'/'end' listeners, no socket writes or ends of
 * their own, no timer that ends or destroys a socket. The loop in bench/tls.ts is checked in its lib/tls server
 * section only: the rest of that file drives node:tls sockets, which are not ours.
 */
const ROOT = join(LIB, '..')
const LOOP_FILES: Array<{ file: string, from?: string, to?: string }> = [
  ...files(join(LIB, 'client')).map((f) => ({ file: relative(ROOT, f) })),
  { file: 'test/session/socket-loop.ts' },
  { file: 'test/tls/harness.ts' },
  { file: 'bench/spdy-load.ts' },
  { file: 'bench/tls.ts', from: 'new TlsServerConnection(', to: 'server.listen(' }
]
const OWN_LOOP: Array<[string, RegExp]> = [
  ['a socket listener for data, drain or end', /\bsocket\.(on|once)\('(data|drain|end)'/],
  ['a socket write, end, destroy, pause, resume or cork', /\bsocket\.(write|end|destroy|pause|resume|cork|uncork)\(/],
  ['a timer that ends or destroys a socket (a linger of its own)', /setTimeout\([^\n]*(destroy|\.end)\(/]
]

function loopSection (f: { file: string, from?: string, to?: string }): string {
  const src = readFileSync(join(ROOT, f.file), 'utf8')
  if (f.from === undefined || f.to === undefined) return src
  const a = src.indexOf(f.from)
  const b = src.indexOf(f.to, a)
  return a < 0 || b < 0 ? '' : src.slice(a, b)
}

t.test('one connection driver: the old socket loops run on lib/server/driver.ts', async (t) => {
  for (const f of LOOP_FILES) {
    const src = loopSection(f)
    t.ok(src.length > 0, `${f.file}: the checked section is found`)
    const bad = OWN_LOOP.filter(([, re]) => re.test(src)).map(([what]) => what)
    t.same(bad, [], `${f.file}: no socket loop of its own`)
    if (/new (SpdySession|TlsServerConnection|TlsClientConnection)\(/.test(src)) {
      t.match(readFileSync(join(ROOT, f.file), 'utf8'), /from '[./a-z]*engine-driver'/, `${f.file}: its engines run on the engine driver`)
    }
  }
  // The patterns see a loop where there is one: the driver's own listeners and writes match the first two.
  const driver = readFileSync(join(LIB, 'server', 'driver.ts'), 'utf8')
  t.ok(OWN_LOOP.slice(0, 2).every(([, re]) => re.test(driver)), 'the patterns match the driver\'s own loop')
})
