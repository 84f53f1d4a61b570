/**
 * Readable one-frame-per-line rendering for `fastify-spdy get -v`, in the spirit of curl -v and nghttp -v:
 * direction, type, stream id, flags, then the header block one pair per line, or the length for DATA.
 */
import { SettingId, type Frame, type HeaderList } from '../codec/types'
import { goawayStatusName, rstStatusName } from '../errors'

const SETTING_NAMES = new Map<number, string>(Object.entries(SettingId).map(([k, v]) => [v, k]))

function flags (list: Array<[boolean, string]>): string {
  const on = list.filter(([b]) => b).map(([, n]) => n)
  return on.length === 0 ? '' : ` flags=${on.join('|')}`
}

/** Header values are latin1 byte strings with NUL-joined multi-values (SPDY/3 section 2.6.10): show each value. */
function headerLines (prefix: string, headers: HeaderList): string[] {
  const out: string[] = []
  for (const [name, value] of headers) for (const v of value.split('\0')) out.push(`${prefix}    ${name}: ${v}`)
  return out
}

function headerBytes (headers: HeaderList): number {
  let n = 0
  for (const [k, v] of headers) n += k.length + v.length
  return n
}

/** Lines (no trailing newline) describing one frame; `direction` 'out' is ours, 'in' the server's. */
export function describeFrame (direction: 'in' | 'out', f: Frame): string[] {
  const p = direction === 'out' ? '>' : '<'
  switch (f.type) {
    case 'DATA':
      return [`${p} DATA stream=${f.streamId}${flags([[f.fin, 'FIN']])} length=${f.data.length}`]
    case 'SYN_STREAM':
      return [
        `${p} SYN_STREAM stream=${f.streamId}${f.associatedStreamId !== 0 ? ` assoc=${f.associatedStreamId}` : ''} pri=${f.priority}` +
          `${flags([[f.fin, 'FIN'], [f.unidirectional, 'UNIDIRECTIONAL']])} headers=${f.headers.length} (${headerBytes(f.headers)} bytes)`,
        ...headerLines(p, f.headers)
      ]
    case 'SYN_REPLY':
    case 'HEADERS':
      return [`${p} ${f.type} stream=${f.streamId}${flags([[f.fin, 'FIN']])} headers=${f.headers.length} (${headerBytes(f.headers)} bytes)`, ...headerLines(p, f.headers)]
    case 'RST_STREAM':
      return [`${p} RST_STREAM stream=${f.streamId} status=${rstStatusName(f.status)}`]
    case 'SETTINGS':
      return [`${p} SETTINGS${flags([[f.clearSettings, 'CLEAR_SETTINGS']])} ${f.entries.map((e) => `${SETTING_NAMES.get(e.id) ?? `ID_${e.id}`}=${e.value}${e.flags !== 0 ? `(flags ${e.flags})` : ''}`).join(' ')}`.trimEnd()]
    case 'PING':
      return [`${p} PING id=${f.id}`]
    case 'GOAWAY':
      return [`${p} GOAWAY last-good-stream=${f.lastGoodStreamId} status=${goawayStatusName(f.status)}`]
    case 'WINDOW_UPDATE':
      return [`${p} WINDOW_UPDATE stream=${f.streamId} delta=${f.deltaWindowSize}`]
    case 'NOOP':
      return [`${p} NOOP`]
    case 'CREDENTIAL':
      return [`${p} CREDENTIAL slot=${f.slot}`]
    case 'UNKNOWN':
      return [`${p} UNKNOWN control type=${f.controlType} flags=${f.flags} length=${f.length}`]
  }
}
