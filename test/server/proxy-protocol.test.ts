/**
 * The PROXY protocol parser (lib/server/proxy-protocol.ts) against the spec's own examples (haproxy
 * doc/proxy-protocol.txt) and bytes HAProxy sent in someone else's capture; hand-laid TLVs follow the spec's
 * struct pp2_tlv byte by byte. Live HAProxy output is parsed in proxy-protocol-haproxy.test.ts.
 */
import t from 'tap'
import { parseProxyHeader, formatIPv6, crc32c, type ProxyParseResult } from '../../lib/server/proxy-protocol'
import { resolveOptions } from '../../lib/options'
import { SpdyOptionsError } from '../../lib/errors'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const SIG = '0d0a0d0a000d0a515549540a'
const header = (r: ProxyParseResult) => {
  if (r.kind !== 'header') throw new Error(`expected a header, got ${JSON.stringify(r)}`)
  return r
}

t.test('v1: the spec example (section 2.1) before an HTTP request', async (t) => {
  const bytes = Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n', 'latin1')
  const r = header(parseProxyHeader(bytes, 2048))
  t.equal(r.length, 47)
  t.same(r.header.source, { address: '192.168.0.1', port: 56324 })
  t.same(r.header.destination, { address: '192.168.0.11', port: 443 })
  t.equal(r.header.family, 'IPv4')
  t.equal(r.header.proxied, true)
  t.equal(Buffer.from(r.rest).toString('latin1'), 'GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n')
})

t.test('v1: TCP6, UNKNOWN short and long forms, the 107-byte worst case', async (t) => {
  const v6 = header(parseProxyHeader(Buffer.from('PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 65535 0\r\n'), 2048))
  t.same(v6.header.source, { address: '2001:db8::1', port: 65535 }, 'canonical form, as Node prints addresses')
  t.same(v6.header.destination, { address: '::1', port: 0 })
  const unknown = header(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\nx'), 2048))
  t.equal(unknown.header.proxied, false, 'UNKNOWN: use the real connection endpoints')
  t.equal(unknown.length, 15)
  const f = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'
  const worst = `PROXY UNKNOWN ${f} ${f} 65535 65535\r\n`
  t.equal(worst.length, 107, 'the spec\'s worst case is 107 bytes')
  t.equal(header(parseProxyHeader(Buffer.from(worst), 2048)).header.proxied, false)
})

t.test('v1: malformed lines are refused', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n', /byte 0x0a/],
    ['PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\rX', /CR not followed by LF/],
    ['PROXY TCP4 192.168.0.01 192.168.0.11 56324 443\r\n', /canonical/],
    ['PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n', /port/],
    ['PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n', /port/],
    ['PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n', /expected/],
    ['PROXY TCP4 ::1 ::1 1 2\r\n', /canonical/],
    ['PROXY TCP6 1::2::3 ::1 1 2\r\n', /canonical/],
    ['PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n', /protocol "UDP4"/],
    ['PROXY UNKNOWN' + ' '.repeat(100) + '\r\n', /longer than 107|no CRLF/]
  ]
  for (const [line, why] of cases) {
    const r = parseProxyHeader(Buffer.from(line, 'latin1'), 2048)
    t.equal(r.kind, 'malformed', JSON.stringify(line))
    if (r.kind === 'malformed') t.match(r.reason, why)
  }
})

// HAProxy's send-proxy-v2 in front of netcat, hexdumped in github.com/seriousben/experiment-proxy-protocol's README:
// TCP over IPv4 from 172.19.0.1:42578 to 172.19.0.3:80, then the client's HTTP request.
const HAPROXY_V2 = hex(`${SIG} 21 11 000c ac130001 ac130003 a652 0050`)

t.test('v2: a header HAProxy sent (independent capture), then the client\'s bytes', async (t) => {
  const bytes = Buffer.concat([HAPROXY_V2, Buffer.from('GET / HTTP/1.1\r\n')])
  const r = header(parseProxyHeader(bytes, 2048))
  t.equal(r.length, 28)
  t.same(r.header.source, { address: '172.19.0.1', port: 42578 })
  t.same(r.header.destination, { address: '172.19.0.3', port: 80 })
  t.equal(r.header.transport, 'stream')
  t.same(r.header.tlvs, [])
  t.equal(Buffer.from(r.rest).toString(), 'GET / HTTP/1.1\r\n')
})

