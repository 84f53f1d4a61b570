/**
 * The onSend hook that advertises the SPDY listener on plain HTTP responses.
 *
 * `Alternate-Protocol: PORT:TOKEN` is what SPDY-era Chrome read to switch to SPDY on another port (it was never an
 * RFC; the Chromium "Alternate-Protocol" design doc defines `port:protocol`, e.g. `443:npn-spdy/3`). Its successor
 * `Alt-Svc` (RFC 7838) is optional here. Both follow the port actually bound, so port 0 works.
 */
import type { FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify'

export interface AlternateProtocolSettings {
  /** The token after `PORT:`, e.g. `spdy/v2` (default) or `npn-spdy/3`. */
  protocol: string
  /** Also emit `Alt-Svc: <protocolId>=":PORT"; ma=<maxAge>`; false to leave it out. */
  altSvc: false | { protocolId: string; maxAge: number }
}

/** RFC 7838 section 3: a protocol-id is an ALPN id with characters outside tchar percent-encoded ('/' among them). */
export function altSvcProtocolId (alpnId: string): string {
  return alpnId.replace(/[^!#$&'*+\-.^_`|~0-9A-Za-z]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))
}

interface RouteSpdyConfig { spdy?: { alternateProtocol?: boolean } }

/**
 * Builds the hook. `getPort` returns the bound SPDY port, or null while the listener is not bound (then nothing is
 * advertised: pointing clients at a closed port would cost them a failed connection).
 */
export function alternateProtocolHook (getPort: () => number | null, settings: AlternateProtocolSettings): onSendHookHandler {
  let cachedPort = -1
  let altProto = ''
  let altSvc = ''
  return function alternateProtocolOnSend (request: FastifyRequest, reply: FastifyReply, payload: unknown, done) {
    // Only plain HTTP responses advertise: a SPDY response already is what is being advertised.
    if ((request.raw as { spdy?: unknown }).spdy != null) return done(null, payload)
    const port = getPort()
    if (port === null) return done(null, payload)
    const config = reply.routeOptions.config as RouteSpdyConfig | undefined
    if (config?.spdy?.alternateProtocol === false) return done(null, payload)
    if (port !== cachedPort) {
      // The values depend on the port only: build the strings once per bound port, not per response.
      cachedPort = port
      altProto = `${port}:${settings.protocol}`
      altSvc = settings.altSvc === false ? '' : `${settings.altSvc.protocolId}=":${port}"; ma=${settings.altSvc.maxAge}`
    }
    // A header the route set itself wins.
    if (!reply.hasHeader('alternate-protocol')) reply.header('alternate-protocol', altProto)
    if (altSvc !== '' && !reply.hasHeader('alt-svc')) reply.header('alt-svc', altSvc)
    done(null, payload)
  }
}
