// Cisco's legacy DTLS (protocol.md §4): the client chose a 48-byte master
// secret in the CONNECT request, the server chose a 32-byte session id in its
// reply, and the client then "resumes" that session with an abbreviated DTLS
// 1.2 handshake, although the session was never negotiated.
//
// wolfSSL has no public setter for a session's master secret. What it does
// have (with HAVE_EXT_CACHE) is an external session cache: a get-callback on
// the context that returns a WOLFSSL_SESSION for a ClientHello's session id,
// and wolfSSL_d2i_SSL_SESSION, which builds a session, master secret
// included, from wolfSSL's own serialisation (wolfSSL_i2d_SSL_SESSION). The
// bytes are made by serialising an empty session and filling in the fields;
// a self-check at context setup reads them back through the public getters,
// so a wolfSSL whose format differs is refused instead of misbehaving.
#pragma once
#include "common.h"

#include <array>

namespace wg {

constexpr size_t kLegacyIdLen = 32;      // ID_LEN, openconnect dtls_session_id[32]
constexpr size_t kLegacySecretLen = 48;  // SECRET_LEN, X-DTLS-Master-Secret

// What one connection may resume: set from JavaScript before the handshake.
struct LegacySession {
  bool set = false;
  std::array<uint8_t, kLegacyIdLen> id{};
  std::array<uint8_t, kLegacySecretLen> secret{};
  uint8_t suite0 = 0, suite = 0;  // IANA cipher suite bytes
  ~LegacySession();
  void Clear();
};

// A session wolfSSL can resume: side is WOLFSSL_SERVER_END or WOLFSSL_CLIENT_END.
// Returns nullptr if the serialisation is not what this code expects.
WOLFSSL_SESSION* BuildLegacySession(const LegacySession& s, int side);

// Makes a DTLS 1.2 server context resume only legacy sessions of its
// connections (no internal cache, no extended master secret). Returns
// WOLFSSL_SUCCESS or a wolfSSL error code.
int EnableLegacyResume(WOLFSSL_CTX* ctx);

// Parses a wolfSSL/OpenSSL suite name ("AES256-GCM-SHA384") into its bytes.
bool LegacySuiteBytes(const std::string& name, uint8_t* suite0, uint8_t* suite);

void InitDtlsLegacy(Napi::Env env, Napi::Object exports);

}  // namespace wg