t.test('partial headers ask for more, byte by byte, and never decide early', async (t) => {
  for (const whole of [HAPROXY_V2, Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n')]) {
    for (let n = 1; n < whole.length; n++) t.equal(parseProxyHeader(whole.subarray(0, n), 2048).kind, 'need-more', `${n} of ${whole.length}`)
    t.equal(parseProxyHeader(whole, 2048).kind, 'header')
  }
  t.equal(parseProxyHeader(Buffer.from([0x16, 3, 1]), 2048).kind, 'none', 'a TLS ClientHello is not a PROXY header')
  t.equal(parseProxyHeader(Buffer.from([0x80, 3, 0, 1]), 2048).kind, 'none', 'a SPDY control frame is not one')
  t.equal(parseProxyHeader(Buffer.from('PROPFIND /'), 2048).kind, 'none', 'an HTTP method sharing "PRO" is not one')
})

t.test('v2: TLVs (section 2.2) parsed or skipped, IPv6, LOCAL', async (t) => {
  // TCP over IPv6 from 2001:db8::1 port 443 to ::ffff:10.0.0.1 port 8443, then TLVs: ALPN "spdy/3.1",
  // AUTHORITY "example.com", NOOP (3 bytes of padding), a custom 0xE0, and PP2_TYPE_SSL: client=0x01 (SSL),
  // verify=0, sub-TLV 0x21 "TLSv1.2".
  const addr = '20010db8000000000000000000000001 00000000000000000000ffff0a000001 01bb 20fb'
  const tlvs = '01 0008 737064792f332e31' + // ALPN
    '02 000b 6578616d706c652e636f6d' + // AUTHORITY
    '04 0003 000000' + // NOOP
    'e0 0002 abcd' + // application-specific
    '20 000f 01 00000000 21 0007 544c5376312e32' // SSL
  const body = hex(addr + tlvs)
  const bytes = Buffer.concat([hex(`${SIG} 21 21`), Buffer.from([body.length >> 8, body.length & 255]), body])
  const r = header(parseProxyHeader(bytes, 2048))
  t.same(r.header.source, { address: '2001:db8::1', port: 443 })
  t.same(r.header.destination, { address: '::ffff:10.0.0.1', port: 8443 })
  t.equal(r.header.alpn, 'spdy/3.1')
  t.equal(r.header.authority, 'example.com')
  t.same(r.header.ssl, { version: 'TLSv1.2' })
  t.same(r.header.tlvs.map((x) => x.type), [0x01, 0x02, 0x04, 0xe0, 0x20])
  t.equal(r.rest.length, 0)

  // LOCAL (a health check) with an address block anyway: the block is skipped, the real endpoints stand.
  const local = header(parseProxyHeader(hex(`${SIG} 20 11 000c 7f000001 7f000001 0001 0002`), 2048))
  t.equal(local.header.proxied, false)
  t.equal(local.header.source, null)
  t.equal(local.length, 28)
  // AF_UNSPEC with PROXY: no address to use.
  t.equal(header(parseProxyHeader(hex(`${SIG} 21 00 0000`), 2048)).header.proxied, false)
  // AF_UNIX (216-byte block): accepted, real endpoints.
  const unix = Buffer.concat([hex(`${SIG} 21 31 00d8`), Buffer.alloc(216)])
  t.equal(header(parseProxyHeader(unix, 2048)).header.family, 'unix')
})

t.test('v2: malformed headers are refused, the size cap holds', async (t) => {
  const cases: Array<[string, RegExp]> = [
    [`${SIG} 11 11 000c 7f000001 7f000001 0001 0002`, /version nibble/],
    [`${SIG} 22 11 000c 7f000001 7f000001 0001 0002`, /command/],
    [`${SIG} 21 41 0000`, /address family/],
    [`${SIG} 21 13 000c 7f000001 7f000001 0001 0002`, /transport protocol/],
    [`${SIG} 21 11 0008 7f000001 7f000001`, /shorter than the IPv4 address block/],
    [`${SIG} 21 11 000e 7f000001 7f000001 0001 0002 0100`, /TLV header cut short/],
    [`${SIG} 21 11 0011 7f000001 7f000001 0001 0002 01 0005 6869`, /runs past the header/],
    [`${SIG} 21 11 0013 7f000001 7f000001 0001 0002 20 0004 00 000000`, /PP2_TYPE_SSL of 4 bytes/]
  ]
  for (const [h, why] of cases) {
    const r = parseProxyHeader(hex(h), 2048)
    t.equal(r.kind, 'malformed', h)
    if (r.kind === 'malformed') t.match(r.reason, why)
  }
  // A length field announcing 64 KiB is refused from its first 16 bytes, before anything is buffered.
  const big = parseProxyHeader(hex(`${SIG} 21 11 ffff`), 2048)
  t.equal(big.kind, 'malformed')
  t.equal(parseProxyHeader(hex(`${SIG} 21 11 07f0`), 2048).kind, 'need-more', '2032 bytes + 16 fits the 2048 cap')
  t.equal(parseProxyHeader(hex(`${SIG} 21 11 07f1`), 2048).kind, 'malformed', 'one byte over does not')
})

t.test('IPv6 text form follows RFC 5952', async (t) => {
  t.equal(formatIPv6(hex('00000000000000000000000000000001')), '::1')
  t.equal(formatIPv6(hex('00000000000000000000000000000000')), '::')
  t.equal(formatIPv6(hex('20010db8000000010000000000000001')), '2001:db8:0:1::1')
  t.equal(formatIPv6(hex('20010db8000000000001000000000001')), '2001:db8::1:0:0:1', 'first of two equal runs')
  t.equal(formatIPv6(hex('20010db8000100010001000100010001')), '2001:db8:1:1:1:1:1:1', 'no run of one')
})

t.test('options.proxyProtocol and maxProxyHeaderBytes are validated', async (t) => {
  t.equal(resolveOptions({ tls: false }).proxyProtocol, false)
  t.equal(resolveOptions({ tls: false, proxyProtocol: true }).proxyProtocol, 'all')
  t.same(resolveOptions({ tls: false, proxyProtocol: ['10.0.0.0/8', '::1'] }).proxyProtocol,
    [{ address: '10.0.0.0', prefix: 8, family: 'ipv4' }, { address: '::1', prefix: 128, family: 'ipv6' }])
  t.equal(resolveOptions({ tls: false }).maxProxyHeaderBytes, 2048)
  for (const bad of [[], ['10.0.0.0/33'], ['example.com'], [42], 'yes', ['::1/129']]) {
    t.throws(() => resolveOptions({ tls: false, proxyProtocol: bad }), SpdyOptionsError, JSON.stringify(bad))
  }
  t.throws(() => resolveOptions({ tls: false, maxProxyHeaderBytes: 100 }), /maxProxyHeaderBytes must be an integer from 232/)
})

t.test('CRC32c: the check value of "123456789" (RFC 3720 appendix B.4 CRC32c examples use the same polynomial)', async (t) => {
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283)
  t.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa, 'RFC 3720 B.4: 32 bytes of zeroes')
  t.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43, 'RFC 3720 B.4: 32 bytes of ones')
})
