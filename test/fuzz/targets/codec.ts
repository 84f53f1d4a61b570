/**
 * Fuzz target: the SPDY frame decoder (lib/codec/decoder.ts), the version taken from the first frame as the plain
 * listener does (SPDY/2 when a control frame says 2, else 3). The decoder promises never to throw and to report
 * stream and session errors as events: both are checked.
 */
import { FrameDecoder } from '../../../lib/codec/decoder'
import { bounded, slices, typedEvent } from '../invariants'

export function fuzz (buf: Buffer): void {
  bounded('codec', () => run(buf))
}

function run (buf: Buffer): void {
  const version = buf.length >= 2 && (buf[0] & 0x80) !== 0 && buf[1] === 2 ? 2 : 3
  // Small limits so the fuzzer reaches every limit's branch with inputs of a few KB.
  const decoder = new FrameDecoder({ version, maxFrameLength: 1 << 14, maxHeaderBlockBytes: 1 << 14, maxHeaderPairs: 64 })
  for (const chunk of slices(buf)) {
    for (const ev of decoder.push(chunk)) {
      if (ev.type === 'STREAM_ERROR' || ev.type === 'SESSION_ERROR') typedEvent(`decoder ${ev.type}`, ev.error)
    }
  }
}
