import t from 'tap'
import { resolveOptions, LIMITS } from '../lib/options'
import { SpdyOptionsError } from '../lib/errors'

const pair = { cert: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n', key: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n' }

t.test('defaults', async (t) => {
  const o = resolveOptions({ tls: false })
  t.equal(o.port, 0)
  t.equal(o.host, null)
  t.same(o.protocols, ['spdy/3.1', 'spdy/3', 'spdy/2', 'http/1.1'])
  t.same(o.alternateProtocol, { protocol: 'spdy/v2', altSvc: false })
  for (const [name, spec] of Object.entries(LIMITS)) t.equal((o as unknown as Record<string, number>)[name], spec.default, name)
})

t.test('accepted values', async (t) => {
  const cases: Array<[string, Record<string, unknown>, (o: ReturnType<typeof resolveOptions>) => unknown, unknown]> = [
    ['port', { tls: false, port: 8443 }, (o) => o.port, 8443],
    ['host', { tls: false, host: '::1' }, (o) => o.host, '::1'],
    ['tls pair', { tls: pair }, (o) => o.tls !== false && o.tls.cert, pair.cert],
    ['tls buffers', { tls: { cert: Buffer.from('c'), key: Buffer.from('k') } }, (o) => o.tls !== false, true],
    ['sni', { tls: { ...pair, sni: { 'a.example.com': pair, '*.example.org': pair } } }, (o) => o.tls !== false && Object.keys(o.tls.sni ?? {}).length, 2],
    ['protocols subset', { tls: false, protocols: ['spdy/3'] }, (o) => o.protocols, ['spdy/3']],
    ['alt proto off', { tls: false, alternateProtocol: false }, (o) => o.alternateProtocol, false],
    ['alt proto token', { tls: false, alternateProtocol: { protocol: 'npn-spdy/3' } }, (o) => o.alternateProtocol !== false && o.alternateProtocol.protocol, 'npn-spdy/3'],
    ['alt-svc on', { tls: false, alternateProtocol: { altSvc: true } }, (o) => o.alternateProtocol !== false && o.alternateProtocol.altSvc, { protocolId: 'spdy%2F3.1', maxAge: 86400 }],
    ['alt-svc custom', { tls: false, alternateProtocol: { altSvc: { protocolId: 'npn-spdy/3', maxAge: 60 } } }, (o) => o.alternateProtocol !== false && o.alternateProtocol.altSvc, { protocolId: 'npn-spdy%2F3', maxAge: 60 }],
    ['limit', { tls: false, maxConcurrentStreams: 7 }, (o) => o.maxConcurrentStreams, 7],
    ['idle 0', { tls: false, idleTimeout: 0 }, (o) => o.idleTimeout, 0],
    ['tls legacy', { tls: { ...pair, legacy: true } }, (o) => o.tls !== false && o.tls.legacy, true]
  ]
  for (const [name, input, pick, want] of cases) t.same(pick(resolveOptions(input)), want, name)
})

