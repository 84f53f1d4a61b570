/**
 * Codec limits. The plugin's options (lib/options.ts) pass their own values; these are the codec's defaults when
 * it is used on its own, and they are the same numbers (lib/options.ts LIMITS is the one source).
 */
import { LIMITS } from '../limits'

/**
 * 1 MiB of payload: above any DATA frame real peers send (Chrome and spdy-transport write 4-16 KB) and any real
 * header block, far below the 16 MiB the 24-bit length allows, so one frame header cannot make us buffer 16 MiB.
 */
export const DEFAULT_MAX_FRAME_LENGTH = LIMITS.maxFrameLength.default
/**
 * 64 KiB decompressed: 4x Node's HTTP/1.1 16 KiB header limit (room for big cookies); it is also the most one
 * compressed block may inflate to, which caps a zlib bomb (deflate reaches ~1000:1).
 */
export const DEFAULT_MAX_HEADER_BLOCK_BYTES = LIMITS.maxHeaderBlockBytes.default
/** 128 pairs: Node's http2 maxHeaderListPairs default; browsers send 10-20. */
export const DEFAULT_MAX_HEADER_PAIRS = LIMITS.maxHeaderPairs.default
