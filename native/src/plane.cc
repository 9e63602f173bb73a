#include "plane.h"

#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace wg {

// Events taken from one epoll_wait(): as many ready tunnels as a busy shard
// has, so one wake-up serves them all.
static constexpr int kEpollBatch = 64;

bool DataThreadOn() {
  static const bool on = EnvSwitchOn("WOLFGUARD_DATA_THREAD");
  return on;
}

static uint64_t TimespecNs(const timespec& ts) {
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t Plane::NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return TimespecNs(ts);
}

uint64_t Plane::Now() { return NowNs() / 1'000'000u; }

Plane::~Plane() {
  Stop();
  if (epfd_ >= 0) close(epfd_);
  if (wakeFd_ >= 0) close(wakeFd_);
}

uint64_t Plane::CpuNs() {
  if (!started_) return 0;
  clockid_t cid;
  timespec ts;
  if (pthread_getcpuclockid(thread_, &cid) != 0 || clock_gettime(cid, &ts) != 0) return 0;
  return TimespecNs(ts);
}

bool Plane::Start(uv_loop_t* jsLoop, uint32_t sliceUs, int cpu, Keep keep, std::string* err) {
  wantSliceUs_ = sliceUs;
  wantCpu_ = cpu;
  keep_ = keep;
  if (sched_getaffinity(0, sizeof freeCpus_, &freeCpus_) != 0) keep_ = Keep::kAlways;
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) {
    *err = std::string("epoll_create1: ") + std::strerror(errno);
    return false;
  }
  wakeFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeFd_ < 0) {
    *err = std::string("eventfd: ") + std::strerror(errno);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, wakeFd_, &ev) != 0) {
    *err = std::string("epoll_ctl: ") + std::strerror(errno);
    return false;
  }
  async_ = new uv_async_t;
  int r = uv_async_init(jsLoop, async_, OnAsync);
  if (r != 0) {
    delete async_;
    async_ = nullptr;
    *err = std::string("uv_async_init: ") + uv_strerror(r);
    return false;
  }
  async_->data = this;
  // Idle, the plane must not keep the shard's loop alive by itself.
  uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  // Held so the thread's first turn sees thread_ and started_ set.
  std::lock_guard<std::recursive_mutex> l(mu_);
  // Unpinned when no CPU is asked, or when the kernel refuses the one asked;
  // a Keep::kShared thread starts where the process may run (ReviewKeep()).
  int e = wantCpu_ >= 0 && keep_ == Keep::kAlways ? CreatePinned() : -1;
  if (e == 0 || (wantCpu_ >= 0 && keep_ == Keep::kShared)) assignedCpu_.store(wantCpu_, std::memory_order_relaxed);
  if (e != 0) e = pthread_create(&thread_, nullptr, RunThread, this);
  if (e != 0) {
    *err = std::string("pthread_create: ") + std::strerror(e);
    return false;
  }
  started_ = true;
  return true;
}

void Plane::Stop() {
  if (!started_) return;
  {
    std::lock_guard<std::recursive_mutex> l(mu_);
    stopping_ = true;
    Wake();
  }
  pthread_join(thread_, nullptr);
  started_ = false;
}

void Plane::Shutdown() {
  Stop();
  std::lock_guard<std::recursive_mutex> l(mu_);
  events_.clear();
  if (async_ != nullptr) {
    async_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    async_ = nullptr;
  }
}

void Plane::Wake() {
  uint64_t one = 1;
  ssize_t w = write(wakeFd_, &one, sizeof(one));
  (void)w;  // EAGAIN: the counter is already non-zero, the plane wakes anyway
}

uint64_t Plane::Add(int fd, PlaneHandler* h, uint32_t events) {
  uint64_t id = nextId_++;
  Watcher w;
  w.fd = fd;
  w.handler = h;
  watchers_[id] = w;
  if (!Watch(id, events)) {
    watchers_.erase(id);
    return 0;
  }
  return id;
}

