// Shared by every translation unit of the addon.
//
// The native layer is deliberately thin: TypeScript validates arguments and
// turns numeric codes into WolfguardError objects; native functions check
// only what they must to stay memory-safe, and never abort the process on
// bad input from JavaScript or from the network.
#pragma once

// wolfSSL's feature macros must be seen before any other wolfSSL header,
// exactly as the library was configured.
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <string>

namespace wg {

// Per-instance (per Node environment: main thread or a worker_thread) state.
// Nothing in the addon is process-global except wolfSSL's one-time init and
// the allocation counters; this keeps worker_threads independent.
struct InstanceData {
  Napi::FunctionReference contextCtor;
  Napi::FunctionReference connectionCtor;
  Napi::FunctionReference pumpCtor;
  WC_RNG rng;
  bool rngReady = false;
  uv_loop_t* loop = nullptr;
};

InstanceData* Instance(Napi::Env env);

// Throws a JavaScript Error carrying wolfSSL's numeric code and text, so the
// TypeScript layer can map it to a stable WolfguardError code.
void ThrowWolfSSL(Napi::Env env, const char* what, int err);
Napi::Error MakeError(Napi::Env env, const std::string& message, int wolfsslCode, const char* kind);
std::string WolfSSLErrorText(int err);

// Argument helpers that never throw C++ exceptions: they set a pending JS
// exception and return false.
bool ArgBuffer(const Napi::CallbackInfo& info, size_t i, const uint8_t** data, size_t* len);
bool ArgInt(const Napi::CallbackInfo& info, size_t i, int64_t* out);
bool ArgString(const Napi::CallbackInfo& info, size_t i, std::string* out);

// A data-plane switch from the environment for side-by-side measurements:
// on unless set to "0". Callers read it once (a function-local static).
bool EnvSwitchOn(const char* name);

// Module pieces, each registering its functions/classes on `exports`.
void InitAlloc(Napi::Env env, Napi::Object exports);
void InitContext(Napi::Env env, Napi::Object exports);
void InitConnection(Napi::Env env, Napi::Object exports);
void InitWolfCrypt(Napi::Env env, Napi::Object exports);
void InitPasswd(Napi::Env env, Napi::Object exports);
void InitSockets(Napi::Env env, Napi::Object exports);
void InitTun(Napi::Env env, Napi::Object exports);
void InitTunSteering(Napi::Env env, Napi::Object exports);

// Process-wide wolfSSL initialisation (allocators first, then wolfSSL_Init),
// done once whichever thread loads the addon first.
bool EnsureWolfSSL();

}  // namespace wg
