#include "tun.h"

#include "connection.h"
#include "ring/ring_layout.h"
#include "ring/route_table.h"
#include "tun-steering.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace wg {

// Packets read from the TUN queue per poll event before the frames queued for
// each connection are flushed and the loop gets a turn: enough to fill TLS
// records when traffic is heavy, small enough to keep latency fair.
static constexpr int kTunBatch = 64;
// A read that comes this long after the previous one ended finds a queue
// that had been quiet: its first packet is most likely alone (an idle
// tunnel's echo reply, a keystroke, a DNS answer), and it is sent before the
// read() that finds the queue empty, which would otherwise sit between the
// packet and its send() (strace of an idle echo: epoll_wait, read, read =
// EAGAIN, sendto). A busy queue is read again within microseconds of the
// last read, so bulk traffic, and the ACK stream of an upload, keep one
// send() per batch: keyed on "the previous read found one packet" instead,
// the upload's ACKs went out one send() each and a tunnelled TCP upload lost
// 8-14 % of its throughput. The idle probe's echoes are 1 ms apart.
static constexpr uint64_t kQuietNs = 200'000;
// While every tunnel of this pump, or of the whole gateway, is paused for an
// overloaded client, the TUN queue is read one batch per kThrottleMs instead
// of as fast as packets come: most of what it holds would be dropped after a
// read() each, and left unread the kernel drops it at no cost to the gateway
// (ocserv's behaviour, its worker not reading while blocked). The gateway-wide
// test matters because a flow lands in any shard's queue (flow hash), not
// only in its tunnel's owner's. Not stopped outright: the queue also carries
// packets for other shards' clients, which wait at most this long.
// WOLFGUARD_TUN_THROTTLE=0 turns it off.
static constexpr uint64_t kThrottleMs = 2;
// With TUN steering on, this shard's queue holds only its own tunnels'
// packets (tun-steering.h), so while they are all paused nothing in it is
// worth reading; the slow tick only serves a destination the steering map
// misses (a map write the kernel refused), which waits at most this long.
static constexpr uint64_t kSteeredThrottleMs = 50;
static bool ThrottleOn() {
  static const bool on = EnvSwitchOn("WOLFGUARD_TUN_THROTTLE");
  return on;
}
// Largest IP packet a TUN read can return (the device MTU is far lower).
static constexpr size_t kMaxPacket = 65535;

// The TUN fd's framing (new Pump()'s `vnet`, from tunOpen()): plain IP
// packets, or a virtio_net_hdr before each with UDP runs written as one.
static constexpr int kVnetNone = 0;
static constexpr int kVnetUso = 2;

// Packets taken from each peer's ring per wake-up before the loop gets a turn.
static constexpr int kRingBatch = 256;

static thread_local std::vector<uint8_t> tPacket;

size_t Pump::V6Hash::operator()(const std::array<uint8_t, 16>& a) const noexcept {
  uint64_t x, y;
  std::memcpy(&x, a.data(), 8);
  std::memcpy(&y, a.data() + 8, 8);
  return std::hash<uint64_t>()(x * 0x9E3779B97F4A7C15ull ^ y);
}

// The kernel's own upper bound for a custom slice (100 ms).
static constexpr int64_t kMaxPlaneSliceUs = 100000;

Napi::Function Pump::DefineClass(Napi::Env env) {
  return ObjectWrap<Pump>::DefineClass(env, "Pump",
                                       {
                                           InstanceMethod<&Pump::AddRoute>("addRoute"),
                                           InstanceMethod<&Pump::RemoveRoutes>("removeRoutes"),
                                           InstanceMethod<&Pump::Stats>("stats"),
                                           InstanceMethod<&Pump::Close>("close"),
                                           InstanceMethod<&Pump::AttachMesh>("attachMesh"),
                                       });
}

