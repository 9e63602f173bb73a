#include "connection.h"
#include "tun.h"

#include <wolfssl/wolfcrypt/hmac.h>

#include <errno.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace wg {

// Plaintext read per wolfSSL_read batch: one JS Buffer per batch, so larger
// batches mean fewer crossings into JavaScript. 64 KiB holds four full TLS
// records.
static constexpr size_t kScratchSize = 64 * 1024;
// Bytes delivered per loop callback before yielding to other handles; keeps
// one fast sender from starving the other connections of its shard.
static constexpr size_t kReadBudget = 1024 * 1024;
// Tunnel mode yields to the pump's TUN queue after this many bytes: the
// kernel's ACKs for the packets just written wait there, and a TUN queue
// that overflows while one connection drains a burst costs retransmits.
static constexpr size_t kTunnelReadBudget = 128 * 1024;
// DoFlush gathers queued records up to this many bytes per send(): a few TLS
// records' worth, like one pump batch of full-size packets.
static constexpr size_t kFlushCork = 64 * 1024;
// One recv() fills this much; wolfSSL's header and body reads are served
// from it (two syscalls per record otherwise). Two full TLS records.
static constexpr size_t kReadAhead = 2 * (16384 + 256);
// liveness()'s slots, the same as native/lib/addon.ts LivenessSlot.
enum LivenessSlot : size_t { kIdleMs, kDataFramesIn, kBytesIn, kBytesOut, kFramesIn, kFramesOut, kSendCalls, kRecvCalls, kGsoDatagrams, kLivenessFields };
// A DTLS record cannot exceed this (2^14 plaintext + expansion); used as the
// receive size so no datagram is ever truncated.
static constexpr int kMaxDatagram = 65535;
// A plane event kind JavaScript never sees: the plane thread released the
// connection's I/O; the JS thread drops the self-reference (Finish).
static constexpr int kPlaneFinished = 100;

// Overload hand-back. openconnect's CSTP loop reads records until the socket
// is empty and writes the packets to its TUN only then: a server that keeps
// its socket non-empty (offered load above what the client decrypts) gets
// nothing delivered until the flood ends (measured: 5 of 46,506 packets
// during a 3 s flood of 200-byte packets, bench/tunnel/stall.ts). Once a
// tunnel drops for a full queue, the gateway stops writing to it until the
// peer has acknowledged and read everything (nothing in our send queue, and
// its window back near the largest it advertised or time enough passed for
// it to read what it held: PeerCaughtUp), checking every kDrainPollMs
// for kDrainSteadyPollMs and then at doubling intervals, and resumes after
// kDrainMaxPauseMs whatever the peer says. Those signals are estimates: a
// pause that ended while openconnect still held ~600 KB unread left it in
// its read loop for seconds (stall.ts: 17,032 packets delivered, then none
// for 2.3 s). So each pause also sends a DPD request (QueueDrainProbe), which
// openconnect answers only after its read loop found the socket empty
// (cstp.c, cstp_mainloop): the pause waits for that answer and ends on it.
// The estimates decide only for a client that left an earlier probe
// unanswered.
static constexpr uint64_t kDrainPollMs = 1;
// The poll interval doubles up to this while a pause lasts: a peer that
// stops reading altogether costs ~20 checks a second, not 1,000.
static constexpr uint64_t kDrainPollMaxMs = 50;
// For this long a pause is checked every kDrainPollMs before the doubling
// starts: a flooded peer that is still reading catches up within tens of ms,
// and every ms it sits with an empty socket is lost throughput.
static constexpr uint64_t kDrainSteadyPollMs = 100;
static constexpr uint64_t kDrainMaxPauseMs = 1000;
// Once everything is acknowledged, the wait for the peer to read what it
// still holds (estimated in PeerCaughtUp) is at most this: a receive buffer
// of a few hundred KB at the tens of MB/s a client decrypts.
static constexpr uint64_t kDrainGraceMaxMs = 20;
// WOLFGUARD_OVERLOAD_PAUSE=0 turns the hand-back off (for side-by-side measurements).
static bool OverloadPauseOn() {
  static const bool on = EnvSwitchOn("WOLFGUARD_OVERLOAD_PAUSE");
  return on;
}

// recvmmsg()/sendmmsg() batch: one wakeup of a DTLS tunnel takes up to this
// many datagrams per syscall (openconnect sends one record per datagram).
static constexpr unsigned kDatagramBatch = 32;
// UDP GSO (UDP_SEGMENT, Linux 4.18+): a run of equal datagrams goes down the
// stack as one buffer that the kernel cuts into datagrams as late as it can
// (the NIC, or the receiving socket on a veth): one route lookup, netfilter,
// qdisc and bridge pass per run instead of per datagram. In a DTLS download
// profile sendmmsg() was 49 % of the plane thread's CPU, nearly all of it in
// that per-datagram path. WOLFGUARD_UDP_GSO=0 turns it off.
static bool UdpGsoOn() {
  static const bool on = EnvSwitchOn("WOLFGUARD_UDP_GSO");
  return on;
}
// The kernel's UDP_MAX_SEGMENTS until 6.11 (128 since).
static constexpr unsigned kGsoMaxSegments = 64;
// A run is one IP datagram until cut: with the 8-byte UDP header and an IP
// header of up to 40 bytes (IPv6's, or IPv4's with options) it must fit IP's
// 16-bit length field.
static constexpr size_t kGsoMaxBytes = 0xFFFF - 40 - 8;
// Receive slot per batched datagram: a jumbo frame plus DTLS overhead. A
// tunnel datagram larger than this is cut by the kernel (MSG_TRUNC) and
// dropped, as a router with a smaller MTU would drop it.
static constexpr size_t kRxSlot = 9216;

// The receive batch of this thread: filled by one connection's IoRecv and
// drained by the same connection's DoRead; empty (owner null) outside it.
struct RxBatch {
  std::vector<uint8_t> buf;
  mmsghdr msgs[kDatagramBatch];
  iovec iov[kDatagramBatch];
  const void* owner = nullptr;
  unsigned count = 0, next = 0;
};
static thread_local RxBatch tRx;

// One scratch buffer per thread: only one connection of a thread reads at a
// time, and idle connections then hold no read buffer at all.
static thread_local std::vector<uint8_t> tScratch;

// Counts native frames of a connection that may call into JavaScript. JS may
// destroy the connection from any event; the release of wolfSSL, the fd and
// the self-reference then waits until the outermost frame unwinds, so no
// frame (wolfSSL's own included) ever runs on freed state.
struct DepthGuard {
  explicit DepthGuard(Connection* c) : c_(c) { ++c_->depth_; }
  ~DepthGuard() {
    if (--c_->depth_ != 0) return;
    if (c_->closePending_) {
      c_->closePending_ = false;
      c_->Finish();
    }
    if (c_->migrationLock_.owns_lock()) c_->migrationLock_.unlock();
  }
  Connection* c_;
};

static int RecvCb(WOLFSSL*, char* buf, int sz, void* ctx) { return static_cast<Connection*>(ctx)->IoRecv(buf, sz); }
static int SendCb(WOLFSSL*, char* buf, int sz, void* ctx) { return static_cast<Connection*>(ctx)->IoSend(buf, sz); }

int GenCookieTrampoline(WOLFSSL* ssl, unsigned char* buf, int sz, void*) {
  auto* c = static_cast<Connection*>(wolfSSL_GetIOReadCtx(ssl));
  return c == nullptr ? GEN_COOKIE_E : c->GenCookie(buf, sz);
}

unsigned int PskServerCb(WOLFSSL* ssl, const char* identity, unsigned char* key, unsigned int maxLen) {
  auto* c = static_cast<Connection*>(wolfSSL_GetIOReadCtx(ssl));
  return c == nullptr ? 0 : c->PskServer(identity, key, maxLen);
}

unsigned int PskClientCb(WOLFSSL* ssl, const char*, char* identity, unsigned int idMax, unsigned char* key,
                                unsigned int keyMax) {
  auto* c = static_cast<Connection*>(wolfSSL_GetIOReadCtx(ssl));
  return c == nullptr ? 0 : c->PskClient(identity, idMax, key, keyMax);
}

