// A shard's packet pump: its queue of the multiqueue TUN device, and the
// table of tunnel addresses → connections it serves. Packets move TUN ⇄ CSTP
// frames in native code only; JavaScript sees control frames and counters.
// With a data-plane thread (plane.h, the default) the pump's fds and its
// tunnels are driven there; otherwise on the shard's own loop.
#pragma once
#include "common.h"
#include "plane.h"
#include "tun-coalesce.h"

#include <array>
#include <memory>
#include <unordered_map>
#include <unordered_set>

namespace wg {

class Connection;

class Pump : public Napi::ObjectWrap<Pump>, public PlaneHandler {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  explicit Pump(const Napi::CallbackInfo& info);
  ~Pump() override;

  // From connections in tunnel mode. A datagram may wait in the coalescing
  // run until FlushTun(), which each connection calls when its read ends.
  void WriteToTun(const uint8_t* pkt, size_t len);
  void FlushTun();
  void Detach(Connection* c);
  // A tunnel's overload pause began or ended (Connection::drainPause_).
  void SetPaused(Connection* c, bool paused);
  // The data-plane thread tunnels of this pump move to, or null.
  const std::shared_ptr<Plane>& plane() const { return plane_; }
  void OnPlaneEvents(uint64_t id, uint32_t events) override;
  void OnPlaneTimer(uint64_t id) override;

  struct Counters {
    uint64_t tunRxPackets = 0, tunRxBytes = 0;  // read from the TUN queue
    uint64_t tunTxPackets = 0, tunTxBytes = 0;  // written to the TUN queue
    uint64_t noRoute = 0;                       // TUN packets with no session here
    uint64_t tunTxDrops = 0;                    // TUN queue full or write error
    uint64_t tunTxWrites = 0;                   // write() calls those packets took
    uint64_t tunTxCoalesced = 0;                // packets written in a run of several (tun-coalesce.h)
    uint64_t malformed = 0;                     // not IPv4/IPv6
    uint64_t ringOut = 0;                       // packets handed to their owner shard's ring
    uint64_t ringOutDrops = 0;                  // that ring was full
    uint64_t ringIn = 0;                        // packets other shards handed to us
    uint64_t ringInNoRoute = 0;                 // ... whose session had left this shard meanwhile
    uint64_t wakeups = 0;                       // eventfd wake-ups from other shards
    uint64_t throttledReads = 0;                // TUN reads done on the throttle timer (every tunnel paused)
    uint64_t steerErrors = 0;                   // steering map writes the kernel refused (map full, say)
    uint64_t earlyFlushes = 0;                  // first packets after a quiet spell, sent before the read that finds the queue empty
  };

 private:
  Napi::Value AddRoute(const Napi::CallbackInfo& info);
  Napi::Value RemoveRoutes(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value AttachMesh(const Napi::CallbackInfo& info);

  // Local connection for a destination, or nullptr.
  Connection* Lookup(const uint8_t* pkt, size_t n, const uint8_t** dst, size_t* dlen);
  void Queue(Connection* c, const uint8_t* pkt, size_t n, std::vector<Connection*>& dirty);
  static void Flush(Pump* self, std::vector<Connection*>& dirty);
  static void OnWake(uv_poll_t* h, int status, int events);
  void Woken();
  void DrainRings();
  void WakePeers();

  static void OnPoll(uv_poll_t* h, int status, int events);
  bool StartLoopPolling(Napi::Env env);
  static void EnvCleanup(void* arg);
  bool cleanupHook_ = false;
  void ReadTun();
  // When the last ReadTun() ended: a read after a quiet spell sends its first
  // packet at once (kQuietNs in tun.cc).
  uint64_t lastReadEndNs_ = 0;
  void CloseAll();
  // Throttled reading while every tunnel here is paused: see tun.cc.
  bool AllPaused() const { return !attached_.empty() && paused_.size() >= attached_.size(); }
  bool ShouldThrottle() const;
  void Count(size_t off, int32_t delta);
  void UpdateTunPoll();
  static void OnThrottle(uv_timer_t* t);
  void ThrottleTick();
  uint64_t ThrottleMs() const;
  std::shared_ptr<Plane> plane_;
  uint64_t tunId_ = 0, wakeId_ = 0;  // the plane's watches of fd_ and of our wake eventfd
  uv_timer_t* throttle_ = nullptr;
  bool throttling_ = false;
  std::unordered_set<Connection*> paused_;

  int fd_ = -1;
  // What the TUN fd carries before each packet (tunOpen): nothing
  // (kVnetNone), or a virtio_net_hdr, with UDP runs written as one (kVnetUso).
  int vnet_ = 0;
  UdpCoalescer coalescer_;
  void WriteAlone(const uint8_t* pkt, size_t len);
  void CountWrite(bool ok, uint32_t packets, size_t bytes);
  uv_poll_t* poll_ = nullptr;
  std::unordered_map<uint32_t, Connection*> v4_;
  struct V6Hash {
    size_t operator()(const std::array<uint8_t, 16>& a) const noexcept;
  };
  std::unordered_map<std::array<uint8_t, 16>, Connection*, V6Hash> v6_;
  std::unordered_set<Connection*> attached_;
  Counters counters_;

  // Cross-shard mesh (absent in single-pump use): the shared route table and
  // one SPSC ring per direction per peer shard, plus each shard's eventfd.
  struct Peer {
    void* out = nullptr;  // ring self → peer
    void* in = nullptr;   // ring peer → self
    int wakeFd = -1;      // the peer's eventfd (not owned)
    bool pending = false; // pushed since the last wake-up write
  };
  int self_ = -1;
  uint8_t* routes_ = nullptr;  // also holds the gateway-wide tunnel/paused counts (route_table.h)
  std::vector<Peer> peers_;
  std::vector<Napi::Reference<Napi::Value>> meshRefs_;  // keep the SharedArrayBuffers alive
  uv_poll_t* wakePoll_ = nullptr;
  // The steering program's address map (tun-steering.h), or -1: this pump
  // writes its tunnels' addresses there so the kernel queues their packets
  // here. Owned by the main thread.
  int steerFd_ = -1;
  void SteerOwn(const uint8_t* address, size_t len);
  void SteerDisown(const uint8_t* address, size_t len);
};

void InitTun(Napi::Env env, Napi::Object exports);

}  // namespace wg
