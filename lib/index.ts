/**
 * fastify-spdy: wiring only. Options are validated in ./options, the listener lives in ./server, the advertising
 * hook in ./alternate-protocol.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyListenOptions, FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify'
import { kPush, type PushFunction } from './server/push'
import { pushesStarted, pushUnlessCached, setPushCookie, type CacheAwarePushSettings } from './cache-aware-push'
import { resolveOptions, splitRegisterOptions, type FastifySpdyOptions } from './options'
import { SpdyAlreadyRegisteredError } from './errors'
import { alternateProtocolHook } from './alternate-protocol'
import { SpdyListener, type SpdyListenerInfo, type SpdyRequestInfo } from './server/listener'

export type { FastifySpdyOptions, SpdyProtocol, SpdyTlsOptions, SpdyLimits, AlternateProtocolOptions, CacheAwarePushOptions } from './options'
export type { SpdyListenerInfo, SpdyRequestInfo, SpdySessionStats } from './server/listener'
export {
  SpdyError, SpdyOptionsError, SpdyAlreadyRegisteredError, SpdyStreamError, SpdySessionError, ProtocolError,
  UnsupportedVersionError, FrameTooLargeError, SessionProtocolError, TlsError, RstStatus, GoawayStatus, rstStatusName,
  goawayStatusName, type RstStatusCode, type GoawayStatusCode
} from './errors'
export { LIMITS } from './options'
/** Makes a self-signed certificate (PEM cert and key) for development, e.g. `{ commonName: 'localhost' }`. */
export { generateSelfSigned } from './tls/certificates'

declare module 'fastify' {
  interface FastifyInstance {
    /** The SPDY listener: bound address/port (null until `listen()`), per-session stats, the net.Server. */
    spdy: SpdyListenerInfo
  }
  interface FastifyRequest {
    /** `{ version, streamId, priority }` when the request came over SPDY, null over plain HTTP. */
    readonly spdy: SpdyRequestInfo | null
  }
  interface FastifyReply {
    /**
     * Pushes `path` (an absolute path on this app, run as a GET through it) on a SPDY stream associated to this
     * request. Resolves true when the pushed stream was opened; false over plain HTTP, past maxPushesPerRequest,
     * when the client cannot take it, or (option cacheAwarePush) when the browser's cookie says it has it.
     */
    push (path: string): Promise<boolean>
  }
  interface FastifyContextConfig {
    spdy?: {
      /** false: this route's plain HTTP responses carry no Alternate-Protocol header. */
      alternateProtocol?: boolean
      /** Paths to push with this route's response when it is requested over SPDY (run through the app itself). */
      push?: string[]
    }
  }
}

type ListenCallback = (err: Error | null, address: string) => void
type Listen = (this: FastifyInstance, opts?: FastifyListenOptions, cb?: ListenCallback) => Promise<string> | undefined

/** The apps this plugin is registered on, by the instance that owns their `listen` (the root). */
const registered = new WeakSet<object>()