Napi::Function Connection::DefineClass(Napi::Env env) {
  return ObjectWrap<Connection>::DefineClass(
      env, "Connection",
      {
          InstanceMethod<&Connection::Start>("start"),
          InstanceMethod<&Connection::Write>("write"),
          InstanceMethod<&Connection::ReadStart>("readStart"),
          InstanceMethod<&Connection::ReadStop>("readStop"),
          InstanceMethod<&Connection::Shutdown>("shutdown"),
          InstanceMethod<&Connection::Destroy>("destroy"),
          InstanceMethod<&Connection::ExportKeyingMaterial>("exportKeyingMaterial"),
          InstanceMethod<&Connection::Info>("info"),
          InstanceMethod<&Connection::PeerCertificates>("peerCertificates"),
          InstanceMethod<&Connection::SetPskServer>("setPskServer"),
          InstanceMethod<&Connection::SetPskClient>("setPskClient"),
          InstanceMethod<&Connection::InjectDatagram>("injectDatagram"),
          InstanceMethod<&Connection::SetMtu>("setMtu"),
          InstanceMethod<&Connection::GetSession>("getSession"),
          InstanceMethod<&Connection::SetSession>("setSession"),
          InstanceMethod<&Connection::Stats>("stats"),
          InstanceMethod<&Connection::Liveness>("liveness"),
          InstanceMethod<&Connection::ReleaseSecrets>("releaseSecrets"),
          InstanceMethod<&Connection::StartTunnel>("startTunnel"),
          InstanceMethod<&Connection::SetLegacySession>("setLegacySession"),
      });
}

// new Connection(context, fd, onEvent). The connection owns fd from here on,
// including when the constructor fails (the fd is closed then).
Connection::Connection(const Napi::CallbackInfo& info) : ObjectWrap<Connection>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (info.Length() >= 2 && info[1].IsNumber()) fd_ = info[1].As<Napi::Number>().Int32Value();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsNumber() || !info[2].IsFunction()) {
    Napi::TypeError::New(env, "Connection(context, fd, onEvent)").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object ctxObj = info[0].As<Napi::Object>();
  if (!ctxObj.InstanceOf(Instance(env)->contextCtor.Value())) {
    Napi::TypeError::New(env, "context must be a Context of this thread").ThrowAsJavaScriptException();
    return;
  }
  ctx_ = Context::Unwrap(ctxObj);
  if (ctx_->ctx() == nullptr) {
    MakeError(env, "context is freed", 0, "state").ThrowAsJavaScriptException();
    return;
  }
  if (fd_ < 0) {
    Napi::RangeError::New(env, "fd must be >= 0").ThrowAsJavaScriptException();
    return;
  }
  context_ = Napi::Persistent(ctxObj);
  onEvent_ = Napi::Persistent(info[2].As<Napi::Function>());
  dtls_ = ctx_->dtls();
  server_ = ctx_->server();

  ssl_ = wolfSSL_new(ctx_->ctx());
  if (ssl_ == nullptr) {
    ThrowWolfSSL(env, "wolfSSL_new", MEMORY_E);
    return;
  }
  if (!ctx_->groups().empty()) {
    std::vector<int> groups = ctx_->groups();  // wolfSSL_set_groups takes a non-const array
    int ret = wolfSSL_set_groups(ssl_, groups.data(), static_cast<int>(groups.size()));
    if (ret != WOLFSSL_SUCCESS) {
      wolfSSL_free(ssl_);
      ssl_ = nullptr;
      ThrowWolfSSL(env, "wolfSSL_set_groups", ret);
      return;
    }
  }
  wolfSSL_SSLSetIORecv(ssl_, RecvCb);
  wolfSSL_SSLSetIOSend(ssl_, SendCb);
  wolfSSL_SetIOReadCtx(ssl_, this);
  wolfSSL_SetIOWriteCtx(ssl_, this);
  if (dtls_) wolfSSL_dtls_set_using_nonblock(ssl_, 1);
  // The exporter (RFC 5705) needs the handshake's secrets after the handshake;
  // wolfSSL drops them unless asked. releaseSecrets() frees them once the
  // caller has exported what it needs (openconnect's DTLS PSK).
  wolfSSL_KeepArrays(ssl_);
  async_ = new Napi::AsyncContext(env, dtls_ ? "wolfguard:DTLS" : "wolfguard:TLS", info.This().As<Napi::Object>());
}

Connection::~Connection() {
  // The loop handles hold `this` as data; CloseHandles detaches them first.
  CloseHandles();
  delete async_;
}

