// A shard's data-plane thread: its own epoll loop, where the pump's TUN queue
// and every connection in tunnel mode are driven. Node's loop runs extra work
// on every turn (the check phase's native-immediate scope allocates a V8
// object and runs a microtask checkpoint; the idle-time metric adds an
// epoll_wait(0)), measured at ~10 µs of user CPU per echoed packet, and any
// JavaScript a shard runs (logins, timers, GC) would stall its tunnels. Here
// a packet costs only the syscalls and the crypto.
//
// One recursive mutex per plane serialises the two threads: the plane thread
// holds it while it handles a batch of events, JavaScript's calls into a
// tunnelling connection or the pump take it. epoll_ctl() is safe from either
// thread; timers set from JavaScript wake the plane with its eventfd. Events
// JavaScript must see (errors, control frames, drain, end) are queued and
// delivered on the JS loop through a uv_async_t, one at a time.
//
// WOLFGUARD_DATA_THREAD=0 keeps the data plane on the shard's own loop (for
// side-by-side measurements).
#pragma once
#include <sched.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <pthread.h>
#include <unordered_map>
#include <vector>

namespace wg {

class PlaneHandler {
 public:
  virtual ~PlaneHandler() = default;
  // On the plane thread, with the plane's mutex held. `id` says which of the
  // handler's registrations fired (the pump has two).
  virtual void OnPlaneEvents(uint64_t id, uint32_t events) = 0;
  virtual void OnPlaneTimer(uint64_t id) = 0;
};

// An event for JavaScript, delivered on the JS thread by `deliver`.
struct PlaneEvent {
  void (*deliver)(void* target, PlaneEvent& e) = nullptr;
  void* target = nullptr;
  int kind = 0;
  int code = 0;
  std::string text;
  std::vector<uint8_t> bytes;
};

class Plane {
 public:
  Plane() = default;
  ~Plane();
  Plane(const Plane&) = delete;
  Plane& operator=(const Plane&) = delete;

  // When the thread is kept on its CPU: always, or only while this process
  // has two or more planes carrying packets (see ReviewKeep()).
  enum class Keep { kAlways, kShared };
  // JS thread. Starts the thread; false with *err on failure. `sliceUs`
  // (0: the kernel's default) asks the scheduler for that time slice for
  // the thread: see ApplySlice(). `cpu` >= 0 keeps the thread on that CPU,
  // as `keep` says (see CreatePinned()); -1 leaves it to the scheduler.
  bool Start(uv_loop_t* jsLoop, uint32_t sliceUs, int cpu, Keep keep, std::string* err);
  // JS thread. Ends and joins the thread; registrations stay valid (epoll_ctl
  // on them is harmless) and nothing fires any more. Idempotent.
  void Stop();
  // JS thread, last: Stop() and release the uv_async_t; events still queued
  // are dropped (the environment is going away).
  void Shutdown();

  std::recursive_mutex& mu() { return mu_; }
  bool OnThread() const { return started_ && pthread_equal(pthread_self(), thread_) != 0; }
  // Milliseconds on the monotonic clock (the scale of uv_now()).
  static uint64_t Now();
  // Nanoseconds on the same clock.
  static uint64_t NowNs();
  // CPU time the plane thread has used (ns; 0 when it is not running), read
  // from its clock by any thread: the data plane's load, at no cost per packet.
  uint64_t CpuNs();
  // The thread's time slice as the kernel reports it, µs; 0 when the kernel
  // keeps its default (none asked, or a scheduler without custom slices).
  uint32_t SliceUs() const { return sliceUs_.load(std::memory_order_relaxed); }
  // JS thread. The one CPU the thread may run on now, or -1: none asked, the
  // kernel refused it, or its affinity was widened since (taskset -a).
  int Cpu() const;
  // The CPU the thread is kept on when it is kept on one (Start()'s `cpu`),
  // or -1: none asked, or the kernel refused it.
  int AssignedCpu() const { return assignedCpu_.load(std::memory_order_relaxed); }

  // With mu() held, from either thread. Add() returns an id (0: failed, errno
  // set); Watch() changes the events (0 stops watching without forgetting).
  uint64_t Add(int fd, PlaneHandler* h, uint32_t events);
  bool Watch(uint64_t id, uint32_t events);
  void Remove(uint64_t id);
  // A one-shot timer per id, `ms` from now; Cancel() clears it.
  void Arm(uint64_t id, uint64_t ms);
  void Cancel(uint64_t id);
  // Queue an event for JavaScript (plane thread), or drop those of a target
  // that is going away (JS thread).
  void Post(PlaneEvent e);
  void Purge(void* target);

 private:
  struct Watcher {
    int fd = -1;
    PlaneHandler* handler = nullptr;
    uint32_t events = 0;
    bool inEpoll = false;
  };
  void Run();
  void ApplySlice();
  int CreatePinned();
  void ReviewKeep(uint64_t nowNs);
  bool KeepOn(bool on);
  static void* RunThread(void* self);
  int NextTimeoutMs();
  void RunTimers();
  void Wake();
  static void OnAsync(uv_async_t* a);
  void DeliverOne();

  std::recursive_mutex mu_;
  // pthread, not std::thread: a thread the system refuses must be an error
  // for JavaScript, and the addon is built without C++ exceptions.
  pthread_t thread_{};
  bool stopping_ = false;
  bool started_ = false;
  uint32_t wantSliceUs_ = 0;
  std::atomic<uint32_t> sliceUs_{0};
  int wantCpu_ = -1;
  std::atomic<int> assignedCpu_{-1};
  Keep keep_ = Keep::kAlways;
  // Keep::kShared, plane thread only: the CPUs the process could use at
  // Start() (where the thread may run when not kept), whether it is kept
  // now, whether it carried packets in the current window and the last one,
  // and when the current window ends.
  cpu_set_t freeCpus_{};
  bool kept_ = false;
  bool sawPackets_ = false;
  bool carrying_ = false;
  uint64_t windowEndNs_ = 0;
  int epfd_ = -1;
  int wakeFd_ = -1;
  uint64_t nextId_ = 1;  // 0 is the wake eventfd's
  std::unordered_map<uint64_t, Watcher> watchers_;
  // Armed timers by due time (Now() ms), and each id's entry there: a
  // thousand paused tunnels must not cost a scan per wake-up.
  std::multimap<uint64_t, uint64_t> due_;
  std::unordered_map<uint64_t, std::multimap<uint64_t, uint64_t>::iterator> timers_;
  std::deque<PlaneEvent> events_;
  uv_async_t* async_ = nullptr;
};

// Holds a plane's mutex for a scope when there is a plane.
class PlaneLock {
 public:
  explicit PlaneLock(const std::shared_ptr<Plane>& p) {
    if (p) lock_ = std::unique_lock<std::recursive_mutex>(p->mu());
  }

 private:
  std::unique_lock<std::recursive_mutex> lock_;
};

bool DataThreadOn();

}  // namespace wg
