// The ProbePlan: a policy after validation, with every name resolved and every default
// applied. It is kernel-independent; code generation turns it into BPF C and a manifest.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/tracepoint_format.h"
#include "compiler/diag/source.h"

namespace probe::plan {

enum class ProbeKind {
  kUprobe,
  kUretprobe,
  kUsdt,
  kKprobe,
  kKretprobe,
  kTracepoint,
  kRawTracepoint,
  kFentry,
  kFexit,
};
const char* probe_kind_name(ProbeKind kind);
std::optional<ProbeKind> parse_probe_kind(const std::string& name);
const std::vector<std::string>& probe_kind_names();
bool is_user_space(ProbeKind kind);   // uprobe, uretprobe, usdt
bool fires_at_return(ProbeKind kind);  // uretprobe, kretprobe, fexit

// How a user-space return probe is implemented.
enum class ReturnMode { kAuto, kUretprobe, kRetSites };
const char* return_mode_name(ReturnMode mode);

// Where a user-space function probe may be placed (docs/probe-placement.md): kAuto moves it to
// the cheapest site proven to see exactly the function's calls; kShared may also move it into
// an internal function other callers reach (the probe then sees their calls too); kOff keeps
// the symbol's entry and a uretprobe.
enum class Placement { kAuto, kShared, kOff };
const char* placement_name(Placement p);
std::optional<Placement> parse_placement(const std::string& name);

// Calling convention of a probed user-space function: which registers hold argN and the
// result. Go's register ABI also means: no uretprobes (they crash Go programs), return
// probes on each RET, entry and return paired by goroutine.
enum class Abi { kC, kGo };
const char* abi_name(Abi a);
std::optional<Abi> parse_abi(const std::string& name);

enum class FieldType { kI8, kI16, kI32, kI64, kU8, kU16, kU32, kU64, kPtr, kBool, kString, kBytes };
const char* field_type_name(FieldType type);
std::optional<FieldType> parse_field_type(const std::string& name);
const std::vector<std::string>& field_type_names();
uint32_t scalar_size(FieldType type);  // 0 for string/bytes
bool is_signed(FieldType type);
bool is_variable(FieldType type);

enum class Builtin {
  kPid, kTid, kComm, kCgroup, kTimestamp, kUid, kGid, kCpu,
  kElapsed,     // ns since the function's entry (return probes)
  kUserStack,   // stack id of the user stack (ustack)
  kKernelStack, // stack id of the kernel stack (kstack)
  // What a stream probe learnt (stdlib/bpf/tls/stream.h); "stream.NAME" in policies.
  kStreamConn, kStreamFd, kStreamProto, kStreamLatency, kStreamFamily, kStreamSport,
  kStreamDport, kStreamSaddr, kStreamDaddr,
};
const char* builtin_name(Builtin b);
bool is_stream_builtin(Builtin b);

// Where a captured or filtered value comes from.
struct ValueRef {
  enum class Source { kArg, kRet, kDerefArg, kRegister, kBuiltin, kTracepointField, kCapture };
  Source source = Source::kArg;
  int index = 0;         // argument number for kArg/kDerefArg
  std::string name;      // register, tracepoint field or capture name
  Builtin builtin = Builtin::kPid;
  std::string text;      // as written, for messages
  SourceRange range;

  bool needs_return() const { return source == Source::kRet || source == Source::kDerefArg; }
};

struct Capture {
  std::string name;
  ValueRef value;
  FieldType type = FieldType::kU64;
  std::optional<ValueRef> len;  // for bytes
  uint32_t max = 0;             // bytes/string capacity
  SourceRange range;

