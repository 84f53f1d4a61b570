/*
 * Record-layer AEAD for lib/tls (optional accelerator; lib/tls/native-aead.ts falls back to node:crypto without it).
 *
 * Why this exists: TLS 1.2 AEAD suites take a fresh nonce per record (RFC 5288 section 3, RFC 7905 section 2), and
 * node:crypto cannot re-nonce a cipher object, so the pure-JS path creates a cipher object, and Node allocates and
 * copies output and tag buffers, for every 16 KB record. bench/tls.ts measured that alone at 0.89 of the CPU Node's
 * native TLS server spends per MB in total. Here one EVP_CIPHER_CTX per direction keeps its key schedule for the life
 * of the connection and each record only sets a new IV (EVP_*Init_ex with NULL cipher and key), with output written
 * straight into a buffer the caller owns. The primitives are OpenSSL's, the same library node:crypto wraps, resolved
 * from the running Node binary: nothing else is linked.
 *
 * API (all buffers are Uint8Arrays; sizes are checked here, the caller is lib/tls/native-aead.ts):
 *   create(cipher: 0 = aes-128-gcm, 1 = aes-256-gcm, 2 = chacha20-poly1305, key, encrypt: boolean) -> external
 *   free(ctx)                                               releases the context now (later use throws)
 *   live() -> number                                        contexts created and not yet released (for tests)
 *   seal(ctx, nonce[12], aad[13], src, dst, dstOffset)      dst[dstOffset..] = ciphertext || tag[16]
 *   open(ctx, nonce[12], aad[13], src, srcOffset, len, dst) dst[0..len) = plaintext; returns false on a bad tag
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define TAG_LEN 16

/*
 * What the JS external holds. free() releases the OpenSSL context as soon as a connection closes: left to the
 * finalizer, ~1.25 KB per context waits for a garbage collection and for Node to run finalizers, which a busy loop
 * of handshakes can outpace.
 */
struct holder {
  EVP_CIPHER_CTX* ctx;
};

/* Contexts not yet released. Node runs addon code on the main thread only, so a plain counter is enough. */
static int64_t live_contexts = 0;

static void release(struct holder* h) {
  if (h->ctx == NULL) return;
  EVP_CIPHER_CTX_free(h->ctx);
  h->ctx = NULL;
  live_contexts--;
}

static void finalize_ctx(napi_env env, void* data, void* hint) {
  struct holder* h = (struct holder*)data;
  (void)env; (void)hint;
  release(h);
  free(h);
}

static napi_value fail(napi_env env, const char* msg) {
  napi_throw_error(env, "FST_SPDY_NATIVE_AEAD", msg);
  return NULL;
}

static int bytes(napi_env env, napi_value v, unsigned char** data, size_t* len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &type, len, (void**)data, &ab, &off) != napi_ok) return 0;
  return type == napi_uint8_array;
}

static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t which;
  unsigned char* key;
  size_t key_len;
  bool encrypt;
  const EVP_CIPHER* cipher;
  size_t want;
  EVP_CIPHER_CTX* ctx;
  struct holder* h;
  napi_value out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) return fail(env, "create: 3 arguments");
  if (napi_get_value_int32(env, argv[0], &which) != napi_ok) return fail(env, "create: cipher id");
  if (!bytes(env, argv[1], &key, &key_len)) return fail(env, "create: key must be a Uint8Array");
  if (napi_get_value_bool(env, argv[2], &encrypt) != napi_ok) return fail(env, "create: encrypt flag");
  switch (which) {
    case 0: cipher = EVP_aes_128_gcm(); want = 16; break;
    case 1: cipher = EVP_aes_256_gcm(); want = 32; break;
    case 2: cipher = EVP_chacha20_poly1305(); want = 32; break;
    default: return fail(env, "create: unknown cipher id");
  }
  if (key_len != want) return fail(env, "create: wrong key length");
  ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) return fail(env, "create: out of memory");
  /* Key now, nonce per record. Both GCM (RFC 5288) and ChaCha20-Poly1305 (RFC 7905) use 12-byte nonces, the default. */
  if (EVP_CipherInit_ex(ctx, cipher, NULL, key, NULL, encrypt ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return fail(env, "create: cipher init failed");
  }
  h = (struct holder*)malloc(sizeof *h);
  if (h == NULL) {
    EVP_CIPHER_CTX_free(ctx);
    return fail(env, "create: out of memory");
  }
  h->ctx = ctx;
  if (napi_create_external(env, h, finalize_ctx, NULL, &out) != napi_ok) {
    EVP_CIPHER_CTX_free(ctx);
    free(h);
    return fail(env, "create: external");
  }
  live_contexts++;
  return out;
}

