/**
 * What a response needs from a SPDY stream. The session layer implements it (one small object per stream); tests
 * implement it with a recorder. Calls arrive in this order: respond once, then write* (the last one may carry fin),
 * then end() unless a respond/write already carried fin; or reset() at any point, after which nothing else comes.
 */
export interface StreamSink {
  /**
   * SYN_REPLY: status and headers, as the app set them. Names are lowercased, values strings, repeated values
   * (set-cookie) as arrays. The sink makes the frame's header list with lib/session/headers.ts (responseHeaderList,
   * pushHeaderList), which NUL-joins repeated values (SPDY/3 section 2.6.10) and drops the connection-specific
   * headers (connection, keep-alive, transfer-encoding, proxy-connection, upgrade) that HTTP/1.1 code such as
   * Fastify's may set. fin: the response has no body (HEAD, 204, 304, or end() without data), so SYN_REPLY carries
   * FLAG_FIN.
   */
  respond (status: number, headers: Record<string, string | string[]>, fin: boolean): void
  /**
   * Queues a DATA payload (the sink frames it; the chunk is not copied by us and must not be kept mutable by the
   * sink beyond the write). fin: this is the last chunk (DATA with FLAG_FIN). Returns false once the stream's queue
   * is over its high-water mark: the response then waits for onDrain before writing more.
   */
  write (chunk: Uint8Array, fin: boolean): boolean
  /** FIN after what was written (an empty DATA frame with FLAG_FIN), when no write carried fin. */
  end (): void
  /**
   * RST_STREAM. INTERNAL_ERROR: the app destroyed the response before its end (a truncated body must not look
   * complete). CANCEL: the response is complete but the request body is not and nobody will read it, so the peer
   * can stop sending (SPDY has no NO_ERROR status for this). PROTOCOL_ERROR: the request's DATA broke its
   * content-length.
   */
  reset (status: 'CANCEL' | 'INTERNAL_ERROR' | 'PROTOCOL_ERROR'): void
  /** Calls cb once, when the stream can take more after write() returned false. */
  onDrain (cb: () => void): void
  /** The response was destroyed (after its end, a reset, or a failure): nothing more will be called. Optional. */
  closed?: () => void
}