t.test('rejected values name the option', async (t) => {
  const cases: Array<[Record<string, unknown> | null, RegExp]> = [
    [null, /options\. must be an object/],
    [{}, /options\.tls is required/],
    [{ tls: true }, /options\.tls must be false or an object/],
    [{ tls: { cert: pair.cert } }, /options\.tls\.key must be a PEM private key/],
    [{ tls: { ...pair, bogus: 1 } }, /unknown option tls\.bogus/],
    [{ tls: { ...pair, sni: { 'bad name!': pair } } }, /options\.tls\.sni\["bad name!"\]/],
    [{ tls: { ...pair, sni: { 'a.b': { cert: pair.cert } } } }, /options\.tls\.sni\["a\.b"\]\.key/],
    [{ tls: { ...pair, ticketKeys: [Buffer.alloc(10)] } }, /options\.tls\.ticketKeys\[0\] must be a Buffer of at least 32 bytes/],
    [{ tls: { ...pair, legacy: 'yes' } }, /options\.tls\.legacy must be a boolean, got "yes"/],
    [{ tls: { ...pair, keylog: 'file' } }, /options\.tls\.keylog must be a function/],
    [{ tls: false, port: -1 }, /options\.port must be an integer from 0 to 65535, got number -1/],
    [{ tls: false, port: '80' }, /options\.port .* got "80"/],
    [{ tls: false, host: '' }, /options\.host/],
    [{ tls: false, protocols: [] }, /options\.protocols must be a non-empty array/],
    [{ tls: false, protocols: ['h2'] }, /options\.protocols\[0\] must be one of "spdy\/3\.1"/],
    [{ tls: false, protocols: ['spdy/3', 'spdy/3'] }, /options\.protocols\[1\] must be listed once/],
    [{ tls: false, protocols: ['http/1.1'] }, /at least one SPDY version/],
    [{ tls: false, alternateProtocol: 'yes' }, /options\.alternateProtocol must be a boolean/],
    [{ tls: false, alternateProtocol: { protocol: 'a b' } }, /options\.alternateProtocol\.protocol must be a protocol token/],
    [{ tls: false, alternateProtocol: { altSvc: { maxAge: -1 } } }, /options\.alternateProtocol\.altSvc\.maxAge/],
    [{ tls: false, maxConcurrentStreams: 0 }, /options\.maxConcurrentStreams must be an integer from 1 to 2147483647 \(streams\); default 100/],
    [{ tls: false, maxHeaderBlockBytes: 1.5 }, /options\.maxHeaderBlockBytes/],
    [{ tls: false, maxFrameLength: 1 << 24 }, /options\.maxFrameLength must be an integer from 1024 to 16777215/],
    [{ tls: false, prot: 1 }, /unknown option prot; known options are port, host, tls/]
  ]
  for (const [input, re] of cases) {
    let caught: unknown
    try { resolveOptions(input) } catch (err) { caught = err }
    t.ok(caught instanceof SpdyOptionsError, `${String(re)}: throws SpdyOptionsError`)
    t.equal((caught as SpdyOptionsError).code, 'FST_SPDY_INVALID_OPTION')
    t.match((caught as Error).message, re)
  }
})

t.test('cacheAwarePush: off by default, true gives the documented defaults, bad values are named', async (t) => {
  t.equal(resolveOptions({ tls: false }).cacheAwarePush, false)
  t.same(resolveOptions({ tls: false, cacheAwarePush: true }).cacheAwarePush, { cookieName: 'spdy-casper', maxAge: 86400, hashBits: 13 })
  t.same(resolveOptions({ tls: false, cacheAwarePush: { maxAge: 60 } }).cacheAwarePush, { cookieName: 'spdy-casper', maxAge: 60, hashBits: 13 })
  t.equal(resolveOptions({ tls: false }).maxPushCookieBytes, 512)
  const cases: Array<[unknown, RegExp]> = [
    [{ tls: false, cacheAwarePush: 'yes' }, /options\.cacheAwarePush must be a boolean or/],
    [{ tls: false, cacheAwarePush: { cookieName: 'a b' } }, /options\.cacheAwarePush\.cookieName must be a cookie name/],
    [{ tls: false, cacheAwarePush: { maxAge: 0 } }, /options\.cacheAwarePush\.maxAge must be a whole number of seconds from 1 to 34560000/],
    [{ tls: false, cacheAwarePush: { hashBits: 40 } }, /options\.cacheAwarePush\.hashBits must be an integer from 8 to 32/],
    [{ tls: false, cacheAwarePush: { size: 1 } }, /unknown option cacheAwarePush\.size/],
    [{ tls: false, maxPushCookieBytes: 5000 }, /options\.maxPushCookieBytes must be an integer from 6 to 4096/]
  ]
  for (const [input, re] of cases) t.throws(() => resolveOptions(input), re)
})
