#include "context.h"
#include "dtls-legacy.h"

#include <cstring>

namespace wg {

// Protocol version numbers as wolfSSL names them (WOLFSSL_TLSV1_2 ...); the
// TypeScript layer maps 'TLSv1.2' etc. onto these.
static WOLFSSL_METHOD* ChooseMethod(bool dtls, bool server, int minV, int maxV) {
  if (!dtls) {
    if (maxV == WOLFSSL_TLSV1_2) return server ? wolfTLSv1_2_server_method() : wolfTLSv1_2_client_method();
    if (minV == WOLFSSL_TLSV1_3) return server ? wolfTLSv1_3_server_method() : wolfTLSv1_3_client_method();
    return server ? wolfSSLv23_server_method() : wolfSSLv23_client_method();
  }
  if (maxV == WOLFSSL_DTLSV1_2) return server ? wolfDTLSv1_2_server_method() : wolfDTLSv1_2_client_method();
  if (minV == WOLFSSL_DTLSV1_3) return server ? wolfDTLSv1_3_server_method() : wolfDTLSv1_3_client_method();
  return server ? wolfDTLS_server_method() : wolfDTLS_client_method();
}

static int TicketCb(WOLFSSL* ssl, unsigned char keyName[WOLFSSL_TICKET_NAME_SZ], unsigned char iv[WOLFSSL_TICKET_IV_SZ],
                    unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char* ticket, int inLen,
                    int* outLen, void* userCtx) {
  auto* self = static_cast<Context*>(userCtx);
  if (self == nullptr) return WOLFSSL_TICKET_RET_FATAL;
  int ret = self->TicketCrypt(keyName, iv, mac, enc, ticket, inLen, outLen);
  // A TLS 1.3 ticket does not carry the client's certificate (TLS 1.2
  // resumption keeps it), so a connection resumed from it would reach a
  // certificate login without one. A client that authenticated with a
  // certificate gets a ticket under a key name we never hold (all 0xff; all
  // zeros is refused by wolfSSL): it is refused on use and the client does a
  // full handshake, certificate included.
  if (enc && ret == WOLFSSL_TICKET_RET_OK && ssl != nullptr && wolfSSL_version(ssl) == TLS1_3_VERSION) {
    WOLFSSL_X509_CHAIN* chain = wolfSSL_get_peer_chain(ssl);
    if (chain != nullptr && wolfSSL_get_chain_count(chain) > 0) std::memset(keyName, 0xff, WOLFSSL_TICKET_NAME_SZ);
  }
  // TLS 1.3 resumes only on RET_OK (wolfSSL treats RET_CREATE as a refused
  // PSK there) and sends a fresh ticket after every handshake anyway, so a
  // ticket under the previous key is simply accepted. TLS 1.2 keeps CREATE:
  // it resumes and issues a ticket under the current key.
  if (ret == WOLFSSL_TICKET_RET_CREATE && ssl != nullptr && wolfSSL_version(ssl) == TLS1_3_VERSION)
    ret = WOLFSSL_TICKET_RET_OK;
  return ret;
}

Napi::Function Context::DefineClass(Napi::Env env) {
  return ObjectWrap<Context>::DefineClass(
      env, "Context",
      {
          InstanceMethod<&Context::UseCertificateChain>("useCertificateChain"),
          InstanceMethod<&Context::UsePrivateKey>("usePrivateKey"),
          InstanceMethod<&Context::CheckPrivateKey>("checkPrivateKey"),
          InstanceMethod<&Context::LoadVerify>("loadVerify"),
          InstanceMethod<&Context::LoadCrl>("loadCrl"),
          InstanceMethod<&Context::SetVerify>("setVerify"),
          InstanceMethod<&Context::SetCipherList>("setCipherList"),
          InstanceMethod<&Context::SetSessionCache>("setSessionCache"),
          InstanceMethod<&Context::SetGroups>("setGroups"),
          InstanceMethod<&Context::SetTickets>("setTickets"),
          InstanceMethod<&Context::SetTicketKeys>("setTicketKeys"),
          InstanceMethod<&Context::SetPskIdentityHint>("setPskIdentityHint"),
          InstanceMethod<&Context::EnablePsk>("enablePsk"),
          InstanceMethod<&Context::EnableLegacyResume>("enableLegacyResume"),
          InstanceMethod<&Context::Free>("free"),
      });
}

Context::Context(const Napi::CallbackInfo& info) : ObjectWrap<Context>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsBoolean() || !info[1].IsBoolean() || !info[2].IsNumber() ||
      !info[3].IsNumber()) {
    Napi::TypeError::New(env, "Context(dtls, server, minVersion, maxVersion)").ThrowAsJavaScriptException();
    return;
  }
  dtls_ = info[0].As<Napi::Boolean>();
  server_ = info[1].As<Napi::Boolean>();
  int minV = info[2].As<Napi::Number>().Int32Value();
  int maxV = info[3].As<Napi::Number>().Int32Value();
  WOLFSSL_METHOD* method = ChooseMethod(dtls_, server_, minV, maxV);
  if (method == nullptr) {
    ThrowWolfSSL(env, "no method for these versions", MEMORY_E);
    return;
  }
  ctx_ = wolfSSL_CTX_new(method);  // takes ownership of method
  if (ctx_ == nullptr) {
    ThrowWolfSSL(env, "wolfSSL_CTX_new", MEMORY_E);
    return;
  }
  if (minV != maxV) {
    int ret = wolfSSL_CTX_SetMinVersion(ctx_, minV);
    if (ret != WOLFSSL_SUCCESS) {
      ThrowWolfSSL(env, "wolfSSL_CTX_SetMinVersion", ret);
      return;
    }
  }
  rngReady_ = wc_InitRng(&rng_) == 0;
  if (!rngReady_ || wc_RNG_GenerateBlock(&rng_, cookieSecret_, sizeof(cookieSecret_)) != 0) {
    ThrowWolfSSL(env, "RNG", RNG_FAILURE_E);
    return;
  }
  // Peers are verified only when TypeScript asks for it (setVerify).
  wolfSSL_CTX_set_verify(ctx_, WOLFSSL_VERIFY_NONE, nullptr);
  // One send() per flight (ServerHello..Finished) instead of one per
  // handshake message: wolfSSL's default wrote 3 segments for a resumed TLS
  // 1.3 handshake and 5 for a full one, each a syscall here and a wake-up
  // and a read at the client. DTLS keeps one flush per message: each of its
  // records must fit a datagram, which wolfSSL checks only message by message.
  if (!dtls_) wolfSSL_CTX_set_group_messages(ctx_);
  if (server_ && dtls_) wolfSSL_CTX_SetGenCookie(ctx_, GenCookieTrampoline);
}