// Not watching means out of the epoll set: the kernel reports hang-ups and
// errors whatever the event mask, and a level-triggered one would spin.
bool Plane::Watch(uint64_t id, uint32_t events) {
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return false;
  Watcher& w = it->second;
  w.events = events;
  if (events == 0) {
    if (w.inEpoll) {
      epoll_event ev{};
      epoll_ctl(epfd_, EPOLL_CTL_DEL, w.fd, &ev);
      w.inEpoll = false;
    }
    return true;
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  if (epoll_ctl(epfd_, w.inEpoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w.fd, &ev) != 0) return false;
  w.inEpoll = true;
  return true;
}

void Plane::Remove(uint64_t id) {
  Watch(id, 0);
  watchers_.erase(id);
  Cancel(id);
}

void Plane::Arm(uint64_t id, uint64_t ms) {
  Cancel(id);
  timers_[id] = due_.emplace(Now() + ms, id);
  if (!OnThread()) Wake();  // the plane may be asleep with a longer timeout
}

void Plane::Cancel(uint64_t id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  due_.erase(it->second);
  timers_.erase(it);
}

void Plane::Post(PlaneEvent e) {
  if (async_ == nullptr) return;
  events_.push_back(std::move(e));
  uv_async_send(async_);
}

void Plane::Purge(void* target) {
  for (auto it = events_.begin(); it != events_.end();) {
    if (it->target == target)
      it = events_.erase(it);
    else
      ++it;
  }
}

int Plane::NextTimeoutMs() {
  if (due_.empty()) return -1;
  uint64_t now = Now(), due = due_.begin()->first;
  return due <= now ? 0 : static_cast<int>(std::min<uint64_t>(due - now, 60'000));
}

// Timers due now fire; one re-armed from its own callback waits for the next turn.
void Plane::RunTimers() {
  if (due_.empty()) return;
  uint64_t now = Now();
  std::vector<uint64_t> due;
  while (!due_.empty() && due_.begin()->first <= now) {
    due.push_back(due_.begin()->second);
    timers_.erase(due_.begin()->second);
    due_.erase(due_.begin());
  }
  for (uint64_t id : due) {
    auto it = watchers_.find(id);
    if (it != watchers_.end()) it->second.handler->OnPlaneTimer(id);
  }
}

// linux/sched/types.h (glibc has no wrapper for sched_setattr).
struct SchedAttr {
  uint32_t size;
  uint32_t policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime;
  uint64_t deadline;
  uint64_t period;
  uint32_t utilMin;
  uint32_t utilMax;
};

// A packet that wakes the plane waits until the scheduler lets the thread
// run. Since Linux 6.12 (EEVDF), a SCHED_OTHER or SCHED_BATCH thread may ask
// for a shorter slice than the default (0.75-3 ms) in sched_runtime, without
// privilege; its earlier virtual deadline lets it preempt the task running
// on the CPU it wakes on instead of queueing behind it, at the same share of
// CPU. On older kernels the field is ignored and reads back 0, which is what
// SliceUs() then reports. Policy and nice stay as they are (an operator's
// chrt or renice), and a real-time or idle policy is left alone.
void Plane::ApplySlice() {
  constexpr uint32_t kSchedOther = 0;
  constexpr uint32_t kSchedBatch = 3;
  SchedAttr a{};
  if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) != 0) return;
  if (a.policy != kSchedOther && a.policy != kSchedBatch) return;
  a.size = sizeof a;
  a.flags = 0;
  a.runtime = static_cast<uint64_t>(wantSliceUs_) * 1000;
  if (syscall(SYS_sched_setattr, 0, &a, 0) != 0) return;
  SchedAttr got{};
  if (syscall(SYS_sched_getattr, 0, &got, sizeof got, 0) != 0) return;
  sliceUs_.store(static_cast<uint32_t>(got.runtime / 1000), std::memory_order_relaxed);
}

// One shard's packets, start to end, run on this thread. Left to the
// scheduler, two shards' threads on a 2-CPU host now shared a CPU, now moved
// between CPUs, and an echo through an idle shard took 135-140 µs (p50) in
// some runs and 190-250 µs in others while another shard carried 200
// Mbit/s; kept on CPUs of their own, 22 of 24 runs were under 175 µs
// (tuning.md, WOLFGUARD_PLANE_CPUS). The thread is created on its CPU, so
// it never takes a first turn elsewhere. The CPU is checked in TypeScript
// against the process's affinity; should the kernel refuse it all the same
// (a cpuset changed since), Start() creates the thread unpinned.
int Plane::CreatePinned() {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return EINVAL;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(wantCpu_, &set);
  int e = pthread_attr_setaffinity_np(&attr, sizeof set, &set);
  if (e == 0) e = pthread_create(&thread_, &attr, RunThread, this);
  pthread_attr_destroy(&attr);
  return e;
}

// Planes of this process that carried packets in their last window
// (Keep::kShared): the gateway's shards live in one process.
static std::atomic<int> gCarryingPlanes{0};
// How long a plane looks back to say whether it carries packets: short
// enough to follow a load that starts or stops, long enough that an idle
// tunnel's echoes (one a millisecond, say) count as one window's traffic.
static constexpr uint64_t kKeepWindowNs = 100'000'000;

// Kept on its own CPU, a plane never waits behind another shard's plane
// while both carry packets, nor moves between CPUs: under load that halved
// the RTT p99. But a thread kept on one CPU cannot take an idle one: with a
// single plane carrying packets there is nothing to keep apart, and about
// one packet in a thousand then waited while something else ran on its CPU
// (tuning.md, "Kept apart only while two carry packets"). So a
// Keep::kShared plane is kept on its CPU only while two or more of the
// process's planes carry packets, and may run on any of the process's CPUs
// otherwise. Reviewed once a window, on the plane thread, after its events.
void Plane::ReviewKeep(uint64_t nowNs) {
  if (nowNs < windowEndNs_) return;
  const bool was = carrying_;
  carrying_ = sawPackets_;
  sawPackets_ = false;
  windowEndNs_ = nowNs + kKeepWindowNs;
  if (carrying_ != was) gCarryingPlanes.fetch_add(carrying_ ? 1 : -1, std::memory_order_relaxed);
  const bool keep = gCarryingPlanes.load(std::memory_order_relaxed) >= 2;
  if (keep != kept_ && KeepOn(keep)) kept_ = keep;
}

// The calling (plane) thread on its CPU alone, or back on the process's.
bool Plane::KeepOn(bool on) {
  cpu_set_t one;
  if (on) {
    CPU_ZERO(&one);
    CPU_SET(wantCpu_, &one);
  }
  return pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), on ? &one : &freeCpus_) == 0;
}

