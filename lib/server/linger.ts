/**
 * How a closing connection lingers (a leaf module: connection.ts and spdy-handler.ts both need it).
 *
 * After our FIN, how long the peer has to read what is left and close its side before the socket is destroyed.
 * Long enough for a peer on a slow link to take a final GOAWAY and a few frames; short enough that a peer that
 * never reads nor closes (a half-open flood) gives its slot back within seconds.
 */
export const CLOSE_LINGER_MS = 2000
