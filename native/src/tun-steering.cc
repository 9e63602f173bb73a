#include "tun-steering.h"

#include "common.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

namespace wg {

static int Bpf(int cmd, bpf_attr* attr) {
  long r = syscall(__NR_bpf, cmd, attr, sizeof(*attr));
  return r < 0 ? -errno : static_cast<int>(r);
}

static void MakeKey(const uint8_t* address, size_t len, uint8_t key[kSteerKeyBytes]) {
  std::memset(key, 0, kSteerKeyBytes);
  std::memcpy(key, address, len);
}

// One map element command (update, lookup or delete): 0 or -errno.
static int MapElem(int cmd, int mapFd, const void* key, void* value, uint64_t flags = 0) {
  bpf_attr a;
  std::memset(&a, 0, sizeof(a));
  a.map_fd = static_cast<uint32_t>(mapFd);
  a.key = reinterpret_cast<uint64_t>(key);
  a.value = reinterpret_cast<uint64_t>(value);
  a.flags = flags;
  int r = Bpf(cmd, &a);
  return r < 0 ? r : 0;
}

int SteerSetOwner(int mapFd, const uint8_t* address, size_t len, uint32_t owner) {
  if (len != 4 && len != 16) return -EINVAL;
  uint8_t key[kSteerKeyBytes];
  MakeKey(address, len, key);
  return MapElem(BPF_MAP_UPDATE_ELEM, mapFd, key, &owner, BPF_ANY);
}

static int SteerLookup(int mapFd, const uint8_t* address, size_t len, uint32_t* owner) {
  if (len != 4 && len != 16) return -EINVAL;
  uint8_t key[kSteerKeyBytes];
  MakeKey(address, len, key);
  return MapElem(BPF_MAP_LOOKUP_ELEM, mapFd, key, owner);
}

int SteerClearOwner(int mapFd, const uint8_t* address, size_t len, uint32_t owner) {
  // Not atomic: a new owner writing between the lookup and the delete loses
  // its entry, and its packets take the ring path until the next route
  // change. Steering only saves a hop; the route table stays the authority.
  uint32_t now;
  int r = SteerLookup(mapFd, address, len, &now);
  if (r < 0) return r == -ENOENT ? 0 : r;
  if (now != owner) return 0;
  uint8_t key[kSteerKeyBytes];
  MakeKey(address, len, key);
  r = MapElem(BPF_MAP_DELETE_ELEM, mapFd, key, nullptr);
  return r == -ENOENT ? 0 : r;
}

// ------------------------------------------------------------ the program

namespace {

// A tiny assembler for the few instruction forms the program needs, with
// labels resolved at the end (no clang/libbpf at build time: the program is
// short enough to keep readable here).
class Asm {
 public:
  void Raw(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i;
    std::memset(&i, 0, sizeof(i));
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    code_.push_back(i);
  }
  void MovReg(uint8_t dst, uint8_t src) { Raw(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
  void MovImm(uint8_t dst, int32_t imm) { Raw(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
  void AddImm(uint8_t dst, int32_t imm) { Raw(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm); }
  void Alu32Imm(uint8_t op, uint8_t dst, int32_t imm) { Raw(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
  void Alu32Reg(uint8_t op, uint8_t dst, uint8_t src) { Raw(BPF_ALU | op | BPF_X, dst, src, 0, 0); }
  void StoreImm(uint8_t size, uint8_t base, int16_t off, int32_t imm) { Raw(BPF_ST | BPF_MEM | size, base, 0, off, imm); }
  void Store(uint8_t size, uint8_t base, int16_t off, uint8_t src) { Raw(BPF_STX | BPF_MEM | size, base, src, off, 0); }
  void Load(uint8_t size, uint8_t dst, uint8_t base, int16_t off) { Raw(BPF_LDX | BPF_MEM | size, dst, base, off, 0); }
  void MapFd(uint8_t dst, int fd) {
    Raw(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd);
    Raw(0, 0, 0, 0, 0);
  }
  void Call(int32_t helper) { Raw(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }
  void Exit() { Raw(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }
  // Conditional jump on a register against an immediate, or always (op BPF_JA).
  void Jump(uint8_t op, uint8_t dst, int32_t imm, int label) {
    fixups_.push_back({code_.size(), label});
    Raw(BPF_JMP | op | BPF_K, dst, 0, 0, imm);
  }
  int NewLabel() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void Bind(int label) { labels_[label] = static_cast<long>(code_.size()); }
  std::vector<bpf_insn> Finish() {
    for (auto& f : fixups_) code_[f.at].off = static_cast<int16_t>(labels_[f.label] - static_cast<long>(f.at) - 1);
    return code_;
  }

 private:
  struct Fixup {
    size_t at;
    int label;
  };
  std::vector<bpf_insn> code_;
  std::vector<long> labels_;
  std::vector<Fixup> fixups_;
};

constexpr uint8_t R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R6 = 6, R10 = 10;
// Stack: the 16-byte address key at fp-16, a scratch word at fp-24 (the
// version byte, then the owner shard as the queue map's key).
constexpr int16_t kKey = -16, kScratch = -24;
// IPv4 and IPv6 destination address offsets in the IP header.
constexpr int32_t kV4Dst = 16, kV6Dst = 24;
// Knuth's multiplicative constant: spreads unknown destinations over queues.
constexpr int32_t kMix = static_cast<int32_t>(0x9E3779B1u);

// Returns the owner's queue index for the packet in r1 (an sk_buff whose data
// starts at the IP header: IFF_TUN, no packet info); the kernel takes it
// modulo the queue count. A destination with no entry (no tunnel, or the map
// full) gets a hash of its address, as the kernel's own steering would spread it.
std::vector<bpf_insn> SteeringProgram(int addrMap, int queueMap) {
  Asm a;
  int miss = a.NewLabel(), v6 = a.NewLabel(), lookup = a.NewLabel(), none = a.NewLabel();
  // bpf_skb_load_bytes(skb, offset, fp + at, len); any failure: not a packet we can read.
  auto loadBytes = [&](int32_t offset, int16_t at, int32_t len) {
    a.MovReg(R1, R6);
    a.MovImm(R2, offset);
    a.MovReg(R3, R10);
    a.AddImm(R3, at);
    a.MovImm(R4, len);
    a.Call(BPF_FUNC_skb_load_bytes);
    a.Jump(BPF_JNE, R0, 0, none);
  };
  // r0 = bpf_map_lookup_elem(map, fp + key); no entry: the hash below.
  auto lookupOrMiss = [&](int map, int16_t key) {
    a.MapFd(R1, map);
    a.MovReg(R2, R10);
    a.AddImm(R2, key);
    a.Call(BPF_FUNC_map_lookup_elem);
    a.Jump(BPF_JEQ, R0, 0, miss);
  };
  a.MovReg(R6, R1);
  a.StoreImm(BPF_DW, R10, kKey, 0);
  a.StoreImm(BPF_DW, R10, kKey + 8, 0);
  a.StoreImm(BPF_DW, R10, kScratch, 0);
  // The IP version: first nibble of the first byte.
  loadBytes(0, kScratch, 1);
  a.Load(BPF_B, R0, R10, kScratch);
  a.Alu32Imm(BPF_RSH, R0, 4);
  a.Jump(BPF_JEQ, R0, 6, v6);
  a.Jump(BPF_JNE, R0, 4, none);
  loadBytes(kV4Dst, kKey, 4);
  a.Jump(BPF_JA, 0, 0, lookup);
  a.Bind(v6);
  loadBytes(kV6Dst, kKey, 16);
  a.Bind(lookup);
  lookupOrMiss(addrMap, kKey);
  a.Load(BPF_W, R1, R0, 0);
  a.Store(BPF_W, R10, kScratch, R1);
  lookupOrMiss(queueMap, kScratch);
  a.Load(BPF_W, R0, R0, 0);
  a.Exit();
  // Unknown destination: mix its first and last address words.
  a.Bind(miss);
  a.Load(BPF_W, R0, R10, kKey);
  a.Load(BPF_W, R1, R10, kKey + 12);
  a.Alu32Reg(BPF_XOR, R0, R1);
  a.Alu32Imm(BPF_MUL, R0, kMix);
  a.Alu32Imm(BPF_RSH, R0, 16);
  a.Exit();
  // Not an IP packet the program can read.
  a.Bind(none);
  a.MovImm(R0, 0);
  a.Exit();
  return a.Finish();
}

int MapCreate(uint32_t type, uint32_t keySize, uint32_t valueSize, uint32_t entries, uint32_t flags, const char* name) {
  bpf_attr a;
  std::memset(&a, 0, sizeof(a));
  a.map_type = type;
  a.key_size = keySize;
  a.value_size = valueSize;
  a.max_entries = entries;
  a.map_flags = flags;
  std::strncpy(a.map_name, name, BPF_OBJ_NAME_LEN - 1);
  return Bpf(BPF_MAP_CREATE, &a);
}

// tunSteer(tunFd, addressCapacity, shards) → [addressMapFd, queueMapFd]: the
// program attached to tunFd's device. Queue map entries start at shard i →
// queue i (the order the queues were opened in). Throws naming the failing
// step (no BPF in this kernel, not permitted, verifier refusal).
Napi::Value TunSteer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t tunFd, capacity, shards;
  if (!ArgInt(info, 0, &tunFd) || !ArgInt(info, 1, &capacity) || !ArgInt(info, 2, &shards)) return env.Undefined();
  if (capacity < 1 || capacity > (1 << 24) || shards < 1 || shards > 256) {
    Napi::RangeError::New(env, "tunSteer: capacity 1..2^24, shards 1..256").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto fail = [&](const std::string& step, int err, const std::string& detail) {
    Napi::Error e = MakeError(env, "TUN steering: " + step + ": " + std::strerror(-err) + detail, err, "errno");
    e.Set("errno", Napi::Number::New(env, -err));
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  };
  // Entries are allocated as tunnels come, not all up front.
  int addrMap = MapCreate(BPF_MAP_TYPE_HASH, kSteerKeyBytes, 4, static_cast<uint32_t>(capacity), BPF_F_NO_PREALLOC, "wg_steer_addr");
  if (addrMap < 0) return fail("creating the address map", addrMap, "");
  int queueMap = MapCreate(BPF_MAP_TYPE_ARRAY, 4, 4, static_cast<uint32_t>(shards), 0, "wg_steer_queue");
  if (queueMap < 0) {
    close(addrMap);
    return fail("creating the queue map", queueMap, "");
  }
  for (uint32_t i = 0; i < static_cast<uint32_t>(shards); i++) MapElem(BPF_MAP_UPDATE_ELEM, queueMap, &i, &i);
  std::vector<bpf_insn> prog = SteeringProgram(addrMap, queueMap);
  static const char kLicense[] = "GPL";
  std::vector<char> log(16384, 0);
  bpf_attr p;
  std::memset(&p, 0, sizeof(p));
  p.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  p.insns = reinterpret_cast<uint64_t>(prog.data());
  p.insn_cnt = static_cast<uint32_t>(prog.size());
  p.license = reinterpret_cast<uint64_t>(kLicense);
  p.log_buf = reinterpret_cast<uint64_t>(log.data());
  p.log_size = static_cast<uint32_t>(log.size());
  p.log_level = 1;
  std::strncpy(p.prog_name, "wg_tun_steer", BPF_OBJ_NAME_LEN - 1);
  int progFd = Bpf(BPF_PROG_LOAD, &p);
  if (progFd < 0) {
    close(addrMap);
    close(queueMap);
    std::string verifier(log.data());
    if (verifier.size() > 400) verifier = verifier.substr(verifier.size() - 400);
    return fail("loading the program", progFd, verifier.empty() ? "" : " (verifier: " + verifier + ")");
  }
  int fd = progFd;
  int r = ioctl(static_cast<int>(tunFd), TUNSETSTEERINGEBPF, &fd) < 0 ? -errno : 0;
  close(progFd);  // the device holds its own reference
  if (r < 0) {
    close(addrMap);
    close(queueMap);
    return fail("TUNSETSTEERINGEBPF", r, "");
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, addrMap));
  out.Set(1u, Napi::Number::New(env, queueMap));
  return out;
}

// tunSteerQueue(queueMapFd, shard, queueIndex) → 0 or -errno.
Napi::Value TunSteerQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, shard, queue;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &shard) || !ArgInt(info, 2, &queue)) return env.Undefined();
  if (shard < 0 || shard > 255 || queue < 0 || queue > 255) return Napi::Number::New(env, -EINVAL);
  uint32_t k = static_cast<uint32_t>(shard), v = static_cast<uint32_t>(queue);
  return Napi::Number::New(env, MapElem(BPF_MAP_UPDATE_ELEM, static_cast<int>(fd), &k, &v));
}

// tunSteerOwner(addressMapFd, address) → the owner shard, or -errno (-ENOENT: none).
Napi::Value TunSteerOwner(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  const uint8_t* a;
  size_t len;
  if (!ArgInt(info, 0, &fd) || !ArgBuffer(info, 1, &a, &len)) return env.Undefined();
  uint32_t owner = 0;
  int r = SteerLookup(static_cast<int>(fd), a, len, &owner);
  return Napi::Number::New(env, r < 0 ? r : static_cast<int64_t>(owner));
}

}  // namespace

void InitTunSteering(Napi::Env env, Napi::Object exports) {
  exports.Set("tunSteer", Napi::Function::New(env, TunSteer, "tunSteer"));
  exports.Set("tunSteerQueue", Napi::Function::New(env, TunSteerQueue, "tunSteerQueue"));
  exports.Set("tunSteerOwner", Napi::Function::New(env, TunSteerOwner, "tunSteerOwner"));
}

}  // namespace wg