void Connection::CloseHandles() {
  PlaneLock lk(plane_);
  if (plane_ && planeId_ != 0) {
    plane_->Remove(planeId_);  // before the fd closes: its number may be reused at once
    planeId_ = 0;
  }
  if (pump_ != nullptr) {
    pump_->Detach(this);
    pump_ = nullptr;
  }
  txBatch_.clear();
  txFrames_.clear();
  txCork_.clear();
  txCorkOff_ = 0;
  txDgEnds_.clear();
  txDgNext_ = 0;
  if (tRx.owner == this) {
    tRx.owner = nullptr;
    tRx.count = tRx.next = 0;
  }
  cstpIn_.clear();
  CloseLoopHandles();
  if (ssl_ != nullptr) {
    wolfSSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  outq_.clear();
  outqBytes_ = 0;
  injected_.clear();
  if (!pskKey_.empty()) {
    std::memset(pskKey_.data(), 0, pskKey_.size());
    pskKey_.clear();
  }
}

// The JS loop's poll and timer of this connection (at close, or when it moves to the plane).
void Connection::CloseLoopHandles() {
  if (poll_ != nullptr) {
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (timer_ != nullptr) {
    timer_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
}

// ---------------------------------------------------------------- I/O hooks

int Connection::IoRecv(char* buf, int sz) {
  if (dtls_ && !injected_.empty()) {
    std::vector<uint8_t>& d = injected_.front();
    int n = static_cast<int>(d.size()) < sz ? static_cast<int>(d.size()) : sz;
    std::memcpy(buf, d.data(), static_cast<size_t>(n));
    injected_.pop_front();
    return n;
  }
  if (dtls_ && tunnel_ && (tRx.owner == nullptr || tRx.owner == this)) return RecvBatched(buf, sz);
  // TLS: wolfSSL asks for a record header, then its body; serve both (and
  // the records behind them) from one recv() into a read-ahead buffer.
  if (!dtls_) {
    if (rxOff_ == rxEnd_) {
      if (rxDrained_) return WOLFSSL_CBIO_ERR_WANT_READ;
      if (rxAhead_.size() < kReadAhead) rxAhead_.resize(kReadAhead);
      ssize_t n;
      do {
        n = recv(fd_, rxAhead_.data(), rxAhead_.size(), 0);
      } while (n < 0 && errno == EINTR);
      if (n == 0) return WOLFSSL_CBIO_ERR_CONN_CLOSE;
      if (n < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) return WOLFSSL_CBIO_ERR_WANT_READ;
        lastErrno_ = e;
        return e == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST : WOLFSSL_CBIO_ERR_GENERAL;
      }
      rxOff_ = 0;
      rxEnd_ = static_cast<size_t>(n);
      rxDrained_ = rxEnd_ < rxAhead_.size();
    }
    size_t take = std::min(static_cast<size_t>(sz), rxEnd_ - rxOff_);
    std::memcpy(buf, rxAhead_.data() + rxOff_, take);
    rxOff_ += take;
    return static_cast<int>(take);
  }
  for (;;) {
    ssize_t n = recv(fd_, buf, static_cast<size_t>(sz), 0);
    if (n > 0) return static_cast<int>(n);
    if (n == 0) {
      if (dtls_) continue;  // an empty datagram: nothing to parse, read on
      return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) return WOLFSSL_CBIO_ERR_WANT_READ;
    lastErrno_ = e;
    // ICMP errors reported on a connected UDP socket are advisory for DTLS:
    // the peer may come back (roaming, restarts); dead peers are found by DPD.
    if (dtls_ && (e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH)) return WOLFSSL_CBIO_ERR_WANT_READ;
    if (e == ECONNRESET) return WOLFSSL_CBIO_ERR_CONN_RST;
    return WOLFSSL_CBIO_ERR_GENERAL;
  }
}

// The next datagram of this thread's receive batch, refilled with one
// recvmmsg() when it runs dry.
int Connection::RecvBatched(char* buf, int sz) {
  for (;;) {
    while (tRx.owner == this && tRx.next < tRx.count) {
      const mmsghdr& m = tRx.msgs[tRx.next];
      const uint8_t* d = static_cast<const uint8_t*>(tRx.iov[tRx.next].iov_base);
      tRx.next++;
      if ((m.msg_hdr.msg_flags & MSG_TRUNC) != 0) {
        txDrops_++;  // counted with the other dropped tunnel datagrams
        continue;
      }
      if (m.msg_len == 0) continue;
      int n = static_cast<int>(m.msg_len) < sz ? static_cast<int>(m.msg_len) : sz;
      std::memcpy(buf, d, static_cast<size_t>(n));
      return n;
    }
    tRx.owner = nullptr;
    tRx.count = tRx.next = 0;
    if (tRx.buf.size() < kDatagramBatch * kRxSlot) tRx.buf.resize(kDatagramBatch * kRxSlot);
    for (unsigned i = 0; i < kDatagramBatch; i++) {
      tRx.iov[i].iov_base = tRx.buf.data() + i * kRxSlot;
      tRx.iov[i].iov_len = kRxSlot;
      std::memset(&tRx.msgs[i], 0, sizeof(mmsghdr));
      tRx.msgs[i].msg_hdr.msg_iov = &tRx.iov[i];
      tRx.msgs[i].msg_hdr.msg_iovlen = 1;
    }
    if (rxDrained_) return WOLFSSL_CBIO_ERR_WANT_READ;
    recvCalls_++;
    int r = recvmmsg(fd_, tRx.msgs, kDatagramBatch, MSG_DONTWAIT, nullptr);
    if (r > 0) {
      tRx.owner = this;
      tRx.count = static_cast<unsigned>(r);
      rxDrained_ = tRx.count < kDatagramBatch;
      continue;
    }
    if (r == 0) return WOLFSSL_CBIO_ERR_WANT_READ;
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) return WOLFSSL_CBIO_ERR_WANT_READ;
    lastErrno_ = e;
    if (e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH) return WOLFSSL_CBIO_ERR_WANT_READ;
    if (e == ECONNRESET) return WOLFSSL_CBIO_ERR_CONN_RST;
    return WOLFSSL_CBIO_ERR_GENERAL;
  }
}

// DoRead is over: datagrams of the batch it did not reach (it stopped early)
// move to injected_, and a read is scheduled for them, since the socket that
// brought them will not be readable again.
void Connection::ReleaseRxBatch() {
  if (tRx.owner != this) return;
  if (!Dead()) {
    for (unsigned i = tRx.next; i < tRx.count; i++) {
      const uint8_t* d = static_cast<const uint8_t*>(tRx.iov[i].iov_base);
      if ((tRx.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) == 0) injected_.emplace_back(d, d + tRx.msgs[i].msg_len);
    }
    if (!injected_.empty()) {
      readScheduled_ = true;
      ArmTimer(0);
    }
  }
  tRx.owner = nullptr;
  tRx.count = tRx.next = 0;
}

int Connection::IoSend(const char* buf, int sz) {
  // Corked (a tunnel batch): gather the records, one send() (TLS) or one
  // sendmmsg() (DTLS) at uncork.
  if (cork_) {
    // As bytes of txCork_'s own type: from char, the range insert copied
    // byte by byte (9 % of the gateway's CPU in a DTLS download profile).
    const uint8_t* b = reinterpret_cast<const uint8_t*>(buf);
    txCork_.insert(txCork_.end(), b, b + sz);
    if (dtls_) txDgEnds_.push_back(txCork_.size());
    return sz;
  }
  // Records gathered earlier go first; until they are out, nothing else.
  if (!SendCorked()) return WOLFSSL_CBIO_ERR_WANT_WRITE;
  if (lastErrno_ != 0 && corkFailed_) return WOLFSSL_CBIO_ERR_GENERAL;
  for (;;) {
    sendCalls_++;
    ssize_t n = send(fd_, buf, static_cast<size_t>(sz), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) return WOLFSSL_CBIO_ERR_WANT_WRITE;
    lastErrno_ = e;
    if (dtls_ && (e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EMSGSIZE)) return sz;
    if (e == EPIPE) return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    if (e == ECONNRESET) return WOLFSSL_CBIO_ERR_CONN_RST;
    return WOLFSSL_CBIO_ERR_GENERAL;
  }
}

// Sends what the cork gathered; true when nothing is left. A hard error is
// remembered (corkFailed_) and reported by the next write.
bool Connection::SendCorked() {
  if (dtls_) return SendCorkedDatagrams();
  while (txCorkOff_ < txCork_.size()) {
    sendCalls_++;
    ssize_t n = send(fd_, txCork_.data() + txCorkOff_, txCork_.size() - txCorkOff_, MSG_NOSIGNAL);
    if (n > 0) {
      txCorkOff_ += static_cast<size_t>(n);
      continue;
    }
    int e = errno;
    if (n < 0 && e == EINTR) continue;
    if (n < 0 && (e == EAGAIN || e == EWOULDBLOCK)) {
      wantWrite_ = true;
      return false;
    }
    lastErrno_ = n < 0 ? e : EPIPE;
    corkFailed_ = true;
    txCork_.clear();
    txCorkOff_ = 0;
    return true;
  }
  txCork_.clear();
  txCorkOff_ = 0;
  return true;
}

// The DTLS form of SendCorked: the gathered datagrams, up to kDatagramBatch
// messages per sendmmsg(), each message a run of datagrams of one length (the
// last may be shorter) sent with UDP GSO when the connection may. Errors a
// lossy path reports (ICMP, EMSGSIZE) drop the message's datagrams, as IoSend
// drops one; EAGAIN keeps the rest for when writable.
bool Connection::SendCorkedDatagrams() {
  mmsghdr msgs[kDatagramBatch];
  iovec iov[kDatagramBatch];
  unsigned carried[kDatagramBatch];  // datagrams in each message
  alignas(cmsghdr) uint8_t control[kDatagramBatch][CMSG_SPACE(sizeof(uint16_t))];
  if (!UdpGsoOn()) udpGso_ = false;
  while (txDgNext_ < txDgEnds_.size()) {
    size_t start = txDgNext_ == 0 ? 0 : txDgEnds_[txDgNext_ - 1];
    txCorkOff_ = start;
    unsigned n = 0;
    for (size_t i = txDgNext_; i < txDgEnds_.size() && n < kDatagramBatch; n++) {
      const size_t segment = txDgEnds_[i] - start;
      size_t end = txDgEnds_[i++];
      unsigned k = 1;
      // A run grows while the next datagram is no longer than the first; a
      // shorter one is the kernel's last segment, so it ends the run.
      while (udpGso_ && i < txDgEnds_.size() && k < kGsoMaxSegments) {
        const size_t len = txDgEnds_[i] - end;
        if (len > segment || txDgEnds_[i] - start > kGsoMaxBytes) break;
        end = txDgEnds_[i++];
        k++;
        if (len < segment) break;
      }
      std::memset(&msgs[n], 0, sizeof(mmsghdr));
      iov[n].iov_base = txCork_.data() + start;
      iov[n].iov_len = end - start;
      msgs[n].msg_hdr.msg_iov = &iov[n];
      msgs[n].msg_hdr.msg_iovlen = 1;
      if (k > 1) {
        msgs[n].msg_hdr.msg_control = control[n];
        msgs[n].msg_hdr.msg_controllen = sizeof(control[n]);
        cmsghdr* c = CMSG_FIRSTHDR(&msgs[n].msg_hdr);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        const uint16_t size = static_cast<uint16_t>(segment);
        std::memcpy(CMSG_DATA(c), &size, sizeof(size));
      }
      carried[n] = k;
      start = end;
    }
    sendCalls_++;
    int r = sendmmsg(fd_, msgs, n, MSG_NOSIGNAL);
    if (r > 0) {
      for (int m = 0; m < r; m++) {
        txDgNext_ += carried[m];
        if (carried[m] > 1) gsoDatagrams_ += carried[m];
      }
      continue;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) {
      wantWrite_ = true;
      return false;
    }
    // The kernel refuses GSO on this route (no checksum offload on the
    // device: EIO; a segment above the route's MTU or an old kernel: EINVAL):
    // datagram by datagram from here on, each with its own verdict.
    if (carried[0] > 1 && (e == EIO || e == EINVAL || e == EMSGSIZE || e == ENOPROTOOPT || e == EOPNOTSUPP)) {
      udpGso_ = false;
      continue;
    }
    lastErrno_ = e;
    if (e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EMSGSIZE) {
      txDgNext_ += carried[0];
      continue;
    }
    corkFailed_ = true;
    break;
  }
  txCork_.clear();
  txDgEnds_.clear();
  txDgNext_ = 0;
  txCorkOff_ = 0;
  return true;
}

int Connection::GenCookie(unsigned char* buf, int sz) {
  sockaddr_storage peer;
  socklen_t len = sizeof(peer);
  std::memset(&peer, 0, sizeof(peer));
  if (getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return GEN_COOKIE_E;
  Hmac h;
  uint8_t mac[WC_SHA256_DIGEST_SIZE];
  if (wc_HmacInit(&h, nullptr, INVALID_DEVID) != 0) return GEN_COOKIE_E;
  int ret = wc_HmacSetKey(&h, WC_SHA256, ctx_->cookieSecret(), 32);
  if (ret == 0) ret = wc_HmacUpdate(&h, reinterpret_cast<const byte*>(&peer), len);
  if (ret == 0) ret = wc_HmacFinal(&h, mac);
  wc_HmacFree(&h);
  if (ret != 0 || sz < 0) return GEN_COOKIE_E;
  int n = sz < static_cast<int>(sizeof(mac)) ? sz : static_cast<int>(sizeof(mac));
  std::memcpy(buf, mac, static_cast<size_t>(n));
  return n;
}

unsigned int Connection::PskServer(const char* identity, unsigned char* key, unsigned int maxLen) {
  if (!pskServer_ || Dead()) return 0;
  Napi::HandleScope scope(env_);
  Napi::Value r = Emit(kEvPsk, Napi::String::New(env_, identity == nullptr ? "" : identity));
  if (Dead() || r.IsEmpty() || !r.IsTypedArray()) return 0;
  Napi::TypedArray ta = r.As<Napi::TypedArray>();
  size_t n = ta.ByteLength();
  if (n == 0 || n > maxLen) return 0;
  std::memcpy(key, static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), n);
  return static_cast<unsigned int>(n);
}

unsigned int Connection::PskClient(char* identity, unsigned int idMax, unsigned char* key, unsigned int keyMax) {
  if (pskKey_.empty() || pskIdentity_.size() + 1 > idMax || pskKey_.size() > keyMax) return 0;
  std::memcpy(identity, pskIdentity_.c_str(), pskIdentity_.size() + 1);
  std::memcpy(key, pskKey_.data(), pskKey_.size());
  return static_cast<unsigned int>(pskKey_.size());
}

// ------------------------------------------------------------- event engine

// The C calls, not node-addon-api's: while a worker's environment is torn
// down, Node still runs the loop's pending callbacks (the plane's uv_async
// among them) with JavaScript disallowed, and node-addon-api turns the
// refused call into a throw that is itself refused: a fatal error (seen
// once in five full test runs, a shard ending with a tunnel open).
Napi::Value Connection::Emit(EventKind kind, Napi::Value a, Napi::Value b) {
  Napi::Env env = env_;
  napi_value args[3] = {Napi::Number::New(env, kind), a.IsEmpty() ? env.Undefined() : a,
                        b.IsEmpty() ? env.Undefined() : b};
  napi_value r = nullptr;
  if (napi_make_callback(env, *async_, Value(), onEvent_.Value(), 3, args, &r) == napi_ok) return Napi::Value(env, r);
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    // The TypeScript layer catches its own errors; anything that still gets
    // here is a bug there, reported the way Node reports a throwing listener.
    napi_value e;
    if (napi_get_and_clear_last_exception(env, &e) == napi_ok) napi_fatal_exception(env, e);
  }
  // Otherwise JavaScript can no longer run here: nobody is left to tell.
  return Napi::Value();
}

