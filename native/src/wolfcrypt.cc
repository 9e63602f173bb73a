// The few wolfCrypt primitives the control plane needs (TOTP's HMAC, hashes,
// random bytes), so secrets never take a detour through another library.
#include "common.h"

#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/sha256.h>

namespace wg {

// hmac(type, key, data) → Buffer; type is wolfCrypt's WC_SHA/WC_SHA256/...
// (exported as hashTypes), chosen and validated in TypeScript.
static Napi::Value HmacFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t type;
  const uint8_t *key, *data;
  size_t klen, dlen;
  if (!ArgInt(info, 0, &type) || !ArgBuffer(info, 1, &key, &klen) || !ArgBuffer(info, 2, &data, &dlen))
    return env.Undefined();
  int size = wc_HmacSizeByType(static_cast<int>(type));
  if (size <= 0) {
    ThrowWolfSSL(env, "hmac", BAD_FUNC_ARG);
    return env.Undefined();
  }
  Hmac h;
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(size));
  int ret = wc_HmacInit(&h, nullptr, INVALID_DEVID);
  if (ret == 0) {
    // HMAC keys shorter than the FIPS minimum are legal for TOTP (RFC 4226
    // secrets are often 10 bytes); wc_HmacSetKey_ex lets them through.
    ret = wc_HmacSetKey_ex(&h, static_cast<int>(type), key, static_cast<word32>(klen), 1);
    if (ret == 0) ret = wc_HmacUpdate(&h, data, static_cast<word32>(dlen));
    if (ret == 0) ret = wc_HmacFinal(&h, out.Data());
    wc_HmacFree(&h);
  }
  if (ret != 0) {
    ThrowWolfSSL(env, "hmac", ret);
    return env.Undefined();
  }
  return out;
}

static Napi::Value Sha256Fn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data;
  size_t len;
  if (!ArgBuffer(info, 0, &data, &len)) return env.Undefined();
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, WC_SHA256_DIGEST_SIZE);
  int ret = wc_Sha256Hash(data, static_cast<word32>(len), out.Data());
  if (ret != 0) {
    ThrowWolfSSL(env, "sha256", ret);
    return env.Undefined();
  }
  return out;
}

// randomBytes(n): from this thread's wolfCrypt DRBG.
static Napi::Value RandomFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t n;
  if (!ArgInt(info, 0, &n)) return env.Undefined();
  if (n < 0 || n > 65536) {
    Napi::RangeError::New(env, "randomBytes: 0..65536").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  InstanceData* inst = Instance(env);
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(n));
  int ret = inst->rngReady ? wc_RNG_GenerateBlock(&inst->rng, out.Data(), static_cast<word32>(n)) : RNG_FAILURE_E;
  if (ret != 0) {
    ThrowWolfSSL(env, "randomBytes", ret);
    return env.Undefined();
  }
  return out;
}

void InitWolfCrypt(Napi::Env env, Napi::Object exports) {
  exports.Set("hmac", Napi::Function::New(env, HmacFn, "hmac"));
  exports.Set("sha256", Napi::Function::New(env, Sha256Fn, "sha256"));
  exports.Set("randomBytes", Napi::Function::New(env, RandomFn, "randomBytes"));
  Napi::Object t = Napi::Object::New(env);
  t.Set("sha1", static_cast<int>(WC_SHA));
  t.Set("sha256", static_cast<int>(WC_SHA256));
  t.Set("sha384", static_cast<int>(WC_SHA384));
  t.Set("sha512", static_cast<int>(WC_SHA512));
  exports.Set("hashTypes", t);
}

}  // namespace wg