// new Pump(tunQueueFd, planeSliceUs, planeCpu, planeCpuShared, vnet): the
// pump owns the fd; vnet says how tunOpen() opened it (kVnetNone or
// kVnetUso). planeSliceUs: the data-plane thread's time slice (0: the kernel's
// default), validated in TypeScript; the kernel clamps what it takes.
// planeCpu: the CPU to keep the data-plane thread on, or -1 for none;
// planeCpuShared (1 or 0): kept there only while two or more planes of this process
// carry packets (Plane::Keep::kShared), else always.
Pump::Pump(const Napi::CallbackInfo& info) : ObjectWrap<Pump>(info) {
  Napi::Env env = info.Env();
  int64_t fd;
  int64_t sliceUs;
  int64_t cpu;
  int64_t shared;
  int64_t vnet;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &sliceUs) || !ArgInt(info, 2, &cpu) || !ArgInt(info, 3, &shared) || !ArgInt(info, 4, &vnet)) return;
  if (sliceUs < 0 || sliceUs > kMaxPlaneSliceUs) {
    Napi::RangeError::New(env, "argument 1 must be 0.." + std::to_string(kMaxPlaneSliceUs)).ThrowAsJavaScriptException();
    return;
  }
  if (cpu < -1 || cpu >= CPU_SETSIZE) {
    Napi::RangeError::New(env, "argument 2 must be -1.." + std::to_string(CPU_SETSIZE - 1)).ThrowAsJavaScriptException();
    return;
  }
  if (shared != 0 && shared != 1) {
    Napi::RangeError::New(env, "argument 3 must be 0 or 1").ThrowAsJavaScriptException();
    return;
  }
  if (vnet != kVnetNone && vnet != kVnetUso) {
    Napi::RangeError::New(env, "argument 4 must be 0 or 2").ThrowAsJavaScriptException();
    return;
  }
  vnet_ = static_cast<int>(vnet);
  fd_ = static_cast<int>(fd);
  if (DataThreadOn()) {
    auto plane = std::make_shared<Plane>();
    std::string err;
    if (!plane->Start(Instance(env)->loop, static_cast<uint32_t>(sliceUs), static_cast<int>(cpu), shared != 0 ? Plane::Keep::kShared : Plane::Keep::kAlways, &err)) {
      plane->Shutdown();
      MakeError(env, "data-plane thread: " + err, 0, "uv").ThrowAsJavaScriptException();
      return;
    }
    {
      PlaneLock lk(plane);
      tunId_ = plane->Add(fd_, this, EPOLLIN);
    }
    if (tunId_ == 0) {
      // Not under the lock: Shutdown() joins the thread, which needs it.
      int e = errno;
      plane->Shutdown();
      MakeError(env, std::string("epoll_ctl(tun): ") + std::strerror(e), 0, "uv").ThrowAsJavaScriptException();
      return;
    }
    plane_ = plane;
  } else if (!StartLoopPolling(env)) {
    return;
  }
  // A shard that dies must not leave its TUN queue attached and unread: the
  // kernel would go on steering flows into it.
  napi_add_env_cleanup_hook(env, EnvCleanup, this);
  cleanupHook_ = true;
}

// Without a plane: the TUN queue on this thread's own loop.
bool Pump::StartLoopPolling(Napi::Env env) {
  poll_ = new uv_poll_t;
  int r = uv_poll_init(Instance(env)->loop, poll_, fd_);
  if (r != 0) {
    delete poll_;
    poll_ = nullptr;
    MakeError(env, std::string("uv_poll_init(tun): ") + uv_strerror(r), r, "uv").ThrowAsJavaScriptException();
    return false;
  }
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, OnPoll);
  throttle_ = new uv_timer_t;
  uv_timer_init(Instance(env)->loop, throttle_);
  throttle_->data = this;
  return true;
}

void Pump::EnvCleanup(void* arg) {
  auto* self = static_cast<Pump*>(arg);
  self->cleanupHook_ = false;  // it ran; nothing to remove later
  self->CloseAll();
  if (self->plane_) self->plane_->Shutdown();
}

Pump::~Pump() {
  if (cleanupHook_) napi_remove_env_cleanup_hook(Env(), EnvCleanup, this);
  CloseAll();
  // Connections of this pump are gone (each held it), or the environment is.
  if (plane_) plane_->Shutdown();
}

