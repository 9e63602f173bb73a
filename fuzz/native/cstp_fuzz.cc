// libFuzzer target for the native CSTP reassembly (native/src/cstp-framer.h,
// what Connection::HandleCstp runs on every byte a tunnel peer sends).
//
// Input: byte 0 picks how the rest is cut into reads (1..256 bytes each, as
// TCP may deliver it); the rest is the stream. Checked, beyond what ASan and
// UBSan catch: the frames seen do not depend on how the stream was cut; no
// payload is read past the stream; what is held back is less than one frame.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../../native/src/cstp-framer.h"

namespace {

struct Seen {
  std::vector<uint8_t> types;
  std::vector<uint8_t> bytes;  // payloads, concatenated
  bool bad = false;
};

// Largest frame the format can describe: header plus a 16-bit length.
constexpr size_t kMaxFrame = wg::cstp::kFrameHeaderBytes + 0xffff;

Seen Run(const uint8_t* d, size_t n, size_t step) {
  Seen s;
  std::vector<uint8_t> partial;
  for (size_t off = 0; off < n; off += step) {
    size_t len = n - off < step ? n - off : step;
    // A copy per read, so ASan sees a read past this chunk as the overflow it would be on a socket buffer.
    std::vector<uint8_t> chunk(d + off, d + off + len);
    wg::cstp::FeedEnd end = wg::cstp::Feed(partial, chunk.data(), chunk.size(), [&](uint8_t type, const uint8_t* p, size_t plen) {
      s.types.push_back(type);
      s.bytes.insert(s.bytes.end(), p, p + plen);
      return true;
    });
    if (end == wg::cstp::FeedEnd::kBadHeader) {
      s.bad = true;
      return s;
    }
    if (partial.size() >= kMaxFrame) abort();
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t step = static_cast<size_t>(data[0]) + 1;
  const uint8_t* d = data + 1;
  size_t n = size - 1;
  Seen whole = Run(d, n, n == 0 ? 1 : n);
  Seen cut = Run(d, n, step);
  // A bad header may be seen later in a cut stream only if its frames before it are the same.
  if (whole.bad != cut.bad) abort();
  if (whole.types != cut.types || whole.bytes != cut.bytes) abort();
  if (whole.bytes.size() + whole.types.size() * wg::cstp::kFrameHeaderBytes > n) abort();
  return 0;
}