Context::~Context() {
  if (ctx_ != nullptr) wolfSSL_CTX_free(ctx_);
  if (rngReady_) wc_FreeRng(&rng_);
  for (TicketKey& k : ticketKeys_) {
    std::memset(k.name, 0, sizeof(k.name));
    std::memset(k.key, 0, sizeof(k.key));
  }
  std::memset(cookieSecret_, 0, sizeof(cookieSecret_));
}

bool Context::Alive(const Napi::CallbackInfo& info) {
  if (ctx_ == nullptr) {
    Napi::Error e = MakeError(info.Env(), "context is freed", 0, "state");
    e.ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// Each loader returns wolfSSL's result code instead of throwing, so the
// TypeScript layer can name the file and the problem.
Napi::Value Context::UseCertificateChain(const Napi::CallbackInfo& info) {
  const uint8_t* d;
  size_t n;
  if (!Alive(info) || !ArgBuffer(info, 0, &d, &n)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), wolfSSL_CTX_use_certificate_chain_buffer_format(
                                           ctx_, d, static_cast<long>(n), WOLFSSL_FILETYPE_PEM));
}

Napi::Value Context::UsePrivateKey(const Napi::CallbackInfo& info) {
  const uint8_t* d;
  size_t n;
  if (!Alive(info) || !ArgBuffer(info, 0, &d, &n)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(),
                           wolfSSL_CTX_use_PrivateKey_buffer(ctx_, d, static_cast<long>(n), WOLFSSL_FILETYPE_PEM));
}

Napi::Value Context::CheckPrivateKey(const Napi::CallbackInfo& info) {
  if (!Alive(info)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), wolfSSL_CTX_check_private_key(ctx_));
}

