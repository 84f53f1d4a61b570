/**
 * Hands a SPDY stream to Fastify the way @fastify/websocket hands upgrades over: as a request/response pair given
 * to `fastify.routing(req, res)`, so it runs the app's routes, hooks, parsers, validation, serializers and error
 * handlers exactly as an HTTP request would, and streams both ways (fastify.inject would buffer whole responses
 * and costs about twice as much per request: bench/dispatch.ts).
 *
 * Session layer contract, per stream:
 *   const { req, res } = dispatch(fastify, head, sink)   // on SYN_STREAM (head.fin = its FLAG_FIN)
 *   req.onConsumed = (n) => grant n bytes of window      // only needed when a body follows
 *   req.pushData(chunk) per DATA payload, req.pushEnd() on FIN
 *   req.abort() on RST_STREAM from the peer or when the session dies (also closes the response)
 *   the sink's onDrain callback when the stream's queue has room again
 *   res 'close' = the stream is done with (finished, reset or destroyed): forget it
 */
import type { FastifyInstance } from 'fastify'
import { SpdyIncomingMessage, type SpdyRequestInit } from './request'
import { SpdyServerResponse } from './response'
import type { StreamSink } from './stream-sink'

/** A SYN_STREAM's request head (lib/session/headers.ts requestHead), its stream and the connection it came on. */
export interface SpdyStreamHead extends SpdyRequestInit {
  /** SYN_STREAM carried FLAG_FIN: no body follows. Omitted = a body may follow (pushData/pushEnd will come). */
  fin?: boolean
  /**
   * Called with the pair before Fastify sees it: a route without async hooks runs inside routing(), so whatever
   * it may use (flow-control callback, the push function) must be attached first.
   */
  prepare?: (req: SpdyIncomingMessage, res: SpdyServerResponse) => void
}

export interface Dispatched { req: SpdyIncomingMessage, res: SpdyServerResponse }

type Routing = (req: SpdyIncomingMessage, res: SpdyServerResponse) => void

export function dispatch (fastify: FastifyInstance, stream: SpdyStreamHead, sink: StreamSink): Dispatched {
  const headers = stream.head.headers
  const fin = stream.fin === true
  if (!fin && headers['content-length'] === undefined) {
    // A SPDY body has no length unless the client says so, and Fastify (like HTTP/1.1) parses only a body it was
    // told about: say "chunked", which here means "a body of unknown length follows" (SPDY has no chunked coding).
    headers['transfer-encoding'] = 'chunked'
  }
  const req = new SpdyIncomingMessage(stream)
  const res = new SpdyServerResponse(req, sink)
  stream.prepare?.(req, res)
  // A SYN_STREAM with FIN and a content-length above 0 is already malformed: reset before the app runs.
  if (fin) req.pushEnd()
  if (!req.destroyed) (fastify.routing as unknown as Routing)(req, res)
  return { req, res }
}
