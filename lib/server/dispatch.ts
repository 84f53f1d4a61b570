/**
 * The Fastify bridge: hands a SPDY stream to Fastify the way @fastify/websocket hands upgrades over, as a
 * request/response pair given to `fastify.routing(req, res)`, so it runs the app's routes, hooks, parsers,
 * validation, serializers and error handlers exactly as an HTTP request would, and streams both ways
 * (fastify.inject would buffer whole responses and costs about twice as much per request: bench/dispatch.ts).
 *
 * It takes a finished, plain request head (lib/server/contracts.ts StreamHead) and a sink, and knows nothing of
 * its caller. Per stream:
 *   const { req, res } = exchange(head, sink)   // on SYN_STREAM
 *   ...the caller wires them to its stream: req.onConsumed = (n) => grant n bytes of window (only when a body
 *      follows), timers, the push function; a route without async hooks runs inside routing(), so whatever it may
 *      use must be attached before:
 *   route(fastify, req, res, head.fin)          // the app runs from here (dispatch() = exchange + route)
 *   req.pushData(chunk) per DATA payload, req.pushEnd() on FIN
 *   req.abort() on RST_STREAM from the peer or when the session dies (also closes the response)
 *   the sink's onDrain callback when the stream's queue has room again
 *   res 'close' = the stream is done with (finished, reset or destroyed): forget it
 */
import type { FastifyInstance } from 'fastify'
import { SpdyIncomingMessage } from './request'
import { SpdyServerResponse } from './response'
import type { StreamHead, StreamSink } from './contracts'

export interface Dispatched { req: SpdyIncomingMessage, res: SpdyServerResponse }

type Routing = (req: SpdyIncomingMessage, res: SpdyServerResponse) => void

/** The request/response pair of a stream, not routed yet. */
export function exchange (head: StreamHead, sink: StreamSink): Dispatched {
  const headers = head.head.headers
  if (!head.fin && headers['content-length'] === undefined) {
    // A SPDY body has no length unless the client says so, and Fastify (like HTTP/1.1) parses only a body it was
    // told about: say "chunked", which here means "a body of unknown length follows" (SPDY has no chunked coding).
    // A note to Fastify, not the peer's header: requestHead (lib/session/headers.ts) refuses a request carrying
    // connection-specific headers, so this cannot meet one from the peer.
    headers['transfer-encoding'] = 'chunked'
  }
  const req = new SpdyIncomingMessage(head)
  return { req, res: new SpdyServerResponse(req, sink) }
}

/** Runs the pair through the app's routing. `fin`: the head was the whole request (SYN_STREAM FLAG_FIN). */
export function route (fastify: FastifyInstance, req: SpdyIncomingMessage, res: SpdyServerResponse, fin: boolean): void {
  // A SYN_STREAM with FIN and a content-length above 0 is already malformed: reset before the app runs.
  if (fin) req.pushEnd()
  if (!req.destroyed) (fastify.routing as unknown as Routing)(req, res)
}

/** exchange() then route(), for a caller with nothing to wire before the app runs. */
export function dispatch (fastify: FastifyInstance, head: StreamHead, sink: StreamSink): Dispatched {
  const d = exchange(head, sink)
  route(fastify, d.req, d.res, head.fin)
  return d
}