  bool needs_return() const { return value.needs_return() || (len && len->needs_return()); }
};

enum class FilterOp { kEq, kNe, kLt, kLe, kGt, kGe, kPrefix, kContains };
const char* filter_op_name(FilterOp op);

struct Filter {
  std::string text;
  ValueRef lhs;
  FilterOp op = FilterOp::kEq;
  bool string_literal = false;
  int64_t int_value = 0;
  std::string str_value;
  SourceRange range;
};

struct ProcessSelector {
  std::vector<std::string> comm;
  std::vector<std::string> exe;
  std::string cmdline;  // regular expression
  std::vector<int64_t> pid;
  std::vector<std::string> cgroup;
  std::string container;  // "any" (default), "host" or "containers"
  bool empty() const {
    return comm.empty() && exe.empty() && cmdline.empty() && pid.empty() && cgroup.empty() &&
           (container.empty() || container == "any");
  }
};

struct Target {
  enum class Kind { kLibrary, kBinary, kProcess };
  std::string name;
  Kind kind = Kind::kLibrary;
  std::string spec;  // library soname/glob/path or binary path
  std::vector<std::string> resolved;  // files found on this machine at compile time
  ProcessSelector process;
  bool optional = false;
  SourceRange range;
};
const char* target_kind_name(Target::Kind kind);

// A function prototype from `signature = "int SSL_read(SSL *s, void *buf, int num)"`: it
// names the arguments, gives their types and the arity (argN past it is an error).
struct Signature {
  std::string function;
  FieldType returns = FieldType::kI64;
  bool returns_void = false;
  struct Param {
    std::string name;
    FieldType type = FieldType::kU64;
    bool is_string = false;  // char * / const char *
  };
  std::vector<Param> params;
  bool variadic = false;
};

// A probe on a TLS (or other plaintext) stream: the kernel keeps per-connection state
// (stdlib/bpf/tls/stream.h) so only request heads, response heads and HTTP/2 header blocks
// cross to user space, and ties each connection to its socket.
struct Stream {
  enum class Role {
    kSend,   // plaintext written: a request head crosses (HTTP/1.x), or header blocks (HTTP/2)
    kRecv,   // plaintext read: a response head crosses while a request waits
    kEnter,  // a call that may write to the socket starts (handshake): bind it
    kClose,  // the connection object is freed: forget its state
    kBind,   // a write-like syscall: the socket of the TLS call running on this thread
  };
  Role role = Role::kSend;
  std::optional<ValueRef> conn;  // the connection object (all roles but bind)
  std::optional<ValueRef> fd;    // bind: the syscall's file descriptor
  SourceRange range;
};
const char* stream_role_name(Stream::Role r);

struct Probe {
  uint32_t id = 0;
  std::string name;
  ProbeKind kind = ProbeKind::kUprobe;
  std::string target;  // target name ("" for kernel probes without selectors)
  std::string symbol;  // function, "provider:name" (usdt), "category:name" (tracepoint)
  uint64_t offset = 0;
  bool optional = false;
  ReturnMode return_mode = ReturnMode::kAuto;
  Placement placement = Placement::kAuto;
  // Exported functions returning the method tables through which the function's internal call
  // dispatches (OpenSSL: TLS_method, ...): lets a return probe sit at one site inside the
  // dispatched implementation (docs/probe-placement.md, "dispatched return").
  std::vector<std::string> dispatch_tables;
  Abi abi = Abi::kC;
  FieldType returns = FieldType::kI64;  // C type of the return value ("keep int as 32-bit")
  std::vector<Capture> captures;
  std::vector<Filter> filters;
  std::string matcher;        // protocol matcher name, "" for none
  std::string match_capture;  // the bytes capture the matcher inspects
  std::optional<Stream> stream;
  bool emit_event = true;
  std::string handler;  // Lua function, "" for the default on_<name>
  std::optional<Signature> signature;
  SourceRange range;

  // Resolved against this machine while checking (tracefs, kernel BTF, USDT notes).
  std::optional<TracepointFormat> tracepoint;  // tracepoint record layout
  int kernel_arity = -1;                        // parameters of a kernel function (BTF)

  // Whether the probe needs state saved at entry and an event built at return.
  bool paired() const;
  // Whether probed may move the probe to a cheaper site (placement != off, a C function named
  // exactly, no offset, no registers read by name).
  bool placeable() const;
  // A placeable return probe: its result may come from a site other than the function's
  // return, as the site's recipe says (pk_ret in base.h).
  bool placed_return() const;
};

// In-kernel aggregation: a BPF map keyed by the labels, read at export time.
struct Metric {
  enum class Kind { kCounter, kSum, kHistogram };
  struct Label {
    std::string name;
    ValueRef value;
    FieldType type = FieldType::kU64;
    uint32_t size = 8;  // bytes in the key (strings: fixed array)
  };
  struct Buckets {
    enum class Kind { kLog2, kLinear, kExplicit } kind = Kind::kLog2;
    int64_t min = 0, max = 0, step = 0;
    std::vector<int64_t> bounds;  // upper bounds, increasing (explicit)
    uint32_t count() const;       // number of buckets, +Inf included
  };
  std::string name;
  std::string help;
  Kind kind = Kind::kCounter;
  std::string probe;
  std::vector<Label> labels;
  std::optional<ValueRef> value;  // sum / histogram
  FieldType value_type = FieldType::kU64;
  Buckets buckets;
  uint32_t max_series = 1024;
  SourceRange range;
};
const char* metric_kind_name(Metric::Kind kind);

struct Handlers {
  std::string script;  // absolute path, empty if none
  std::map<std::string, std::string> on;  // probe name → function
  SourceRange range;
};

struct Sink {
  std::string type;  // jsonl | orchestrator | prometheus | otlp
  std::map<std::string, std::string> settings;  // raw values; ${ENV:-default} resolved at run time
  SourceRange range;
};

// The process watcher (stdlib/bpf/watch.h) reports execs, executable mmaps and exits, so
// probed attaches to files in processes that start later and keeps process selectors
// current. Its tracepoint offsets come from tracefs while checking.
struct Watcher {
  bool enabled = false;
  uint32_t mmap_prot_offset = 0;
  uint32_t mmap_fd_offset = 0;
};

// Whether a process selector needs probed's help (a per-target map of pids or cgroups):
// comm and pid are checked in BPF alone.
bool needs_pid_map(const ProcessSelector& s);
bool needs_cgroup_map(const ProcessSelector& s);

struct RuntimeOptions {
  uint64_t ring_buffer_bytes = 8ull << 20;
  uint32_t pairing_entries = 16384;
};

struct Plan {
  std::string name;
  std::string description;
  std::string min_kernel = "5.8";
  std::string policy_path;
  std::vector<Target> targets;
  std::vector<Probe> probes;
  std::vector<Metric> metrics;
  Handlers handlers;
  std::vector<Sink> sinks;
  RuntimeOptions runtime;
  Watcher watcher;

  const Target* find_target(const std::string& name) const;
  const Probe* find_probe(const std::string& name) const;
};

}  // namespace probe::plan
