// Type-level checks run by `tsc --noEmit` in `npm test` (a wrong type fails the suite); the tap part checks that the
// same declarations hold at run time.
import t from 'tap'
import Fastify from 'fastify'
import spdy, { type FastifySpdyOptions, type SpdyRequestInfo, type SpdyListenerInfo } from '../lib/index'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
const assertType = <T extends true>(_: T): void => {}

const app = Fastify()
app.register(spdy, { tls: false, port: 0, maxConcurrentStreams: 50, alternateProtocol: { protocol: 'npn-spdy/3', altSvc: true } })
// Wrong uses: type errors only, never run.
export function wrongUses (): void {
  const other = Fastify()
  // @ts-expect-error tls is required
  other.register(spdy, { port: 0 })
  // @ts-expect-error limits are numbers
  other.register(spdy, { tls: false, maxConcurrentStreams: '50' })
  // @ts-expect-error route config is typed
  other.get('/x', { config: { spdy: { alternateProtocol: 'no' } } }, async () => 'x')
}
// @ts-expect-error protocols are the known tokens
const badProtocols: FastifySpdyOptions = { tls: false, protocols: ['h2'] }
void badProtocols

assertType<Equal<typeof app.spdy, SpdyListenerInfo>>(true)
assertType<Equal<typeof app.spdy.port, number | null>>(true)
assertType<Equal<ReturnType<typeof app.spdy.sessions>[number]['ping'], () => boolean>>(true)
assertType<Equal<ReturnType<typeof app.spdy.sessions>[number]['rttMs'], number | null>>(true)
app.get('/', { config: { spdy: { alternateProtocol: false } } }, async (request) => {
  assertType<Equal<typeof request.spdy, SpdyRequestInfo | null>>(true)
  const v: 2 | 3 | 3.1 | undefined = request.spdy?.version
  return { v }
})

t.test('declared decorations exist at run time', async (t) => {
  await app.ready()
  t.equal(app.spdy.port, null)
  const res = await app.inject('/')
  t.same(res.json(), {})
  await app.close()
})
