/* Mirror of src/ring/route-table.ts: the lease → owning shard table shared by
 * every shard's pump. An address maps to its lease by arithmetic (IPv4:
 * address - network; IPv6: the bits between the pool prefix and the per-client
 * subnet prefix), then one atomic load gives the owner. */
#ifndef WOLFGUARD_ROUTE_TABLE_H
#define WOLFGUARD_ROUTE_TABLE_H

#include <stdint.h>
#include <string.h>

#define WG_ROUTE_MAGIC 0x54524757u /* "WGRT" */
#define WG_ROUTE_LAYOUT_VERSION 2
#define WG_RT_OFF_MAGIC 0
#define WG_RT_OFF_VERSION 4
#define WG_RT_OFF_SLOT_COUNT 8
#define WG_RT_OFF_V4_PREFIX 12
#define WG_RT_OFF_V4_NETWORK 16
#define WG_RT_OFF_V6_PREFIX 20
#define WG_RT_OFF_V6_SUBNET 24
#define WG_RT_OFF_V6_NETWORK 32
/* Gateway-wide tunnel counts the pumps keep (atomic adds): every tunnel in
 * the pumps' route maps, and those paused for an overloaded client. */
#define WG_RT_OFF_TUNNELS 48
#define WG_RT_OFF_PAUSED 52
#define WG_RT_HEADER_BYTES 64
#define WG_RT_NO_PREFIX 255

static inline uint32_t wg_rt_u32(const void* base, size_t off) {
  uint32_t v;
  memcpy(&v, (const uint8_t*)base + off, 4);
  return v;
}

/* 0 when `base` (of `len` bytes) holds a route table of this layout version. */
static inline int wg_rt_check(const void* base, size_t len) {
  if (len < WG_RT_HEADER_BYTES) return -1;
  if (wg_rt_u32(base, WG_RT_OFF_MAGIC) != WG_ROUTE_MAGIC || wg_rt_u32(base, WG_RT_OFF_VERSION) != WG_ROUTE_LAYOUT_VERSION) return -1;
  if ((uint64_t)WG_RT_HEADER_BYTES + (uint64_t)wg_rt_u32(base, WG_RT_OFF_SLOT_COUNT) * 4 != len) return -1;
  return 0;
}

static inline uint64_t wg_rt_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

/* The lease of a destination address (4 or 16 bytes, network order), or -1
 * when it lies outside the pools. */
static inline int64_t wg_rt_lease(const void* base, const uint8_t* addr, size_t alen) {
  uint32_t slots = wg_rt_u32(base, WG_RT_OFF_SLOT_COUNT);
  uint64_t lease;
  if (alen == 4) {
    uint32_t prefix = wg_rt_u32(base, WG_RT_OFF_V4_PREFIX);
    if (prefix > 32) return -1;
    uint32_t a = ((uint32_t)addr[0] << 24) | ((uint32_t)addr[1] << 16) | ((uint32_t)addr[2] << 8) | addr[3];
    uint32_t net = wg_rt_u32(base, WG_RT_OFF_V4_NETWORK);
    if (prefix > 0 && ((a ^ net) >> (32 - prefix)) != 0) return -1;
    lease = (uint64_t)(a - net);
  } else if (alen == 16) {
    uint32_t prefix = wg_rt_u32(base, WG_RT_OFF_V6_PREFIX), sub = wg_rt_u32(base, WG_RT_OFF_V6_SUBNET);
    if (prefix > 128 || sub > 128 || sub <= prefix) return -1;
    const uint8_t* net = (const uint8_t*)base + WG_RT_OFF_V6_NETWORK;
    uint64_t hi = wg_rt_be64(addr), lo = wg_rt_be64(addr + 8);
    uint64_t nhi = wg_rt_be64(net), nlo = wg_rt_be64(net + 8);
    /* Same network prefix? Compare hi and lo words under the prefix mask. */
    uint64_t mhi = prefix >= 64 ? ~0ull : (prefix == 0 ? 0 : ~0ull << (64 - prefix));
    uint64_t mlo = prefix <= 64 ? 0 : (prefix == 128 ? ~0ull : ~0ull << (128 - prefix));
    if (((hi ^ nhi) & mhi) != 0 || ((lo ^ nlo) & mlo) != 0) return -1;
    /* Bits [prefix, sub) as a number: shift the 128-bit address right by 128 - sub. */
    uint32_t shift = 128 - sub;
    uint64_t v = shift >= 64 ? hi >> (shift - 64) : (shift == 0 ? lo : (hi << (64 - shift)) | (lo >> shift));
    uint32_t width = sub - prefix;
    lease = width >= 64 ? v : v & ((1ull << width) - 1);
  } else {
    return -1;
  }
  return lease < slots ? (int64_t)lease : -1;
}

static inline void wg_rt_count(void* base, size_t off, int32_t delta) {
  __atomic_add_fetch((int32_t*)((uint8_t*)base + off), delta, __ATOMIC_RELAXED);
}

/* True when the gateway has tunnels and every one of them is paused. */
static inline int wg_rt_all_paused(const void* base) {
  int32_t tunnels = __atomic_load_n((const int32_t*)((const uint8_t*)base + WG_RT_OFF_TUNNELS), __ATOMIC_RELAXED);
  int32_t paused = __atomic_load_n((const int32_t*)((const uint8_t*)base + WG_RT_OFF_PAUSED), __ATOMIC_RELAXED);
  return tunnels > 0 && paused >= tunnels;
}

/* The shard owning `lease`, or -1. */
static inline int wg_rt_owner(const void* base, uint32_t lease) {
  const int32_t* owners = (const int32_t*)((const uint8_t*)base + WG_RT_HEADER_BYTES);
  return __atomic_load_n(&owners[lease], __ATOMIC_ACQUIRE) - 1;
}

#endif
