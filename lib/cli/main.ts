#!/usr/bin/env node
/**
 * `fastify-spdy get <url>`: fetch one URL over SPDY (TLS with NPN/ALPN, or plain) with lib/client, print the body,
 * optionally the status and headers, the streams the server pushed, and every frame with -v. One clear line and a
 * distinct exit status per failure, so scripts can tell a closed port from an untrusted certificate.
 */
import { readFileSync } from 'node:fs'
import { rootCertificates } from 'node:tls'
import { STATUS_CODES } from 'node:http'
import type { SpdyVersion } from '../codec/types'
import {
  ClientCertificateError,
  ClientClosedError,
  ClientConnectError,
  ClientNoProtocolError,
  ClientProtocolError,
  ClientResponseTooLargeError,
  ClientTimeoutError,
  ClientTlsError,
  connect,
  DEFAULT_MAX_RESPONSE_BYTES,
  type SpdyClient,
  type SpdyResponse
} from '../client/client'
import { describeFrame } from './format'

export const USAGE = `Usage: fastify-spdy get [options] <url>

Fetches <url> over SPDY and prints the response body; pushed streams are listed on stderr.
  https://host[:port]/path             SPDY over TLS, negotiated with NPN and/or ALPN (port 443 by default)
  spdy://host[:port]/path, http://...  plain SPDY without TLS (port 80 by default), as with --plain

Options:
  --spdy 2|3|3.1      version: over TLS the only one offered (default: 3.1, 3, 2); plain: the one spoken (3.1)
  --npn, --alpn       negotiate with NPN only, or ALPN only (default: offer both)
  --openssl           TLS by Node's OpenSSL (TLS 1.3, ALPN only) instead of the package's TLS 1.2 engine
  --plain             SPDY without TLS
  --insecure          do not verify the server's certificate
  --no-false-start    wait for the server's Finished before sending the request (TLS False Start is on by default)
  --cacert FILE       trust the PEM certificate(s) in FILE instead of the system's roots
  -H 'name: value'    add a request header (repeatable)
  -X METHOD           request method (default GET, POST with -d)
  -d DATA             request body
  -i, --include       print the status line and response headers before the body
  -v, --verbose       print the TLS outcome and every SPDY frame, both ways, to stderr
  --timeout MS        give up after MS milliseconds in all (default 10000)
  --max-size BYTES    give up when the body and pushed bodies pass BYTES (default 67108864, 64 MiB)
  -h, --help          show this text

Exit status: 0 ok, 2 bad usage, 3 cannot connect, 4 certificate problem, 5 other TLS failure,
6 no protocol in common, 7 SPDY protocol error, 8 timeout, 9 connection closed early,
10 response larger than --max-size, 11 output could not be written (0 when the reader of a pipe left,
as with | head), 1 anything else.`

export const EXIT = { ok: 0, other: 1, usage: 2, connect: 3, certificate: 4, tls: 5, noProtocol: 6, protocol: 7, timeout: 8, closed: 9, tooLarge: 10, output: 11 } as const

export interface GetOptions {
  url: URL
  tls: boolean
  host: string
  port: number
  version: SpdyVersion | undefined
  negotiation: 'npn' | 'alpn' | 'both'
  tlsStack: 'engine' | 'openssl'
  insecure: boolean
  falseStart: boolean
  cacert: string | null
  headers: Record<string, string | string[]>
  method: string
  data: string | null
  include: boolean
  verbose: boolean
  timeout: number
  maxSize: number
}

const USER_AGENT = 'fastify-spdy-cli'

export class UsageError extends Error {}

const VERSIONS: Record<string, SpdyVersion> = { 2: 2, 3: 3, 3.1: 3.1 }