// A Buffer copy of bytes for an event, or empty when JavaScript can no
// longer run (see Emit): the event is dropped then.
static Napi::Value CopyBuffer(Napi::Env env, const uint8_t* d, size_t n) {
  napi_value b = nullptr;
  void* data = nullptr;
  if (napi_create_buffer_copy(env, n, d, &data, &b) != napi_ok) return Napi::Value();
  return Napi::Value(env, b);
}

void Connection::Fail(int code, const std::string& msg) {
  if (Dead()) return;
  std::string text = msg;
  if (lastErrno_ != 0) text += std::string(" (") + std::strerror(lastErrno_) + ")";
  if (plane_ && plane_->OnThread()) {
    // Queued ahead of the release, which purges whatever follows it.
    EmitNative(kEvError, code, text);
    RequestClose();
    return;
  }
  RequestClose();
  EmitNative(kEvError, code, text);
}

void Connection::EmitNative(EventKind kind, int code, const std::string& text, const uint8_t* bytes, size_t len) {
  if (plane_ && plane_->OnThread()) {
    PlaneEvent e;
    e.deliver = DeliverPlaneEvent;
    e.target = this;
    e.kind = kind;
    e.code = code;
    e.text = text;
    if (bytes != nullptr) e.bytes.assign(bytes, bytes + len);
    plane_->Post(std::move(e));
    return;
  }
  Napi::HandleScope scope(env_);
  if (kind == kEvError) {
    Emit(kind, Napi::Number::New(env_, code), Napi::String::New(env_, text));
  } else if (kind == kEvControl) {
    Napi::Value b = CopyBuffer(env_, bytes, len);
    if (!b.IsEmpty()) Emit(kind, Napi::Number::New(env_, code), b);
  } else {
    Emit(kind);
  }
}

// On the JS thread, from the plane's queue.
void Connection::DeliverPlaneEvent(void* target, PlaneEvent& e) {
  auto* self = static_cast<Connection*>(target);
  Napi::HandleScope scope(self->env_);
  if (e.kind == kPlaneFinished) {
    self->Finish();
    return;
  }
  DepthGuard guard(self);
  self->EmitNative(static_cast<EventKind>(e.kind), e.code, e.text, e.bytes.data(), e.bytes.size());
}

void Connection::RequestClose() {
  if (state_ == State::kClosed && !referenced_ && ssl_ == nullptr) return;
  state_ = State::kClosed;
  if (depth_ > 0)
    closePending_ = true;
  else
    Finish();
}

void Connection::Finish() {
  PlaneLock lk(plane_);
  CloseHandles();
  if (!referenced_) return;
  if (plane_ && plane_->OnThread()) {
    // The reference is JavaScript's to drop.
    if (!finishPosted_) {
      finishPosted_ = true;
      PlaneEvent e;
      e.deliver = DeliverPlaneEvent;
      e.target = this;
      e.kind = kPlaneFinished;
      plane_->Post(std::move(e));
    }
    return;
  }
  referenced_ = false;
  if (plane_) plane_->Purge(this);
  napi_remove_env_cleanup_hook(env_, EnvCleanup, this);
  Unref();
}

// The environment (a worker_thread, or the process) is going away with this
// connection open: release the loop handles while the loop still exists.
void Connection::EnvCleanup(void* arg) {
  auto* self = static_cast<Connection*>(arg);
  PlaneLock lk(self->plane_);
  self->state_ = State::kClosed;
  self->referenced_ = false;
  self->CloseHandles();
}

void Connection::OnPoll(uv_poll_t* h, int status, int events) {
  auto* self = static_cast<Connection*>(h->data);
  if (self == nullptr || self->Dead()) return;
  Napi::HandleScope scope(self->env_);
  DepthGuard guard(self);
  if (status < 0) {
    self->Fail(status, std::string("poll: ") + uv_strerror(status));
    return;
  }
  if (events & UV_WRITABLE) self->wantWrite_ = false;
  if (events & UV_READABLE) self->rxDrained_ = false;
  self->Drive();
}

void Connection::OnTimer(uv_timer_t* h) {
  auto* self = static_cast<Connection*>(h->data);
  if (self == nullptr || self->Dead()) return;
  Napi::HandleScope scope(self->env_);
  self->OnPlaneTimer(0);
}

// The one-shot timer fired (the loop's or the plane's).
void Connection::OnPlaneTimer(uint64_t) {
  if (Dead()) return;
  DepthGuard guard(this);
  if (readScheduled_) {
    readScheduled_ = false;
  } else if (dtls_ && ssl_ != nullptr) {
    // A DTLS retransmission timer expired: let wolfSSL resend its flight.
    int ret = wolfSSL_dtls_got_timeout(ssl_);
    if (ret != WOLFSSL_SUCCESS) {
      int err = wolfSSL_get_error(ssl_, ret);
      if (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE) {
        Fail(err, "DTLS handshake timed out: " + WolfSSLErrorText(err));
        return;
      }
    }
  }
  Drive();
}

// Level-triggered, as uv_poll is: hang-ups and errors show up as readable
// and writable, and the read or write that follows reports them.
void Connection::OnPlaneEvents(uint64_t, uint32_t events) {
  if (Dead()) return;
  DepthGuard guard(this);
  if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) wantWrite_ = false;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) rxDrained_ = false;
  Drive();
}

void Connection::ArmTimer(uint64_t ms) {
  if (plane_) {
    if (planeId_ != 0) plane_->Arm(planeId_, ms);
  } else if (timer_ != nullptr) {
    uv_timer_start(timer_, OnTimer, ms, 0);
  }
}

uint64_t Connection::NowMs() const { return plane_ ? Plane::Now() : uv_now(Instance(env_)->loop); }

