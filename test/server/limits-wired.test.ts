/**
 * README's limits table promises each limit is an option of the plugin. Several were tested only on SpdySession or
 * the decoder directly, so a limit dropped on its way from `register()` to the session would go unnoticed. Here each
 * is set through `app.register(spdy, {...})` to a value far below its default, and a raw peer on a real socket sends
 * what passes that value but stays far under the default: the server answers at the configured value, and, as a
 * control, a server with the defaults does not (the same bytes are then harmless).
 */
import t from 'tap'
import net from 'node:net'
import { startServer } from '../hostile/harness'
import { FrameEncoder } from '../../lib/codec/encoder'
import { FrameDecoder } from '../../lib/codec/decoder'
import { requestHeaderList } from '../../lib/session/headers'
import type { DecodeEvent, HeaderList } from '../../lib/codec/types'
import type { FastifySpdyOptions } from '../../lib/index'
import type { FastifyInstance } from 'fastify'

/** SPDY/3 frames a peer sends, in one write: our encoder builds them, the test decides what they say. */
function peer (): { syn: (id: number, fin: boolean, extra?: HeaderList, method?: string, path?: string) => Uint8Array, enc: FrameEncoder } {
  const enc = new FrameEncoder({ version: 3 })
  const syn = (id: number, fin: boolean, extra: HeaderList = [], method = 'GET', path = method === 'POST' ? '/echo' : '/'): Uint8Array => enc.encode({
    type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, fin, unidirectional: false,
    headers: [...requestHeaderList(3.1, { method, path, authority: '127.0.0.1', scheme: 'http' }), ...extra]
  })
  return { syn, enc }
}

/** Writes `bytes` and collects the server's frames for `ms` or until it closes. */
async function exchange (port: number, bytes: Buffer, ms = 1500): Promise<DecodeEvent[]> {
  const sock = net.connect(port, '127.0.0.1')
  const dec = new FrameDecoder({ version: 3 })
  const got: DecodeEvent[] = []
  sock.on('data', (c: Buffer) => got.push(...dec.push(c)))
  sock.on('error', () => {})
  sock.write(bytes)
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    sock.once('close', () => { clearTimeout(timer); resolve() })
  })
  sock.destroy()
  return got
}

const goaway = (fs: DecodeEvent[]): boolean => fs.some((f) => f.type === 'GOAWAY')
const rst = (id: number, status: number) => (fs: DecodeEvent[]): boolean => fs.some((f) => f.type === 'RST_STREAM' && f.streamId === id && f.status === status)
const cat = (...parts: Uint8Array[]): Buffer => Buffer.concat(parts)

interface Case { name: string, limits: Partial<FastifySpdyOptions>, bytes: () => Buffer, tripped: (fs: DecodeEvent[]) => boolean }

/** `n` open+reset pairs in one write (rapid reset). */
function resets (n: number): Buffer {
  const { syn, enc } = peer()
  return cat(...Array.from({ length: n }, (_, i) => [syn(2 * i + 1, true), enc.encode({ type: 'RST_STREAM', streamId: 2 * i + 1, status: 5 })]).flat())
}