// The plane thread goes on serving tunnels that outlive the pump's close
// (a shard saying goodbye to its clients); it ends with the pump.
void Pump::CloseAll() {
  PlaneLock lk(plane_);
  FlushTun();
  if (plane_) {
    if (tunId_ != 0) plane_->Remove(tunId_);
    if (wakeId_ != 0) plane_->Remove(wakeId_);
    tunId_ = wakeId_ = 0;
  }
  for (Connection* c : attached_) c->DetachPump();
  Count(WG_RT_OFF_TUNNELS, -static_cast<int32_t>(attached_.size()));
  Count(WG_RT_OFF_PAUSED, -static_cast<int32_t>(paused_.size()));
  attached_.clear();
  paused_.clear();
  v4_.clear();
  v6_.clear();
  if (throttle_ != nullptr) {
    throttle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(throttle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    throttle_ = nullptr;
  }
  if (poll_ != nullptr) {
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  if (wakePoll_ != nullptr) {
    wakePoll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(wakePoll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    wakePoll_ = nullptr;
  }
  routes_ = nullptr;
  peers_.clear();
  meshRefs_.clear();
}

void Pump::OnPoll(uv_poll_t* h, int status, int) {
  auto* self = static_cast<Pump*>(h->data);
  if (self == nullptr || status < 0) return;
  Napi::HandleScope scope(self->Env());
  self->ReadTun();
}

Connection* Pump::Lookup(const uint8_t* pkt, size_t n, const uint8_t** dst, size_t* dlen) {
  uint8_t version = pkt[0] >> 4;
  if (version == 4 && n >= 20) {
    *dst = pkt + 16;
    *dlen = 4;
    uint32_t k;
    std::memcpy(&k, *dst, 4);
    auto it = v4_.find(k);
    return it == v4_.end() ? nullptr : it->second;
  }
  if (version == 6 && n >= 40) {
    *dst = pkt + 24;
    *dlen = 16;
    std::array<uint8_t, 16> k;
    std::memcpy(k.data(), *dst, 16);
    auto it = v6_.find(k);
    return it == v6_.end() ? nullptr : it->second;
  }
  *dst = nullptr;
  *dlen = 0;
  return nullptr;
}

void Pump::Queue(Connection* c, const uint8_t* pkt, size_t n, std::vector<Connection*>& dirty) {
  if (c->DropIfPaused()) return;
  c->QueueFrame(cstp::kData, pkt, n);
  if (!c->inDirty_) {
    c->inDirty_ = true;
    dirty.push_back(c);
  }
}

// Flushing may fail a connection, which detaches it: take it off the list
// first so no pointer is used after that.
void Pump::Flush(Pump* self, std::vector<Connection*>& dirty) {
  for (Connection* c : dirty) c->inDirty_ = false;
  for (Connection* c : dirty) {
    if (self->attached_.count(c)) c->FlushBatch();
  }
  dirty.clear();
}

void Pump::ReadTun() {
  if (tPacket.size() < kVnetHdrLen + kMaxPacket) tPacket.resize(kVnetHdrLen + kMaxPacket);
  // Offloads are off on the device (tunOpen), so the header says nothing a
  // packet needs: no GSO, checksums complete.
  const size_t skip = vnet_ != kVnetNone ? kVnetHdrLen : 0;
  uint8_t* buf = tPacket.data() + skip;
  std::vector<Connection*> dirty;
  const bool quiet = Plane::NowNs() - lastReadEndNs_ >= kQuietNs;
  for (int i = 0; i < kTunBatch && fd_ >= 0; i++) {
    ssize_t r = read(fd_, tPacket.data(), skip + kMaxPacket);
    if (r <= static_cast<ssize_t>(skip)) break;  // EAGAIN: drained
    size_t n = static_cast<size_t>(r) - skip;
    counters_.tunRxPackets++;
    counters_.tunRxBytes += n;
    const uint8_t* dst;
    size_t dlen;
    Connection* c = Lookup(buf, n, &dst, &dlen);
    if (dst == nullptr) {
      counters_.malformed++;
      continue;
    }
    if (c != nullptr && c->Tunneling()) {
      Queue(c, buf, n, dirty);
      // After a quiet spell, the first packet goes now, not after the read
      // that finds the queue empty (see kQuietNs).
      if (i == 0 && quiet) {
        counters_.earlyFlushes++;
        Flush(this, dirty);
      }
      continue;
    }
    // Not ours: the kernel picked this queue by flow hash. Hand the packet to
    // the shard that owns the destination's lease, if any.
    if (routes_ != nullptr) {
      int64_t lease = wg_rt_lease(routes_, dst, dlen);
      int owner = lease < 0 ? -1 : wg_rt_owner(routes_, static_cast<uint32_t>(lease));
      if (owner >= 0 && owner != self_ && static_cast<size_t>(owner) < peers_.size() && peers_[owner].out != nullptr) {
        Peer& p = peers_[owner];
        if (wg_ring_push(p.out, buf, static_cast<uint32_t>(n))) {
          counters_.ringOut++;
          p.pending = true;
        } else {
          counters_.ringOutDrops++;
        }
        continue;
      }
    }
    counters_.noRoute++;
  }
  Flush(this, dirty);
  WakePeers();
  lastReadEndNs_ = Plane::NowNs();
  // Every tunnel of the gateway paused (their owners said so): throttle here too.
  if (!throttling_ && routes_ != nullptr && ThrottleOn() && wg_rt_all_paused(routes_)) UpdateTunPoll();
}

// One eventfd write per peer per batch, not per packet.
void Pump::WakePeers() {
  for (Peer& p : peers_) {
    if (!p.pending) continue;
    p.pending = false;
    uint64_t one = 1;
    ssize_t w = write(p.wakeFd, &one, sizeof(one));
    (void)w;  // EAGAIN means the counter is already non-zero: the peer will look anyway
  }
}

void Pump::OnWake(uv_poll_t* h, int status, int) {
  auto* self = static_cast<Pump*>(h->data);
  if (self == nullptr || status < 0) return;
  Napi::HandleScope scope(self->Env());
  self->Woken();
}

void Pump::Woken() {
  counters_.wakeups++;
  uint64_t v;
  ssize_t r = read(peers_[self_].wakeFd, &v, sizeof(v));
  (void)r;
  DrainRings();
}

void Pump::OnPlaneEvents(uint64_t id, uint32_t) {
  if (id == tunId_)
    ReadTun();
  else if (id == wakeId_ && self_ >= 0)
    Woken();
}

void Pump::OnPlaneTimer(uint64_t id) {
  if (id == tunId_) ThrottleTick();
}

// Packets other shards read from their TUN queues for our clients. Reading
// the eventfd first and draining after means a push that lands meanwhile
// either is drained now or wakes us again: no wake-up is lost.
void Pump::DrainRings() {
  if (tPacket.size() < kMaxPacket) tPacket.resize(kMaxPacket);
  uint8_t* buf = tPacket.data();
  std::vector<Connection*> dirty;
  bool more = false;
  for (Peer& p : peers_) {
    if (p.in == nullptr) continue;
    int i = 0;
    for (; i < kRingBatch; i++) {
      int64_t n = wg_ring_pop(p.in, buf, static_cast<uint32_t>(kMaxPacket));
      if (n < 0) break;
      counters_.ringIn++;
      const uint8_t* dst;
      size_t dlen;
      Connection* c = Lookup(buf, static_cast<size_t>(n), &dst, &dlen);
      if (c != nullptr && c->Tunneling())
        Queue(c, buf, static_cast<size_t>(n), dirty);
      else
        counters_.ringInNoRoute++;  // never forwarded again: no ping-pong between shards
    }
    if (i == kRingBatch) more = true;
  }
  Flush(this, dirty);
  if (more && self_ >= 0) {
    // Give the loop a turn, then come back for the rest.
    uint64_t one = 1;
    ssize_t w = write(peers_[self_].wakeFd, &one, sizeof(one));
    (void)w;
  }
}

void Pump::WriteToTun(const uint8_t* pkt, size_t len) {
  if (fd_ < 0) return;
  if (vnet_ == kVnetUso && UdpCoalescer::Eligible(pkt, len)) {
    if (coalescer_.Extend(pkt, len)) return;
    FlushTun();
    coalescer_.Start(pkt, len);
    return;
  }
  // Packets leave in the order they came: the run before this one.
  FlushTun();
  WriteAlone(pkt, len);
}

void Pump::FlushTun() {
  const uint32_t packets = coalescer_.count();
  if (packets == 0) return;
  size_t len;
  const uint8_t* out = coalescer_.Finish(&len);
  if (fd_ >= 0) {
    CountWrite(write(fd_, out, len) == static_cast<ssize_t>(len), packets, coalescer_.originalBytes());
    if (packets > 1) counters_.tunTxCoalesced += packets;
  }
  coalescer_.Reset();
}

void Pump::WriteAlone(const uint8_t* pkt, size_t len) {
  if (vnet_ == kVnetNone) {
    CountWrite(write(fd_, pkt, len) == static_cast<ssize_t>(len), 1, len);
    return;
  }
  // An empty virtio_net_hdr: no GSO, checksums complete.
  static const uint8_t kNoOffload[kVnetHdrLen] = {};
  iovec iov[2] = {{const_cast<uint8_t*>(kNoOffload), kVnetHdrLen}, {const_cast<uint8_t*>(pkt), len}};
  CountWrite(writev(fd_, iov, 2) == static_cast<ssize_t>(kVnetHdrLen + len), 1, len);
}

void Pump::CountWrite(bool ok, uint32_t packets, size_t bytes) {
  counters_.tunTxWrites++;
  if (ok) {
    counters_.tunTxPackets += packets;
    counters_.tunTxBytes += bytes;
  } else {
    // A full TUN queue drops, as a router does; TCP inside the tunnel recovers.
    counters_.tunTxDrops += packets;
  }
}

void Pump::Count(size_t off, int32_t delta) {
  if (routes_ != nullptr && delta != 0) wg_rt_count(routes_, off, delta);
}

void Pump::SetPaused(Connection* c, bool paused) {
  if (paused) {
    if (attached_.count(c) == 0) return;
    if (paused_.insert(c).second) Count(WG_RT_OFF_PAUSED, 1);
  } else {
    if (paused_.erase(c) > 0) Count(WG_RT_OFF_PAUSED, -1);
  }
  UpdateTunPoll();
}

bool Pump::ShouldThrottle() const {
  return ThrottleOn() && (AllPaused() || (routes_ != nullptr && wg_rt_all_paused(routes_)));
}

uint64_t Pump::ThrottleMs() const { return steerFd_ >= 0 ? kSteeredThrottleMs : kThrottleMs; }

void Pump::UpdateTunPoll() {
  if (plane_) {
    if (tunId_ == 0) return;
    bool throttle = ShouldThrottle();
    if (throttle == throttling_) return;
    throttling_ = throttle;
    if (throttle) {
      plane_->Watch(tunId_, 0);
      plane_->Arm(tunId_, ThrottleMs());
    } else {
      plane_->Cancel(tunId_);
      plane_->Watch(tunId_, EPOLLIN);
    }
    return;
  }
  if (poll_ == nullptr || throttle_ == nullptr) return;
  bool throttle = ShouldThrottle();
  if (throttle == throttling_) return;
  throttling_ = throttle;
  if (throttle) {
    uv_poll_stop(poll_);
    uint64_t every = ThrottleMs();
    uv_timer_start(throttle_, OnThrottle, every, every);
  } else {
    uv_timer_stop(throttle_);
    uv_poll_start(poll_, UV_READABLE, OnPoll);
  }
}

void Pump::OnThrottle(uv_timer_t* t) {
  auto* self = static_cast<Pump*>(t->data);
  if (self == nullptr) return;
  Napi::HandleScope scope(self->Env());
  self->ThrottleTick();
}

void Pump::ThrottleTick() {
  counters_.throttledReads++;
  ReadTun();
  // Another shard's tunnel may have resumed: nothing local says so.
  UpdateTunPoll();
  // The plane's timer is one-shot; the loop's repeats by itself.
  if (plane_ && throttling_ && tunId_ != 0) plane_->Arm(tunId_, ThrottleMs());
}

void Pump::Detach(Connection* c) {
  FlushTun();
  if (attached_.erase(c) > 0) Count(WG_RT_OFF_TUNNELS, -1);
  bool wasPaused = paused_.erase(c) > 0;
  if (wasPaused) Count(WG_RT_OFF_PAUSED, -1);
  if (wasPaused || throttling_) UpdateTunPoll();
  for (auto it = v4_.begin(); it != v4_.end();) {
    if (it->second != c) {
      ++it;
      continue;
    }
    SteerDisown(reinterpret_cast<const uint8_t*>(&it->first), 4);
    it = v4_.erase(it);
  }
  for (auto it = v6_.begin(); it != v6_.end();) {
    if (it->second != c) {
      ++it;
      continue;
    }
    SteerDisown(it->first.data(), 16);
    it = v6_.erase(it);
  }
}

void Pump::SteerOwn(const uint8_t* address, size_t len) {
  if (steerFd_ < 0 || self_ < 0) return;
  if (SteerSetOwner(steerFd_, address, len, static_cast<uint32_t>(self_)) != 0) counters_.steerErrors++;
}

void Pump::SteerDisown(const uint8_t* address, size_t len) {
  if (steerFd_ < 0 || self_ < 0) return;
  if (SteerClearOwner(steerFd_, address, len, static_cast<uint32_t>(self_)) != 0) counters_.steerErrors++;
}

// addRoute(connection, address: Buffer of 4 or 16 bytes). The connection must
// be in tunnel mode on this pump.
Napi::Value Pump::AddRoute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlaneLock lk(plane_);
  const uint8_t* a;
  size_t alen;
  if (info.Length() < 2 || !info[0].IsObject() || !ArgBuffer(info, 1, &a, &alen)) {
    if (!env.IsExceptionPending()) Napi::TypeError::New(env, "addRoute(connection, address)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object co = info[0].As<Napi::Object>();
  if (!co.InstanceOf(Instance(env)->connectionCtor.Value())) {
    Napi::TypeError::New(env, "not a Connection").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Connection* c = Connection::Unwrap(co);
  // A connection runs on its pump's plane thread: another pump's thread
  // framing packets into it would race that thread over the TLS state.
  if (!c->Tunneling() || !c->TunnelsOn(this)) return Napi::Number::New(env, BAD_FUNC_ARG);
  if (alen == 4) {
    uint32_t k;
    std::memcpy(&k, a, 4);
    v4_[k] = c;
  } else if (alen == 16) {
    std::array<uint8_t, 16> k;
    std::memcpy(k.data(), a, 16);
    v6_[k] = c;
  } else {
    return Napi::Number::New(env, BAD_FUNC_ARG);
  }
  SteerOwn(a, alen);
  if (attached_.insert(c).second) Count(WG_RT_OFF_TUNNELS, 1);
  UpdateTunPoll();  // a new, unpaused tunnel ends a throttle
  return Napi::Number::New(env, WOLFSSL_SUCCESS);
}

Napi::Value Pump::RemoveRoutes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlaneLock lk(plane_);
  if (info.Length() < 1 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(Instance(env)->connectionCtor.Value()))
    return env.Undefined();
  Detach(Connection::Unwrap(info[0].As<Napi::Object>()));
  return env.Undefined();
}

Napi::Value Pump::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlaneLock lk(plane_);
  Napi::Object o = Napi::Object::New(env);
  auto n = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  n("tunRxPackets", counters_.tunRxPackets);
  n("tunRxBytes", counters_.tunRxBytes);
  n("tunTxPackets", counters_.tunTxPackets);
  n("tunTxBytes", counters_.tunTxBytes);
  n("noRoute", counters_.noRoute);
  n("tunTxDrops", counters_.tunTxDrops);
  n("tunTxWrites", counters_.tunTxWrites);
  n("tunTxCoalesced", counters_.tunTxCoalesced);
  n("malformed", counters_.malformed);
  n("routes", v4_.size() + v6_.size());
  n("ringOut", counters_.ringOut);
  n("ringOutDrops", counters_.ringOutDrops);
  n("ringIn", counters_.ringIn);
  n("ringInNoRoute", counters_.ringInNoRoute);
  n("wakeups", counters_.wakeups);
  n("throttledReads", counters_.throttledReads);
  n("steerErrors", counters_.steerErrors);
  n("earlyFlushes", counters_.earlyFlushes);
  o.Set("planeCpuMs", Napi::Number::New(env, plane_ ? static_cast<double>(plane_->CpuNs()) / 1e6 : 0));
  o.Set("planeSliceUs", Napi::Number::New(env, plane_ ? plane_->SliceUs() : 0));
  o.Set("planeCpu", Napi::Number::New(env, plane_ ? plane_->Cpu() : -1));
  o.Set("planeCpuAssigned", Napi::Number::New(env, plane_ ? plane_->AssignedCpu() : -1));
  return o;
}

Napi::Value Pump::Close(const Napi::CallbackInfo& info) {
  CloseAll();
  return info.Env().Undefined();
}

// Bytes of a SharedArrayBuffer-backed Uint8Array (the caller keeps a reference).
static bool SharedBytes(Napi::Value v, uint8_t** data, size_t* len) {
  if (!v.IsTypedArray()) return false;
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array u = ta.As<Napi::Uint8Array>();
  *data = u.Data();
  *len = u.ByteLength();
  return true;
}

// attachMesh(self, routeTable: Uint8Array, outRings: (Uint8Array|null)[],
// inRings: (Uint8Array|null)[], wakeFds: number[], steerFd = -1). Index i of
// each array is shard i; entry `self` of the ring arrays is null. steerFd:
// the steering program's address map (tun-steering.h), if there is one. Returns 1, or a negative
// code naming what was wrong (the TypeScript side validates first).
Napi::Value Pump::AttachMesh(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlaneLock lk(plane_);
  int64_t self;
  if (info.Length() < 5 || !ArgInt(info, 0, &self) || !info[2].IsArray() || !info[3].IsArray() || !info[4].IsArray()) {
    if (!env.IsExceptionPending()) Napi::TypeError::New(env, "attachMesh(self, routes, outRings, inRings, wakeFds)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (routes_ != nullptr || fd_ < 0) return Napi::Number::New(env, -1);
  int64_t steerFd = -1;
  if (info.Length() > 5 && !info[5].IsUndefined() && !ArgInt(info, 5, &steerFd)) return env.Undefined();
  uint8_t* rt;
  size_t rtLen;
  if (!SharedBytes(info[1], &rt, &rtLen) || wg_rt_check(rt, rtLen) != 0) return Napi::Number::New(env, -2);
  Napi::Array outs = info[2].As<Napi::Array>(), ins = info[3].As<Napi::Array>(), fds = info[4].As<Napi::Array>();
  uint32_t n = fds.Length();
  if (self < 0 || self >= n || outs.Length() != n || ins.Length() != n) return Napi::Number::New(env, -3);
  std::vector<Peer> peers(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value fd = fds.Get(i);
    if (!fd.IsNumber()) return Napi::Number::New(env, -4);
    peers[i].wakeFd = fd.As<Napi::Number>().Int32Value();
    if (i == self) continue;
    uint8_t* d;
    size_t l;
    if (!SharedBytes(outs.Get(i), &d, &l) || wg_ring_check(d, l) != 0) return Napi::Number::New(env, -5);
    peers[i].out = d;
    if (!SharedBytes(ins.Get(i), &d, &l) || wg_ring_check(d, l) != 0) return Napi::Number::New(env, -6);
    peers[i].in = d;
  }
  if (plane_) {
    wakeId_ = plane_->Add(peers[self].wakeFd, this, EPOLLIN);
    if (wakeId_ == 0) return Napi::Number::New(env, -7);
  } else {
    wakePoll_ = new uv_poll_t;
    if (uv_poll_init(Instance(env)->loop, wakePoll_, peers[self].wakeFd) != 0) {
      delete wakePoll_;
      wakePoll_ = nullptr;
      return Napi::Number::New(env, -7);
    }
    wakePoll_->data = this;
    uv_poll_start(wakePoll_, UV_READABLE, OnWake);
  }
  meshRefs_.push_back(Napi::Persistent(info[1]));
  meshRefs_.push_back(Napi::Persistent(info[2]));
  meshRefs_.push_back(Napi::Persistent(info[3]));
  routes_ = rt;
  // Tunnels attached before the mesh: count them now (normally none).
  Count(WG_RT_OFF_TUNNELS, static_cast<int32_t>(attached_.size()));
  Count(WG_RT_OFF_PAUSED, static_cast<int32_t>(paused_.size()));
  peers_ = std::move(peers);
  self_ = static_cast<int>(self);
  steerFd_ = steerFd >= 0 ? static_cast<int>(steerFd) : -1;
  // Routes added before the mesh: steer them now (normally none).
  for (auto& [k, c] : v4_) SteerOwn(reinterpret_cast<const uint8_t*>(&k), 4);
  for (auto& [k, c] : v6_) SteerOwn(k.data(), 16);
  // Packets may already wait in our rings.
  DrainRings();
  return Napi::Number::New(env, WOLFSSL_SUCCESS);
}

// eventFd() → a non-blocking eventfd: a shard's wake-up line. Owned by the
// caller (the main thread creates one per shard and closes them at exit).
static Napi::Value EventFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    MakeError(env, std::string("eventfd: ") + std::strerror(errno), -errno, "errno").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// routeLease(routeTable: Uint8Array, address: Buffer) → [lease, owner]: the
// native mapping, exposed so tests prove it equals the address pool's.
static Napi::Value RouteLease(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* rt;
  size_t rtLen;
  const uint8_t* a;
  size_t alen;
  if (info.Length() < 2 || !SharedBytes(info[0], &rt, &rtLen) || wg_rt_check(rt, rtLen) != 0 || !ArgBuffer(info, 1, &a, &alen)) {
    if (!env.IsExceptionPending()) Napi::TypeError::New(env, "routeLease(routeTable, address)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int64_t lease = wg_rt_lease(rt, a, alen);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(lease)));
  out.Set(1u, Napi::Number::New(env, lease < 0 ? -1 : wg_rt_owner(rt, static_cast<uint32_t>(lease))));
  return out;
}

// Linux 6.2's uapi: a libc's older headers may not have them yet.
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

// tunOpen()'s framing: plain IP packets; a virtio_net_hdr before each, with
// UDP runs written as one (kVnetUso, tun-coalesce.h); or kVnetUso when the
// kernel takes GSO_UDP_L4 writes, else plain (kFramingAuto).
static constexpr int64_t kFramingAuto = 3;

// Opens one queue of `name`; -errno on failure. *vnet: the framing it got.
// `first`: the device's first queue, which sets up its offloads; later ones
// join a device in use and take its framing as given.
static int OpenQueue(const std::string& name, bool first, int64_t framing, int* vnet, std::string* actual) {
  for (bool withHdr : {framing != kVnetNone, false}) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -errno;
    ifreq ifr;
    std::memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE | (withHdr ? IFF_VNET_HDR : 0);
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    *actual = ifr.ifr_name;
    // Asking the device for USO is how to learn whether this kernel knows
    // GSO_UDP_L4 (6.2+); then every offload goes off again, so reads stay
    // whole packets with their checksums done (the header says nothing).
    const bool probe = first && framing == kFramingAuto;
    if (withHdr && first && ((probe && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_USO4 | TUN_F_USO6) != 0) || ioctl(fd, TUNSETOFFLOAD, 0) != 0)) {
      close(fd);  // and again without the header: the device goes with its last fd
      if (!probe) return -EINVAL;
      continue;
    }
    *vnet = withHdr ? kVnetUso : kVnetNone;
    return fd;
  }
  return -EINVAL;
}

// tunOpen(name, queues, framing) → { name, fds, vnet }: one multiqueue TUN
// device (no packet info header), one non-blocking fd per queue, framed as
// asked (0 plain, 2 USO, 3 USO when the kernel has it; `vnet` says which).
// Needs CAP_NET_ADMIN.
static Napi::Value TunOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  int64_t queues;
  int64_t framing;
  if (!ArgString(info, 0, &name) || !ArgInt(info, 1, &queues) || !ArgInt(info, 2, &framing)) return env.Undefined();
  if (name.size() >= IFNAMSIZ || queues < 1 || queues > 256 || (framing != kVnetNone && framing != kVnetUso && framing != kFramingAuto)) {
    Napi::RangeError::New(env, "tunOpen: name shorter than 16 bytes, 1..256 queues, framing 0, 2 or 3").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array fds = Napi::Array::New(env);
  std::string actual;
  int vnet = kVnetNone;
  for (int64_t i = 0; i < queues; i++) {
    int fd = OpenQueue(name, i == 0, i == 0 ? framing : vnet, &vnet, &actual);
    if (fd < 0) {
      for (uint32_t j = 0; j < fds.Length(); j++) close(fds.Get(j).As<Napi::Number>().Int32Value());
      Napi::Error err = MakeError(env, std::string("cannot open TUN device ") + name + ": " + std::strerror(-fd), fd, "errno");
      err.Set("errno", Napi::Number::New(env, -fd));
      err.ThrowAsJavaScriptException();
      return env.Undefined();
    }
    fds.Set(fds.Length(), Napi::Number::New(env, fd));
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", actual);
  o.Set("fds", fds);
  o.Set("vnet", Napi::Number::New(env, vnet));
  return o;
}

// allowedCpus(): the CPUs this process may run on (sched_getaffinity), in
// order: what a plane may be kept on.
static Napi::Value AllowedCpus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cpu_set_t set;
  CPU_ZERO(&set);
  Napi::Array out = Napi::Array::New(env);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set)) out.Set(out.Length(), Napi::Number::New(env, c));
  return out;
}

void InitTun(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = Pump::DefineClass(env);
  Instance(env)->pumpCtor = Napi::Persistent(ctor);
  exports.Set("Pump", ctor);
  exports.Set("tunOpen", Napi::Function::New(env, TunOpen, "tunOpen"));
  exports.Set("eventFd", Napi::Function::New(env, EventFd, "eventFd"));
  exports.Set("routeLease", Napi::Function::New(env, RouteLease, "routeLease"));
  exports.Set("allowedCpus", Napi::Function::New(env, AllowedCpus, "allowedCpus"));
}

}  // namespace wg