void Connection::Drive() {
  if (state_ == State::kHandshake) DoHandshake();
  if (state_ == State::kOpen && (!outq_.empty() || txCorkOff_ < txCork_.size())) DoFlush();
  if (state_ == State::kOpen && reading_) DoRead();
  if (!Dead()) UpdatePoll();
}

void Connection::DoHandshake() {
  int ret = server_ ? wolfSSL_accept(ssl_) : wolfSSL_connect(ssl_);
  if (ret == WOLFSSL_SUCCESS) {
    state_ = State::kOpen;
    if (timer_ != nullptr) uv_timer_stop(timer_);
    Emit(kEvHandshake);
    return;
  }
  int err = wolfSSL_get_error(ssl_, ret);
  if (err == WOLFSSL_ERROR_WANT_READ) {
    if (dtls_) ArmDtlsTimer();
    return;
  }
  if (err == WOLFSSL_ERROR_WANT_WRITE) {
    wantWrite_ = true;
    return;
  }
  Fail(err, "handshake failed: " + WolfSSLErrorText(err));
}

void Connection::ArmDtlsTimer() {
  if (timer_ == nullptr) return;
  int seconds = wolfSSL_dtls_get_current_timeout(ssl_);
  if (seconds <= 0) seconds = 1;
  uint64_t ms = static_cast<uint64_t>(seconds) * 1000;
  // DTLS 1.3 retransmits after a quarter of the timeout when asked to, which
  // shortens lost-flight recovery without hammering the peer.
  if (wolfSSL_dtls13_use_quick_timeout(ssl_)) ms /= 4;
  uv_timer_start(timer_, OnTimer, ms, 0);
}

void Connection::DoRead() {
  DoReadRecords();
  // The TUN packets of this read leave now, run or not (tun-coalesce.h).
  if (pump_ != nullptr) pump_->FlushTun();
  if (dtls_ && tunnel_) ReleaseRxBatch();
}

void Connection::DoReadRecords() {
  if (tScratch.size() < kScratchSize) tScratch.resize(kScratchSize);
  uint8_t* scratch = tScratch.data();
  size_t budget = tunnel_ ? kTunnelReadBudget : kReadBudget;
  while (reading_ && state_ == State::kOpen) {
    size_t used = 0;
    int err = 0;
    if (!dtls_) {
      // Several records per JavaScript call.
      while (used < kScratchSize) {
        int ret = wolfSSL_read(ssl_, scratch + used, static_cast<int>(kScratchSize - used));
        if (ret <= 0) {
          err = wolfSSL_get_error(ssl_, ret);
          break;
        }
        used += static_cast<size_t>(ret);
      }
    } else {
      int ret = wolfSSL_read(ssl_, scratch, static_cast<int>(kScratchSize));
      if (ret > 0)
        used = static_cast<size_t>(ret);
      else
        err = wolfSSL_get_error(ssl_, ret);
    }
    if (used > 0 && tunnel_) {
      bytesIn_ += used;
      lastRx_ = NowMs();
      if (dtls_)
        HandleDtls(scratch, used);
      else
        HandleCstp(scratch, used);
      if (Dead()) return;
      FlushBatch();
      if (Dead()) return;
      budget = used >= budget ? 0 : budget - used;
    } else if (used > 0) {
      bytesIn_ += used;
      Napi::Value b = CopyBuffer(env_, scratch, used);
      Napi::Value r = b.IsEmpty() ? Napi::Value() : Emit(kEvData, b);
      if (Dead()) return;
      if (!r.IsEmpty() && r.IsBoolean() && !r.As<Napi::Boolean>().Value()) reading_ = false;
      budget = used >= budget ? 0 : budget - used;
    }
    if (err == 0) {
      // A DTLS receive batch is finished first: what it holds is already
      // off the socket, and no poll event would announce it again.
      bool batchLeft = tRx.owner == this && tRx.next < tRx.count;
      if (budget == 0 && reading_ && !batchLeft) {
        // More may sit decrypted or buffered in wolfSSL where no poll event
        // will announce it: come back on the next loop turn.
        readScheduled_ = true;
        ArmTimer(0);
        return;
      }
      continue;
    }
    if (err == WOLFSSL_ERROR_WANT_READ) return;
    if (err == WOLFSSL_ERROR_WANT_WRITE) {
      wantWrite_ = true;
      return;
    }
    if (err == WOLFSSL_ERROR_ZERO_RETURN || err == SOCKET_PEER_CLOSED_E) {
      reading_ = false;
      EmitNative(kEvEnd);
      return;
    }
    Fail(err, "read failed: " + WolfSSLErrorText(err));
    return;
  }
}

// True when the peer has everything we sent and has (by all we can see)
// read it: no byte of ours unacknowledged or unsent, and either its receive
// window back within 1/8 of the largest it advertised, or time enough passed
// since the last byte was acknowledged for it to read what it still held.
// The window alone is not enough: Linux advertises a reopened window only
// when it at least doubles (tcp_cleanup_rbuf), so a peer whose last ACK
// showed a half-open window reads everything and says nothing; waiting for
// it held 3 of 7 pauses to the 1 s maximum at 400 Mbit/s of 1,400-byte
// packets, with the peer idle.
bool Connection::PeerCaughtUp(uint64_t now) {
  int queued = 0;
  if (ioctl(fd_, SIOCOUTQ, &queued) != 0) return true;
  if (queued > 0) return false;
  // glibc's struct tcp_info stops before tcpi_snd_wnd (Linux 6.2+); the
  // kernel's layout is ABI (fields are only appended), so read it by offset.
  constexpr size_t kSndWndOffset = 228;
  uint8_t ti[256];
  socklen_t len = sizeof(ti);
  if (getsockopt(fd_, IPPROTO_TCP, TCP_INFO, ti, &len) != 0 || len < kSndWndOffset + sizeof(uint32_t)) return true;
  uint32_t wnd;
  std::memcpy(&wnd, ti + kSndWndOffset, sizeof(wnd));
  if (wnd > peerWndMax_) peerWndMax_ = wnd;
  if (wnd >= peerWndMax_ - peerWndMax_ / 8) return true;
  if (drainAckedAt_ == 0) {
    // The peer holds about (largest window - window) unread bytes, and it
    // took our socket's bytes at pause start in the time until now: at that
    // rate it needs unread * elapsed / bytes ms more.
    drainAckedAt_ = now;
    uint64_t unread = peerWndMax_ - wnd;
    uint64_t elapsed = now - drainPauseStart_;
    uint64_t grace = drainOutqAtStart_ > 0 ? unread * elapsed / static_cast<uint64_t>(drainOutqAtStart_) : 0;
    drainGraceMs_ = std::min(std::max(grace, kDrainPollMs), kDrainGraceMaxMs);
  }
  return now - drainAckedAt_ >= drainGraceMs_;
}

// The pause's probe: a DPD request queued second in outq_. The front entry
// goes out before it: wolfSSL may hold a half-sent record of that frame (a
// write that met a full socket), and its next write must be the same frame.
// Everything after the probe waits for the pause to end.
void Connection::QueueDrainProbe() {
  static const uint8_t kProbe[cstp::kFrameHeaderBytes] = {'S', 'T', 'F', 1, 0, 0, cstp::kDpdReq, 0};
  drainProbeSent_ = drainProbeAnswered_ = false;
  // An answer to an earlier pause's probe could be taken for this one's.
  drainProbeTrusted_ = !drainProbeOutstanding_;
  auto at = outq_.empty() ? outq_.end() : outq_.begin() + 1;
  outq_.emplace(at, kProbe, kProbe + sizeof kProbe);
  outqBytes_ += sizeof kProbe;
  framesOut_++;
  drainProbeLeft_ = outq_.size() == 1 ? 1 : 2;
  drainProbeOutstanding_ = true;
}

// Encrypts queued frames from the front into the cork: at most `frames`, and
// while the cork holds less than kFlushCork bytes. Returns the wolfSSL error
// that stopped it, or 0; *written counts the frames taken off the queue.
int Connection::CorkQueued(size_t frames, size_t* written) {
  int err = 0;
  size_t n = 0;
  cork_ = true;
  while (n < frames && !outq_.empty() && txCork_.size() < kFlushCork) {
    std::vector<uint8_t>& b = outq_.front();
    int ret = wolfSSL_write(ssl_, b.data(), static_cast<int>(b.size()));
    if (ret <= 0) {
      err = wolfSSL_get_error(ssl_, ret);
      break;
    }
    bytesOut_ += b.size();
    outqBytes_ -= b.size();
    outq_.pop_front();
    n++;
  }
  cork_ = false;
  *written = n;
  return err;
}

