/**
 * How a closing connection lingers (a leaf module: driver.ts and spdy-handler.ts both need it). One value for every
 * socket loop: the server, the client, the test harnesses and the load generators all close through the driver.
 *
 * After our FIN, how long the peer has to read what is left and close its side before the socket is destroyed.
 * Long enough for a peer on a slow link to take a final GOAWAY and a few frames; short enough that a peer that
 * never reads nor closes (a half-open flood) gives its slot back within seconds.
 */
export const CLOSE_LINGER_MS = 2000

/**
 * Bytes a closing connection reads and drops after our FIN before it gives up on the peer and destroys the socket.
 * Reading on lets the peer's own FIN be seen (a clean close), as nginx's lingering close does for a bounded time; a
 * peer that keeps flooding after we closed (a PING flood told GOAWAY, say) is not closing, and at loopback speed
 * could push hundreds of MB through the linger time. 64 KiB covers what a real client has in flight when our
 * GOAWAY reaches it.
 */
export const LINGER_DISCARD_BYTES = 64 * 1024
