/**
 * The optional record-layer accelerator (native/aead.c, built by `npm install` through node-gyp when a C compiler
 * is present). node:crypto cannot re-nonce a cipher object, so sealing a TLS 1.2 AEAD record (fresh nonce per record,
 * RFC 5288 section 3, RFC 7905 section 2) through it costs a new cipher object and three allocations per record:
 * bench/tls.ts measured that at 0.89 of the CPU Node's native TLS server spends per MB in total. The addon keeps one
 * OpenSSL context per direction and writes into buffers we own. Without it every record goes through node:crypto,
 * byte for byte the same (test/tls/native-aead.test.ts): the addon changes speed, never the wire.
 *
 * FASTIFY_SPDY_NATIVE_AEAD=0 in the environment turns it off (read when a connection's keys are made).
 */
import * as crypto from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

/** What native/aead.c exports; `Ctx` is an opaque external holding an EVP_CIPHER_CTX. */
export interface NativeAeadBinding {
  create: (cipher: number, key: Uint8Array, encrypt: boolean) => NativeAeadCtx
  seal: (ctx: NativeAeadCtx, nonce: Uint8Array, aad: Uint8Array, src: Uint8Array, dst: Uint8Array, dstOffset: number) => void
  open: (ctx: NativeAeadCtx, nonce: Uint8Array, aad: Uint8Array, src: Uint8Array, srcOffset: number, length: number, dst: Uint8Array) => boolean
  /** Release the context now rather than at garbage collection; using it afterwards throws. */
  free: (ctx: NativeAeadCtx) => void
  /** Contexts created and not yet released (tests). */
  live: () => number
}
declare const ctxBrand: unique symbol
export interface NativeAeadCtx { readonly [ctxBrand]: true }

/** Cipher ids of native/aead.c's create(). */
export const NATIVE_CIPHER_ID: Readonly<Record<string, number>> = { 'aes-128-gcm': 0, 'aes-256-gcm': 1, 'chacha20-poly1305': 2 }

export interface NativeAeadStatus {
  /** The binding, or null when records go through node:crypto. */
  binding: NativeAeadBinding | null
  /** Where it was loaded from, or why it was not. */
  detail: string
}

/**
 * Known answer check before trusting a loaded binary: one record sealed by the addon must equal node:crypto's, and
 * open it back. A stale or foreign build fails here and is not used.
 */
const selfTest = (b: NativeAeadBinding): boolean => {
  const key = Buffer.alloc(16, 7)
  const nonce = Buffer.alloc(12, 9)
  const aad = Buffer.alloc(13, 1)
  const pt = Buffer.alloc(100, 0x5a)
  const c = crypto.createCipheriv('aes-128-gcm', key, nonce) as crypto.CipherGCM
  c.setAAD(aad)
  const want = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()])
  const got = Buffer.alloc(want.length)
  b.seal(b.create(0, key, true), nonce, aad, pt, got, 0)
  const back = Buffer.alloc(pt.length)
  return got.equals(want) && b.open(b.create(0, key, false), nonce, aad, got, 0, pt.length, back) && back.equals(pt)
}

const load = (): NativeAeadStatus => {
  // lib/tls (sources under tsx) and dist/cjs/tls (the build) sit two and three levels below the package root.
  const candidates = [join(__dirname, '..', '..', 'build', 'Release', 'fastify_spdy_aead.node'),
    join(__dirname, '..', '..', '..', 'build', 'Release', 'fastify_spdy_aead.node')]
  const file = candidates.find((f) => existsSync(f))
  if (file === undefined) return { binding: null, detail: 'not built (npm install builds it with node-gyp when a C compiler is present)' }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const binding = require(file) as NativeAeadBinding
    if (!selfTest(binding)) return { binding: null, detail: `${file} failed its known-answer test` }
    return { binding, detail: file }
  } catch (err) {
    return { binding: null, detail: `${file} did not load: ${(err as Error).message}` }
  }
}

let status: NativeAeadStatus | null = null

/** The addon's load result, computed once. */
export const nativeAeadStatus = (): NativeAeadStatus => {
  status ??= load()
  return status
}

/** The binding to use for a new connection's keys: null when not built, or turned off by FASTIFY_SPDY_NATIVE_AEAD=0. */
export const nativeAead = (): NativeAeadBinding | null =>
  process.env.FASTIFY_SPDY_NATIVE_AEAD === '0' ? null : nativeAeadStatus().binding
