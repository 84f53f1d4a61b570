/**
 * Hands a SPDY stream to Fastify the way @fastify/websocket hands upgrades over: as a request/response pair given
 * to `fastify.routing(req, res)`, so it runs the app's routes, hooks, parsers, validation, serializers and error
 * handlers exactly as an HTTP request would, and streams both ways (fastify.inject would buffer whole responses).
 */
import type { EventEmitter } from 'node:events'
import type { FastifyInstance } from 'fastify'
import type { RequestHead } from '../session/headers'
import type { SpdyRequestInfo } from './listener'
import { SpdyIncomingMessage } from './request'
import { SpdyServerResponse } from './response'
import type { StreamSink } from './stream-sink'

type Routing = (req: SpdyIncomingMessage, res: SpdyServerResponse) => void

export function dispatch (fastify: FastifyInstance, head: RequestHead, info: SpdyRequestInfo, bodyFollows: boolean,
  socket: EventEmitter & Record<string, unknown>, sink: StreamSink): { req: SpdyIncomingMessage, res: SpdyServerResponse } {
  const headers = head.headers
  if (bodyFollows && headers['content-length'] === undefined) {
    // A SPDY body has no length unless the client says so. Fastify, like HTTP/1.1, only parses a body it was told
    // about: say "chunked", which here means "a body of unknown length follows" (SPDY has no chunked coding).
    headers['transfer-encoding'] = 'chunked'
  }
  const req = new SpdyIncomingMessage({ method: head.method, url: head.path, headers, socket, spdy: info })
  if (!bodyFollows) req.pushEnd()
  const res = new SpdyServerResponse(req, sink)
  ;(fastify.routing as unknown as Routing)(req, res)
  return { req, res }
}
