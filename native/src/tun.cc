#include "tun.h"

#include "connection.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace wg {

// Packets read from the TUN queue per poll event before the frames queued for
// each connection are flushed and the loop gets a turn: enough to fill TLS
// records when traffic is heavy, small enough to keep latency fair.
static constexpr int kTunBatch = 64;
// Largest IP packet a TUN read can return (the device MTU is far lower).
static constexpr size_t kMaxPacket = 65535;

static thread_local std::vector<uint8_t> tPacket;

size_t Pump::V6Hash::operator()(const std::array<uint8_t, 16>& a) const noexcept {
  uint64_t x, y;
  std::memcpy(&x, a.data(), 8);
  std::memcpy(&y, a.data() + 8, 8);
  return std::hash<uint64_t>()(x * 0x9E3779B97F4A7C15ull ^ y);
}

Napi::Function Pump::DefineClass(Napi::Env env) {
  return ObjectWrap<Pump>::DefineClass(env, "Pump",
                                       {
                                           InstanceMethod<&Pump::AddRoute>("addRoute"),
                                           InstanceMethod<&Pump::RemoveRoutes>("removeRoutes"),
                                           InstanceMethod<&Pump::Stats>("stats"),
                                           InstanceMethod<&Pump::Close>("close"),
                                       });
}

// new Pump(tunQueueFd): the pump owns the fd and polls it on this thread.
Pump::Pump(const Napi::CallbackInfo& info) : ObjectWrap<Pump>(info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!ArgInt(info, 0, &fd)) return;
  fd_ = static_cast<int>(fd);
  poll_ = new uv_poll_t;
  int r = uv_poll_init(Instance(env)->loop, poll_, fd_);
  if (r != 0) {
    delete poll_;
    poll_ = nullptr;
    MakeError(env, std::string("uv_poll_init(tun): ") + uv_strerror(r), r, "uv").ThrowAsJavaScriptException();
    return;
  }
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, OnPoll);
}

Pump::~Pump() { CloseAll(); }

void Pump::CloseAll() {
  for (Connection* c : attached_) c->DetachPump();
  attached_.clear();
  v4_.clear();
  v6_.clear();
  if (poll_ != nullptr) {
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

void Pump::OnPoll(uv_poll_t* h, int status, int) {
  auto* self = static_cast<Pump*>(h->data);
  if (self == nullptr || status < 0) return;
  Napi::HandleScope scope(self->Env());
  self->ReadTun();
}

void Pump::ReadTun() {
  if (tPacket.size() < kMaxPacket) tPacket.resize(kMaxPacket);
  uint8_t* buf = tPacket.data();
  std::vector<Connection*> dirty;
  for (int i = 0; i < kTunBatch && fd_ >= 0; i++) {
    ssize_t n = read(fd_, buf, kMaxPacket);
    if (n <= 0) break;  // EAGAIN: drained
    counters_.tunRxPackets++;
    counters_.tunRxBytes += static_cast<uint64_t>(n);
    Connection* c = nullptr;
    uint8_t version = buf[0] >> 4;
    if (version == 4 && n >= 20) {
      uint32_t dst;
      std::memcpy(&dst, buf + 16, 4);
      auto it = v4_.find(dst);
      if (it != v4_.end()) c = it->second;
    } else if (version == 6 && n >= 40) {
      std::array<uint8_t, 16> dst;
      std::memcpy(dst.data(), buf + 24, 16);
      auto it = v6_.find(dst);
      if (it != v6_.end()) c = it->second;
    } else {
      counters_.malformed++;
      continue;
    }
    if (c == nullptr || !c->Tunneling()) {
      counters_.noRoute++;
      continue;
    }
    c->QueueFrame(cstp::kData, buf, static_cast<size_t>(n));
    if (!c->inDirty_) {
      c->inDirty_ = true;
      dirty.push_back(c);
    }
  }
  // Flushing may fail a connection, which detaches it: take it off the list
  // first so no pointer is used after that.
  for (Connection* c : dirty) c->inDirty_ = false;
  for (Connection* c : dirty) {
    if (attached_.count(c)) c->FlushBatch();
  }
}

void Pump::WriteToTun(const uint8_t* pkt, size_t len) {
  if (fd_ < 0) return;
  ssize_t n = write(fd_, pkt, len);
  if (n == static_cast<ssize_t>(len)) {
    counters_.tunTxPackets++;
    counters_.tunTxBytes += len;
  } else {
    // A full TUN queue drops, as a router does; TCP inside the tunnel recovers.
    counters_.tunTxDrops++;
  }
}

void Pump::Detach(Connection* c) {
  attached_.erase(c);
  for (auto it = v4_.begin(); it != v4_.end();) it = it->second == c ? v4_.erase(it) : std::next(it);
  for (auto it = v6_.begin(); it != v6_.end();) it = it->second == c ? v6_.erase(it) : std::next(it);
}

// addRoute(connection, address: Buffer of 4 or 16 bytes). The connection must
// be in tunnel mode on this pump.
Napi::Value Pump::AddRoute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
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
  if (!c->Tunneling()) return Napi::Number::New(env, BAD_FUNC_ARG);
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
  attached_.insert(c);
  return Napi::Number::New(env, WOLFSSL_SUCCESS);
}

Napi::Value Pump::RemoveRoutes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(Instance(env)->connectionCtor.Value()))
    return env.Undefined();
  Detach(Connection::Unwrap(info[0].As<Napi::Object>()));
  return env.Undefined();
}

