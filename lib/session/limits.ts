/**
 * Session limits. The plugin passes its validated options (lib/options.ts, where each number's reason is given);
 * these defaults apply when the engine is used on its own (tests, the benchmark client, the CLI).
 */
import { LIMITS, type SpdyLimits } from '../limits'
import { PROCESS_BUDGET, type SharedBudget } from './shared'

export interface SessionLimits {
  maxConcurrentStreams: number
  initialWindowSize: number
  maxFrameLength: number
  maxHeaderBlockBytes: number
  maxHeaderPairs: number
  maxOutstandingPings: number
  maxSettingsPerWindow: number
  maxResetsPerWindow: number
  maxInvalidFrames: number
  maxSessionBufferedBytes: number
  maxQueuedControlFrames: number
  maxInflatedHeaderBytesPerWindow: number
  maxHeadersFramesPerStream: number
  maxSessionHeaderBytes: number
  /** Checked against SessionOptions.shared, when given. */
  maxProcessHeaderBytes: number
  /** Checked against SessionOptions.shared, when given. */
  maxProcessResetsPerSecond: number
  maxWorklessFramesPerWindow: number
  maxHeaderRefusalsPerWindow: number
  idleTimeout: number
  streamWindowTimeout: number
  requestBodyTimeout: number
  /**
   * Outbound bytes queued on one stream before write() asks the producer to wait: one window's worth keeps a
   * stream busy between two WINDOW_UPDATEs without holding a whole response in memory.
   */
  streamHighWaterMark: number
  /**
   * SPDY/3.1 session receive window (all streams together). It starts at 64 KiB on the wire (SPDY/3.1 section
   * 2.6.8), which would let one connection carry only 64 KiB per round trip however many streams it has; we open it
   * to this with a WINDOW_UPDATE on stream 0 right after SETTINGS. 1 MiB is what spdy-transport and Chrome's early
   * 3.1 builds used: enough for a fast LAN, and what we may buffer for a peer is still bounded by the per-stream
   * windows. Sending that update at once also tells a peer that guesses 3 vs 3.1 from the first stream-0
   * WINDOW_UPDATE (spdy-transport does) that this is 3.1 before any DATA flows.
   */
  sessionWindowSize: number
}

/** The window over which SETTINGS and reset rates are counted. */
export const RATE_WINDOW_MS = 10_000

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  maxConcurrentStreams: LIMITS.maxConcurrentStreams.default,
  initialWindowSize: LIMITS.initialWindowSize.default,
  maxFrameLength: LIMITS.maxFrameLength.default,
  maxHeaderBlockBytes: LIMITS.maxHeaderBlockBytes.default,
  maxHeaderPairs: LIMITS.maxHeaderPairs.default,
  maxOutstandingPings: LIMITS.maxOutstandingPings.default,
  maxSettingsPerWindow: LIMITS.maxSettingsPerWindow.default,
  maxResetsPerWindow: LIMITS.maxResetsPerWindow.default,
  maxInvalidFrames: LIMITS.maxInvalidFrames.default,
  maxSessionBufferedBytes: LIMITS.maxSessionBufferedBytes.default,
  maxQueuedControlFrames: LIMITS.maxQueuedControlFrames.default,
  maxInflatedHeaderBytesPerWindow: LIMITS.maxInflatedHeaderBytesPerWindow.default,
  maxHeadersFramesPerStream: LIMITS.maxHeadersFramesPerStream.default,
  maxSessionHeaderBytes: LIMITS.maxSessionHeaderBytes.default,
  maxProcessHeaderBytes: LIMITS.maxProcessHeaderBytes.default,
  maxProcessResetsPerSecond: LIMITS.maxProcessResetsPerSecond.default,
  maxWorklessFramesPerWindow: LIMITS.maxWorklessFramesPerWindow.default,
  maxHeaderRefusalsPerWindow: LIMITS.maxHeaderRefusalsPerWindow.default,
  idleTimeout: LIMITS.idleTimeout.default,
  streamWindowTimeout: LIMITS.streamWindowTimeout.default,
  requestBodyTimeout: LIMITS.requestBodyTimeout.default,
  streamHighWaterMark: 64 * 1024,
  sessionWindowSize: 1 << 20
}

/** The session limits added for issue 11, picked from the plugin's resolved options (lib/server/spdy-handler.ts). */
const GUARDS = ['maxQueuedControlFrames', 'maxInflatedHeaderBytesPerWindow', 'maxHeadersFramesPerStream', 'maxSessionHeaderBytes', 'maxProcessHeaderBytes', 'maxProcessResetsPerSecond',
  'streamWindowTimeout', 'requestBodyTimeout', 'maxWorklessFramesPerWindow', 'maxHeaderRefusalsPerWindow'] as const

/** The issue-11 session limits out of the plugin's options, and the process's shared budget, for SpdySession. */
export function sessionGuards (o: Required<SpdyLimits>): Pick<SessionLimits, typeof GUARDS[number]> & { shared: SharedBudget } {
  const out = { shared: PROCESS_BUDGET } as Pick<SessionLimits, typeof GUARDS[number]> & { shared: SharedBudget }
  for (const k of GUARDS) out[k] = o[k]
  return out
}
