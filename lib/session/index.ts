export { SpdySession, type SessionOptions, type SessionEvent } from './session'
export { DEFAULT_SESSION_LIMITS, RATE_WINDOW_MS, type SessionLimits } from './limits'
export { TABLE, STATES, INPUTS, transition, type StreamState, type StreamInput, type Transition } from './state'
export * from './headers'
