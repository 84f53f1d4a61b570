/**
 * SpdyAgent: one SPDY connection at a time to one origin, replaced when the server sends GOAWAY (a restart, a
 * drain) or the connection fails. Requests the server never processed (streams above GOAWAY's
 * last-good-stream-id, SPDY/3 section 2.6.6; RST_STREAM REFUSED_STREAM, section 2.4.2) are sent again on the new
 * connection when their method is idempotent (RFC 9110 section 9.2.2); others fail with
 * ClientProtocolError `unprocessed: true`, for the caller to decide.
 *
 *   const agent = new SpdyAgent({ host, port, tls: true, ca })
 *   const res = await agent.request({ path: '/' })
 *   await agent.close()
 */
import { connect, type ConnectOptions, type RequestOptions, type SpdyClient, type SpdyResponse } from './client'
import { ClientClosedError, ClientConnectError, ClientProtocolError, ClientTimeoutError } from './errors'

/** RFC 9110 section 9.2.2: methods whose repetition has the effect of one. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE'])

export interface AgentOptions extends ConnectOptions {
  /** Times one request may be sent again after the server left it unprocessed (default 3). */
  maxRetries?: number
  /**
   * Times a new connection is tried when connecting fails (refused, closed during the handshake, timed out) before
   * the request fails (default 3), with a pause of 50 ms times the attempt between tries.
   */
  maxConnectAttempts?: number
}

export class SpdyAgent {
  /** Requests sent again on a new connection after the server left them unprocessed. */
  retried = 0
  /** Connections opened (the first one included). */
  connections = 0
  private current: Promise<SpdyClient> | null = null
  /** Every connection not yet closed: old ones finish the streams the server did process, then close. */
  private readonly open = new Set<SpdyClient>()
  private closed = false

  constructor (readonly options: AgentOptions) {}

  /** Like SpdyClient.request, on the current connection; unprocessed idempotent requests are retried on a new one. */
  async request (r: RequestOptions): Promise<SpdyResponse> {
    const maxRetries = this.options.maxRetries ?? 3
    const idempotent = IDEMPOTENT.has((r.method ?? 'GET').toUpperCase())
    for (let attempt = 0; ; attempt++) {
      const client = await this.connection()
      try {
        return await client.request(r)
      } catch (err) {
        if (!(err instanceof ClientProtocolError && err.unprocessed) || !idempotent || attempt >= maxRetries || this.closed) throw err
        this.retried++
      }
    }
  }

  /** Closes every connection (GOAWAY, then the socket) and refuses new requests. */
  async close (): Promise<void> {
    this.closed = true
    this.current = null
    await Promise.all([...this.open].map(async (c) => await c.close()))
  }

  /** The current connection, or a new one when there is none or the current one is going away. */
  private async connection (): Promise<SpdyClient> {
    for (;;) {
      if (this.closed) throw new ClientClosedError('the agent is closed')
      if (this.current === null) {
        const dialing = this.dial()
        this.current = dialing
        // A failed dial is not kept: the next request dials again.
        dialing.catch(() => { if (this.current === dialing) this.current = null })
      }
      const p = this.current
      const c = await p
      if (!c.goingAway) return c
      if (this.current === p) this.current = null
    }
  }

  private async dial (): Promise<SpdyClient> {
    const attempts = this.options.maxConnectAttempts ?? 3
    for (let i = 1; ; i++) {
      try {
        const client = await connect(this.options)
        this.connections++
        this.open.add(client)
        void client.closed.then(() => this.open.delete(client))
        return client
      } catch (err) {
        // A balancer can take the TCP connection and then lose its server (restarting): that is worth another try,
        // a certificate or protocol mismatch is not.
        const transient = err instanceof ClientConnectError || err instanceof ClientClosedError || err instanceof ClientTimeoutError
        if (!transient || i >= attempts || this.closed) throw err
        await new Promise((resolve) => setTimeout(resolve, 50 * i))
      }
    }
  }
}