/** Parses `get` arguments (after the subcommand); throws UsageError with the reason. */
export function parseGetArgs (args: string[]): GetOptions {
  let url: string | null = null
  let version: SpdyVersion | undefined
  let npn = false
  let alpn = false
  let openssl = false
  let plain = false
  let insecure = false
  let falseStart = true
  let cacert: string | null = null
  const headers: Record<string, string | string[]> = {}
  let method: string | null = null
  let data: string | null = null
  let include = false
  let verbose = false
  let timeout = 10_000
  let maxSize = DEFAULT_MAX_RESPONSE_BYTES
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    const value = (): string => {
      const v = args[++i]
      if (v === undefined) throw new UsageError(`${a} needs a value`)
      return v
    }
    switch (a) {
      case '--spdy': {
        const v = value()
        version = VERSIONS[v]
        if (version === undefined) throw new UsageError(`--spdy takes 2, 3 or 3.1, not ${v}`)
        break
      }
      case '--npn': npn = true; break
      case '--alpn': alpn = true; break
      case '--openssl': openssl = true; break
      case '--plain': plain = true; break
      case '--insecure': case '-k': insecure = true; break
      case '--no-false-start': falseStart = false; break
      case '--cacert': cacert = value(); break
      case '-H': case '--header': {
        const h = value()
        const at = h.indexOf(':')
        if (at <= 0) throw new UsageError(`-H takes 'name: value', not ${JSON.stringify(h)}`)
        const name = h.slice(0, at).trim().toLowerCase()
        const v = h.slice(at + 1).trim()
        const prev = headers[name]
        headers[name] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]
        break
      }
      case '-X': case '--request': method = value().toUpperCase(); break
      case '-d': case '--data': data = value(); break
      case '-i': case '--include': include = true; break
      case '-v': case '--verbose': verbose = true; break
      case '--timeout': {
        const v = value()
        timeout = Number(v)
        if (!/^\d+$/.test(v) || timeout <= 0) throw new UsageError(`--timeout takes a positive number of milliseconds, not ${v}`)
        break
      }
      case '--max-size': {
        const v = value()
        maxSize = Number(v)
        if (!/^\d+$/.test(v) || maxSize <= 0 || !Number.isSafeInteger(maxSize)) throw new UsageError(`--max-size takes a positive number of bytes, not ${v}`)
        break
      }
      default:
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`)
        if (url !== null) throw new UsageError(`one URL only (got ${url} and ${a})`)
        url = a
    }
  }
  if (url === null) throw new UsageError('missing <url>')
  let u: URL
  try { u = new URL(url) } catch { throw new UsageError(`not a URL: ${url}`) }
  if (!['https:', 'http:', 'spdy:'].includes(u.protocol)) throw new UsageError(`URL scheme must be https, spdy or http, not ${u.protocol.slice(0, -1)}`)
  const tls = !plain && u.protocol === 'https:'
  if (!tls && (npn || alpn || openssl)) throw new UsageError('--npn, --alpn and --openssl need TLS (an https:// URL without --plain)')
  if (openssl && npn) throw new UsageError("--openssl offers ALPN only: Node's TLS has no NPN")
  if (!tls && (insecure || cacert !== null || !falseStart)) throw new UsageError('--insecure, --cacert and --no-false-start need TLS (an https:// URL without --plain)')
  return {
    url: u,
    tls,
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port !== '' ? Number(u.port) : tls ? 443 : 80,
    version,
    negotiation: npn && !alpn ? 'npn' : alpn && !npn ? 'alpn' : 'both',
    tlsStack: openssl ? 'openssl' : 'engine',
    insecure,
    falseStart,
    cacert,
    headers,
    method: method ?? (data !== null ? 'POST' : 'GET'),
    data,
    include,
    verbose,
    timeout,
    maxSize
  }
}

export interface Io {
  stdout: (b: Uint8Array | string) => void
  stderr: (s: string) => void
}

function exitFor (err: unknown): number {
  if (err instanceof ClientConnectError) return EXIT.connect
  if (err instanceof ClientCertificateError) return EXIT.certificate
  if (err instanceof ClientTlsError) return EXIT.tls
  if (err instanceof ClientNoProtocolError) return EXIT.noProtocol
  if (err instanceof ClientProtocolError) return EXIT.protocol
  if (err instanceof ClientTimeoutError) return EXIT.timeout
  if (err instanceof ClientClosedError) return EXIT.closed
  if (err instanceof ClientResponseTooLargeError) return EXIT.tooLarge
  return EXIT.other
}

function printHead (io: Io, client: SpdyClient, res: SpdyResponse): void {
  let head = `SPDY/${client.version} ${res.status} ${STATUS_CODES[res.status] ?? ''}`.trimEnd() + '\n'
  for (const [name, value] of Object.entries(res.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\n`
  }
  io.stdout(head + '\n')
}

