/* Test helper for ring-layout.test.ts: proves native/src/ring/ring_layout.h
 * and src/ring/layout.ts agree.
 *   ring_check constants            → JSON of the header's constants
 *   ring_check pop IMAGE OUT        → pops every packet of the ring image into
 *                                     OUT (u32 length + bytes each), rewrites IMAGE
 *   ring_check push IMAGE IN        → pushes IN's packets; prints how many fit */
#include "ring/ring_layout.h"
#include "ring/route_table.h"

#include <stdio.h>
#include <stdlib.h>

static uint8_t* slurp(const char* path, size_t* len) {
  FILE* f = fopen(path, "rb");
  if (!f) exit(2);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t* buf = malloc(*len ? *len : 1);
  if (fread(buf, 1, *len, f) != *len) exit(2);
  fclose(f);
  return buf;
}

static void spill(const char* path, const uint8_t* buf, size_t len) {
  FILE* f = fopen(path, "wb");
  if (!f || fwrite(buf, 1, len, f) != len) exit(2);
  fclose(f);
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "constants") == 0) {
    printf("{\"RING_MAGIC\":%u,\"RING_LAYOUT_VERSION\":%d,\"CACHE_LINE\":%d,\"OFF_MAGIC\":%d,\"OFF_VERSION\":%d,"
           "\"OFF_SLOT_COUNT\":%d,\"OFF_SLOT_SIZE\":%d,\"OFF_HEAD\":%d,\"OFF_PUSHED\":%d,\"OFF_DROPPED\":%d,"
           "\"OFF_TAIL\":%d,\"OFF_POPPED\":%d,\"OFF_WAKE\":%d,\"OFF_SLEEPING\":%d,\"HEADER_BYTES\":%d,"
           "\"SLOT_LENGTH_BYTES\":%d}\n",
           WG_RING_MAGIC, WG_RING_LAYOUT_VERSION, WG_CACHE_LINE, WG_OFF_MAGIC, WG_OFF_VERSION, WG_OFF_SLOT_COUNT,
           WG_OFF_SLOT_SIZE, WG_OFF_HEAD, WG_OFF_PUSHED, WG_OFF_DROPPED, WG_OFF_TAIL, WG_OFF_POPPED, WG_OFF_WAKE,
           WG_OFF_SLEEPING, WG_HEADER_BYTES, WG_SLOT_LENGTH_BYTES);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "route-constants") == 0) {
    printf("{\"ROUTE_MAGIC\":%u,\"ROUTE_LAYOUT_VERSION\":%d,\"RT_OFF_MAGIC\":%d,\"RT_OFF_VERSION\":%d,"
           "\"RT_OFF_SLOT_COUNT\":%d,\"RT_OFF_V4_PREFIX\":%d,\"RT_OFF_V4_NETWORK\":%d,\"RT_OFF_V6_PREFIX\":%d,"
           "\"RT_OFF_V6_SUBNET\":%d,\"RT_OFF_V6_NETWORK\":%d,\"RT_OFF_TUNNELS\":%d,\"RT_OFF_PAUSED\":%d,"
           "\"RT_HEADER_BYTES\":%d,\"RT_NO_PREFIX\":%d}\n",
           WG_ROUTE_MAGIC, WG_ROUTE_LAYOUT_VERSION, WG_RT_OFF_MAGIC, WG_RT_OFF_VERSION, WG_RT_OFF_SLOT_COUNT,
           WG_RT_OFF_V4_PREFIX, WG_RT_OFF_V4_NETWORK, WG_RT_OFF_V6_PREFIX, WG_RT_OFF_V6_SUBNET, WG_RT_OFF_V6_NETWORK,
           WG_RT_OFF_TUNNELS, WG_RT_OFF_PAUSED, WG_RT_HEADER_BYTES, WG_RT_NO_PREFIX);
    return 0;
  }
  if (argc != 4) return 2;
  size_t len;
  uint8_t* ring = slurp(argv[2], &len);
  if (wg_ring_check(ring, len) != 0) {
    fprintf(stderr, "not a ring\n");
    return 3;
  }
  if (strcmp(argv[1], "pop") == 0) {
    uint8_t pkt[65536];
    FILE* out = fopen(argv[3], "wb");
    int64_t n;
    while ((n = wg_ring_pop(ring, pkt, sizeof(pkt))) >= 0) {
      uint32_t l = (uint32_t)n;
      fwrite(&l, 4, 1, out);
      fwrite(pkt, 1, l, out);
    }
    fclose(out);
  } else if (strcmp(argv[1], "push") == 0) {
    size_t ilen, off = 0;
    uint8_t* in = slurp(argv[3], &ilen);
    int pushed = 0;
    while (off + 4 <= ilen) {
      uint32_t l;
      memcpy(&l, in + off, 4);
      if (wg_ring_push(ring, in + off + 4, l)) pushed++;
      off += 4 + l;
    }
    printf("%d\n", pushed);
  } else {
    return 2;
  }
  spill(argv[2], ring, len);
  return 0;
}