int Plane::Cpu() const {
  cpu_set_t set;
  if (!started_ || pthread_getaffinity_np(thread_, sizeof set, &set) != 0 || CPU_COUNT(&set) != 1) return -1;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set)) return c;
  return -1;
}

void* Plane::RunThread(void* self) {
  static_cast<Plane*>(self)->Run();
  return nullptr;
}

void Plane::Run() {
  // Named for top -H, perf and /proc (the test counts them).
  pthread_setname_np(pthread_self(), "wg-plane");
  if (wantSliceUs_ != 0) ApplySlice();
  const bool review = keep_ == Keep::kShared && wantCpu_ >= 0;
  epoll_event evs[kEpollBatch];
  for (;;) {
    int timeout;
    {
      std::lock_guard<std::recursive_mutex> l(mu_);
      if (stopping_) break;
      timeout = NextTimeoutMs();
    }
    // A plane that carried packets wakes at its window's end even when
    // nothing comes, to say it carries none now (ReviewKeep()).
    if (review && carrying_) {
      uint64_t now = NowNs();
      int left = windowEndNs_ > now ? static_cast<int>((windowEndNs_ - now + 999'999) / 1'000'000) : 0;
      if (timeout < 0 || left < timeout) timeout = left;
    }
    int n = epoll_wait(epfd_, evs, kEpollBatch, timeout);
    if (n < 0 && errno != EINTR) break;
    std::lock_guard<std::recursive_mutex> l(mu_);
    if (stopping_) break;
    for (int i = 0; i < n; i++) {
      uint64_t id = evs[i].data.u64;
      if (id == 0) {
        uint64_t v;
        ssize_t r = read(wakeFd_, &v, sizeof(v));
        (void)r;
        continue;
      }
      sawPackets_ = true;
      // A handler may have removed another one of this batch meanwhile.
      auto it = watchers_.find(id);
      if (it != watchers_.end()) it->second.handler->OnPlaneEvents(id, evs[i].events);
    }
    RunTimers();
    if (review) ReviewKeep(NowNs());
  }
  if (carrying_) gCarryingPlanes.fetch_sub(1, std::memory_order_relaxed);
  carrying_ = false;
}

void Plane::OnAsync(uv_async_t* a) {
  auto* self = static_cast<Plane*>(a->data);
  if (self != nullptr) self->DeliverOne();
}

// One event at a time, without the lock: JavaScript may call back into the
// target (taking the lock) or destroy it, which purges what is still queued
// for it, so no delivery ever reaches a finished target.
void Plane::DeliverOne() {
  for (;;) {
    PlaneEvent e;
    {
      std::lock_guard<std::recursive_mutex> l(mu_);
      if (events_.empty() || async_ == nullptr) return;
      e = std::move(events_.front());
      events_.pop_front();
    }
    e.deliver(e.target, e);
  }
}

}  // namespace wg