async function get (o: GetOptions, io: Io): Promise<number> {
  const deadline = Date.now() + o.timeout
  let ca = rootCertificates.join('\n')
  if (o.cacert !== null) {
    try { ca = readFileSync(o.cacert, 'utf8') } catch (err) { throw new UsageError(`cannot read --cacert ${o.cacert}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`) }
  }
  const client = await connect({
    host: o.host,
    port: o.port,
    tls: o.tls,
    servername: o.host,
    ca,
    insecure: o.insecure,
    falseStart: o.falseStart,
    negotiation: o.negotiation,
    tlsStack: o.tlsStack,
    version: o.version,
    timeout: o.timeout,
    maxResponseBytes: o.maxSize,
    onFrame: o.verbose ? (d, f) => { for (const line of describeFrame(d, f)) io.stderr(line + '\n') } : undefined,
    onConnect: o.verbose
      ? (c) => {
          io.stderr(`* connected to ${o.host}:${o.port}\n`)
          io.stderr(c.tls !== null
            ? `* ${c.tls.version} ${c.tls.cipher}, ${c.negotiatedBy === 'npn' ? 'NPN' : 'ALPN'} chose ${c.negotiated}${c.tls.falseStart === true ? ', False Start' : ''}\n`
            : `* plain SPDY (no TLS): speaking ${c.negotiated}\n`)
        }
      : undefined
  })
  try {
    const authority = o.url.port !== '' ? o.url.host : `${o.url.hostname}:${o.port}`
    const res = await client.request({
      method: o.method,
      path: o.url.pathname + o.url.search,
      authority,
      headers: { 'user-agent': USER_AGENT, ...o.headers },
      body: o.data ?? undefined,
      timeout: Math.max(1, deadline - Date.now())
    })
    if (o.include) printHead(io, client, res)
    io.stdout(res.body)
    for (const p of res.pushes) {
      io.stderr(`* pushed ${p.url} ${p.status} ${p.body.length} bytes${p.reset !== null ? ` (reset: ${p.reset})` : ''}\n`)
    }
    return EXIT.ok
  } finally {
    await client.close()
  }
}

/** Runs the CLI; resolves with the exit status (never throws, never calls process.exit). */
export async function run (argv: string[], io: Io): Promise<number> {
  const [cmd, ...rest] = argv
  if (cmd === '-h' || cmd === '--help' || cmd === 'help') { io.stdout(USAGE + '\n'); return EXIT.ok }
  if (rest.includes('-h') || rest.includes('--help')) { io.stdout(USAGE + '\n'); return EXIT.ok }
  let opts: GetOptions
  try {
    if (cmd !== 'get') throw new UsageError(cmd === undefined ? 'missing command' : `unknown command ${cmd}`)
    opts = parseGetArgs(rest)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    io.stderr(`fastify-spdy: ${err.message}\n\n${USAGE}\n`)
    return EXIT.usage
  }
  try {
    return await get(opts, io)
  } catch (err) {
    // The request's own timeout is what was left of --timeout: report the whole budget the user gave.
    const message = err instanceof ClientTimeoutError && err.phase === 'response'
      ? err.message.replace(/^timed out after \d+ ms/, `timed out after ${opts.timeout} ms`)
      : err instanceof Error ? err.message : String(err)
    io.stderr(`fastify-spdy: ${message}\n`)
    return err instanceof UsageError ? EXIT.usage : exitFor(err)
  }
}

/**
 * The exit status when writing our own output fails, as one would with `fastify-spdy get URL | head -c 10`: EPIPE
 * means the reader has what it wanted and left, which is not a failure (curl and coreutils exit quietly too, and a
 * shell pipeline with pipefail would otherwise fail); any other write error (EIO, ENOSPC, EBADF) is EXIT.output.
 * Either way there is nowhere left to say anything, so nothing more is written.
 */
export function exitForOutputError (err: NodeJS.ErrnoException): number {
  return err.code === 'EPIPE' ? EXIT.ok : EXIT.output
}

if (require.main === module) {
  // Without a listener, a write error on stdout/stderr is an unhandled 'error' event: a stack trace and status 1.
  // Leave at once: the connection and whatever was still to be printed are of no use to anyone now.
  const quit = (err: NodeJS.ErrnoException): never => process.exit(exitForOutputError(err))
  process.stdout.on('error', quit)
  process.stderr.on('error', quit)
  run(process.argv.slice(2), {
    stdout: (b) => { process.stdout.write(b) },
    stderr: (s) => { process.stderr.write(s) }
  }).then((code) => { process.exitCode = code }, (err: unknown) => {
    process.stderr.write(`fastify-spdy: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exitCode = EXIT.other
  })
}