const cases: Case[] = [
  {
    name: 'maxSettingsPerWindow 3: a 5th SETTINGS in 10 s gets GOAWAY',
    limits: { maxSettingsPerWindow: 3 },
    bytes: () => { const { enc } = peer(); return cat(...Array.from({ length: 5 }, () => enc.encode({ type: 'SETTINGS', clearSettings: false, entries: [{ id: 4, flags: 0, value: 100 }] }))) },
    tripped: goaway
  },
  {
    name: 'maxResetsPerWindow 5: 10 streams opened and reset get GOAWAY',
    limits: { maxResetsPerWindow: 5 },
    bytes: () => resets(10),
    tripped: goaway
  },
  {
    name: 'maxProcessResetsPerSecond 3: 10 streams opened and reset in a second get GOAWAY',
    limits: { maxProcessResetsPerSecond: 3 },
    bytes: () => resets(10),
    tripped: goaway
  },
  {
    // 20 KB heads on streams the app holds open: 3 fit in 64 KiB, the 4th is refused (session budget: 2 MiB).
    name: 'maxProcessHeaderBytes 64 KiB: the 4th open stream with a 20 KB head is REFUSED_STREAM (3)',
    limits: { maxProcessHeaderBytes: 64 << 10 },
    bytes: () => { const { syn } = peer(); return cat(...Array.from({ length: 4 }, (_, i) => syn(2 * i + 1, true, [['x-big', String(i).repeat(20_000)]], 'GET', '/hold'))) },
    tripped: rst(7, 3)
  },
  {
    name: 'maxFrameLength 1024: a 2000-byte DATA frame is RST_STREAM FRAME_TOO_LARGE (11)',
    limits: { maxFrameLength: 1024 },
    bytes: () => { const { syn, enc } = peer(); return cat(syn(1, false, [], 'POST'), enc.encode({ type: 'DATA', streamId: 1, fin: true, data: Buffer.alloc(2000, 97) })) },
    tripped: rst(1, 11)
  },
  {
    name: 'maxHeaderPairs 8: a head of 19 pairs is RST_STREAM',
    limits: { maxHeaderPairs: 8 },
    bytes: () => cat(peer().syn(1, true, Array.from({ length: 14 }, (_, i) => [`x-h${i}`, 'v'] as [string, string]))),
    tripped: (fs) => fs.some((f) => f.type === 'RST_STREAM' && f.streamId === 1)
  },
  {
    name: 'maxHeaderBlockBytes 2048: a head inflating to 4 KB ends the session (GOAWAY)',
    limits: { maxHeaderBlockBytes: 2048 },
    bytes: () => cat(peer().syn(1, true, [['x-big', 'b'.repeat(4000)]])),
    tripped: goaway
  },
  {
    name: 'maxHeadersFramesPerStream 2: 4 HEADERS frames on an open stream get GOAWAY',
    limits: { maxHeadersFramesPerStream: 2 },
    bytes: () => { const { syn, enc } = peer(); return cat(syn(1, false, [], 'POST'), ...Array.from({ length: 4 }, (_, i) => enc.encode({ type: 'HEADERS', streamId: 1, fin: false, headers: [[`x-t${i}`, 'v']] }))) },
    tripped: goaway
  }
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    // /hold never answers; gracefulTimeout 0 so that close() does not wait for it.
    const routes = (app: FastifyInstance): void => { app.get('/hold', async () => await new Promise<never>(() => {})) }
    const limited = await startServer({ spdy: { ...c.limits, gracefulTimeout: 0 }, routes })
    t.teardown(limited.close)
    t.ok(c.tripped(await exchange(limited.port, c.bytes())), 'the configured limit answers')
    const defaults = await startServer({ spdy: { gracefulTimeout: 0 }, routes })
    t.teardown(defaults.close)
    t.notOk(c.tripped(await exchange(defaults.port, c.bytes())), 'control: with the default the same bytes pass')
  })
}

t.test('maxConcurrentStreams and initialWindowSize: advertised in the first SETTINGS', async (t) => {
  const s = await startServer({ spdy: { maxConcurrentStreams: 7, initialWindowSize: 4096 } })
  t.teardown(s.close)
  const { enc } = peer()
  const fs = await exchange(s.port, Buffer.from(enc.encode({ type: 'PING', id: 1 })), 500)
  const settings = fs.find((f) => f.type === 'SETTINGS')
  const entries = new Map(settings?.type === 'SETTINGS' ? settings.entries.map((e) => [e.id, e.value]) : [])
  t.equal(entries.get(4), 7, 'SETTINGS_MAX_CONCURRENT_STREAMS (4)')
  t.equal(entries.get(7), 4096, 'SETTINGS_INITIAL_WINDOW_SIZE (7)')
})
