#include "tun-coalesce.h"

#include <cstring>

namespace wg {

// struct virtio_net_hdr and its constants (linux/virtio_net.h, which C++
// cannot include: a field there is named `class`). Host byte order, as the
// kernel reads it from a TUN without TUNSETVNETLE/BE on a little-endian host.
struct VirtioNetHdr {
  uint8_t flags;
  uint8_t gsoType;
  uint16_t hdrLen;
  uint16_t gsoSize;
  uint16_t csumStart;
  uint16_t csumOffset;
};
static_assert(sizeof(VirtioNetHdr) == kVnetHdrLen, "virtio_net_hdr is 10 bytes");
static constexpr uint8_t kVirtioNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
static constexpr uint8_t kVirtioGsoUdpL4 = 5;   // VIRTIO_NET_HDR_GSO_UDP_L4, Linux 6.2+

static constexpr size_t kIp4Hdr = 20;  // IPv4 without options, the only kind taken
static constexpr size_t kIp6Hdr = 40;  // IPv6 without extension headers, likewise
static constexpr size_t kUdpHdr = 8;
static constexpr size_t kMaxIpPacket = 65535;
static constexpr uint8_t kUdp = 17;
static constexpr uint16_t kMfAndOffset = 0x3fff;

static uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
static void Put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// The Internet checksum's sum (RFC 1071) of big-endian 16-bit words, not
// folded; an odd last byte counts as a word's high byte.
static uint64_t Sum(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (; n >= 2; p += 2, n -= 2) s += Get16(p);
  if (n == 1) s += static_cast<uint64_t>(p[0]) << 8;
  return s;
}

static uint16_t Fold(uint64_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

static size_t IpHeaderLen(const uint8_t* pkt) { return (pkt[0] >> 4) == 6 ? kIp6Hdr : kIp4Hdr; }

// The UDP pseudo-header's part: addresses, protocol, UDP length.
static uint64_t PseudoSum(const uint8_t* ip, size_t ipHdr, size_t udpLen) {
  return (ipHdr == kIp6Hdr ? Sum(ip + 8, 32) : Sum(ip + 12, 8)) + kUdp + udpLen;
}

bool UdpCoalescer::Eligible(const uint8_t* pkt, size_t len) {
  if (len == 0 || len > kMaxIpPacket) return false;
  const size_t ipHdr = IpHeaderLen(pkt);
  if (len <= ipHdr + kUdpHdr) return false;  // an empty payload has nothing to cut
  const size_t udpLen = len - ipHdr;
  if (ipHdr == kIp4Hdr) {
    if (pkt[0] != 0x45 || pkt[9] != kUdp) return false;
    if (Get16(pkt + 2) != len || (Get16(pkt + 6) & kMfAndOffset) != 0) return false;
    if (Fold(Sum(pkt, kIp4Hdr)) != 0xffff) return false;
  } else if (pkt[6] != kUdp || Get16(pkt + 4) != udpLen) {
    return false;
  }
  if (Get16(pkt + ipHdr + 4) != udpLen || Get16(pkt + ipHdr + 6) == 0) return false;
  return Fold(PseudoSum(pkt, ipHdr, udpLen) + Sum(pkt + ipHdr, udpLen)) == 0xffff;
}

void UdpCoalescer::Start(const uint8_t* pkt, size_t len) {
  if (buf_.size() < kVnetHdrLen + kMaxIpPacket) buf_.resize(kVnetHdrLen + kMaxIpPacket);
  std::memcpy(buf_.data() + kVnetHdrLen, pkt, len);
  ipHdr_ = IpHeaderLen(pkt);
  len_ = len;
  original_ = len;
  count_ = 1;
  segment_ = static_cast<uint16_t>(len - ipHdr_ - kUdpHdr);
  nextId_ = static_cast<uint16_t>(Get16(pkt + 4) + 1);
  closed_ = false;
}

bool UdpCoalescer::Extend(const uint8_t* pkt, size_t len) {
  if (count_ == 0 || closed_ || count_ >= kMaxSegments || IpHeaderLen(pkt) != ipHdr_) return false;
  const uint8_t* head = buf_.data() + kVnetHdrLen;
  const size_t headers = ipHdr_ + kUdpHdr;
  const size_t payload = len - headers;
  if (payload > segment_ || len_ + payload > kMaxIpPacket) return false;
  if (ipHdr_ == kIp4Hdr) {
    // Version, header length and TOS; flags, TTL and protocol; addresses and ports.
    if (std::memcmp(head, pkt, 2) != 0 || std::memcmp(head + 6, pkt + 6, 4) != 0 || std::memcmp(head + 12, pkt + 12, 12) != 0) return false;
    // The kernel numbers the datagrams it cuts from the run's first ID on.
    if (Get16(pkt + 4) != nextId_) return false;
  } else {
    // Version, traffic class and flow label; next header, hop limit, addresses and ports.
    if (std::memcmp(head, pkt, 4) != 0 || std::memcmp(head + 6, pkt + 6, 38) != 0) return false;
  }
  std::memcpy(buf_.data() + kVnetHdrLen + len_, pkt + headers, payload);
  len_ += payload;
  original_ += len;
  count_++;
  nextId_++;
  if (payload < segment_) closed_ = true;
  return true;
}

const uint8_t* UdpCoalescer::Finish(size_t* len) {
  uint8_t* v = buf_.data();
  uint8_t* ip = v + kVnetHdrLen;
  std::memset(v, 0, kVnetHdrLen);
  if (count_ > 1) {
    const size_t udpLen = len_ - ipHdr_;
    if (ipHdr_ == kIp4Hdr) {
      Put16(ip + 2, len_);
      Put16(ip + 10, 0);
      Put16(ip + 10, static_cast<uint16_t>(~Fold(Sum(ip, kIp4Hdr))));
    } else {
      Put16(ip + 4, udpLen);
    }
    Put16(ip + ipHdr_ + 4, udpLen);
    // Partial checksum (the pseudo-header's, not complemented): the kernel
    // adds each datagram's header and payload when it cuts the run.
    Put16(ip + ipHdr_ + 6, Fold(PseudoSum(ip, ipHdr_, udpLen)));
    VirtioNetHdr h{};
    h.flags = kVirtioNeedsCsum;
    h.gsoType = kVirtioGsoUdpL4;
    h.hdrLen = static_cast<uint16_t>(ipHdr_ + kUdpHdr);
    h.gsoSize = segment_;
    h.csumStart = static_cast<uint16_t>(ipHdr_);
    h.csumOffset = 6;  // offsetof(struct udphdr, check)
    std::memcpy(v, &h, sizeof h);
  }
  *len = kVnetHdrLen + len_;
  return v;
}

}  // namespace wg
