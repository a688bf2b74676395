// A minimal uprobe for tests and the placement benchmark: a hand-assembled BPF program that
// counts hits and sums one value per hit, attached with perf_event_open at a raw file offset —
// exactly where a Placement says, with nothing of probekit's pipeline in between, so a hit
// costs the trap and little else.
//
// The value summed per hit is either a register (e.g. rdx: the length argument at a forwarded
// internal function) or, when (int)eax > 0, the u64 that rsp points at (SSL_read's byte count
// at its post-call Jcc). An optional comm filter keeps other processes' hits out.
#pragma once

#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace probe::test {

enum class SumOf {
  kNothing,
  kRegister,               // the register at `pt_regs_offset`
  kStackSlotWhenEaxPositive,  // *(u64 *)rsp, only on hits where (int)eax > 0
};

// Offsets in x86-64 struct pt_regs.
constexpr int16_t kPtRegsAx = 80;
constexpr int16_t kPtRegsCx = 88;
constexpr int16_t kPtRegsDx = 96;
constexpr int16_t kPtRegsSi = 104;
constexpr int16_t kPtRegsDi = 112;
constexpr int16_t kPtRegsSp = 152;

struct CounterOptions {
  bool retprobe = false;
  SumOf sum = SumOf::kNothing;
  int16_t pt_regs_offset = kPtRegsDx;  // for SumOf::kRegister
  std::string comm;                    // only hits from this command (up to 8 characters)
};

inline CounterOptions count_only(bool retprobe = false) {
  CounterOptions o;
  o.retprobe = retprobe;
  return o;
}
inline CounterOptions summing_register(int16_t pt_regs_offset, std::string comm = "") {
  CounterOptions o;
  o.sum = SumOf::kRegister;
  o.pt_regs_offset = pt_regs_offset;
  o.comm = std::move(comm);
  return o;
}
inline CounterOptions summing_stack_slot_when_eax_positive(std::string comm = "") {
  CounterOptions o;
  o.sum = SumOf::kStackSlotWhenEaxPositive;
  o.comm = std::move(comm);
  return o;
}