Napi::Value Pump::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  auto n = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  n("tunRxPackets", counters_.tunRxPackets);
  n("tunRxBytes", counters_.tunRxBytes);
  n("tunTxPackets", counters_.tunTxPackets);
  n("tunTxBytes", counters_.tunTxBytes);
  n("noRoute", counters_.noRoute);
  n("tunTxDrops", counters_.tunTxDrops);
  n("malformed", counters_.malformed);
  n("routes", v4_.size() + v6_.size());
  return o;
}

Napi::Value Pump::Close(const Napi::CallbackInfo& info) {
  CloseAll();
  return info.Env().Undefined();
}

// tunOpen(name, queues) → { name, fds }: one multiqueue TUN device (no packet
// info header), one non-blocking fd per queue. Needs CAP_NET_ADMIN.
static Napi::Value TunOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  int64_t queues;
  if (!ArgString(info, 0, &name) || !ArgInt(info, 1, &queues)) return env.Undefined();
  if (name.size() >= IFNAMSIZ || queues < 1 || queues > 256) {
    Napi::RangeError::New(env, "tunOpen: name shorter than 16 bytes, 1..256 queues").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array fds = Napi::Array::New(env);
  std::string actual;
  for (int64_t i = 0; i < queues; i++) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    ifreq ifr;
    std::memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) != 0) {
      int e = errno;
      if (fd >= 0) close(fd);
      for (uint32_t j = 0; j < fds.Length(); j++) close(fds.Get(j).As<Napi::Number>().Int32Value());
      Napi::Error err = MakeError(env, std::string("cannot open TUN device ") + name + ": " + std::strerror(e), -e, "errno");
      err.Set("errno", Napi::Number::New(env, e));
      err.ThrowAsJavaScriptException();
      return env.Undefined();
    }
    actual = ifr.ifr_name;
    fds.Set(fds.Length(), Napi::Number::New(env, fd));
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", actual);
  o.Set("fds", fds);
  return o;
}

void InitTun(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = Pump::DefineClass(env);
  Instance(env)->pumpCtor = Napi::Persistent(ctor);
  exports.Set("Pump", ctor);
  exports.Set("tunOpen", Napi::Function::New(env, TunOpen, "tunOpen"));
}

}  // namespace wg