static napi_value free_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct holder* h;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1) return fail(env, "free: 1 argument");
  if (napi_get_value_external(env, argv[0], (void**)&h) != napi_ok) return fail(env, "free: context");
  release(h);
  return NULL;
}

static napi_value live(napi_env env, napi_callback_info info) {
  napi_value out;
  (void)info;
  napi_create_int64(env, live_contexts, &out);
  return out;
}

/* Arguments seal and open share: ctx, nonce[12], aad, src. Throws and returns 0 when one is wrong. */
struct record_args {
  EVP_CIPHER_CTX* ctx;
  unsigned char *nonce, *aad, *src;
  size_t aad_len, src_len;
};

static int record_args(napi_env env, napi_value* argv, struct record_args* a) {
  size_t nonce_len;
  struct holder* h;
  if (napi_get_value_external(env, argv[0], (void**)&h) != napi_ok) return fail(env, "context"), 0;
  if (h->ctx == NULL) return fail(env, "context already freed"), 0;
  a->ctx = h->ctx;
  if (!bytes(env, argv[1], &a->nonce, &nonce_len) || nonce_len != 12) return fail(env, "nonce must be 12 bytes"), 0;
  if (!bytes(env, argv[2], &a->aad, &a->aad_len) || a->aad_len > 0x7fffffff) return fail(env, "aad"), 0;
  if (!bytes(env, argv[3], &a->src, &a->src_len) || a->src_len > 0x7fffffff) return fail(env, "source"), 0;
  return 1;
}

static napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  struct record_args a;
  unsigned char* dst;
  size_t dst_len;
  int64_t off;
  int n, fin;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6) return fail(env, "seal: 6 arguments");
  if (!record_args(env, argv, &a)) return NULL;
  if (!bytes(env, argv[4], &dst, &dst_len)) return fail(env, "seal: destination");
  if (napi_get_value_int64(env, argv[5], &off) != napi_ok || off < 0 || (size_t)off > dst_len ||
      dst_len - (size_t)off < a.src_len + TAG_LEN) return fail(env, "seal: destination too small");
  dst += off;
  if (EVP_EncryptInit_ex(a.ctx, NULL, NULL, NULL, a.nonce) != 1 ||
      EVP_EncryptUpdate(a.ctx, NULL, &n, a.aad, (int)a.aad_len) != 1 ||
      /* a NULL output pointer means AAD to OpenSSL, so an empty record skips the call rather than pass one */
      (a.src_len > 0 ? EVP_EncryptUpdate(a.ctx, dst, &n, a.src, (int)a.src_len) != 1 : (n = 0)) ||
      EVP_EncryptFinal_ex(a.ctx, dst + n, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(a.ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, dst + a.src_len) != 1) return fail(env, "seal: cipher failed");
  return NULL;
}

static napi_value open_(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  struct record_args a;
  unsigned char *src, *dst;
  size_t dst_len;
  int64_t off, len;
  int n, fin, ok;
  napi_value result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 7) return fail(env, "open: 7 arguments");
  if (!record_args(env, argv, &a)) return NULL;
  if (napi_get_value_int64(env, argv[4], &off) != napi_ok || napi_get_value_int64(env, argv[5], &len) != napi_ok ||
      off < 0 || len < 0 || (size_t)off > a.src_len || a.src_len - (size_t)off < (size_t)len + TAG_LEN)
    return fail(env, "open: source range");
  if (!bytes(env, argv[6], &dst, &dst_len) || dst_len < (size_t)len) return fail(env, "open: destination too small");
  src = a.src + off;
  /* The tag is checked in Final; on failure the caller discards dst (bad_record_mac, RFC 5246 section 6.2.3.3). */
  ok = EVP_DecryptInit_ex(a.ctx, NULL, NULL, NULL, a.nonce) == 1 &&
       EVP_DecryptUpdate(a.ctx, NULL, &n, a.aad, (int)a.aad_len) == 1 &&
       (len == 0 ? (n = 0) == 0 : EVP_DecryptUpdate(a.ctx, dst, &n, src, (int)len) == 1) &&
       EVP_CIPHER_CTX_ctrl(a.ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, src + len) == 1 &&
       EVP_DecryptFinal_ex(a.ctx, dst + n, &fin) == 1;
  napi_get_boolean(env, ok, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    { "create", NULL, create, NULL, NULL, NULL, napi_default, NULL },
    { "free", NULL, free_, NULL, NULL, NULL, napi_default, NULL },
    { "live", NULL, live, NULL, NULL, NULL, napi_default, NULL },
    { "seal", NULL, seal, NULL, NULL, NULL, napi_default, NULL },
    { "open", NULL, open_, NULL, NULL, NULL, napi_default, NULL }
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