Napi::Value Context::LoadVerify(const Napi::CallbackInfo& info) {
  const uint8_t* d;
  size_t n;
  if (!Alive(info) || !ArgBuffer(info, 0, &d, &n)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(),
                           wolfSSL_CTX_load_verify_buffer(ctx_, d, static_cast<long>(n), WOLFSSL_FILETYPE_PEM));
}

Napi::Value Context::LoadCrl(const Napi::CallbackInfo& info) {
  const uint8_t* d;
  size_t n;
  if (!Alive(info) || !ArgBuffer(info, 0, &d, &n)) return info.Env().Undefined();
  int ret = wolfSSL_CTX_EnableCRL(ctx_, WOLFSSL_CRL_CHECKALL);
  if (ret == WOLFSSL_SUCCESS)
    ret = wolfSSL_CTX_LoadCRLBuffer(ctx_, d, static_cast<long>(n), WOLFSSL_FILETYPE_PEM);
  return Napi::Number::New(info.Env(), ret);
}

// mode: 0 = do not ask, 1 = ask and verify if presented, 2 = require.
Napi::Value Context::SetVerify(const Napi::CallbackInfo& info) {
  int64_t mode;
  if (!Alive(info) || !ArgInt(info, 0, &mode)) return info.Env().Undefined();
  int m = WOLFSSL_VERIFY_NONE;
  if (mode == 1) m = WOLFSSL_VERIFY_PEER;
  if (mode == 2) m = WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  wolfSSL_CTX_set_verify(ctx_, m, nullptr);
  return Napi::Number::New(info.Env(), WOLFSSL_SUCCESS);
}

Napi::Value Context::SetCipherList(const Napi::CallbackInfo& info) {
  std::string list;
  if (!Alive(info) || !ArgString(info, 0, &list)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), wolfSSL_CTX_set_cipher_list(ctx_, list.c_str()));
}

// (groups: number[]) — IANA named-group ids, preferred first, validated in
// TypeScript. The context keeps them for TLS 1.3 key shares, but a TLS 1.2
// server only intersects the client's supported_groups with a list set on
// the WOLFSSL object itself (TLSX_SupportedCurve_Parse), so each connection
// copies them (Connection constructor). Returns a wolfSSL code.
Napi::Value Context::SetGroups(const Napi::CallbackInfo& info) {
  if (!Alive(info)) return info.Env().Undefined();
  if (info.Length() < 1 || !info[0].IsArray()) return Napi::Number::New(info.Env(), BAD_FUNC_ARG);
  Napi::Array a = info[0].As<Napi::Array>();
  std::vector<int> groups;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (!v.IsNumber()) return Napi::Number::New(info.Env(), BAD_FUNC_ARG);
    int64_t g = v.As<Napi::Number>().Int64Value();
    if (g <= 0 || g > 0xffff) return Napi::Number::New(info.Env(), BAD_FUNC_ARG);
    groups.push_back(static_cast<int>(g));
  }
  if (groups.empty() || groups.size() > WOLFSSL_MAX_GROUP_COUNT) return Napi::Number::New(info.Env(), BAD_FUNC_ARG);
  int ret = wolfSSL_CTX_set_groups(ctx_, groups.data(), static_cast<int>(groups.size()));
  if (ret == WOLFSSL_SUCCESS) groups_ = std::move(groups);
  return Napi::Number::New(info.Env(), ret);
}

