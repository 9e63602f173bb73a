// Module entry point: one InstanceData per Node environment, so the addon can
// be loaded by the main thread and by any number of worker_threads at once.
#include "common.h"

#include <cstdlib>
#include <cstring>

namespace wg {

InstanceData* Instance(Napi::Env env) { return env.GetInstanceData<InstanceData>(); }

std::string WolfSSLErrorText(int err) {
  char buf[WOLFSSL_MAX_ERROR_SZ];
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(err < 0 ? -err : err), buf, sizeof(buf));
  // wolfSSL_ERR_error_string_n takes the absolute value on some builds and the
  // signed code on others; ask again with the signed code when the first
  // answer is the generic "unknown" text.
  std::string text(buf);
  if (text.find("unknown") != std::string::npos) {
    wolfSSL_ERR_error_string_n(static_cast<unsigned long>(err), buf, sizeof(buf));
    text = buf;
  }
  return text;
}

Napi::Error MakeError(Napi::Env env, const std::string& message, int wolfsslCode, const char* kind) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("wolfsslCode", Napi::Number::New(env, wolfsslCode));
  e.Set("kind", Napi::String::New(env, kind));
  return e;
}

void ThrowWolfSSL(Napi::Env env, const char* what, int err) {
  std::string msg = std::string(what) + ": " + WolfSSLErrorText(err) + " (" + std::to_string(err) + ")";
  MakeError(env, msg, err, "wolfssl").ThrowAsJavaScriptException();
}

bool ArgBuffer(const Napi::CallbackInfo& info, size_t i, const uint8_t** data, size_t* len) {
  if (info.Length() <= i || !info[i].IsTypedArray()) {
    Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a Buffer/Uint8Array")
        .ThrowAsJavaScriptException();
    return false;
  }
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  Napi::ArrayBuffer ab = ta.ArrayBuffer();
  *data = static_cast<const uint8_t*>(ab.Data()) + ta.ByteOffset();
  *len = ta.ByteLength();
  return true;
}

bool ArgInt(const Napi::CallbackInfo& info, size_t i, int64_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Number>().Int64Value();
  return true;
}

bool ArgString(const Napi::CallbackInfo& info, size_t i, std::string* out) {
  if (info.Length() <= i || !info[i].IsString()) {
    Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a string")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

bool EnvSwitchOn(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr || std::strcmp(v, "0") != 0;
}

static void FreeInstance(Napi::Env, InstanceData* d) {
  if (d->rngReady) wc_FreeRng(&d->rng);
  delete d;
}

// privileges.cc (issue 10); declared here to leave common.h alone.
void InitPrivileges(Napi::Env env, Napi::Object exports);
void InitFips(Napi::Env env, Napi::Object exports);

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (!EnsureWolfSSL()) {
    Napi::Error::New(env, "wolfSSL initialisation failed").ThrowAsJavaScriptException();
    return exports;
  }
  auto* data = new InstanceData();
  if (napi_get_uv_event_loop(env, &data->loop) != napi_ok) {
    delete data;
    Napi::Error::New(env, "no libuv loop for this environment").ThrowAsJavaScriptException();
    return exports;
  }
  data->rngReady = wc_InitRng(&data->rng) == 0;
  env.SetInstanceData<InstanceData, FreeInstance>(data);

  InitAlloc(env, exports);
  InitContext(env, exports);
  InitConnection(env, exports);
  InitWolfCrypt(env, exports);
  InitPasswd(env, exports);
  InitSockets(env, exports);
  InitTun(env, exports);
  InitTunSteering(env, exports);
  InitPrivileges(env, exports);
  InitFips(env, exports);

  exports.Set("wolfsslVersion", Napi::String::New(env, wolfSSL_lib_version()));
#ifdef WOLFSSL_DRBG_SHA512
  exports.Set("drbg", Napi::String::New(env, wc_Sha512Drbg_IsDisabled() ? "SHA-256" : "SHA-512"));
#else
  exports.Set("drbg", Napi::String::New(env, "SHA-256"));
#endif
  return exports;
}

}  // namespace wg

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return wg::Init(env, exports); }

NODE_API_MODULE(wolfguard, InitModule)