// True, with the connection failed, when a wolfSSL write error is not one
// that a writable socket cures.
bool Connection::WriteFailed(int err) {
  if (err == 0 || err == WOLFSSL_ERROR_WANT_WRITE || err == WOLFSSL_ERROR_WANT_READ) return false;
  Fail(err, "write failed: " + WolfSSLErrorText(err));
  return true;
}

// True, with the connection failed, when the cork's send() met a hard error.
bool Connection::CorkSendFailed() {
  if (!corkFailed_) return false;
  Fail(-1, std::string("write failed: ") + std::strerror(lastErrno_));
  return true;
}

// During a pause: writes the queue up to and including the probe, corked.
// False when the connection failed.
bool Connection::WriteDrainProbe() {
  size_t n = 0;
  int err = CorkQueued(drainProbeLeft_, &n);
  drainProbeLeft_ -= n;
  if (n > 0 && drainProbeLeft_ == 0) drainProbeSent_ = true;
  return !WriteFailed(err);
}

void Connection::DoFlush() {
  if (drainPause_) {
    // The probe (and the frame ahead of it) and records already encrypted
    // still go out; the rest of the queue waits.
    if (drainProbeLeft_ > 0 && !WriteDrainProbe()) return;
    if (txCorkOff_ < txCork_.size()) {
      SendCorked();
      if (CorkSendFailed()) return;
    }
    uint64_t now = NowMs();
    // A client that answers DPD is waited for: the estimates (PeerCaughtUp)
    // said "caught up" while openconnect still had hundreds of KB to read.
    // One whose earlier probe went unanswered gets the estimates.
    bool answered = drainProbeAnswered_ && drainProbeTrusted_;
    bool awaitAnswer = drainProbeTrusted_ && !answered;
    if (!answered && (awaitAnswer || !PeerCaughtUp(now)) && now - drainPauseStart_ < kDrainMaxPauseMs) {
      if (now - drainPauseStart_ >= kDrainSteadyPollMs) drainPollMs_ = std::min(drainPollMs_ * 2, kDrainPollMaxMs);
      uint64_t next = drainPollMs_;
      // Acknowledged: the next look is when the peer should have read it all.
      if (drainAckedAt_ != 0) next = std::min(next, drainAckedAt_ + drainGraceMs_ - now);
      if (!readScheduled_) ArmTimer(next);
      return;
    }
    if (answered) drainProbeResumes_++;
    drainPause_ = false;
    drainProbeSent_ = drainProbeAnswered_ = drainProbeTrusted_ = false;
    drainProbeLeft_ = 0;  // a probe not written yet goes out with the queue
    if (pump_ != nullptr) pump_->SetPaused(this, false);
  }
  if (!SendCorked() || CorkSendFailed()) return;
  // The queue drains corked, as FlushBatch writes: up to kFlushCork bytes of
  // records per send() (sendmmsg() for DTLS). One send() per queued record
  // cost a syscall per 200-byte packet exactly when the peer was slow.
  while (!outq_.empty()) {
    size_t written = 0;
    int err = CorkQueued(outq_.size(), &written);
    if (WriteFailed(err)) return;
    if (!SendCorked()) return;  // the rest when writable (wantWrite_ is set)
    if (CorkSendFailed()) return;
    if (err != 0) {
      wantWrite_ = true;
      return;
    }
  }
  // A tunnel's queue holds mostly the pump's packets: JavaScript hears of a
  // drain only when a write of its own waited for one.
  if (tunnel_ && !jsWaitsDrain_) return;
  jsWaitsDrain_ = false;
  EmitNative(kEvDrain);
}

void Connection::UpdatePoll() {
  if (poll_ == nullptr && !plane_) return;
  int ev = 0;
  if (state_ == State::kHandshake) ev |= UV_READABLE;
  if (state_ == State::kOpen && reading_) ev |= UV_READABLE;
  // While paused for an overloaded peer the timer polls instead (writable would fire at once).
  // (The pause's probe and records already encrypted still go out.)
  bool corked = txCorkOff_ < txCork_.size();
  if (drainPause_ ? (corked || drainProbeLeft_ > 0) : (wantWrite_ || !outq_.empty() || corked)) ev |= UV_WRITABLE;
  if (ev == pollEvents_) return;
  pollEvents_ = ev;
  if (plane_) {
    if (planeId_ != 0) plane_->Watch(planeId_, ((ev & UV_READABLE) ? uint32_t{EPOLLIN} : 0u) | ((ev & UV_WRITABLE) ? uint32_t{EPOLLOUT} : 0u));
    return;
  }
  if (ev == 0)
    uv_poll_stop(poll_);
  else
    uv_poll_start(poll_, ev, OnPoll);
}

// ----------------------------------------------------------- JavaScript API

// start(): begin the handshake on this thread's loop.
Napi::Value Connection::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::kIdle || ssl_ == nullptr) {
    MakeError(env, "connection already started or closed", 0, "state").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uv_loop_t* loop = Instance(env)->loop;
  poll_ = new uv_poll_t;
  int r = uv_poll_init_socket(loop, poll_, fd_);
  if (r != 0) {
    delete poll_;
    poll_ = nullptr;
    MakeError(env, std::string("uv_poll_init: ") + uv_strerror(r), r, "uv").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  poll_->data = this;
  timer_ = new uv_timer_t;
  uv_timer_init(loop, timer_);
  timer_->data = this;
  // An active connection must not be collected while its fd is open.
  Ref();
  referenced_ = true;
  napi_add_env_cleanup_hook(env, EnvCleanup, this);
  state_ = State::kHandshake;
  // The first flight (client) or the injected ClientHello (DTLS server) can be
  // processed right away; the result arrives as events on later loop turns
  // only, so the caller can attach listeners after start() returns.
  readScheduled_ = true;
  uv_timer_start(timer_, OnTimer, 0, 0);
  UpdatePoll();
  return env.Undefined();
}

// write(buf) → 1 written, 0 queued (a DRAIN event follows), < 0 wolfSSL error
// (the connection is unusable; TypeScript destroys it).
Napi::Value Connection::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlaneLock lk(plane_);
  const uint8_t* d;
  size_t n;
  if (!ArgBuffer(info, 0, &d, &n)) return env.Undefined();
  if (state_ != State::kOpen || ssl_ == nullptr) return Napi::Number::New(env, -1);
  if (n == 0) return Napi::Number::New(env, 1);
  if (n > INT32_MAX) return Napi::Number::New(env, BAD_FUNC_ARG);
  FlushBatch();  // frames the pump queued go first
  if (Dead()) return Napi::Number::New(env, -1);
  int r = WriteOrQueue(d, n, false);
  if (r == 0) jsWaitsDrain_ = true;
  return Napi::Number::New(env, r);
}

// 1 written, 0 queued (poll for writable; DRAIN follows), -2 dropped because
// the bounded tunnel queue is full, < 0 otherwise a wolfSSL error.
int Connection::WriteOrQueue(const uint8_t* d, size_t n, bool droppable) {
  if (!outq_.empty() || (!cork_ && txCorkOff_ < txCork_.size())) {
    if (droppable && maxQueue_ > 0 && outqBytes_ + n > maxQueue_) {
      txDrops_++;
      if (!dtls_ && !drainPause_ && OverloadPauseOn()) {
        drainPause_ = true;
        drainPauses_++;
        drainPauseStart_ = NowMs();
        drainPollMs_ = kDrainPollMs;
        drainAckedAt_ = 0;
        if (ioctl(fd_, SIOCOUTQ, &drainOutqAtStart_) != 0) drainOutqAtStart_ = 0;
        QueueDrainProbe();
        if (!readScheduled_) ArmTimer(drainPollMs_);
        UpdatePoll();
        if (pump_ != nullptr) pump_->SetPaused(this, true);
      }
      return -2;
    }
    outq_.emplace_back(d, d + n);
    outqBytes_ += n;
    UpdatePoll();
    return 0;
  }
  int ret = wolfSSL_write(ssl_, d, static_cast<int>(n));
  if (ret > 0) {
    bytesOut_ += n;
    return 1;
  }
  int err = wolfSSL_get_error(ssl_, ret);
  if (err == WOLFSSL_ERROR_WANT_WRITE || err == WOLFSSL_ERROR_WANT_READ) {
    outq_.emplace_back(d, d + n);
    outqBytes_ += n;
    wantWrite_ = true;
    UpdatePoll();
    return 0;
  }
  return err < 0 ? err : -1;
}

// ------------------------------------------------------------- tunnel mode

// A CSTP byte stream from the peer, cut into frames for HandleFrame. Frames
// may span reads (cstpIn_ keeps the partial one).

