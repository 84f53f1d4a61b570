/**
 * The package's errors are @fastify/error classes (code, statusCode, the class's name, instanceof on the class,
 * its group, SpdyError, Error and @fastify/error's FastifyError), and each one is met where README "Errors" says
 * it surfaces: register() for option errors, the decoder's STREAM_ERROR/SESSION_ERROR events for protocol errors
 * (frames written by hand from the SPDY drafts, not by our encoder), the TLS engine's `error` event for TlsError.
 */
import t from 'tap'
import createError from '@fastify/error'
import Fastify from 'fastify'
import spdy, * as pkg from '../lib/index'
import * as client from '../lib/client'
import { FrameDecoder } from '../lib/codec'
import { TlsServerConnection } from '../lib/tls/server'
import { generateSelfSigned, loadCertificate } from '../lib/tls/certificates'

const { FastifyError } = createError

t.test('every exported error class is an @fastify/error class with a stable code', async (t) => {
  const made: Array<[Error & { code: string, statusCode?: number }, string, Array<abstract new (...a: never[]) => unknown>]> = [
    [new pkg.SpdyOptionsError('m'), 'FST_SPDY_INVALID_OPTION', [pkg.SpdyOptionsError]],
    [new pkg.SpdyAlreadyRegisteredError('m'), 'FST_SPDY_ALREADY_REGISTERED', [pkg.SpdyAlreadyRegisteredError]],
    [new pkg.ProtocolError(1, 'm'), 'FST_SPDY_STREAM_PROTOCOL_ERROR', [pkg.ProtocolError, pkg.SpdyStreamError]],
    [new pkg.UnsupportedVersionError(1, 'm'), 'FST_SPDY_STREAM_UNSUPPORTED_VERSION', [pkg.UnsupportedVersionError, pkg.SpdyStreamError]],
    [new pkg.FrameTooLargeError(1, 'm'), 'FST_SPDY_STREAM_FRAME_TOO_LARGE', [pkg.FrameTooLargeError, pkg.SpdyStreamError]],
    [new pkg.SessionProtocolError('m'), 'FST_SPDY_SESSION_PROTOCOL_ERROR', [pkg.SessionProtocolError, pkg.SpdySessionError]],
    [new pkg.TlsError(40, 'm'), 'FST_SPDY_TLS', [pkg.TlsError]],
    [new pkg.TlsError(40, 'm', 'FST_SPDY_TLS_PEER_ALERT'), 'FST_SPDY_TLS_PEER_ALERT', [pkg.TlsError]],
    [new client.ClientConnectError('m', 'ECONNREFUSED'), 'FST_SPDY_CLIENT_CONNECT', [client.ClientConnectError, client.SpdyClientError]],
    [new client.ClientCertificateError('m', 'bad_certificate'), 'FST_SPDY_CLIENT_CERTIFICATE', [client.ClientCertificateError, client.SpdyClientError]],
    [new client.ClientTlsError('m', 'handshake_failure', true), 'FST_SPDY_CLIENT_TLS', [client.ClientTlsError, client.SpdyClientError]],
    [new client.ClientNoProtocolError('m', null), 'FST_SPDY_CLIENT_NO_PROTOCOL', [client.ClientNoProtocolError, client.SpdyClientError]],
    [new client.ClientProtocolError('m', 'GOAWAY', 'PROTOCOL_ERROR'), 'FST_SPDY_CLIENT_PROTOCOL', [client.ClientProtocolError, client.SpdyClientError]],
    [new client.ClientTimeoutError('m', 'response'), 'FST_SPDY_CLIENT_TIMEOUT', [client.ClientTimeoutError, client.SpdyClientError]],
    [new client.ClientResponseTooLargeError('m', 10), 'FST_SPDY_CLIENT_RESPONSE_TOO_LARGE', [client.ClientResponseTooLargeError, client.SpdyClientError]],
    [new client.ClientClosedError('m'), 'FST_SPDY_CLIENT_CLOSED', [client.ClientClosedError, client.SpdyClientError]]
  ]
  for (const [err, code, classes] of made) {
    t.equal(err.code, code)
    t.equal(err.name, classes[0].name, `${code}: named after its class`)
    t.match(String(err), `${classes[0].name} [${code}]: m`, `${code}: @fastify/error's toString`)
    t.equal(err.statusCode, 500, `${code}: statusCode`)
    t.equal(err.message, 'm', `${code}: the message is the text given`)
    for (const C of [...classes, pkg.SpdyError, FastifyError, Error]) t.ok(err instanceof C, `${code} instanceof ${C.name}`)
    for (const C of classes) t.ok(Error.isPrototypeOf(C), `${code}: ${C.name} extends Error as a class does`)
    t.match(err.stack, /errors\.test\.ts/, `${code}: the stack starts where it was made`)
  }
  // instanceof does not leak between siblings or groups
  t.notOk(new pkg.ProtocolError(1, 'm') instanceof pkg.FrameTooLargeError)
  t.notOk(new pkg.ProtocolError(1, 'm') instanceof pkg.SpdySessionError)
  t.notOk(new pkg.SpdyOptionsError('m') instanceof client.SpdyClientError)
  t.equal(new pkg.SpdyOptionsError('100% of %s').message, '100% of %s', 'a message is not a format string')
  const e = new pkg.ProtocolError(7, 'm')
  t.same([e.streamId, e.status], [7, pkg.RstStatus.PROTOCOL_ERROR])
  t.equal(new pkg.FrameTooLargeError(1, 'm').status, pkg.RstStatus.FRAME_TOO_LARGE)
  t.equal(new pkg.UnsupportedVersionError(1, 'm').status, pkg.RstStatus.UNSUPPORTED_VERSION)
  t.equal(new pkg.SessionProtocolError('m').status, pkg.GoawayStatus.PROTOCOL_ERROR)
  t.equal(new pkg.TlsError(40, 'm').alert, 40)
})

