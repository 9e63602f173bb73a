// TUN queue steering: an eBPF program on the multiqueue TUN device that picks,
// for each packet the kernel sends into the device, the queue of the shard
// that owns the destination address, so no packet crosses shards through the
// rings. Two BPF maps: tunnel address → owner shard (written by each shard's
// pump as routes come and go) and shard → queue index (written by the main
// thread, which knows the order queues were attached in).
#pragma once
#include <cstddef>
#include <cstdint>

namespace wg {

// Key of the address map: an IPv6 address as is, an IPv4 address in its
// first four bytes and zeros after (the program builds the same key from the
// packet's destination).
constexpr size_t kSteerKeyBytes = 16;

// Writes owner as the shard of address (4 or 16 bytes); 0 or -errno.
int SteerSetOwner(int mapFd, const uint8_t* address, size_t len, uint32_t owner);
// Removes the address's entry if it still names owner (a session that moved
// to another shard keeps the new owner's entry); 0 or -errno.
int SteerClearOwner(int mapFd, const uint8_t* address, size_t len, uint32_t owner);

}  // namespace wg
