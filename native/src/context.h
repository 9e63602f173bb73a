// A WOLFSSL_CTX owned by one JavaScript object on one thread. Each shard
// creates its own: contexts are never shared across worker_threads.
#pragma once
#include "common.h"

#include <wolfssl/wolfcrypt/aes.h>

#include <vector>

namespace wg {

// Ticket keys: a 16-byte name (sent in clear inside the ticket so the right
// key is found) and a 32-byte AES-256-GCM key. Two slots so a key can be
// rotated while tickets issued under the previous one still resume.
struct TicketKey {
  bool set = false;
  uint8_t name[16];
  uint8_t key[32];
};

// Implemented in connection.cc: keyed DTLS cookies (wolfSSL's default is an
// unkeyed hash of the peer address, which anyone can compute).
int GenCookieTrampoline(WOLFSSL* ssl, unsigned char* buf, int sz, void* ctx);
// Also in connection.cc: PSK callbacks that ask the connection (and, on a
// server, JavaScript) for the key. Installed on the context so wolfSSL knows
// at wolfSSL_new time that PSK suites are usable even without a certificate.
unsigned int PskServerCb(WOLFSSL* ssl, const char* identity, unsigned char* key, unsigned int maxLen);
unsigned int PskClientCb(WOLFSSL* ssl, const char* hint, char* identity, unsigned int idMax, unsigned char* key,
                         unsigned int keyMax);

class Context : public Napi::ObjectWrap<Context> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  explicit Context(const Napi::CallbackInfo& info);
  ~Context() override;

  WOLFSSL_CTX* ctx() const { return ctx_; }
  bool dtls() const { return dtls_; }
  bool server() const { return server_; }
  const uint8_t* cookieSecret() const { return cookieSecret_; }
  // Key-exchange groups every connection of this context is restricted to
  // (empty: wolfSSL's defaults). See SetGroups.
  const std::vector<int>& groups() const { return groups_; }

  // Called from wolfSSL's ticket callback on this context's thread.
  int TicketCrypt(uint8_t keyName[16], uint8_t iv[16], uint8_t mac[32], int enc,
                  uint8_t* ticket, int inLen, int* outLen);

 private:
  Napi::Value UseCertificateChain(const Napi::CallbackInfo& info);
  Napi::Value UsePrivateKey(const Napi::CallbackInfo& info);
  Napi::Value CheckPrivateKey(const Napi::CallbackInfo& info);
  Napi::Value LoadVerify(const Napi::CallbackInfo& info);
  Napi::Value LoadCrl(const Napi::CallbackInfo& info);
  Napi::Value SetVerify(const Napi::CallbackInfo& info);
  Napi::Value SetCipherList(const Napi::CallbackInfo& info);
  Napi::Value SetSessionCache(const Napi::CallbackInfo& info);
  Napi::Value SetGroups(const Napi::CallbackInfo& info);
  Napi::Value SetTickets(const Napi::CallbackInfo& info);
  Napi::Value SetTicketKeys(const Napi::CallbackInfo& info);
  Napi::Value SetPskIdentityHint(const Napi::CallbackInfo& info);
  Napi::Value EnablePsk(const Napi::CallbackInfo& info);
  Napi::Value EnableLegacyResume(const Napi::CallbackInfo& info);  // in dtls-legacy.cc
  Napi::Value Free(const Napi::CallbackInfo& info);

  bool Alive(const Napi::CallbackInfo& info);

  WOLFSSL_CTX* ctx_ = nullptr;
  bool dtls_ = false;
  bool server_ = false;
  uint8_t cookieSecret_[32];
  TicketKey ticketKeys_[2];  // [0] current (encrypts), [1] previous
  WC_RNG rng_;
  bool rngReady_ = false;
  std::vector<int> groups_;
};

}  // namespace wg
