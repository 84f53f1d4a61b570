/**
 * Codec limits. The plugin's options (lib/options.ts) pass their own values; these are the codec's defaults when
 * it is used on its own, and they are the same numbers (see lib/options.ts for why each is what it is).
 */
import { LIMITS } from '../options'

export const DEFAULT_MAX_FRAME_LENGTH = LIMITS.maxFrameLength.default
export const DEFAULT_MAX_HEADER_BLOCK_BYTES = LIMITS.maxHeaderBlockBytes.default
export const DEFAULT_MAX_HEADER_PAIRS = LIMITS.maxHeaderPairs.default
