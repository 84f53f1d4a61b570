/**
 * Why a connection stops reading its socket (Connection.hold), a leaf module so the bridge and the connection share
 * the names without importing each other. Reading resumes only when no reason is left.
 */
/** The peer does not read what we owe it (lib/server/connection.ts, maxUnreadOutputBytes). */
export const HOLD_OUTPUT = 1
/** The app's HTTP/1.1 server has not taken what we decrypted for it (lib/server/http1-bridge.ts). */
export const HOLD_BRIDGE = 2
/** SPDY/2 (no flow control): a request body the app has not read fills its stream's window (SpdySession.bodyHeld). */
export const HOLD_BODY = 4