void Connection::HandleCstp(const uint8_t* d, size_t n) {
  // The reassembly lives in cstp-framer.h, where the libFuzzer harness runs it too.
  cstp::FeedEnd end = cstp::Feed(cstpIn_, d, n, [this](uint8_t type, const uint8_t* payload, size_t len) {
    HandleFrame(type, payload, len);
    return !Dead();
  });
  if (end == cstp::FeedEnd::kBadHeader) Fail(-1, "CSTP protocol error: bad frame header");
}

// One DTLS record from the peer: a type byte (CSTP's codes) and the payload.
void Connection::HandleDtls(const uint8_t* d, size_t n) {
  if (n > 0) HandleFrame(d[0], d + 1, n - 1);
}

// One tunnel frame, whichever channel brought it: data to the TUN queue,
// DPD answered with the same payload on the same channel (openconnect pads
// its DTLS probes to find the MTU and expects the echo at the same size),
// keepalives only refresh lastRx_, anything else goes to JavaScript.
void Connection::HandleFrame(uint8_t type, const uint8_t* payload, size_t len) {
  framesIn_++;
  if (type == cstp::kData) {
    dataIn_++;
    if (pump_ != nullptr && len > 0) pump_->WriteToTun(payload, len);
  } else if (type == cstp::kDpdReq) {
    dpdAnswered_++;
    QueueFrame(cstp::kDpdResp, payload, len);
  } else if (type == cstp::kDpdResp) {
    drainProbeOutstanding_ = false;
    if (drainPause_ && drainProbeSent_) {
      // The peer has read everything up to the probe: the pause can end now.
      drainProbeAnswered_ = true;
      if (!readScheduled_) ArmTimer(0);
    }
  } else if (type != cstp::kKeepalive) {
    EmitNative(kEvControl, type, std::string(), payload, len);
  }
}

void Connection::QueueFrame(uint8_t type, const uint8_t* payload, size_t len) {
  if (Dead()) return;
  txFrames_.push_back(txBatch_.size());
  if (dtls_) {
    // DTLS: one record per packet, its first byte the type.
    txBatch_.push_back(type);
    txBatch_.insert(txBatch_.end(), payload, payload + len);
    framesOut_++;
    return;
  }
  uint8_t h[cstp::kFrameHeaderBytes] = {'S', 'T', 'F', 1, static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len & 0xff), type, 0};
  txBatch_.insert(txBatch_.end(), h, h + cstp::kFrameHeaderBytes);
  txBatch_.insert(txBatch_.end(), payload, payload + len);
  framesOut_++;
}

// Every frame queued since the last flush, each in a TLS record of its own
// (openconnect reads exactly one CSTP packet per record and drops anything
// else), but all records in one send(): the cork gathers them.
void Connection::FlushBatch() {
  if (txBatch_.empty() || Dead() || ssl_ == nullptr || state_ != State::kOpen) return;
  // The pump flushes from its own poll callback: a failure here must not
  // release this connection while the pump's frame still points at it.
  DepthGuard guard(this);
  int r = 0;
  // TLS records share one send(); DTLS datagrams one sendmmsg().
  bool corked = outq_.empty() && txCorkOff_ == txCork_.size();
  if (corked) cork_ = true;
  for (size_t i = 0; i < txFrames_.size() && (r >= 0 || r == -2); i++) {
    size_t from = txFrames_[i], to = i + 1 < txFrames_.size() ? txFrames_[i + 1] : txBatch_.size();
    r = WriteOrQueue(txBatch_.data() + from, to - from, true);
    // A datagram larger than the DTLS MTU (an MTU probe's echo, say) is
    // dropped as a router would drop it; the association lives on.
    if (dtls_ && r == DTLS_SIZE_ERROR) {
      txDrops_++;
      r = -2;
    }
  }
  txBatch_.clear();
  txFrames_.clear();
  if (corked) {
    cork_ = false;
    if (!SendCorked()) UpdatePoll();
    if (corkFailed_) r = -1;
  }
  if (r < 0 && r != -2) Fail(r, "tunnel write failed: " + (r == -1 ? std::string(std::strerror(lastErrno_)) : WolfSSLErrorText(r)));
}

// startTunnel(pump, maxQueueBytes): from now on the peer's bytes are CSTP
// frames handled here, and the pump may queue packets for this connection.
Napi::Value Connection::StartTunnel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t maxQueue;
  if (info.Length() < 2 || !info[0].IsObject() || !ArgInt(info, 1, &maxQueue)) {
    Napi::TypeError::New(env, "startTunnel(pump, maxQueueBytes[, head])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (state_ != State::kOpen || tunnel_) return Napi::Number::New(env, BAD_FUNC_ARG);
  Napi::Object po = info[0].As<Napi::Object>();
  if (!po.InstanceOf(Instance(env)->pumpCtor.Value())) {
    Napi::TypeError::New(env, "pump must be a Pump of this thread").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Pump* pump = Pump::Unwrap(po);
  std::shared_ptr<Plane> plane = pump->plane();
  std::unique_lock<std::recursive_mutex> lk;
  if (plane) {
    lk = std::unique_lock<std::recursive_mutex>(plane->mu());
    if (!MoveToPlane(plane)) return Napi::Number::New(env, SOCKET_ERROR_E);
  }
  pump_ = pump;
  pumpRef_ = Napi::Persistent(po);
  tunnel_ = true;
  maxQueue_ = maxQueue > 0 ? static_cast<size_t>(maxQueue) : 0;
  lastRx_ = NowMs();
  reading_ = true;
  // Bytes already read past the CONNECT request belong to the tunnel.
  readScheduled_ = true;
  ArmTimer(0);
  UpdatePoll();
  // Called from an event handler of this connection: the native frame below
  // goes on in tunnel mode on this thread, so the plane waits for it.
  if (lk.owns_lock() && depth_ > 0) migrationLock_ = std::move(lk);
  // Bytes JavaScript had already read past the CONNECT request (Node's
  // `head`): a client that did not wait for 200 CONNECTED. Same rules apply.
  const uint8_t* head;
  size_t headLen;
  if (info.Length() > 2 && info[2].IsBuffer() && ArgBuffer(info, 2, &head, &headLen) && headLen > 0) {
    DepthGuard guard(this);
    lastRx_ = NowMs();
    HandleCstp(head, headLen);
    if (pump_ != nullptr) pump_->FlushTun();
    if (!Dead()) FlushBatch();
  }
  return Napi::Number::New(env, WOLFSSL_SUCCESS);
}

// The loop's handles go; the plane watches the fd from here on. With the
// plane's lock held.
bool Connection::MoveToPlane(const std::shared_ptr<Plane>& plane) {
  uint64_t id = plane->Add(fd_, this, 0);
  if (id == 0) {
    lastErrno_ = errno;
    return false;
  }
  CloseLoopHandles();  // uv_close stops them (a poll's fd leaves the loop's epoll set at once)
  plane_ = plane;
  planeId_ = id;
  pollEvents_ = 0;
  return true;
}

Napi::Value Connection::ReadStart(const Napi::CallbackInfo& info) {
  PlaneLock lk(plane_);
  if (Dead() || reading_) return info.Env().Undefined();
  reading_ = true;
  if (state_ == State::kOpen && (timer_ != nullptr || plane_)) {
    // wolfSSL may already hold records no poll event will announce.
    readScheduled_ = true;
    ArmTimer(0);
  }
  UpdatePoll();
  return info.Env().Undefined();
}

Napi::Value Connection::ReadStop(const Napi::CallbackInfo& info) {
  PlaneLock lk(plane_);
  reading_ = false;
  if (!Dead()) UpdatePoll();
  return info.Env().Undefined();
}

// shutdown(): send close_notify (best effort) and, for TCP, half-close.
Napi::Value Connection::Shutdown(const Napi::CallbackInfo& info) {
  PlaneLock lk(plane_);
  if (state_ == State::kOpen && ssl_ != nullptr) {
    wolfSSL_shutdown(ssl_);
    if (!dtls_) ::shutdown(fd_, SHUT_WR);
  }
  return info.Env().Undefined();
}

Napi::Value Connection::Destroy(const Napi::CallbackInfo& info) {
  PlaneLock lk(plane_);
  RequestClose();
  return info.Env().Undefined();
}

// exportKeyingMaterial(length, label, context?) → Buffer | error code.
Napi::Value Connection::ExportKeyingMaterial(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlaneLock lk(plane_);
  int64_t len;
  std::string label;
  if (!ArgInt(info, 0, &len) || !ArgString(info, 1, &label)) return env.Undefined();
  if (state_ != State::kOpen || ssl_ == nullptr) return Napi::Number::New(env, -1);
  if (len <= 0 || len > 65535) return Napi::Number::New(env, BAD_FUNC_ARG);
  const uint8_t* c = nullptr;
  size_t clen = 0;
  bool useContext = info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull();
  if (useContext && !ArgBuffer(info, 2, &c, &clen)) return env.Undefined();
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(len));
  int ret = wolfSSL_export_keying_material(ssl_, out.Data(), static_cast<size_t>(len), label.c_str(), label.size(),
                                           c, clen, useContext ? 1 : 0);
  if (ret != WOLFSSL_SUCCESS) return Napi::Number::New(env, ret == 0 ? -1 : ret);
  return out;
}

Napi::Value Connection::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlaneLock lk(plane_);
  Napi::Object o = Napi::Object::New(env);
  if (ssl_ == nullptr || state_ != State::kOpen) return env.Null();
  o.Set("version", Napi::String::New(env, wolfSSL_get_version(ssl_)));
  const char* cipher = wolfSSL_get_cipher_name(ssl_);
  o.Set("cipher", cipher ? Napi::String::New(env, cipher) : env.Null());
  o.Set("resumed", Napi::Boolean::New(env, wolfSSL_session_reused(ssl_) == 1));
  // The (EC)DHE group of the key exchange ("SECP256R1", "X25519", ...), null for plain PSK or static RSA.
  const char* group = wolfSSL_get_curve_name(ssl_);
  o.Set("group", group ? Napi::String::New(env, group) : env.Null());
  return o;
}