async function fastifySpdy (fastify: FastifyInstance, rawOptions: FastifySpdyOptions): Promise<void> {
  const { pluginOptions, registerOptions } = splitRegisterOptions(rawOptions)
  const options = resolveOptions(pluginOptions)
  // Registered in a child context, `fastify` is that context: an object whose prototype chain leads to the root,
  // which owns `listen` (lib/plugin-override.js in Fastify builds children with Object.create). The app calls the
  // root's listen, so that is the one the listener must follow, wherever the plugin was registered.
  const root = ownerOf(fastify, 'listen')
  if (registered.has(root)) {
    throw new SpdyAlreadyRegisteredError('fastify-spdy: already registered on this app; one app has one SPDY listener ' +
      '(register it once, in the context whose routes should advertise it)')
  }
  registered.add(root)

  // fastify-plugin skips Fastify's encapsulation, and with it what `logLevel`/`logSerializers` do for every other
  // plugin, so the plugin applies them to its own logger. Routing and the server are the app's, shared by every
  // context: a SPDY stream runs through the root's routing whatever context registered the plugin.
  const childOptions: { level?: string, serializers?: Record<string, (value: unknown) => string> } = {}
  if (registerOptions.logLevel !== undefined) childOptions.level = registerOptions.logLevel
  if (registerOptions.logSerializers !== undefined) childOptions.serializers = registerOptions.logSerializers
  const log = Object.keys(childOptions).length > 0 ? fastify.log.child({}, childOptions) : fastify.log
  const app = Object.create(fastify, { log: { value: log } }) as FastifyInstance
  const listener = new SpdyListener(app, options)

  fastify.decorate('spdy', listener.info)
  fastify.decorateRequest('spdy', {
    getter (this: FastifyRequest): SpdyRequestInfo | null {
      return (this.raw as { spdy?: SpdyRequestInfo }).spdy ?? null
    }
  })

  const casper: CacheAwarePushSettings | null = options.cacheAwarePush === false
    ? null
    : { ...options.cacheAwarePush, maxCookieBytes: options.maxPushCookieBytes, secure: options.tls !== false }
  fastify.decorateReply('push', function (this: FastifyReply, path: string): Promise<boolean> {
    const fn = (this.request.raw as unknown as Record<symbol, PushFunction | undefined>)[kPush]
    if (fn === undefined) return Promise.resolve(false)
    return casper === null ? fn(path) : pushUnlessCached(this.request, fn, path, casper)
  })
  fastify.addHook('onSend', pushOnSend(casper))

  // Added on the registering context: Alternate-Protocol follows a hook's encapsulation (that context and its
  // children), while the listener serves the whole app.
  if (options.alternateProtocol !== false) {
    fastify.addHook('onSend', alternateProtocolHook(() => listener.port, options.alternateProtocol))
  }

  // The SPDY listener binds when the app listens, before listen() resolves, so the port is known to the first
  // response and a bind failure (EADDRINUSE) rejects listen() instead of vanishing into a log line, which is what
  // an onListen hook would do with it (fastify 5 only logs onListen errors).
  const listen = (root as { listen: Listen }).listen
  const wrapped: Listen = function (this: FastifyInstance, opts?: FastifyListenOptions, cb?: ListenCallback) {
    const host = options.host ?? listenHost(opts)
    if (typeof cb === 'function') {
      listen.call(this, opts, (err, address) => {
        if (err !== null) return cb(err, address)
        listener.listen(host, options.port).then(() => cb(null, address), (e: Error) => cb(e, address))
      })
      return undefined
    }
    return (listen.call(this, opts) as Promise<string>).then(async (address) => {
      await listener.listen(host, options.port)
      return address
    })
  }
  ;(root as { listen: Listen }).listen = wrapped

  // preClose runs while routes still serve in-flight requests: GOAWAY every session, let streams finish within
  // gracefulTimeout, then close what is left, so no handle outlives fastify.close(). Fastify runs a child context's
  // preClose hooks too.
  fastify.addHook('preClose', async () => { await listener.close() })
}

/** The object on `obj`'s prototype chain that holds `key` itself. */
function ownerOf (obj: object, key: string): object {
  let o: object | null = obj
  while (o !== null && !Object.hasOwn(o, key)) o = Object.getPrototypeOf(o) as object | null
  return o ?? obj
}

/**
 * `config: { spdy: { push: [...] } }`: the listed paths are pushed before the page's response is sent, so their
 * SYN_STREAMs precede the page's data and the client never asks for them (SPDY/3 section 3.3.1). With cache-aware
 * push, what the browser's cookie names is skipped, and the page's response carries the updated cookie.
 */
function pushOnSend (casper: CacheAwarePushSettings | null): onSendHookHandler {
  return function (request, reply, payload, done) {
    const list = (reply.routeOptions.config as { spdy?: { push?: string[] } } | undefined)?.spdy?.push ?? []
    const fn = (request.raw as unknown as Record<symbol, PushFunction | undefined>)[kPush]
    if (fn === undefined) { done(null, payload); return }
    if (casper === null) {
      if (list.length === 0) { done(null, payload); return }
      Promise.all(list.map((path) => fn(path))).then(() => done(null, payload), (err: Error) => done(err))
      return
    }
    for (const path of list) void pushUnlessCached(request, fn, path, casper)
    // A response that pushed nothing (most of them: assets, API calls) goes on at once; only a page that pushes
    // waits, for its pushes' skip decisions, to write the cookie.
    if (!pushesStarted(request)) { done(null, payload); return }
    setPushCookie(request, reply, casper).then(() => done(null, payload), (err: Error) => done(err))
  }
}

function listenHost (opts: FastifyListenOptions | undefined): string {
  const host = opts?.host
  // Fastify's default 'localhost' binds both loopbacks; one is enough for the second listener.
  if (host === undefined || host === null || host === 'localhost') return '127.0.0.1'
  return host
}

const plugin = fp(fastifySpdy, { name: 'fastify-spdy', fastify: '5.x' })
export default plugin
export { plugin as fastifySpdy }
