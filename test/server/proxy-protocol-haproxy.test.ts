/**
 * Golden bytes from a real sender: Debian's haproxy with `send-proxy` (v1) and `send-proxy-v2` relays our
 * connections to a bare TCP sink, which keeps the first bytes it receives. The parser must find in them the
 * address and port our own client socket had (IPv4 and IPv6), then the client's bytes untouched.
 */
import t from 'tap'
import net from 'node:net'
import { parseProxyHeader } from '../../lib/server/proxy-protocol'
import { haproxyBinary, HAPROXY_MISSING, freePort, startHaproxy } from '../interop/haproxy-harness'

const bin = haproxyBinary()
if (bin === null) {
  t.comment(HAPROXY_MISSING)
} else {
  t.test('haproxy send-proxy / send-proxy-v2 headers', async (t) => {
    const received: Buffer[] = []
    const waiters: Array<() => void> = []
    const sink = net.createServer((s) => {
      const chunks: Buffer[] = []
      s.on('data', (c: Buffer) => {
        chunks.push(c)
        const all = Buffer.concat(chunks)
        if (all.includes('hello-from-client')) { received.push(all); waiters.shift()?.(); s.end() }
      })
      s.on('error', () => {})
    })
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve))
    t.teardown(() => sink.close())
    const sinkPort = (sink.address() as net.AddressInfo).port
    const [p1, p2, p6, pc] = [await freePort(), await freePort(), await freePort('::1'), await freePort()]
    await startHaproxy(t, bin, `
global
  maxconn 100
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend v1
  bind 127.0.0.1:${p1}
  default_backend send_v1
frontend v2
  bind 127.0.0.1:${p2}
  bind [::1]:${p6}
  default_backend send_v2
frontend v2crc
  bind 127.0.0.1:${pc}
  unique-id-format test-%ci-%cp
  default_backend send_v2_crc
backend send_v2_crc
  server sink 127.0.0.1:${sinkPort} send-proxy-v2 proxy-v2-options crc32c,unique-id
backend send_v1
  server sink 127.0.0.1:${sinkPort} send-proxy
backend send_v2
  server sink 127.0.0.1:${sinkPort} send-proxy-v2
`, [['127.0.0.1', p1], ['127.0.0.1', p2], ['::1', p6], ['127.0.0.1', pc]])

    const through = async (port: number, host: string): Promise<{ bytes: Buffer, local: { address: string, port: number } }> => {
      const got = new Promise<void>((resolve) => waiters.push(resolve))
      const c = net.connect(port, host)
      c.on('error', () => {})
      await new Promise<void>((resolve) => c.once('connect', () => resolve()))
      const local = { address: c.localAddress!, port: c.localPort! }
      c.write('hello-from-client')
      await got
      c.destroy()
      return { bytes: received[received.length - 1], local }
    }

    for (const [name, port, host, version, family] of [['v1 TCP4', p1, '127.0.0.1', 1, 'IPv4'], ['v2 TCP4', p2, '127.0.0.1', 2, 'IPv4'], ['v2 TCP6', p6, '::1', 2, 'IPv6']] as const) {
      const { bytes, local } = await through(port, host)
      t.comment(`${name} from haproxy: ${bytes.subarray(0, bytes.length - 17).toString('hex')}`)
      const r = parseProxyHeader(bytes, 2048)
      t.equal(r.kind, 'header', name)
      if (r.kind !== 'header') continue
      t.equal(r.header.version, version, `${name}: version`)
      t.equal(r.header.family, family, `${name}: family`)
      t.same(r.header.source, local, `${name}: the source is our client socket`)
      t.equal(r.header.destination?.port, port, `${name}: the destination is the haproxy frontend`)
      t.equal(Buffer.from(r.rest).toString(), 'hello-from-client', `${name}: the client's bytes follow untouched`)
    }

    // proxy-v2-options crc32c,unique-id: a CRC32c TLV (section 2.2.3) over the header, checked; a unique id TLV, kept.
    const { bytes, local } = await through(pc, '127.0.0.1')
    t.comment(`v2 with CRC32C and unique id from haproxy: ${bytes.subarray(0, bytes.length - 17).toString('hex')}`)
    const r = parseProxyHeader(bytes, 2048)
    t.equal(r.kind, 'header', 'the CRC32c haproxy computed matches ours')
    if (r.kind === 'header') {
      t.same(r.header.tlvs.map((x) => x.type).sort(), [0x03, 0x05], 'CRC32C and UNIQUE_ID TLVs')
      t.equal(Buffer.from(r.header.tlvs.find((x) => x.type === 0x05)!.value).toString(), `test-127.0.0.1-${local.port}`)
    }
    const corrupt = Buffer.from(bytes)
    corrupt[17] ^= 1 // one bit of the source address
    const c = parseProxyHeader(corrupt, 2048)
    t.match(c.kind === 'malformed' ? c.reason : c.kind, /CRC32C does not match/, 'one flipped bit: refused')
  })
}
