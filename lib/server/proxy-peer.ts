/**
 * The PROXY protocol header each connection came with (read by proxy-stage.ts), and what the sockets handed to the
 * app's HTTP server are made to show of it. A module of its own so that every layer that hands a socket over
 * (connection.ts, tls-select.ts) can use it without importing the stage, which imports them.
 */
import type { ProxyHeader } from './proxy-protocol'

/** By connection (any object standing for one): the header it came with. */
const headers = new WeakMap<object, ProxyHeader>()

export function rememberProxyHeader (conn: object, header: ProxyHeader): void {
  headers.set(conn, header)
}

/** The header a connection came with (null: none, or not read yet). */
export function proxyHeaderOf (conn: object): ProxyHeader | null {
  return headers.get(conn) ?? null
}

/**
 * A socket handed to the app's HTTP server (a plain net.Socket, or OpenSSL's TLS socket) is what Node and Fastify read
 * addresses from: show them the client's, and `encrypted` when the client spoke TLS to the balancer.
 */
export function presentPeer (conn: object, socket: object): void {
  const h = headers.get(conn)
  if (h === undefined) return
  if (h.source !== null) {
    Object.defineProperty(socket, 'remoteAddress', { value: h.source.address, configurable: true })
    Object.defineProperty(socket, 'remotePort', { value: h.source.port, configurable: true })
    Object.defineProperty(socket, 'remoteFamily', { value: h.family, configurable: true })
  }
  if (h.ssl !== null || h.alpn !== null) Object.defineProperty(socket, 'encrypted', { value: true, configurable: true })
}