Napi::Value Connection::PeerCertificates(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlaneLock lk(plane_);
  Napi::Array arr = Napi::Array::New(env);
  if (ssl_ == nullptr) return arr;
  WOLFSSL_X509_CHAIN* chain = wolfSSL_get_peer_chain(ssl_);
  if (chain == nullptr) return arr;
  int count = wolfSSL_get_chain_count(chain);
  for (int i = 0; i < count; i++) {
    unsigned char* der = wolfSSL_get_chain_cert(chain, i);
    int len = wolfSSL_get_chain_length(chain, i);
    if (der != nullptr && len > 0) arr.Set(arr.Length(), Napi::Buffer<uint8_t>::Copy(env, der, static_cast<size_t>(len)));
  }
  return arr;
}

// setPskServer(hint): PSK keys are asked of JavaScript (event PSK) with the
// client's identity during the handshake.
Napi::Value Connection::SetPskServer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ssl_ == nullptr || !server_) return Napi::Number::New(env, BAD_FUNC_ARG);
  pskServer_ = true;
  wolfSSL_set_psk_server_callback(ssl_, PskServerCb);
  int ret = WOLFSSL_SUCCESS;
  if (info.Length() > 0 && info[0].IsString())
    ret = wolfSSL_use_psk_identity_hint(ssl_, info[0].As<Napi::String>().Utf8Value().c_str());
  return Napi::Number::New(env, ret);
}

// setPskClient(identity, key)
Napi::Value Connection::SetPskClient(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* d;
  size_t n;
  if (!ArgString(info, 0, &pskIdentity_) || !ArgBuffer(info, 1, &d, &n)) return env.Undefined();
  if (ssl_ == nullptr || server_ || n == 0) return Napi::Number::New(env, BAD_FUNC_ARG);
  pskKey_.assign(d, d + n);
  wolfSSL_set_psk_client_callback(ssl_, PskClientCb);
  return Napi::Number::New(env, WOLFSSL_SUCCESS);
}

Napi::Value Connection::InjectDatagram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlaneLock lk(plane_);
  const uint8_t* d;
  size_t n;
  if (!ArgBuffer(info, 0, &d, &n)) return env.Undefined();
  if (!dtls_ || Dead() || n == 0 || n > static_cast<size_t>(kMaxDatagram)) return Napi::Number::New(env, BAD_FUNC_ARG);
  injected_.emplace_back(d, d + n);
  return Napi::Number::New(env, WOLFSSL_SUCCESS);
}

Napi::Value Connection::SetMtu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlaneLock lk(plane_);
  int64_t mtu;
  if (!ArgInt(info, 0, &mtu)) return env.Undefined();
  if (!dtls_ || ssl_ == nullptr || mtu < 256 || mtu > 65535) return Napi::Number::New(env, BAD_FUNC_ARG);
  return Napi::Number::New(env, wolfSSL_dtls_set_mtu(ssl_, static_cast<unsigned short>(mtu)));
}

// getSession() → opaque handle for resumption by a later client connection.
Napi::Value Connection::GetSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlaneLock lk(plane_);
  if (ssl_ == nullptr) return env.Null();
  WOLFSSL_SESSION* s = wolfSSL_get1_session(ssl_);
  if (s == nullptr) return env.Null();
  return Napi::External<WOLFSSL_SESSION>::New(env, s, [](Napi::Env, WOLFSSL_SESSION* p) { wolfSSL_SESSION_free(p); });
}

Napi::Value Connection::SetSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ssl_ == nullptr || server_ || state_ != State::kIdle || info.Length() < 1 || !info[0].IsExternal())
    return Napi::Number::New(env, BAD_FUNC_ARG);
  WOLFSSL_SESSION* s = info[0].As<Napi::External<WOLFSSL_SESSION>>().Data();
  return Napi::Number::New(env, wolfSSL_set_session(ssl_, s));
}

Napi::Value Connection::ReleaseSecrets(const Napi::CallbackInfo& info) {
  PlaneLock lk(plane_);
  if (ssl_ != nullptr && state_ == State::kOpen) wolfSSL_FreeArrays(ssl_);
  return info.Env().Undefined();
}

Napi::Value Connection::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlaneLock lk(plane_);
  Napi::Object o = Napi::Object::New(env);
  o.Set("bytesIn", Napi::Number::New(env, static_cast<double>(bytesIn_)));
  o.Set("bytesOut", Napi::Number::New(env, static_cast<double>(bytesOut_)));
  o.Set("queuedOut", Napi::Number::New(env, static_cast<double>(outqBytes_)));
  o.Set("framesIn", Napi::Number::New(env, static_cast<double>(framesIn_)));
  o.Set("framesOut", Napi::Number::New(env, static_cast<double>(framesOut_)));
  o.Set("txDrops", Napi::Number::New(env, static_cast<double>(txDrops_)));
  o.Set("drainPauses", Napi::Number::New(env, static_cast<double>(drainPauses_)));
  o.Set("drainProbeResumes", Napi::Number::New(env, static_cast<double>(drainProbeResumes_)));
  o.Set("sendCalls", Napi::Number::New(env, static_cast<double>(sendCalls_)));
  o.Set("recvCalls", Napi::Number::New(env, static_cast<double>(recvCalls_)));
  o.Set("gsoDatagrams", Napi::Number::New(env, static_cast<double>(gsoDatagrams_)));
  o.Set("dataFramesIn", Napi::Number::New(env, static_cast<double>(dataIn_)));
  o.Set("dpdAnswered", Napi::Number::New(env, static_cast<double>(dpdAnswered_)));
  o.Set("idleMs", Napi::Number::New(env, tunnel_ ? static_cast<double>(NowMs() - lastRx_) : 0));
  return o;
}

// The tunnel check's read, once a second for every tunnel, and the status
// totals' every 5 s (tunnels.ts): the counters they need written into the
// caller's Float64Array instead of the stats object, whose dozen property
// sets made up most of an idle gateway's CPU at a thousand tunnels (the
// check) and at ten thousand (the totals).
Napi::Value Connection::Liveness(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlaneLock lk(plane_);
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[0].As<Napi::Float64Array>().ElementLength() < kLivenessFields) {
    Napi::TypeError::New(env, "liveness: argument 0 must be a Float64Array of " + std::to_string(kLivenessFields)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  double* out = info[0].As<Napi::Float64Array>().Data();
  out[kIdleMs] = tunnel_ ? static_cast<double>(NowMs() - lastRx_) : 0;
  out[kDataFramesIn] = static_cast<double>(dataIn_);
  out[kBytesIn] = static_cast<double>(bytesIn_);
  out[kBytesOut] = static_cast<double>(bytesOut_);
  out[kFramesIn] = static_cast<double>(framesIn_);
  out[kFramesOut] = static_cast<double>(framesOut_);
  out[kSendCalls] = static_cast<double>(sendCalls_);
  out[kRecvCalls] = static_cast<double>(recvCalls_);
  out[kGsoDatagrams] = static_cast<double>(gsoDatagrams_);
  return env.Undefined();
}

void InitConnection(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = Connection::DefineClass(env);
  Instance(env)->connectionCtor = Napi::Persistent(ctor);
  exports.Set("Connection", ctor);
}

}  // namespace wg
