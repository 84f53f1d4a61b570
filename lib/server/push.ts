/**
 * Server push handle: the SPDY handler puts a push function on each SPDY request (under a symbol), the plugin's
 * `reply.push(path)` and the `config.spdy.push` route option call it.
 */
export const kPush = Symbol('fastify-spdy.push')

/** How one push may be called off once the app has produced the pushed response's status and headers. */
export interface PushOptions {
  /**
   * Called once with the pushed response's status and headers, before anything of the pushed stream is sent:
   * true abandons the push (no SYN_STREAM; the response runs to its end and is dropped) and the push resolves
   * false. Cache-aware push (lib/cache-aware-push.ts) skips what the browser already has by its ETag.
   */
  skip?: (status: number, headers: Readonly<Record<string, string | string[]>>) => boolean
}

/** Pushes `path` (absolute path, run as a GET through the app); resolves whether the pushed stream was opened. */
export type PushFunction = (path: string, opts?: PushOptions) => Promise<boolean>
