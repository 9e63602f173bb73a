// wolfSSL allocates through mimalloc (fast, thread-local free lists: every
// shard allocates and frees its own connections' memory). Calls go to mi_*
// by name: Debian's libmimalloc also exports malloc/free, but the addon is
// loaded RTLD_LOCAL and links with --exclude-libs, so those exports never
// replace the allocator of Node or of the rest of the process.
#include "common.h"

#include <mimalloc.h>

#include <atomic>
#include <mutex>

namespace wg {

// Counted so a test can prove wolfSSL really allocates through mimalloc.
static std::atomic<uint64_t> gAllocs{0};
static std::atomic<uint64_t> gFrees{0};

static void* WgMalloc(size_t n) {
  gAllocs.fetch_add(1, std::memory_order_relaxed);
  return mi_malloc(n);
}
static void WgFree(void* p) {
  if (p != nullptr) gFrees.fetch_add(1, std::memory_order_relaxed);
  mi_free(p);
}
static void* WgRealloc(void* p, size_t n) {
  if (p == nullptr) gAllocs.fetch_add(1, std::memory_order_relaxed);
  return mi_realloc(p, n);
}

bool EnsureWolfSSL() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    // Allocators must be set before the first wolfSSL allocation.
    if (wolfSSL_SetAllocators(WgMalloc, WgFree, WgRealloc) != 0) return;
    ok = wolfSSL_Init() == WOLFSSL_SUCCESS;
#ifdef WOLFSSL_DRBG_SHA512
    // SHA-256 Hash_DRBG, not wolfSSL 5.9's default SHA-512 one: wolfSSL
    // draws every TLS 1.2 / DTLS 1.2 AEAD record's 8-byte explicit IV from
    // the DRBG (and then overwrites it with the GCM nonce counter), and each
    // draw costs about three compressions of the DRBG's hash. SHA-256 has CPU
    // instructions (SHA-NI) on current x86 where SHA-512 runs in AVX2: a
    // DTLS download profile had 8 % of the gateway's CPU in the SHA-512 DRBG.
    // Both are SP 800-90A Hash_DRBGs; SHA-256's security strength is 256
    // bits. Before any RNG exists, so every one the process makes is SHA-256.
    // A wolfSSL built without the SHA-256 DRBG refuses, and keeps SHA-512:
    // slower, not wrong (the addon's `drbg` says which).
    if (ok) (void)wc_Sha512Drbg_Disable();
#endif
    // wolfSSL_Cleanup is never called: the library lives as long as the
    // process, and workers come and go.
  });
  return ok;
}

static Napi::Value AllocatorStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("allocator", Napi::String::New(env, "mimalloc"));
  o.Set("mimallocVersion", Napi::Number::New(env, mi_version()));
  o.Set("allocs", Napi::Number::New(env, static_cast<double>(gAllocs.load(std::memory_order_relaxed))));
  o.Set("frees", Napi::Number::New(env, static_cast<double>(gFrees.load(std::memory_order_relaxed))));
  return o;
}

void InitAlloc(Napi::Env env, Napi::Object exports) {
  exports.Set("allocatorStats", Napi::Function::New(env, AllocatorStats, "allocatorStats"));
}

}  // namespace wg