class UprobeCounter {
 public:
  static Result<std::unique_ptr<UprobeCounter>> attach(const std::string& path, uint64_t offset,
                                                       const CounterOptions& options = {}) {
    auto c = std::unique_ptr<UprobeCounter>(new UprobeCounter());
    c->map_fd_ = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pk_count", 4, 16, 1, nullptr);
    if (c->map_fd_ < 0) return make_error("bpf_map_create: {}", std::strerror(errno));
    auto insns = program(c->map_fd_, options);
    std::vector<char> log(65536);
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_level = 1, .log_size = static_cast<__u32>(log.size()),
                .log_buf = log.data());
    c->prog_fd_ = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "pk_count", "GPL", insns.data(), insns.size(), &opts);
    if (c->prog_fd_ < 0) return make_error("bpf_prog_load: {}\n{}", std::strerror(errno), log.data());
    auto type = read_number("/sys/bus/event_source/devices/uprobe/type");
    if (!type) return make_error("no uprobe PMU (/sys/bus/event_source/devices/uprobe/type)");
    perf_event_attr attr{};
    attr.size = sizeof attr;
    attr.type = static_cast<uint32_t>(*type);
    if (options.retprobe) attr.config = 1ULL << retprobe_bit();
    attr.config1 = reinterpret_cast<uint64_t>(path.c_str());
    attr.config2 = offset;
    c->perf_fd_ = static_cast<int>(syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC));
    if (c->perf_fd_ < 0)
      return make_error("perf_event_open uprobe {}:0x{:x}: {}", path, offset, std::strerror(errno));
    if (ioctl(c->perf_fd_, PERF_EVENT_IOC_SET_BPF, c->prog_fd_) != 0 ||
        ioctl(c->perf_fd_, PERF_EVENT_IOC_ENABLE, 0) != 0)
      return make_error("attaching the program: {}", std::strerror(errno));
    return c;
  }

  ~UprobeCounter() {
    for (int fd : {perf_fd_, prog_fd_, map_fd_})
      if (fd >= 0) close(fd);
  }

  uint64_t hits() const { return read_slot()[0]; }
  uint64_t sum() const { return read_slot()[1]; }

 private:
  UprobeCounter() = default;

  std::array<uint64_t, 2> read_slot() const {
    std::array<uint64_t, 2> v{};
    uint32_t key = 0;
    bpf_map_lookup_elem(map_fd_, &key, v.data());
    return v;
  }

  static std::optional<long> read_number(const std::string& path) {
    std::ifstream in(path);
    long v = 0;
    if (!(in >> v)) return std::nullopt;
    return v;
  }

  // "config:0" in the uprobe PMU's format/retprobe.
  static int retprobe_bit() {
    std::ifstream in("/sys/bus/event_source/devices/uprobe/format/retprobe");
    std::string s;
    in >> s;
    auto colon = s.find(':');
    return colon == std::string::npos ? 0 : std::atoi(s.c_str() + colon + 1);
  }

  static bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
  }

  // The program; every jump goes to the final "return 0".
  static std::vector<bpf_insn> program(int map_fd, const CounterOptions& o) {
    std::vector<bpf_insn> p;
    std::vector<size_t> exits;  // jumps to patch
    auto jump_to_exit = [&](uint8_t code, uint8_t dst, uint8_t src, int32_t imm) {
      exits.push_back(p.size());
      p.push_back(insn(code, dst, src, 0, imm));
    };
    p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0));  // r6 = ctx
    if (!o.comm.empty()) {
      uint64_t want = 0;
      std::memcpy(&want, o.comm.data(), std::min<size_t>(o.comm.size(), 8));
      p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, 1, 10, 0, 0));
      p.push_back(insn(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -40));
      p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, 16));
      p.push_back(insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_current_comm));
      p.push_back(insn(BPF_LDX | BPF_MEM | BPF_DW, 1, 10, -40, 0));
      if (o.comm.size() < 8) {  // compare only the name's bytes and its NUL
        uint64_t mask = o.comm.size() == 7 ? ~0ULL : (1ULL << (8 * (o.comm.size() + 1))) - 1;
        p.push_back(insn(BPF_LD | BPF_DW | BPF_IMM, 2, 0, 0, static_cast<int32_t>(mask)));
        p.push_back(insn(0, 0, 0, 0, static_cast<int32_t>(mask >> 32)));
        p.push_back(insn(BPF_ALU64 | BPF_AND | BPF_X, 1, 2, 0, 0));
      }
      p.push_back(insn(BPF_LD | BPF_DW | BPF_IMM, 2, 0, 0, static_cast<int32_t>(want)));
      p.push_back(insn(0, 0, 0, 0, static_cast<int32_t>(want >> 32)));
      jump_to_exit(BPF_JMP | BPF_JNE | BPF_X, 1, 2, 0);
    }
    p.push_back(insn(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0));  // key = 0
    p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0));
    p.push_back(insn(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4));
    p.push_back(insn(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, map_fd));
    p.push_back(insn(0, 0, 0, 0, 0));
    p.push_back(insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
    jump_to_exit(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0);
    p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, 7, 0, 0, 0));  // r7 = value
    p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, 1));
    p.push_back(insn(BPF_STX | BPF_ATOMIC | BPF_DW, 7, 1, 0, BPF_ADD));  // hits += 1
    if (o.sum == SumOf::kRegister) {
      p.push_back(insn(BPF_LDX | BPF_MEM | BPF_DW, 1, 6, o.pt_regs_offset, 0));
      p.push_back(insn(BPF_STX | BPF_ATOMIC | BPF_DW, 7, 1, 8, BPF_ADD));
    } else if (o.sum == SumOf::kStackSlotWhenEaxPositive) {
      p.push_back(insn(BPF_LDX | BPF_MEM | BPF_DW, 1, 6, kPtRegsAx, 0));
      p.push_back(insn(BPF_ALU64 | BPF_LSH | BPF_K, 1, 0, 0, 32));
      p.push_back(insn(BPF_ALU64 | BPF_ARSH | BPF_K, 1, 0, 0, 32));
      jump_to_exit(BPF_JMP | BPF_JSLE | BPF_K, 1, 0, 0);
      p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, 1, 10, 0, 0));
      p.push_back(insn(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -16));
      p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, 8));
      p.push_back(insn(BPF_LDX | BPF_MEM | BPF_DW, 3, 6, kPtRegsSp, 0));
      p.push_back(insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_probe_read_user));
      jump_to_exit(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 0);
      p.push_back(insn(BPF_LDX | BPF_MEM | BPF_DW, 1, 10, -16, 0));
      p.push_back(insn(BPF_STX | BPF_ATOMIC | BPF_DW, 7, 1, 8, BPF_ADD));
    }
    size_t exit = p.size();
    p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0));
    p.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    for (size_t j : exits) p[j].off = static_cast<int16_t>(exit - j - 1);
    return p;
  }

  int map_fd_ = -1;
  int prog_fd_ = -1;
  int perf_fd_ = -1;
};

}  // namespace probe::test
