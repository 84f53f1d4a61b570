/**
 * Golden bytes from an independent implementation (npm spdy-transport): its framer writes every frame type it has
 * for SPDY/2, 3 and 3.1 and our decoder reads them; our encoder writes every frame type and its parser reads them.
 * Several header blocks go through one compression context each way, so later blocks depend on earlier ones.
 */
import t from 'tap'
import { stFramer, stParser } from './spdy-transport'
import { FrameDecoder, FrameEncoder, type DecodeEvent, type Frame, type HeaderList } from '../../lib/codec'

const wire = (v: number): 2 | 3 => (v === 2 ? 2 : 3)
const frames = (events: DecodeEvent[]): Frame[] => events.filter((e): e is Frame => e.type !== 'STREAM_ERROR' && e.type !== 'SESSION_ERROR')
const headerMap = (h: HeaderList): Record<string, string> => Object.fromEntries(h)

for (const v of [2, 3, 3.1]) {
  t.test(`spdy/${v}: spdy-transport writes, we read`, async (t) => {
    const { framer, take } = stFramer(v, false)
    const requestHeaders = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/30', cookie: 'session=abc; theme=dark', accept: 'text/html' }
    framer.requestFrame({ id: 1, path: '/index.html', method: 'GET', host: 'example.com', headers: requestHeaders })
    framer.requestFrame({ id: 3, path: '/style.css', method: 'GET', host: 'example.com', headers: requestHeaders, fin: true })
    framer.requestFrame({ id: 5, path: '/upload', method: 'POST', host: 'example.com', headers: { ...requestHeaders, 'content-type': 'text/plain' } })
    framer.dataFrame({ id: 5, fin: true, data: Buffer.from('hello spdy') })
    framer.headersFrame({ id: 5, headers: { 'x-trailer': 'yes' } })
    framer.pingFrame({ opaque: Buffer.from([0, 0, 0, 1]), ack: false })
    framer.rstFrame({ id: 3, code: 'CANCEL' })
    framer.settingsFrame({ max_concurrent_streams: 100, initial_window_size: 65536 })
    if (v !== 2) framer.windowUpdateFrame({ id: 1, delta: 4096 })
    framer.goawayFrame({ lastId: 5, code: 'OK' })
    const bytes = await take()

    const events = new FrameDecoder({ version: wire(v) }).push(bytes)
    t.same(events.filter((e) => e.type === 'STREAM_ERROR' || e.type === 'SESSION_ERROR'), [], 'no errors')
    const got = frames(events)
    const byType = (type: string): Frame[] => got.filter((f) => f.type === type)
    const syn = byType('SYN_STREAM') as Array<Extract<Frame, { type: 'SYN_STREAM' }>>
    t.same(syn.map((f) => f.streamId).sort(), [1, 3, 5])
    const names = v === 2 ? { m: 'method', p: 'url', h: 'host' } : { m: ':method', p: ':path', h: ':host' }
    for (const f of syn) {
      const h = headerMap(f.headers)
      t.equal(h['user-agent'], requestHeaders['user-agent'], `stream ${f.streamId} user-agent`)
      t.equal(h.cookie, requestHeaders.cookie)
      t.equal(h[names.h], 'example.com')
      t.equal(f.associatedStreamId, 0)
      t.equal(f.unidirectional, false)
    }
    t.equal(headerMap(syn.find((f) => f.streamId === 1)!.headers)[names.p], '/index.html')
    t.equal(headerMap(syn.find((f) => f.streamId === 5)!.headers)[names.m], 'POST')
    t.equal(syn.find((f) => f.streamId === 3)!.fin, true)
    t.same(byType('DATA').map((f) => [(f as { streamId: number }).streamId, (f as { fin: boolean }).fin]), [[5, true]])
    t.equal(Buffer.from((byType('DATA')[0] as { data: Uint8Array }).data).toString(), 'hello spdy')
    t.same(byType('HEADERS').map((f) => [(f as { streamId: number }).streamId, headerMap((f as { headers: HeaderList }).headers)['x-trailer']]), [[5, 'yes']])
    t.same(byType('PING'), [{ type: 'PING', id: 1 }])
    t.same(byType('RST_STREAM'), [{ type: 'RST_STREAM', streamId: 3, status: 5 }])
    const settings = byType('SETTINGS')[0] as Extract<Frame, { type: 'SETTINGS' }>
    t.same(settings.entries.map((e) => [e.id, e.value]), [[4, 100], [7, 65536]], 'ids read right (v2 little-endian quirk)')
    t.same(byType('GOAWAY'), [{ type: 'GOAWAY', lastGoodStreamId: 5, status: 0 }])
    if (v !== 2) t.same(byType('WINDOW_UPDATE'), [{ type: 'WINDOW_UPDATE', streamId: 1, deltaWindowSize: 4096 }])
  })

  t.test(`spdy/${v}: spdy-transport writes server frames (SYN_REPLY, pushed SYN_STREAM), we read`, async (t) => {
    const { framer, take } = stFramer(v, true)
    framer.responseFrame({ id: 1, status: 200, headers: { 'content-type': 'text/html', 'set-cookie': ['a=1', 'b=2'] } })
    framer.pushFrame({ id: 1, promisedId: 2, path: '/style.css', host: 'example.com', method: 'GET', status: 200, headers: {}, response: { 'content-type': 'text/css' } })
    framer.responseFrame({ id: 3, status: 404, headers: { 'content-length': '0' } })
    framer.dataFrame({ id: 2, fin: true, data: Buffer.from('body{}') })
    framer.headersFrame({ id: 1, headers: { 'x-trailer': 'done' } })
    const bytes = await take()
    const events = new FrameDecoder({ version: wire(v) }).push(bytes)
    t.same(events.filter((e) => e.type === 'STREAM_ERROR' || e.type === 'SESSION_ERROR'), [], 'no errors')
    const n = v === 2 ? { s: 'status', p: 'url' } : { s: ':status', p: ':path' }
    const replies = events.filter((e): e is Extract<Frame, { type: 'SYN_REPLY' }> => e.type === 'SYN_REPLY')
    t.same(replies.map((f) => [f.streamId, headerMap(f.headers)[n.s]]), [[1, '200 OK'], [3, '404 Not Found']])
    t.equal(headerMap(replies[0].headers)['set-cookie'], 'a=1\0b=2', 'several values NUL-joined by the peer')
    const push = events.filter((e): e is Extract<Frame, { type: 'SYN_STREAM' }> => e.type === 'SYN_STREAM')
    t.same(push.map((f) => [f.streamId, f.associatedStreamId, headerMap(f.headers)[n.p], headerMap(f.headers)['content-type']]), [[2, 1, '/style.css', 'text/css']])
    t.same(events.filter((e) => e.type === 'DATA').map((f) => [f.streamId, f.fin, Buffer.from(f.data).toString()]), [[2, true, 'body{}']])
    t.same(events.filter((e): e is Extract<Frame, { type: 'HEADERS' }> => e.type === 'HEADERS').map((f) => [f.streamId, headerMap(f.headers)['x-trailer']]), [[1, 'done']])
  })

  t.test(`spdy/${v}: we write, spdy-transport reads`, async (t) => {
    const enc = new FrameEncoder({ version: wire(v) })
    // A client parser reads what a server sends (replies, pushes); a server parser reads requests.
    const server = stParser(wire(v), true)
    const client = stParser(wire(v), false)
    const req: HeaderList = v === 2
      ? [['method', 'GET'], ['url', '/a'], ['version', 'HTTP/1.1'], ['host', 'example.com'], ['scheme', 'https'], ['cookie', 'a=1']]
      : [[':method', 'GET'], [':path', '/a'], [':version', 'HTTP/1.1'], [':host', 'example.com'], [':scheme', 'https'], ['cookie', 'a=1']]
    for (const id of [1, 3, 5]) {
      await server.feed(enc.encode({ type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin: id !== 5, unidirectional: false, headers: req.map(([n, val]) => [n, n.endsWith('path') || n === 'url' ? `/page${id}` : val]) }))
    }
    await server.feed(enc.encode({ type: 'DATA', streamId: 5, fin: true, data: Buffer.from('body') }))
    await server.feed(enc.encode({ type: 'RST_STREAM', streamId: 3, status: 5 }))
    await server.feed(enc.encode({ type: 'SETTINGS', clearSettings: false, entries: [{ id: 4, flags: 0, value: 100 }, { id: 7, flags: 0, value: 12345 }] }))
    await server.feed(enc.encode({ type: 'PING', id: 7 }))
    // spdy-transport reads SPDY/2 GOAWAY as 8 bytes (the v3 layout); the draft and Chrome use 4, as we do.
    if (v !== 2) await server.feed(enc.encode({ type: 'GOAWAY', lastGoodStreamId: 0, status: 0 }))
    if (v !== 2) await server.feed(enc.encode({ type: 'WINDOW_UPDATE', streamId: 1, deltaWindowSize: 777 }))
    t.same(server.errors, [])
    const sf = server.frames
    t.same(sf.filter((f) => f.type === 'HEADERS').map((f) => [f.id, f.path, f.fin]), [[1, '/page1', true], [3, '/page3', true], [5, '/page5', false]])
    t.same(sf.filter((f) => f.type === 'HEADERS').map((f) => (f.headers as Record<string, string>).cookie), ['a=1', 'a=1', 'a=1'])
    t.same(sf.filter((f) => f.type === 'DATA').map((f) => [f.id, f.fin, String(f.data)]), [[5, true, 'body']])
    t.same(sf.filter((f) => f.type === 'RST').map((f) => [f.id, f.code]), [[3, 'CANCEL']])
    t.same(sf.filter((f) => f.type === 'SETTINGS').map((f) => f.settings), [{ max_concurrent_streams: 100, initial_window_size: 12345 }])
    t.equal(sf.filter((f) => f.type === 'PING').length, 1)
    if (v !== 2) t.same(sf.filter((f) => f.type === 'GOAWAY').map((f) => f.lastId), [0])
    if (v !== 2) t.same(sf.filter((f) => f.type === 'WINDOW_UPDATE').map((f) => [f.id, f.delta]), [[1, 777]])

    const down = new FrameEncoder({ version: wire(v) })
    const status = v === 2 ? [['status', '200 OK'], ['version', 'HTTP/1.1']] : [[':status', '200 OK'], [':version', 'HTTP/1.1']]
    for (const id of [1, 3]) {
      await client.feed(down.encode({ type: 'SYN_REPLY', streamId: id, fin: false, headers: [...status, ['content-type', 'text/html'], ['set-cookie', 'a=1\0b=2']] as HeaderList }))
    }
    // spdy-transport insists on a method in pushed streams (the drafts do not); it is harmless to include.
    const push: HeaderList = v === 2 ? [['method', 'GET'], ['url', 'https://example.com/style.css'], ['status', '200 OK'], ['version', 'HTTP/1.1']] : [[':method', 'GET'], [':scheme', 'https'], [':host', 'example.com'], [':path', '/style.css'], [':status', '200 OK'], [':version', 'HTTP/1.1']]
    await client.feed(down.encode({ type: 'SYN_STREAM', streamId: 2, associatedStreamId: 1, priority: 1, slot: 0, fin: false, unidirectional: true, headers: push }))
    await client.feed(down.encode({ type: 'HEADERS', streamId: 1, fin: true, headers: [['x-done', '1']] }))
    t.same(client.errors, [])
    const replies = client.frames.filter((f) => f.type === 'HEADERS' && !f.path)
    t.ok(replies.length >= 2, 'replies parsed')
    t.same(replies.slice(0, 2).map((f) => (f.headers as Record<string, string>)['content-type']), ['text/html', 'text/html'])
    t.same(replies.slice(0, 2).map((f) => (f.headers as Record<string, string>)['set-cookie']), [['a=1', 'b=2'], ['a=1', 'b=2']], 'NUL-joined values split by the peer')
    // spdy-transport models a pushed SYN_STREAM as PUSH_PROMISE on the associated stream plus HEADERS on the new one.
    t.same(client.frames.filter((f) => f.type === 'PUSH_PROMISE').map((f) => [f.id, f.promisedId, f.path]), [[1, 2, v === 2 ? 'https://example.com/style.css' : '/style.css']], 'push stream parsed (v2 carries the absolute url)')
    t.same(client.frames.filter((f) => f.type === 'HEADERS' && f.id === 1 && (f.headers as Record<string, string>)['x-done'] === '1').length, 1, 'trailing HEADERS parsed')
  })
}
