// Password hashes in crypt(3) format ($5$, $6$, $y$, $2b$ ... whatever the
// system's libxcrypt supports), as ocserv's ocpasswd files hold them. Hashing
// is deliberately slow, so it runs on the libuv threadpool, never on a shard
// loop.
#include "common.h"

#include <crypt.h>

#include <cstring>
#include <memory>

namespace wg {

class CryptWorker : public Napi::AsyncWorker {
 public:
  CryptWorker(Napi::Function cb, std::string phrase, std::string setting)
      : Napi::AsyncWorker(cb, "wolfguard:crypt"), phrase_(std::move(phrase)), setting_(std::move(setting)) {}
  ~CryptWorker() override {
    // The password must not linger in freed memory.
    std::memset(&phrase_[0], 0, phrase_.size());
  }

  void Execute() override {
    auto data = std::make_unique<crypt_data>();
    std::memset(data.get(), 0, sizeof(crypt_data));
    const char* r = crypt_rn(phrase_.c_str(), setting_.c_str(), data.get(), sizeof(crypt_data));
    // crypt_rn returns NULL (or a string starting with '*') for an unknown
    // or malformed setting.
    if (r == nullptr || r[0] == '*')
      ok_ = false;
    else
      result_ = r;
    std::memset(data.get(), 0, sizeof(crypt_data));
  }

  void OnOK() override {
    Napi::Env env = Env();
    Callback().Call({env.Null(), ok_ ? Napi::String::New(env, result_) : env.Null()});
  }

 private:
  std::string phrase_, setting_, result_;
  bool ok_ = true;
};

// crypt(password, settingOrHash, cb(err, hashOrNull))
static Napi::Value CryptFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string phrase, setting;
  if (!ArgString(info, 0, &phrase) || !ArgString(info, 1, &setting)) return env.Undefined();
  if (info.Length() < 3 || !info[2].IsFunction()) {
    Napi::TypeError::New(env, "crypt(password, setting, callback)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  (new CryptWorker(info[2].As<Napi::Function>(), std::move(phrase), std::move(setting)))->Queue();
  return env.Undefined();
}

// gensalt(prefix, rounds) → setting string (random salt from the OS) or null
// when the prefix is not supported here.
static Napi::Value GensaltFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string prefix;
  int64_t rounds;
  if (!ArgString(info, 0, &prefix) || !ArgInt(info, 1, &rounds)) return env.Undefined();
  char out[CRYPT_GENSALT_OUTPUT_SIZE];
  const char* r = crypt_gensalt_rn(prefix.c_str(), static_cast<unsigned long>(rounds < 0 ? 0 : rounds), nullptr, 0,
                                   out, sizeof(out));
  if (r == nullptr || r[0] == '*') return env.Null();
  return Napi::String::New(env, r);
}

void InitPasswd(Napi::Env env, Napi::Object exports) {
  exports.Set("crypt", Napi::Function::New(env, CryptFn, "crypt"));
  exports.Set("gensalt", Napi::Function::New(env, GensaltFn, "gensalt"));
}

}  // namespace wg
