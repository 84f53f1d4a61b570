/**
 * Hostile request heads against a server in its own process (heads-server.ts), over real
 * sockets: 10,000 header pairs, more pairs than maxHeaderPairs, empty and uppercase names, CRLF in values, a
 * missing :method, content-length that disagrees with the DATA, transfer-encoding, host against :host, SPDY/2's
 * `url: http://[bad/`, each repeated. For each case the attacker gets the protocol answer (RST_STREAM with its
 * status, or GOAWAY where the session's compression context is lost), no app code runs, and afterwards the server
 * process is alive, a well-behaved client on its own connection is served, and the server's RSS stays under a
 * stated bound. No timing is asserted.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { WirePeer, goodHead } from '../server/dispatch-wire'
import { RstStatus, GoawayStatus } from '../../lib/errors'
import type { HeaderList } from '../../lib/codec/types'

t.test('hostile request heads: protocol answers, no app code, the process lives', async (t) => {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'heads-server.ts')], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout!.on('data', (c: Buffer) => { out += c.toString() })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', () => { const m = /READY (\d+)/.exec(out); if (m !== null) resolve(Number(m[1])) })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  const a = `127.0.0.1:${port}`
  const V3 = (extra: HeaderList = [], drop: string[] = [], path = '/ok', method = 'GET'): HeaderList => goodHead(3.1, a, path, method, extra, drop)
  const PROTOCOL_ERROR = { kind: 'reset', status: RstStatus.PROTOCOL_ERROR }

  const good = await WirePeer.connect(port, 3.1)
  t.teardown(() => good.close())
  const stats = async (): Promise<{ rss: number, seen: string[] }> => {
    const r = await good.send(V3([], [], '/stats'))
    if (r.kind !== 'reply') throw new Error(`stats: ${JSON.stringify(r)}`)
    return JSON.parse(r.body) as { rss: number, seen: string[] }
  }
  t.match(await good.send(V3()), { kind: 'reply', status: 200, body: 'ok' }, 'well-behaved client served before')
  const before = await stats()

  /** The same case, REPEAT times on one attacker connection: the answer never changes and nothing builds up. */
  const REPEAT = 20
  const pairs = (n: number): HeaderList => Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v'] as [string, string])
  const cases: Array<{ name: string, head: HeaderList, data?: string[], version?: 2 | 3.1 }> = [
    { name: 'empty header name', head: V3([['', 'v']]) },
    { name: 'uppercase header name', head: V3([['X-Upper', 'v']]) },
    { name: 'CRLF in a header name', head: V3([['x\r\ny', 'v']]) },
    { name: 'CRLF in a value', head: V3([['x', 'a\r\nSet-Cookie: pwned=1']]) },
    { name: 'missing :method', head: V3([], [':method']) },
    { name: 'more DATA than content-length', head: V3([['content-length', '3']], [], '/up', 'POST'), data: ['hello'] },
    { name: 'FIN before content-length', head: V3([['content-length', '30']], [], '/up', 'POST'), data: ['hello'] },
    { name: 'transfer-encoding: chunked', head: V3([['transfer-encoding', 'chunked']], [], '/up', 'POST'), data: ['5\r\nhello\r\n0\r\n\r\n'] },
    { name: 'host disagrees with :host', head: V3([['host', 'evil.example']]) },
    { name: 'SPDY/2 url http://[bad/', head: goodHead(2, a, 'http://[bad/'), version: 2 }
  ]
  for (const c of cases) {
    const attacker = await WirePeer.connect(port, c.version ?? 3.1)
    const got = []
    for (let i = 0; i < REPEAT; i++) got.push(await attacker.send(c.head, c.data === undefined ? {} : { data: c.data }))
    t.same(got, Array(REPEAT).fill(PROTOCOL_ERROR), `${c.name}: RST_STREAM PROTOCOL_ERROR, ${REPEAT} times`)
    attacker.close()
  }

  // More pairs than maxHeaderPairs (128) in a block under maxHeaderBlockBytes: a stream error, the session goes on.
  const many = await WirePeer.connect(port, 3.1)
  t.same(await many.send(V3(pairs(200))), { kind: 'reset', status: RstStatus.FRAME_TOO_LARGE }, '200 pairs: RST_STREAM FRAME_TOO_LARGE')
  t.match(await many.send(V3()), { kind: 'reply', status: 200 }, 'that session still serves')
  many.close()
  // 10,000 pairs inflate past maxHeaderBlockBytes: inflation stops midway, the shared zlib context is lost, so the
  // session must end (SPDY/3 section 2.6.10.1): GOAWAY PROTOCOL_ERROR and the connection closes.
  const flood = await WirePeer.connect(port, 3.1)
  t.same(await flood.send(V3(pairs(10_000))), { kind: 'goaway', status: GoawayStatus.PROTOCOL_ERROR }, '10,000 pairs: GOAWAY PROTOCOL_ERROR')
  await flood.closed
  t.pass('the server closed that connection')

  t.equal(child.exitCode, null, 'the server process lives')
  t.match(await good.send(V3()), { kind: 'reply', status: 200, body: 'ok' }, 'well-behaved client on its own connection still served')
  const after = await stats()
  // Only well-formed heads reached the app: the good client's two GETs, the one on the 200-pair session, and the
  // two body-length cases (their heads are valid; the DATA then broke them and they were aborted).
  t.same(after.seen, ['GET /ok', ...Array(2 * REPEAT).fill('POST /up'), 'GET /ok', 'GET /ok'], 'no refused head reached onRequest')
  // Bound: 64 MiB over the start. 210 refused streams and a 10,000-pair block hold nothing once answered.
  t.ok(after.rss < before.rss + 64 * 1024 * 1024, `server RSS ${Math.round(after.rss / 1048576)} MiB stays within 64 MiB of its ${Math.round(before.rss / 1048576)} MiB at start`)
  good.close()
  child.kill('SIGTERM')
  await once(child, 'exit')
})
