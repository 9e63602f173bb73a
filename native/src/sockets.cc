// File-descriptor plumbing: Node cannot hand a net.Socket to a worker, so the
// main thread takes a private duplicate of an accepted socket's fd, lets the
// JavaScript socket go, and posts the number; the shard's Connection owns it.
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace wg {

static Napi::Value Errno(Napi::Env env, const char* what) {
  int e = errno;
  Napi::Error err = MakeError(env, std::string(what) + ": " + std::strerror(e), -e, "errno");
  err.Set("errno", Napi::Number::New(env, e));
  err.ThrowAsJavaScriptException();
  return env.Undefined();
}

static bool SetNonBlocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

// dupFd(fd) → a new close-on-exec, non-blocking fd for the same socket.
static Napi::Value DupFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  int n = fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC, 0);
  if (n < 0) return Errno(env, "dup");
  if (!SetNonBlocking(n)) {
    close(n);
    return Errno(env, "fcntl");
  }
  return Napi::Number::New(env, n);
}

static Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  if (fd >= 0) close(static_cast<int>(fd));
  return env.Undefined();
}

static bool ParseAddr(const std::string& ip, int port, sockaddr_storage* ss, socklen_t* len) {
  std::memset(ss, 0, sizeof(*ss));
  auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(*v4);
    return true;
  }
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(*v6);
    return true;
  }
  return false;
}

// The largest receive buffer udpConnect() asks for (1 GiB; TypeScript keeps
// the operator's value far lower, this only keeps the int from overflowing).
static constexpr int64_t kMaxRcvBuf = int64_t{1} << 30;

// udpConnect(localIp, localPort, remoteIp, remotePort, rcvBufBytes) → fd of
// a UDP socket bound to the local address (SO_REUSEADDR/PORT so it can share
// the listener's port) and connect()ed to the peer: the kernel then delivers
// that peer's datagrams to this socket only. rcvBufBytes > 0 sets its receive
// buffer: SO_RCVBUFFORCE with CAP_NET_ADMIN, else SO_RCVBUF, which the kernel
// caps at net.core.rmem_max; 0 keeps net.core.rmem_default.
static Napi::Value UdpConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string lip, rip;
  int64_t lport, rport, rcvbuf;
  if (!ArgString(info, 0, &lip) || !ArgInt(info, 1, &lport) || !ArgString(info, 2, &rip) || !ArgInt(info, 3, &rport) ||
      !ArgInt(info, 4, &rcvbuf))
    return env.Undefined();
  if (rcvbuf < 0 || rcvbuf > kMaxRcvBuf) {
    Napi::RangeError::New(env, "udpConnect: receive buffer out of range").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  sockaddr_storage la, ra;
  socklen_t ll, rl;
  if (lport < 0 || lport > 65535 || rport <= 0 || rport > 65535 || !ParseAddr(lip, static_cast<int>(lport), &la, &ll) ||
      !ParseAddr(rip, static_cast<int>(rport), &ra, &rl) || la.ss_family != ra.ss_family) {
    Napi::TypeError::New(env, "udpConnect: bad address or port").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = socket(la.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno(env, "socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (la.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (rcvbuf > 0) {
    int v = static_cast<int>(rcvbuf);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&la), ll) != 0 || connect(fd, reinterpret_cast<sockaddr*>(&ra), rl) != 0) {
    Napi::Value v = Errno(env, "udp bind/connect");
    close(fd);
    return v;
  }
  return Napi::Number::New(env, fd);
}

// rcvBufBytes(fd) → the socket's receive buffer as the kernel reports it (it
// doubles what was asked, for its bookkeeping), or null when fd is no socket.
static Napi::Value RcvBufBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  int v = 0;
  socklen_t len = sizeof(v);
  if (fd < 0 || fd > INT32_MAX || getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_RCVBUF, &v, &len) != 0) return env.Null();
  return Napi::Number::New(env, v);
}

// peerName(fd) / sockName(fd) → { address, port, family } or null.
static Napi::Value NameOf(const Napi::CallbackInfo& info, bool peer) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  int r = peer ? getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&ss), &len)
               : getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&ss), &len);
  if (r != 0) return env.Null();
  char buf[INET6_ADDRSTRLEN];
  Napi::Object o = Napi::Object::New(env);
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    o.Set("family", "IPv4");
    o.Set("port", ntohs(a->sin_port));
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    o.Set("family", "IPv6");
    o.Set("port", ntohs(a->sin6_port));
  } else {
    return env.Null();
  }
  o.Set("address", buf);
  return o;
}

void InitSockets(Napi::Env env, Napi::Object exports) {
  exports.Set("dupFd", Napi::Function::New(env, DupFd, "dupFd"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("udpConnect", Napi::Function::New(env, UdpConnect, "udpConnect"));
  exports.Set("rcvBufBytes", Napi::Function::New(env, RcvBufBytes, "rcvBufBytes"));
  exports.Set("peerName", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return NameOf(i, true); }, "peerName"));
  exports.Set("sockName", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return NameOf(i, false); }, "sockName"));
}

}  // namespace wg
