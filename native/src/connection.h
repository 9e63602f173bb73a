// One TLS or DTLS session over a file descriptor the connection owns, driven
// by the libuv loop of the thread that created it (main thread or worker).
//
// In tunnel mode a connection moves to its pump's data-plane thread when
// there is one (plane.h); its JavaScript methods then take the plane's lock.
//
// JavaScript gets events through one function, onEvent(kind, a, b); the
// TypeScript layer turns them into a Duplex (TLS) or a message emitter
// (DTLS). Native code never lets a JavaScript exception or a peer's bytes
// take the process down: failures become ERROR events.
#pragma once
#include "common.h"
#include "context.h"
#include "cstp-framer.h"
#include "dtls-legacy.h"
#include "plane.h"

#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace wg {

// Event kinds passed to onEvent; mirrored in native/lib/addon.ts.
enum EventKind : int {
  kEvHandshake = 1,  // handshake complete
  kEvData = 2,       // a: Buffer (TLS: stream bytes; DTLS: one record)
  kEvDrain = 3,      // queued output flushed
  kEvEnd = 4,        // peer closed (close_notify or EOF)
  kEvError = 5,      // a: wolfSSL/errno code, b: message; connection is dead
  kEvPsk = 6,        // a: identity; returns Buffer key or undefined
  kEvControl = 7,    // tunnel mode: a: CSTP type, b: payload (DISCONNECT, TERMINATE, ...)
};

// CSTP framing (protocol.md §3), needed natively once a connection carries a
// tunnel: 'S' 'T' 'F' 1, u16 big-endian payload length, type, 0.
namespace cstp {
constexpr uint8_t kData = 0x00, kDpdReq = 0x03, kDpdResp = 0x04, kKeepalive = 0x07;
}  // namespace cstp

class Pump;

class Connection : public Napi::ObjectWrap<Connection>, public PlaneHandler {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  explicit Connection(const Napi::CallbackInfo& info);
  ~Connection() override;

  // wolfSSL I/O and callbacks (static trampolines call these).
  int IoRecv(char* buf, int sz);
  int IoSend(const char* buf, int sz);
  int GenCookie(unsigned char* buf, int sz);
  unsigned int PskServer(const char* identity, unsigned char* key, unsigned int maxLen);
  unsigned int PskClient(char* identity, unsigned int idMax, unsigned char* key, unsigned int keyMax);

  // Tunnel mode (called by the shard's Pump).
  bool Tunneling() const { return tunnel_ && !Dead(); }
  // Paused for an overloaded peer (its queue is full): the pump drops a packet
  // for it here, before copying it into a frame that would be dropped anyway.
  bool DropIfPaused() {
    if (!drainPause_) return false;
    txDrops_++;
    return true;
  }
  void QueueFrame(uint8_t type, const uint8_t* payload, size_t len);  // batched until FlushBatch
  void FlushBatch();
  void DetachPump() { pump_ = nullptr; }
  bool TunnelsOn(const Pump* p) const { return pump_ == p; }
  void OnPlaneEvents(uint64_t id, uint32_t events) override;
  void OnPlaneTimer(uint64_t id) override;
  bool inDirty_ = false;  // on the pump's list of connections with a batch to flush

  // Legacy Cisco DTLS: the session this connection may resume (dtls-legacy.cc).
  LegacySession& legacy() { return legacy_; }

