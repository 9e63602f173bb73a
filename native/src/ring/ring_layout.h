/* Mirror of src/ring/layout.ts: a single-producer single-consumer packet
 * ring in a SharedArrayBuffer. The native packet pump pushes and pops on the
 * same memory JavaScript sees (napi_get_typedarray_info on a view of it).
 * test/unit/ring-layout.test.ts compiles this header and checks both sides
 * agree on every constant and on the bytes. */
#ifndef WOLFGUARD_RING_LAYOUT_H
#define WOLFGUARD_RING_LAYOUT_H

#include <stdint.h>
#include <string.h>

#define WG_RING_MAGIC 0x4e524757u /* "WGRN" */
#define WG_RING_LAYOUT_VERSION 1
#define WG_CACHE_LINE 64
#define WG_OFF_MAGIC 0
#define WG_OFF_VERSION 4
#define WG_OFF_SLOT_COUNT 8
#define WG_OFF_SLOT_SIZE 12
#define WG_OFF_HEAD 64
#define WG_OFF_PUSHED 72
#define WG_OFF_DROPPED 80
#define WG_OFF_TAIL 128
#define WG_OFF_POPPED 136
#define WG_OFF_WAKE 192
#define WG_OFF_SLEEPING 196
#define WG_HEADER_BYTES 256
#define WG_SLOT_LENGTH_BYTES 4

#define WG_U32(base, off) ((uint32_t*)((uint8_t*)(base) + (off)))
#define WG_U64(base, off) ((uint64_t*)((uint8_t*)(base) + (off)))

/* 0 when `base` (of `len` bytes) holds a ring of this layout version. */
static inline int wg_ring_check(const void* base, size_t len) {
  if (len < WG_HEADER_BYTES) return -1;
  uint32_t count = *WG_U32(base, WG_OFF_SLOT_COUNT), size = *WG_U32(base, WG_OFF_SLOT_SIZE);
  if (*WG_U32(base, WG_OFF_MAGIC) != WG_RING_MAGIC || *WG_U32(base, WG_OFF_VERSION) != WG_RING_LAYOUT_VERSION) return -1;
  if (count == 0 || (count & (count - 1)) || size == 0 || (size & (size - 1))) return -1;
  if ((uint64_t)WG_HEADER_BYTES + (uint64_t)count * size != len) return -1;
  return 0;
}

/* Producer: 1 pushed, 0 full or too large (counted as dropped). Lengths are
 * little-endian u32, as the TypeScript side writes them (x86-64 only). */
static inline int wg_ring_push(void* base, const uint8_t* pkt, uint32_t len) {
  uint32_t count = *WG_U32(base, WG_OFF_SLOT_COUNT), size = *WG_U32(base, WG_OFF_SLOT_SIZE);
  uint32_t head = __atomic_load_n(WG_U32(base, WG_OFF_HEAD), __ATOMIC_RELAXED);
  uint32_t tail = __atomic_load_n(WG_U32(base, WG_OFF_TAIL), __ATOMIC_ACQUIRE);
  if (len > size - WG_SLOT_LENGTH_BYTES || head - tail >= count) {
    __atomic_fetch_add(WG_U64(base, WG_OFF_DROPPED), 1, __ATOMIC_RELAXED);
    return 0;
  }
  uint8_t* slot = (uint8_t*)base + WG_HEADER_BYTES + (size_t)(head & (count - 1)) * size;
  memcpy(slot, &len, WG_SLOT_LENGTH_BYTES);
  memcpy(slot + WG_SLOT_LENGTH_BYTES, pkt, len);
  __atomic_store_n(WG_U32(base, WG_OFF_HEAD), head + 1, __ATOMIC_SEQ_CST);
  __atomic_fetch_add(WG_U64(base, WG_OFF_PUSHED), 1, __ATOMIC_RELAXED);
  /* The caller wakes a sleeping consumer (futex on WG_OFF_WAKE) when
   * WG_OFF_SLEEPING is 1: that is a syscall, kept out of this header. */
  return 1;
}

/* Consumer: the packet's length, or -1 when empty, -2 when it does not fit. */
static inline int64_t wg_ring_pop(void* base, uint8_t* out, uint32_t cap) {
  uint32_t count = *WG_U32(base, WG_OFF_SLOT_COUNT), size = *WG_U32(base, WG_OFF_SLOT_SIZE);
  uint32_t tail = __atomic_load_n(WG_U32(base, WG_OFF_TAIL), __ATOMIC_RELAXED);
  uint32_t head = __atomic_load_n(WG_U32(base, WG_OFF_HEAD), __ATOMIC_ACQUIRE);
  if (head == tail) return -1;
  const uint8_t* slot = (const uint8_t*)base + WG_HEADER_BYTES + (size_t)(tail & (count - 1)) * size;
  uint32_t len;
  memcpy(&len, slot, WG_SLOT_LENGTH_BYTES);
  if (len > cap || len > size - WG_SLOT_LENGTH_BYTES) return -2;
  memcpy(out, slot + WG_SLOT_LENGTH_BYTES, len);
  __atomic_store_n(WG_U32(base, WG_OFF_TAIL), tail + 1, __ATOMIC_SEQ_CST);
  __atomic_fetch_add(WG_U64(base, WG_OFF_POPPED), 1, __ATOMIC_RELAXED);
  return len;
}

#endif
