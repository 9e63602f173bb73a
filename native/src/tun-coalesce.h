// Consecutive UDP datagrams of one flow, as a client's tunnel brings
// them, gathered into one packet that the kernel cuts up again: a
// virtio_net_hdr asking for GSO_UDP_L4 in front of it, on a TUN opened with
// IFF_VNET_HDR (Linux 6.2+). One write() and one trip through routing,
// forwarding and the veth or NIC for up to kMaxSegments datagrams instead of
// one each: that per-packet path was most of a plane's CPU for a flood of
// small datagrams (tuning.md, "Small datagrams written to the TUN together").
// No I/O: the pump writes what Finish() returns.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace wg {

// struct virtio_net_hdr (linux/virtio_net.h): what IFF_VNET_HDR puts before
// every packet read from or written to the device.
static constexpr size_t kVnetHdrLen = 10;

class UdpCoalescer {
 public:
  // The kernel cuts a GSO_UDP_L4 packet into at most this many datagrams
  // (UDP_MAX_SEGMENTS); it refuses more.
  static constexpr uint32_t kMaxSegments = 64;

  // A UDP datagram that may join a run: IPv4 without options or fragments,
  // or IPv6 without extension headers; lengths that agree, a UDP checksum
  // present, and the checksums right (the kernel computes the run's anew,
  // which must not hide a bad one).
  static bool Eligible(const uint8_t* pkt, size_t len);
  // An eligible datagram appended to the pending run when it continues it:
  // the same family, addresses, ports, TOS (traffic class and flow label),
  // TTL (hop limit) and IPv4 flags, the next IPv4 ID, a payload no longer
  // than the run's first (a shorter one ends the run). False: the caller
  // writes the run (Finish, Reset) and Start()s a new one with it.
  bool Extend(const uint8_t* pkt, size_t len);
  void Start(const uint8_t* pkt, size_t len);

  uint32_t count() const { return count_; }
  // The datagrams' own bytes (IP headers included), as they came.
  size_t originalBytes() const { return original_; }
  // The run as one write: a virtio_net_hdr, then the packet (a lone datagram
  // goes as it came, with an empty header). Valid until the next call.
  const uint8_t* Finish(size_t* len);
  void Reset() { count_ = 0; }

 private:
  std::vector<uint8_t> buf_;  // kVnetHdrLen, then the run's IP packet
  size_t len_ = 0;            // of the IP packet in buf_
  size_t ipHdr_ = 0;          // 20 (IPv4) or 40 (IPv6)
  size_t original_ = 0;
  uint32_t count_ = 0;
  uint16_t segment_ = 0;  // UDP payload bytes of each datagram but the last
  uint16_t nextId_ = 0;  // IPv4
  bool closed_ = false;   // a shorter datagram ended the run
};

}  // namespace wg
