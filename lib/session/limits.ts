/**
 * Session limits. The plugin passes its validated options (lib/options.ts, where each number's reason is given);
 * these defaults apply when the engine is used on its own (tests, the benchmark client, the CLI).
 */
import { LIMITS } from '../options'

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
  idleTimeout: number
  /**
   * Outbound bytes queued on one stream before write() asks the producer to wait: one window's worth keeps a
   * stream busy between two WINDOW_UPDATEs without holding a whole response in memory.
   */
  streamHighWaterMark: number
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
  idleTimeout: LIMITS.idleTimeout.default,
  streamHighWaterMark: 64 * 1024
}