t.test('the never-constructed classes are gone from the package', async (t) => {
  for (const name of ['InvalidStreamError', 'RefusedStreamError', 'CancelError', 'InternalStreamError', 'FlowControlError',
    'StreamInUseError', 'StreamAlreadyClosedError', 'SessionInternalError']) {
    t.notOk(name in pkg, `${name} is not exported`)
  }
  t.notOk('errorClass' in pkg, 'the class factory stays internal')
})

t.test('option errors surface at register', async (t) => {
  const err = await Fastify().register(spdy, { tls: false, port: -1 }).ready().then(() => null, (e: unknown) => e)
  t.ok(err instanceof pkg.SpdyOptionsError)
  t.match(err, { code: 'FST_SPDY_INVALID_OPTION', message: /options\.port must be an integer from 0 to 65535/ })
})

/** SPDY control frame header, SPDY/3 section 2.2.1: C bit, 15-bit version, 16-bit type, 8-bit flags, 24-bit length. */
const control = (version: number, type: number, flags: number, payload: number[]): Uint8Array =>
  Uint8Array.from([0x80 | (version >> 8), version & 0xff, type >> 8, type & 0xff, flags, payload.length >> 16, (payload.length >> 8) & 0xff, payload.length & 0xff, ...payload])
/** SPDY data frame header, section 2.2.2: 31-bit stream id, 8-bit flags, 24-bit length. */
const data = (streamId: number, flags: number, payload: number[]): Uint8Array =>
  Uint8Array.from([(streamId >> 24) & 0x7f, (streamId >> 16) & 0xff, (streamId >> 8) & 0xff, streamId & 0xff, flags, payload.length >> 16, (payload.length >> 8) & 0xff, payload.length & 0xff, ...payload])

t.test('protocol errors surface as decoder events, one class per wire answer', async (t) => {
  const events = (version: 2 | 3, bytes: Uint8Array, maxFrameLength?: number): unknown[] =>
    new FrameDecoder({ version, ...(maxFrameLength !== undefined ? { maxFrameLength } : {}) }).push(bytes).filter((e) => e.type.endsWith('_ERROR'))
  // DATA on stream 0: no stream can be blamed (section 2.2.2), the session is.
  t.match(events(3, data(0, 0, [])), [{ type: 'SESSION_ERROR', error: { code: 'FST_SPDY_SESSION_PROTOCOL_ERROR', status: 1 } }])
  t.ok((events(3, data(0, 0, [])) as Array<{ error: unknown }>)[0].error instanceof pkg.SessionProtocolError)
  // A DATA frame over maxFrameLength costs the stream, not the session.
  const big = events(3, data(1, 0, new Array(2000).fill(0)), 1024) as Array<{ type: string, error: unknown }>
  t.match(big, [{ type: 'STREAM_ERROR', error: { code: 'FST_SPDY_STREAM_FRAME_TOO_LARGE', streamId: 1 } }])
  t.ok(big[0].error instanceof pkg.FrameTooLargeError)
  // SPDY/2 FLAG_COMPRESS (0x02) on DATA (SPDY/2 section 2.2.2): unsupported here, reset as a protocol error.
  const compressed = events(2, data(1, 0x02, [1, 2, 3])) as Array<{ error: unknown }>
  t.match(compressed, [{ type: 'STREAM_ERROR', error: { code: 'FST_SPDY_STREAM_PROTOCOL_ERROR', streamId: 1 } }])
  t.ok(compressed[0].error instanceof pkg.ProtocolError)
  // A SYN_STREAM (type 1) of version 2 on a SPDY/3 session: stream id 3, associated 0, priority 0, no headers yet.
  const v2 = events(3, control(2, 1, 0, [0, 0, 0, 3, 0, 0, 0, 0, 0, 0])) as Array<{ error: unknown }>
  t.match(v2, [{ type: 'STREAM_ERROR', error: { code: 'FST_SPDY_STREAM_UNSUPPORTED_VERSION', streamId: 3 } }])
  t.ok(v2[0].error instanceof pkg.UnsupportedVersionError)
})

t.test('TLS errors surface as the engine\'s error event, with the alert', async (t) => {
  const { cert, key } = generateSelfSigned({ commonName: 'localhost' })
  const conn = new TlsServerConnection({ certificates: [loadCertificate({ cert, key })], protocols: ['spdy/3.1'] }, 0)
  // Record content type 0x63 is none of RFC 5246 section 6.2.1's (20-23): unexpected_message (10).
  const evs = conn.receive(Uint8Array.from([0x63, 3, 3, 0, 1, 0]), 0)
  const error = evs.find((e) => e.type === 'error')
  t.match(error, { type: 'error', error: { code: 'FST_SPDY_TLS', alert: 10 } })
  t.ok((error as { error: unknown }).error instanceof pkg.TlsError)
})