 private:
  enum class State { kIdle, kHandshake, kOpen, kClosed };

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value ReadStart(const Napi::CallbackInfo& info);
  Napi::Value ReadStop(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value ExportKeyingMaterial(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value PeerCertificates(const Napi::CallbackInfo& info);
  Napi::Value SetPskServer(const Napi::CallbackInfo& info);
  Napi::Value SetPskClient(const Napi::CallbackInfo& info);
  Napi::Value InjectDatagram(const Napi::CallbackInfo& info);
  Napi::Value SetMtu(const Napi::CallbackInfo& info);
  Napi::Value GetSession(const Napi::CallbackInfo& info);
  Napi::Value SetSession(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Liveness(const Napi::CallbackInfo& info);
  Napi::Value ReleaseSecrets(const Napi::CallbackInfo& info);
  Napi::Value StartTunnel(const Napi::CallbackInfo& info);
  Napi::Value SetLegacySession(const Napi::CallbackInfo& info);  // in dtls-legacy.cc

  static void OnPoll(uv_poll_t* h, int status, int events);
  static void OnTimer(uv_timer_t* h);

  void Drive();           // run whatever the current state needs
  void DoHandshake();
  void DoRead();
  void DoReadRecords();
  void DoFlush();
  int WriteOrQueue(const uint8_t* d, size_t n, bool droppable);
  void HandleCstp(const uint8_t* d, size_t n);
  void HandleDtls(const uint8_t* d, size_t n);
  void HandleFrame(uint8_t type, const uint8_t* payload, size_t len);
  bool SendCorked();
  void UpdatePoll();
  void ArmDtlsTimer();
  void ArmTimer(uint64_t ms);  // the one-shot timer, on the loop or the plane
  uint64_t NowMs() const;      // the clock lastRx_ and the drain pause use
  // An event from native code: emitted now on the JS thread, queued for it on the plane's.
  void EmitNative(EventKind kind, int code = 0, const std::string& text = std::string(), const uint8_t* bytes = nullptr,
                  size_t len = 0);
  static void DeliverPlaneEvent(void* target, PlaneEvent& e);
  bool MoveToPlane(const std::shared_ptr<Plane>& plane);
  void Fail(int code, const std::string& msg);
  void RequestClose();  // close now, or when no native frame is on the stack
  void Finish();        // release handles, ssl, fd; drop the self-reference
  void CloseHandles();
  void CloseLoopHandles();
  static void EnvCleanup(void* arg);
  friend struct DepthGuard;
  Napi::Value Emit(EventKind kind, Napi::Value a = Napi::Value(), Napi::Value b = Napi::Value());
  bool Dead() const { return state_ == State::kClosed; }

  Napi::Env env_;
  Napi::ObjectReference context_;  // keeps the WOLFSSL_CTX's owner alive
  Napi::FunctionReference onEvent_;
  Napi::AsyncContext* async_ = nullptr;
  WOLFSSL* ssl_ = nullptr;
  Context* ctx_ = nullptr;
  int fd_ = -1;
  bool dtls_ = false;
  bool server_ = false;
  State state_ = State::kIdle;
  bool reading_ = false;        // JavaScript wants data events
  bool wantWrite_ = false;      // wolfSSL asked to be called when writable
  bool readScheduled_ = false;  // a zero-delay timer will continue reading
  int depth_ = 0;               // nesting of native frames that may call JS
  bool closePending_ = false;   // RequestClose ran while depth_ > 0
  bool referenced_ = false;     // Ref() taken by start(), dropped by Finish()
  int lastErrno_ = 0;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  int pollEvents_ = 0;
  // Tunnel mode on the data-plane thread: poll_ and timer_ are gone, the
  // plane watches fd_ under planeId_.
  std::shared_ptr<Plane> plane_;
  uint64_t planeId_ = 0;
  bool finishPosted_ = false;
  bool jsWaitsDrain_ = false;  // write() queued: JavaScript waits for DRAIN  // the plane thread asked JS to drop the self-reference
  // Taken when startTunnel() runs inside a native frame of this connection on
  // the JS thread (an event handler): the frame goes on in tunnel mode, so the
  // plane waits until it unwinds (DepthGuard).
  std::unique_lock<std::recursive_mutex> migrationLock_;

  // TLS output wolfSSL could not hand to the kernel. wolfSSL must be called
  // again with the same bytes after WANT_WRITE, so the head is never moved.
  std::deque<std::vector<uint8_t>> outq_;
  size_t outqBytes_ = 0;

  // DTLS: datagrams handed over with the connection (the ClientHello the
  // main thread read) are returned by IoRecv before the socket is read.
  std::deque<std::vector<uint8_t>> injected_;

  bool pskServer_ = false;
  std::string pskIdentity_;
  std::vector<uint8_t> pskKey_;
  LegacySession legacy_;

  uint64_t bytesIn_ = 0, bytesOut_ = 0;

  // Tunnel mode.
  bool tunnel_ = false;
  Pump* pump_ = nullptr;
  Napi::ObjectReference pumpRef_;
  std::vector<uint8_t> cstpIn_;   // a CSTP frame split across reads
  std::vector<uint8_t> txBatch_;  // CSTP frames waiting for FlushBatch
  std::vector<size_t> txFrames_;  // where each frame starts in txBatch_
  // Corking: while FlushBatch writes one record per frame, IoSend gathers the
  // records here; SendCorked sends them at once (and the rest when writable).
  bool cork_ = false;
  bool corkFailed_ = false;
  std::vector<uint8_t> txCork_;
  size_t txCorkOff_ = 0;
  // DTLS: where each gathered datagram ends in txCork_, and the first one not
  // yet sent; SendCorkedDatagrams hands them to one sendmmsg().
  std::vector<size_t> txDgEnds_;
  size_t txDgNext_ = 0;
  // Runs of equal datagrams go out with UDP GSO until the kernel refuses it
  // on this connection's route (or WOLFGUARD_UDP_GSO=0).
  bool udpGso_ = true;
  bool SendCorkedDatagrams();
  // DTLS tunnel receive: datagrams come from one recvmmsg() into a per-thread
  // batch (see IoRecv); what is left when DoRead stops is kept in injected_.
  int RecvBatched(char* buf, int sz);
  void ReleaseRxBatch();
  uint64_t gsoDatagrams_ = 0;  // datagrams that left in UDP GSO runs
  uint64_t sendCalls_ = 0, recvCalls_ = 0;  // socket syscalls (batching shows as calls < frames)
  size_t maxQueue_ = 0;           // bound on outq_ for tunnel packets (slow clients drop)
  uint64_t lastRx_ = 0;           // loop time (ms) of the last frame from the peer
  uint64_t framesIn_ = 0, framesOut_ = 0, txDrops_ = 0, dpdAnswered_ = 0;
  // Overload hand-back (CSTP tunnels): set when a frame is dropped because the
  // queue is full; writing then waits until the peer has read what it was
  // sent (PeerCaughtUp), so its receive queue empties once (see DoFlush).
  bool drainPause_ = false;
  uint32_t peerWndMax_ = 0;       // largest receive window the peer advertised
  uint64_t drainPauseStart_ = 0;  // loop time (ms) the current pause began
  uint64_t drainPollMs_ = 1;      // current check interval of the pause
  uint64_t drainPauses_ = 0;
  int drainOutqAtStart_ = 0;      // bytes in our socket (unsent + unacked) when the pause began
  // The pause's DPD probe (QueueDrainProbe): written, answered, and whether an
  // answer can be trusted (no probe of an earlier pause left unanswered:
  // openconnect answers several requests of one read loop once).
  bool drainProbeSent_ = false, drainProbeAnswered_ = false, drainProbeTrusted_ = false;
  bool drainProbeOutstanding_ = false;  // a probe not answered yet, whichever pause sent it
  size_t drainProbeLeft_ = 0;           // outq_ entries still to write during the pause, the probe the last
  uint64_t drainProbeResumes_ = 0;      // pauses ended by the peer's answer
  void QueueDrainProbe();
  bool WriteDrainProbe();
  int CorkQueued(size_t frames, size_t* written);
  bool WriteFailed(int err);
  bool CorkSendFailed();
  uint64_t drainAckedAt_ = 0;     // loop time the socket was first seen empty in this pause, 0 before
  uint64_t drainGraceMs_ = 0;     // from then, how long the peer needs to read what it holds
  bool PeerCaughtUp(uint64_t now);
  uint64_t dataIn_ = 0;
  std::vector<uint8_t> rxAhead_;  // TLS read-ahead (see IoRecv)
  // The last recv() (TLS) or recvmmsg() (DTLS tunnel) came back short: the
  // socket was empty then. The next read waits for the poll to say readable
  // (level-triggered) instead of a call that would only say EAGAIN: one
  // syscall less per burst.
  bool rxDrained_ = false;
  size_t rxOff_ = 0, rxEnd_ = 0;  // DATA frames from the peer (idle-timeout looks at these)
};

void InitConnection(Napi::Env env, Napi::Object exports);

}  // namespace wg