// (enabled, timeoutSeconds). wolfSSL's server session cache is one
// process-wide table whose size is fixed at build time; per context we can
// switch it on or off and set the lifetime.
Napi::Value Context::SetSessionCache(const Napi::CallbackInfo& info) {
  int64_t timeout;
  if (!Alive(info) || info.Length() < 2 || !info[0].IsBoolean() || !ArgInt(info, 1, &timeout))
    return info.Env().Undefined();
  bool on = info[0].As<Napi::Boolean>();
  wolfSSL_CTX_set_session_cache_mode(ctx_, on ? WOLFSSL_SESS_CACHE_SERVER : WOLFSSL_SESS_CACHE_OFF);
  int ret = WOLFSSL_SUCCESS;
  if (timeout > 0) ret = wolfSSL_CTX_set_timeout(ctx_, static_cast<unsigned>(timeout));
  return Napi::Number::New(info.Env(), ret);
}

// (enabled). Without ticket keys from setTicketKeys, wolfSSL's own per
// context keys are used (tickets then resume only on this context).
Napi::Value Context::SetTickets(const Napi::CallbackInfo& info) {
  if (!Alive(info) || info.Length() < 1 || !info[0].IsBoolean()) return info.Env().Undefined();
  bool on = info[0].As<Napi::Boolean>();
  int ret = WOLFSSL_SUCCESS;
  if (server_) {
    if (!on) {
      ret = wolfSSL_CTX_NoTicketTLSv12(ctx_);
      if (ret == WOLFSSL_SUCCESS) ret = wolfSSL_CTX_set_num_tickets(ctx_, 0);
    } else {
      ret = wolfSSL_CTX_set_num_tickets(ctx_, 1);
    }
  } else if (on) {
    ret = wolfSSL_CTX_UseSessionTicket(ctx_);
  }
  return Napi::Number::New(info.Env(), ret);
}

// (current: Buffer(48), previous?: Buffer(48)) each = 16-byte name + 32-byte
// key. All shards get the same keys from the main thread, so a ticket issued
// by one shard resumes on any other.
Napi::Value Context::SetTicketKeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Alive(info) || !server_) return Napi::Number::New(env, BAD_FUNC_ARG);
  for (size_t i = 0; i < 2; i++) {
    TicketKey& k = ticketKeys_[i];
    k.set = false;
    if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) continue;
    const uint8_t* d;
    size_t n;
    if (!ArgBuffer(info, i, &d, &n)) return env.Undefined();
    if (n != sizeof(k.name) + sizeof(k.key)) return Napi::Number::New(env, BAD_FUNC_ARG);
    std::memcpy(k.name, d, sizeof(k.name));
    std::memcpy(k.key, d + sizeof(k.name), sizeof(k.key));
    k.set = true;
  }
  if (!ticketKeys_[0].set) return Napi::Number::New(env, BAD_FUNC_ARG);
  // wolfSSL's default callback keeps its own keys in the ticket context, so
  // ours is installed only together with our callback.
  int ret = wolfSSL_CTX_set_TicketEncCtx(ctx_, this);
  if (ret == WOLFSSL_SUCCESS) ret = wolfSSL_CTX_set_TicketEncCb(ctx_, TicketCb);
  return Napi::Number::New(env, ret);
}

Napi::Value Context::SetPskIdentityHint(const Napi::CallbackInfo& info) {
  std::string hint;
  if (!Alive(info) || !ArgString(info, 0, &hint)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), wolfSSL_CTX_use_psk_identity_hint(ctx_, hint.c_str()));
}

// enablePsk(): PSK suites become usable; each connection then decides the
// key (server: JavaScript lookup by identity; client: setPskClient).
Napi::Value Context::EnablePsk(const Napi::CallbackInfo& info) {
  if (!Alive(info)) return info.Env().Undefined();
  if (server_)
    wolfSSL_CTX_set_psk_server_callback(ctx_, PskServerCb);
  else
    wolfSSL_CTX_set_psk_client_callback(ctx_, PskClientCb);
  return Napi::Number::New(info.Env(), WOLFSSL_SUCCESS);
}

