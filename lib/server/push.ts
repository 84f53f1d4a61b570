/**
 * Server push handle: the SPDY handler puts a push function on each SPDY request (under a symbol), the plugin's
 * `reply.push(path)` and the `config.spdy.push` route option call it.
 */
export const kPush = Symbol('fastify-spdy.push')

/** Pushes `path` (absolute path, run as a GET through the app); resolves whether the pushed stream was opened. */
export type PushFunction = (path: string) => Promise<boolean>
