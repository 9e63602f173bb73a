// CSTP stream reassembly, apart from Connection so the libFuzzer harness
// (fuzz/native/cstp_fuzz.cc) runs the very code the gateway runs, without
// Node or wolfSSL. Header only: a template so the per-frame callback inlines.
#ifndef WOLFGUARD_CSTP_FRAMER_H_
#define WOLFGUARD_CSTP_FRAMER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace wg {
namespace cstp {

// 'S','T','F',1, length (2, big-endian), type, 0.
constexpr size_t kFrameHeaderBytes = 8;

enum class FeedEnd {
  kDone,       // every whole frame handled; a partial one (if any) kept in `partial`
  kBadHeader,  // not CSTP: the stream is out of sync and must be closed
  kStopped,    // onFrame returned false (the connection died); nothing more may be touched
};

// Appends d[0..n) to the stream whose unfinished frame is in `partial` and
// calls onFrame(type, payload, len) for each whole frame, in order. Frames
// may span calls. The payload pointer is valid only during the call.
template <typename OnFrame>
FeedEnd Feed(std::vector<uint8_t>& partial, const uint8_t* d, size_t n, OnFrame&& onFrame) {
  const uint8_t* p = d;
  size_t left = n;
  if (!partial.empty()) {
    partial.insert(partial.end(), d, d + n);
    p = partial.data();
    left = partial.size();
  }
  size_t off = 0;
  while (left - off >= kFrameHeaderBytes) {
    const uint8_t* f = p + off;
    if (f[0] != 'S' || f[1] != 'T' || f[2] != 'F' || f[3] != 1 || f[7] != 0) return FeedEnd::kBadHeader;
    size_t len = (static_cast<size_t>(f[4]) << 8) | f[5];
    if (left - off < kFrameHeaderBytes + len) break;
    if (!onFrame(f[6], f + kFrameHeaderBytes, len)) return FeedEnd::kStopped;
    off += kFrameHeaderBytes + len;
  }
  // Keep only the unfinished frame.
  if (p == partial.data() && !partial.empty()) {
    partial.erase(partial.begin(), partial.begin() + static_cast<std::ptrdiff_t>(off));
  } else if (off < left) {
    partial.assign(p + off, p + left);
  }
  return FeedEnd::kDone;
}

}  // namespace cstp
}  // namespace wg

#endif  // WOLFGUARD_CSTP_FRAMER_H_
