#include "dtls-legacy.h"

#include "connection.h"
#include "context.h"

#include <cstring>
#include <ctime>
#include <vector>

#ifndef HAVE_EXT_CACHE
#error "legacy DTLS needs wolfSSL built with HAVE_EXT_CACHE (native/scripts/wolfssl.sh)"
#endif

namespace wg {

namespace {

// Offsets in wolfSSL_i2d_SSL_SESSION's output of a session with an empty id
// (wolfSSL 5.x, ssl_sess.c): side | bornOn(4) | timeout(4) | idLen | id |
// masterSecret(48) | haveEMS | altIdLen | [chain count] | version(2) |
// cipher suite(2) | ... The id is inserted at kIdAt; everything after it
// moves by the id's length.
constexpr size_t kSideAt = 0;
constexpr size_t kBornOnAt = 1;
constexpr size_t kTimeoutAt = 5;
constexpr size_t kIdLenAt = 9;
constexpr size_t kIdAt = 10;
// Relative to the end of the id:
constexpr size_t kSecretRel = 0;
constexpr size_t kEmsRel = kSecretRel + kLegacySecretLen;
constexpr size_t kAltIdRel = kEmsRel + 1;
#ifdef SESSION_CERTS
constexpr size_t kChainRel = kAltIdRel + 1;
constexpr size_t kVersionRel = kChainRel + 1;
#else
constexpr size_t kVersionRel = kAltIdRel + 1;
#endif
constexpr size_t kSuiteRel = kVersionRel + 2;
constexpr uint8_t kDtls12Major = 0xfe, kDtls12Minor = 0xfd;  // DTLS 1.2 on the wire
// A legacy session lives as long as its tunnel; wolfSSL checks bornOn + the
// connection's timeout, so the session's own timeout only has to be large.
constexpr uint32_t kSessionTimeoutSec = 24 * 3600;

void Put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// The serialisation of an empty session: the template the fields go into.
bool EmptySessionBytes(std::vector<uint8_t>* out) {
  WOLFSSL_SESSION* empty = wolfSSL_SESSION_new();
  if (empty == nullptr) return false;
  int n = wolfSSL_i2d_SSL_SESSION(empty, nullptr);
  bool ok = n > 0 && static_cast<size_t>(n) >= kIdAt + kSuiteRel + 2;
  if (ok) {
    out->assign(static_cast<size_t>(n), 0);
    unsigned char* p = out->data();
    ok = wolfSSL_i2d_SSL_SESSION(empty, &p) == n;
  }
  wolfSSL_SESSION_free(empty);
  // An empty session has no id and no alternative id; anything else means
  // the layout is not the one above.
  return ok && (*out)[kIdLenAt] == 0 && (*out)[kIdAt + kAltIdRel] == 0;
}

WOLFSSL_SESSION* LegacyGetCb(WOLFSSL* ssl, const unsigned char* id, int len, int* copy) {
  *copy = 0;  // a fresh session each time: wolfSSL frees it after copying
  auto* c = static_cast<Connection*>(wolfSSL_GetIOReadCtx(ssl));
  if (c == nullptr || id == nullptr || len != static_cast<int>(kLegacyIdLen)) return nullptr;
  const LegacySession& s = c->legacy();
  // Only the session this connection was set up for: a ClientHello naming
  // another id (another tunnel's, or a guess) gets a full handshake, which
  // legacy clients refuse.
  if (!s.set || std::memcmp(s.id.data(), id, kLegacyIdLen) != 0) return nullptr;
  return BuildLegacySession(s, WOLFSSL_SERVER_END);
}

}  // namespace

LegacySession::~LegacySession() { Clear(); }

void LegacySession::Clear() {
  wc_ForceZero(secret.data(), secret.size());
  set = false;
}

WOLFSSL_SESSION* BuildLegacySession(const LegacySession& s, int side) {
  std::vector<uint8_t> b;
  if (!s.set || !EmptySessionBytes(&b)) return nullptr;
  b.insert(b.begin() + kIdAt, s.id.begin(), s.id.end());
  uint8_t* rest = b.data() + kIdAt + kLegacyIdLen;
  b[kSideAt] = static_cast<uint8_t>(side);
  Put32(&b[kBornOnAt], static_cast<uint32_t>(std::time(nullptr)));
  Put32(&b[kTimeoutAt], kSessionTimeoutSec);
  b[kIdLenAt] = static_cast<uint8_t>(kLegacyIdLen);
  std::memcpy(rest + kSecretRel, s.secret.data(), kLegacySecretLen);
  rest[kEmsRel] = 0;  // the client's secret was never derived with RFC 7627
  rest[kVersionRel] = kDtls12Major;
  rest[kVersionRel + 1] = kDtls12Minor;
  rest[kSuiteRel] = s.suite0;
  rest[kSuiteRel + 1] = s.suite;

  const unsigned char* p = b.data();
  WOLFSSL_SESSION* sess = wolfSSL_d2i_SSL_SESSION(nullptr, &p, static_cast<long>(b.size()));
  // Self-check: wolfSSL must serialise what it read back to the same bytes,
  // and see the suite we put where we think the suite is.
  bool ok = sess != nullptr;
  if (ok) {
    std::vector<uint8_t> back(b.size() + 1, 0);
    unsigned char* q = back.data();
    ok = wolfSSL_i2d_SSL_SESSION(sess, nullptr) == static_cast<int>(b.size()) &&
         wolfSSL_i2d_SSL_SESSION(sess, &q) == static_cast<int>(b.size()) &&
         std::memcmp(back.data(), b.data(), b.size()) == 0;
    wc_ForceZero(back.data(), back.size());
  }
  if (ok) {
    // The session's suite comes back by (IANA) name; it must name our bytes.
    const char* got = wolfSSL_SESSION_CIPHER_get_name(sess);
    uint8_t c0 = 0, c1 = 0;
    ok = got != nullptr && LegacySuiteBytes(got, &c0, &c1) && c0 == s.suite0 && c1 == s.suite;
  }
  wc_ForceZero(b.data(), b.size());
  if (!ok && sess != nullptr) {
    wolfSSL_SESSION_free(sess);
    sess = nullptr;
  }
  return sess;
}

bool LegacySuiteBytes(const std::string& name, uint8_t* suite0, uint8_t* suite) {
  int flags = 0;
  return wolfSSL_get_cipher_suite_from_name(name.c_str(), suite0, suite, &flags) == 0;
}

int EnableLegacyResume(WOLFSSL_CTX* ctx) {
  // Probe the serialisation once with a dummy session so a wolfSSL whose
  // format moved fails here, at startup, not at the first client.
  LegacySession probe;
  probe.set = true;
  if (!LegacySuiteBytes("AES256-GCM-SHA384", &probe.suite0, &probe.suite)) return BAD_FUNC_ARG;
  WOLFSSL_SESSION* s = BuildLegacySession(probe, WOLFSSL_SERVER_END);
  if (s == nullptr) return NOT_COMPILED_IN;
  wolfSSL_SESSION_free(s);
  // Sessions come only from the callback: nothing is stored in, or looked
  // up from, wolfSSL's process-wide cache (shared by every shard).
  long mode = WOLFSSL_SESS_CACHE_SERVER | WOLFSSL_SESS_CACHE_NO_INTERNAL;
  if (wolfSSL_CTX_set_session_cache_mode(ctx, mode) != WOLFSSL_SUCCESS) return WOLFSSL_FAILURE;
  wolfSSL_CTX_sess_set_get_cb(ctx, LegacyGetCb);
  // Nothing to renegotiate or re-key: the session is fixed by the CONNECT exchange.
  return wolfSSL_CTX_NoTicketTLSv12(ctx);
}

// context.enableLegacyResume() → wolfSSL code. On a client context: the
// client half of the trick, as openconnect's GnuTLS client does it (no
// extensions, so no extended master secret, which would forbid resuming a
// session that never had one: RFC 7627 §5.3).
Napi::Value Context::EnableLegacyResume(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Alive(info)) return env.Undefined();
  if (!dtls()) return Napi::Number::New(env, BAD_FUNC_ARG);
  if (!server()) {
    int ret = wolfSSL_CTX_DisableExtendedMasterSecret(ctx_);
    return Napi::Number::New(env, ret == WOLFSSL_SUCCESS ? wolfSSL_CTX_NoTicketTLSv12(ctx_) : ret);
  }
  return Napi::Number::New(env, wg::EnableLegacyResume(ctx_));
}