Napi::Value Context::Free(const Napi::CallbackInfo& info) {
  // Connections hold a reference to this object, so the CTX is freed only
  // after the last of them is collected; free() just drops our use of it.
  // wolfSSL reference-counts the CTX for live WOLFSSL objects.
  if (ctx_ != nullptr) {
    wolfSSL_CTX_free(ctx_);
    ctx_ = nullptr;
  }
  return info.Env().Undefined();
}

// AES-256-GCM over the ticket body. AAD binds the key name and IV so neither
// can be swapped. Returns a WOLFSSL_TICKET_RET_* value.
int Context::TicketCrypt(uint8_t keyName[16], uint8_t iv[16], uint8_t mac[32], int enc, uint8_t* ticket,
                         int inLen, int* outLen) {
  constexpr int kIvLen = 12;   // GCM's natural nonce length
  constexpr int kTagLen = 16;  // full GCM tag; the rest of mac[] is zero
  const TicketKey* key = nullptr;
  int slot = -1;
  if (enc) {
    if (!ticketKeys_[0].set) return WOLFSSL_TICKET_RET_FATAL;
    key = &ticketKeys_[0];
    slot = 0;
    std::memcpy(keyName, key->name, 16);
    std::memset(iv, 0, 16);
    if (!rngReady_ || wc_RNG_GenerateBlock(&rng_, iv, kIvLen) != 0) return WOLFSSL_TICKET_RET_FATAL;
  } else {
    for (int i = 0; i < 2; i++) {
      if (ticketKeys_[i].set && std::memcmp(ticketKeys_[i].name, keyName, 16) == 0) {
        key = &ticketKeys_[i];
        slot = i;
        break;
      }
    }
    if (key == nullptr) return WOLFSSL_TICKET_RET_REJECT;
  }
  uint8_t aad[32];
  std::memcpy(aad, keyName, 16);
  std::memcpy(aad + 16, iv, 16);
  Aes aes;
  if (wc_AesInit(&aes, nullptr, INVALID_DEVID) != 0) return WOLFSSL_TICKET_RET_FATAL;
  int ret = wc_AesGcmSetKey(&aes, key->key, sizeof(key->key));
  if (ret == 0) {
    if (enc) {
      ret = wc_AesGcmEncrypt(&aes, ticket, ticket, static_cast<word32>(inLen), iv, kIvLen, mac, kTagLen, aad,
                             sizeof(aad));
      std::memset(mac + kTagLen, 0, 32 - kTagLen);
    } else {
      ret = wc_AesGcmDecrypt(&aes, ticket, ticket, static_cast<word32>(inLen), iv, kIvLen, mac, kTagLen, aad,
                             sizeof(aad));
    }
  }
  wc_AesFree(&aes);
  if (ret != 0) return enc ? WOLFSSL_TICKET_RET_FATAL : WOLFSSL_TICKET_RET_REJECT;
  *outLen = inLen;
  // A ticket under the previous key resumes, and the client gets a new one.
  return slot == 1 ? WOLFSSL_TICKET_RET_CREATE : WOLFSSL_TICKET_RET_OK;
}

void InitContext(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = Context::DefineClass(env);
  Instance(env)->contextCtor = Napi::Persistent(ctor);
  exports.Set("Context", ctor);
  exports.Set("versions", [&] {
    Napi::Object v = Napi::Object::New(env);
    v.Set("TLSv1.2", static_cast<int>(WOLFSSL_TLSV1_2));
    v.Set("TLSv1.3", static_cast<int>(WOLFSSL_TLSV1_3));
    v.Set("DTLSv1.2", static_cast<int>(WOLFSSL_DTLSV1_2));
    v.Set("DTLSv1.3", static_cast<int>(WOLFSSL_DTLSV1_3));
    return v;
  }());
  exports.Set("ciphers", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    char buf[8192];
    if (wolfSSL_get_ciphers(buf, sizeof(buf)) != WOLFSSL_SUCCESS) return info.Env().Null();
    return Napi::String::New(info.Env(), buf);
  }, "ciphers"));
  InitDtlsLegacy(env, exports);  // legacyClientSession()
}

}  // namespace wg
