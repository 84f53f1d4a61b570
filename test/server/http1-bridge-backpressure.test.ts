/**
 * The HTTPS/1.1 fallback (Http1Bridge over our TLS) pushes back like a TCP socket: behind an 8 MiB response the
 * client does not read, pipelined GETs are not all taken in (the bytes the server read stay bounded, where before
 * 400 MB were accepted), and the connection is eventually closed (unreadOutputTimeout). The client is Node's TLS
 * with ALPN http/1.1 writing raw requests, as curl or a browser would, but never reading.
 */
import t from 'tap'
import { startServer, rawSocket, sleep, bound, normalGet } from '../hostile/harness'

const ATTEMPT = 32 << 20
/** What the server may have read: far below what the client tried, a few socket reads past the first response. */
const READ_BOUND = 4 << 20

t.test('pipelined GETs behind an unread 8 MiB response over HTTPS/1.1', async (t) => {
  // maxUnreadOutputBytes at its maximum: the bridge's own backpressure is what is tested, not the output hold.
  const s = await startServer({ tls: true, spdy: { unreadOutputTimeout: 1000, maxUnreadOutputBytes: 1 << 30 } })
  t.teardown(s.close)
  const sock = await rawSocket(s.port, true, ['http/1.1'])
  let closed = false
  sock.on('error', () => {})
  sock.on('close', () => { closed = true })
  t.teardown(() => sock.destroy())
  sock.pause() // never read
  sock.write('GET /big/8192 HTTP/1.1\r\nHost: localhost\r\n\r\n')
  const get = Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'.repeat(1024))
  let sent = 0
  let maxRead = 0
  const end = Date.now() + 30_000
  while (!closed && sent < ATTEMPT && Date.now() < end) {
    sent += get.length
    if (!sock.write(get)) {
      // Waits for the drain, the close, or 200 ms, and samples what the server read meanwhile.
      await Promise.race([new Promise((resolve) => sock.once('drain', resolve)), new Promise((resolve) => sock.once('close', resolve)), bound(200)])
    }
    for (const st of s.app.spdy.sessions()) maxRead = Math.max(maxRead, st.bytesRead)
  }
  while (!closed && Date.now() < end) {
    for (const st of s.app.spdy.sessions()) maxRead = Math.max(maxRead, st.bytesRead)
    await sleep(50)
  }
  t.ok(closed, 'the connection was closed by the server')
  t.ok(maxRead < READ_BOUND, `server read ${(maxRead / 2 ** 20).toFixed(2)} MB of the ${(sent / 2 ** 20).toFixed(1)} MB the client wrote (bound ${READ_BOUND / 2 ** 20} MB)`)
  t.equal(await normalGet(s.port, true), 200, 'a SPDY client is served')
})

t.test('a client that reads gets every pipelined response', async (t) => {
  const s = await startServer({ tls: true })
  t.teardown(s.close)
  const sock = await rawSocket(s.port, true, ['http/1.1'])
  t.teardown(() => sock.destroy())
  const N = 200
  let text = ''
  const done = new Promise<void>((resolve) => {
    sock.on('data', (c: Buffer) => {
      text += c.toString('latin1')
      if ((text.match(/HTTP\/1\.1 200/g) ?? []).length >= N + 1) resolve()
    })
  })
  sock.write('GET /big/2048 HTTP/1.1\r\nHost: localhost\r\n\r\n' + 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'.repeat(N))
  await Promise.race([done, bound(20_000)])
  t.equal((text.match(/HTTP\/1\.1 200/g) ?? []).length, N + 1, `${N + 1} responses, the 2 MiB one first`)
  sock.destroy()
})
