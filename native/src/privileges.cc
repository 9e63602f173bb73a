// The few system calls a privilege drop needs that Node has no API for.
// Linux keeps capabilities and the keep-caps flag per thread: a caller runs
// setKeepCaps(true) on the thread that must keep a capability, then
// process.setuid() (glibc changes the uid of every thread; threads without
// keep-caps lose all capabilities there), then limitCapabilities() on that
// same thread. Each returns 0 or -errno; TypeScript turns that into errors.
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>

#include "common.h"

namespace wg {
namespace {

constexpr int kCapWords = 2;  // _LINUX_CAPABILITY_U32S_3

Napi::Value SetKeepCaps(const Napi::CallbackInfo& info) {
  bool on = info.Length() > 0 && info[0].ToBoolean().Value();
  int r = prctl(PR_SET_KEEPCAPS, on ? 1 : 0, 0, 0, 0);
  return Napi::Number::New(info.Env(), r == 0 ? 0 : -errno);
}

// limitCapabilities(caps: number[]): the calling thread's permitted and
// effective sets become exactly `caps`, inheritable and ambient empty, and
// no execve may gain privileges again (no_new_privs).
Napi::Value LimitCapabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    Napi::TypeError::New(env, "limitCapabilities(caps: number[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array caps = info[0].As<Napi::Array>();
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[kCapWords] = {};
  for (uint32_t i = 0; i < caps.Length(); i++) {
    Napi::Value v = caps.Get(i);
    if (!v.IsNumber()) return Napi::Number::New(env, -EINVAL);
    int64_t cap = v.As<Napi::Number>().Int64Value();
    if (cap < 0 || cap >= 32 * kCapWords) return Napi::Number::New(env, -EINVAL);
    data[cap / 32].permitted |= 1u << (cap % 32);
    data[cap / 32].effective |= 1u << (cap % 32);
  }
  if (syscall(SYS_capset, &header, data) != 0) return Napi::Number::New(env, -errno);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return Napi::Number::New(env, -errno);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, 0);
}

// capabilities(): the calling thread's { effective, permitted } as bit masks (BigInt).
Napi::Value Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[kCapWords] = {};
  if (syscall(SYS_capget, &header, data) != 0) return Napi::Number::New(env, -errno);
  Napi::Object out = Napi::Object::New(env);
  auto join = [](uint32_t lo, uint32_t hi) { return (static_cast<uint64_t>(hi) << 32) | lo; };
  out.Set("effective", Napi::BigInt::New(env, join(data[0].effective, data[1].effective)));
  out.Set("permitted", Napi::BigInt::New(env, join(data[0].permitted, data[1].permitted)));
  return out;
}

}  // namespace

void InitPrivileges(Napi::Env env, Napi::Object exports) {
  exports.Set("setKeepCaps", Napi::Function::New(env, SetKeepCaps, "setKeepCaps"));
  exports.Set("limitCapabilities", Napi::Function::New(env, LimitCapabilities, "limitCapabilities"));
  exports.Set("capabilities", Napi::Function::New(env, Capabilities, "capabilities"));
}

}  // namespace wg