// Reads the (id: Buffer(32), masterSecret: Buffer(48), suite: string)
// arguments both entry points take into *s. Returns WOLFSSL_SUCCESS, a
// wolfSSL code for wrong sizes or an unknown suite, or 0 with a JavaScript
// exception pending when an argument has the wrong type.
static int ReadLegacyArgs(const Napi::CallbackInfo& info, LegacySession* s) {
  const uint8_t* id;
  const uint8_t* secret;
  size_t idLen, secretLen;
  std::string suiteName;
  if (!ArgBuffer(info, 0, &id, &idLen) || !ArgBuffer(info, 1, &secret, &secretLen) || !ArgString(info, 2, &suiteName)) return 0;
  if (idLen != kLegacyIdLen || secretLen != kLegacySecretLen) return BAD_FUNC_ARG;
  s->Clear();
  if (!LegacySuiteBytes(suiteName, &s->suite0, &s->suite)) return UNSUPPORTED_SUITE;
  std::memcpy(s->id.data(), id, kLegacyIdLen);
  std::memcpy(s->secret.data(), secret, kLegacySecretLen);
  s->set = true;
  return WOLFSSL_SUCCESS;
}

// connection.setLegacySession(id, masterSecret, suite) → wolfSSL code.
Napi::Value Connection::SetLegacySession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int ret = ReadLegacyArgs(info, &legacy());
  if (ret == 0) return env.Undefined();
  return Napi::Number::New(env, ret);
}

// legacyClientSession(id, masterSecret, suite) → External session for
// connection.setSession(): a wolfSSL client that resumes like openconnect
// does (tests and our own tools).
static Napi::Value LegacyClientSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LegacySession s;
  int ret = ReadLegacyArgs(info, &s);
  if (ret == 0) return env.Undefined();
  if (ret != WOLFSSL_SUCCESS) return Napi::Number::New(env, ret);
  WOLFSSL_SESSION* sess = BuildLegacySession(s, WOLFSSL_CLIENT_END);
  if (sess == nullptr) return Napi::Number::New(env, NOT_COMPILED_IN);
  return Napi::External<WOLFSSL_SESSION>::New(env, sess, [](Napi::Env, WOLFSSL_SESSION* p) { wolfSSL_SESSION_free(p); });
}

void InitDtlsLegacy(Napi::Env env, Napi::Object exports) {
  exports.Set("legacyClientSession", Napi::Function::New(env, LegacyClientSession, "legacyClientSession"));
}

}  // namespace wg
