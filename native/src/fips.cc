// Whether the linked wolfSSL is a FIPS 140-3 validated build (wolfCrypt FIPS
// module, HAVE_FIPS): the gateway reports it in FIPS-approved mode, where
// restricting algorithms is ours but the validation is the library's.
#include "common.h"

namespace wg {

void InitFips(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
#if defined(HAVE_FIPS)
  o.Set("validated", Napi::Boolean::New(env, true));
#if defined(HAVE_FIPS_VERSION)
  o.Set("version", Napi::Number::New(env, HAVE_FIPS_VERSION));
#endif
#else
  o.Set("validated", Napi::Boolean::New(env, false));
#endif
  exports.Set("fipsBuild", o);
}

}  // namespace wg
