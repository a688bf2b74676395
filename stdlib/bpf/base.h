/* Runtime support for generated BPF programs: maps every policy shares (event ring buffer,
 * per-CPU scratch record, per-probe counters) and the shared subprograms that build records.
 *
 * The generated translation unit defines before including this header:
 *   PK_NPROBES      number of probes (sizes the counter map)
 *   PK_EVENT_MAX    power of two >= the largest record any probe can build
 *   PK_RINGBUF_SIZE ring buffer bytes (power of two, multiple of the page size) */
#ifndef PK_BASE_H
#define PK_BASE_H

#include "kernel_types.h"
#include "bpf/bpf_helpers.h"
#include "bpf/bpf_tracing.h"
#include "bpf/bpf_core_read.h"
#include "event.h"
#include "proto/common.h"

/* libbpf 1.1 names five argument registers; the x86-64 ABI passes a sixth in r9. */
#ifndef PT_REGS_PARM6
#define PT_REGS_PARM6(x) (((struct pt_regs *)(x))->r9)
#endif

#ifndef PK_NPROBES
#error "PK_NPROBES must be defined by the generated program"
#endif

/* The kernel requires a GPL-compatible licence for bpf_probe_read_user and ring buffers. */
char LICENSE[] SEC("license") = "GPL";

/* Two event-sized halves: a record starts in the first half, so every masked offset plus one
 * field still lies inside the buffer, which is what lets the verifier accept variable copies. */
struct pk_scratch {
  __u8 data[2 * PK_EVENT_MAX];
};

/* One slot per CPU; the loader sets max_entries to the number of possible CPUs. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pk_scratch);
} pk_scratch_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PK_NPROBES * PK_NSTATS);
  __type(key, __u32);
  __type(value, __u64);
} pk_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, PK_RINGBUF_SIZE);
} pk_events SEC(".maps");

/* Shared subprograms (__noinline) keep every probe's program small: compile time and object
 * size grow with the code each probe repeats, not with what it calls. */
static __noinline void pk_count(__u32 probe, __u32 stat) {
  __u32 key = probe * PK_NSTATS + stat;
  __u64 *v = bpf_map_lookup_elem(&pk_stats, &key);
  if (v) *v += 1;
}

/* Entry state of return probes: the arguments gone by return and the entry time. */
struct pk_pending {
  __u64 a[9]; /* arguments kept for the return side (Go's ABI has nine registers) */
  __u64 ts;
  __u64 aux;  /* rcx at the entry side: the count pointer of a forwarded return (pk_ret) */
};

struct pk_pending_key {
  __u64 tid; /* pid_tgid */
  __u64 probe;
};

#ifndef PK_PENDING_ENTRIES
#define PK_PENDING_ENTRIES 16384
#endif

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, PK_PENDING_ENTRIES);
  __type(key, struct pk_pending_key);
  __type(value, struct pk_pending);
} pk_pending_map SEC(".maps");

/* Saves entry state for the matching return probe; a full map is counted, never silent.
 * `who` is the thread (pid_tgid), or for Go the goroutine (g, in r14) with the process in the
 * probe word: goroutines move between threads while they run. */
static __noinline void pk_save_entry_as(__u32 probe, __u64 who, struct pk_pending *st) {
  struct pk_pending_key key = {who, probe | ((bpf_get_current_pid_tgid() >> 32) << 32)};
  if (bpf_map_update_elem(&pk_pending_map, &key, st, BPF_ANY) != 0) pk_count(probe, PK_STAT_MAP_FULL);
}

/* Takes (and removes) the entry state; a return without one is counted. */
static __noinline int pk_take_entry_as(__u32 probe, __u64 who, struct pk_pending *out) {
  struct pk_pending_key key = {who, probe | ((bpf_get_current_pid_tgid() >> 32) << 32)};
  struct pk_pending *st = bpf_map_lookup_elem(&pk_pending_map, &key);
  if (!st) {
    pk_count(probe, PK_STAT_NO_ENTRY);
    return 0;
  }
  __builtin_memcpy(out, st, sizeof(*out));
  bpf_map_delete_elem(&pk_pending_map, &key);
  return 1;
}

/* As pk_take_entry_as, for probes whose entry side saves state only for some calls (stream
 * probes skip connections they do not follow): a missing entry is expected, not counted. */
static __noinline int pk_take_kept_entry_as(__u32 probe, __u64 who, struct pk_pending *out) {
  struct pk_pending_key key = {who, probe | ((bpf_get_current_pid_tgid() >> 32) << 32)};
  struct pk_pending *st = bpf_map_lookup_elem(&pk_pending_map, &key);
  if (!st) return 0;
  __builtin_memcpy(out, st, sizeof(*out));
  bpf_map_delete_elem(&pk_pending_map, &key);
  return 1;
}

#define pk_save_entry(probe, st) pk_save_entry_as(probe, bpf_get_current_pid_tgid(), st)
#define pk_take_entry(probe, out) pk_take_entry_as(probe, bpf_get_current_pid_tgid(), out)

#ifdef PK_PLACED_RETURNS
/* How a return-side site placed away from the function's own return (docs/probe-placement.md)
 * finds the function's result. probed writes one entry per such site and passes its index as
 * the attach cookie; cookie 0 (a plain uretprobe or RET site) means rax. */
enum pk_ret_kind {
  PK_RET_RAX = 0,
  /* eax is a status; when > 0 the result is the size_t count at rsp + offset */
  PK_RET_COUNT_AT_RSP = 1,
  /* eax is a status; when > 0 the result is the size_t count rcx pointed at on entry */
  PK_RET_COUNT_VIA_ENTRY_RCX = 2,
  /* a dispatched-return site: the arguments are in registers there (args[]), eax is a status
   * and when > 0 the result is the size_t count at the pointer in count_reg */
  PK_RET_AT_SITE = 3,
};

#define PK_NO_REG 0xff

struct pk_site {
  __u32 kind;
  __s32 rsp_offset;
  __u8 args[6];   /* PK_RET_AT_SITE: the register (pt_regs order below) holding argument i */
  __u8 count_reg; /* PK_RET_AT_SITE: the register holding the count pointer */
  __u8 zero_reg;  /* PK_RET_AT_SITE: a register that is 0 on the probed route, or PK_NO_REG */
};

#ifndef PK_SITES
#define PK_SITES 1024
#endif

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, PK_SITES);
  __type(key, __u32);
  __type(value, struct pk_site);
} pk_sites SEC(".maps");

/* The general-purpose registers in the analysis' order (common/x86_disasm.h Gpr: rax rcx rdx
 * rbx rsp rbp rsi rdi r8..r15), copied to the stack so that a register chosen at run time is
 * a bounded stack read: the verifier refuses a ctx access at a variable offset, which is what
 * a switch over ctx fields compiles to. */
static __always_inline void pk_gprs(struct pt_regs *ctx, __u64 gpr[16]) {
  gpr[0] = ctx->ax;
  gpr[1] = ctx->cx;
  gpr[2] = ctx->dx;
  gpr[3] = ctx->bx;
  gpr[4] = ctx->sp;
  gpr[5] = ctx->bp;
  gpr[6] = ctx->si;
  gpr[7] = ctx->di;
  gpr[8] = ctx->r8;
  gpr[9] = ctx->r9;
  gpr[10] = ctx->r10;
  gpr[11] = ctx->r11;
  gpr[12] = ctx->r12;
  gpr[13] = ctx->r13;
  gpr[14] = ctx->r14;
  gpr[15] = ctx->r15;
}

/* At a return-side site: 1 when the site itself holds the arguments (a dispatched return:
 * st gets them and the count pointer, no entry stash exists), -1 when the call came by a
 * route the probe does not cover (the route's zero register is not 0: SSL_peek), 0 when
 * the arguments are in the entry side's stash. */
static __noinline int pk_site_args(struct pt_regs *ctx, struct pk_pending *st) {
  __u32 index = (__u32)bpf_get_attach_cookie(ctx);
  if (index == 0) return 0;
  struct pk_site *site = bpf_map_lookup_elem(&pk_sites, &index);
  if (!site || site->kind != PK_RET_AT_SITE) return 0;
  __u64 gpr[16];
  pk_gprs(ctx, gpr);
  if (site->zero_reg != PK_NO_REG && (__u32)gpr[site->zero_reg & 15] != 0) return -1;
  __builtin_memset(st, 0, sizeof(*st));
#pragma clang loop unroll(full)
  for (int i = 0; i < 6; i++)
    if (site->args[i] != PK_NO_REG) st->a[i] = gpr[site->args[i] & 15];
  st->aux = gpr[site->count_reg & 15];
  st->ts = bpf_ktime_get_ns();
  return 1;
}

static __noinline __s64 pk_ret(struct pt_regs *ctx, __u64 aux) {
  __u32 index = (__u32)bpf_get_attach_cookie(ctx);
  __s64 rax = (__s64)PT_REGS_RC(ctx);
  if (index == 0) return rax;
  struct pk_site *site = bpf_map_lookup_elem(&pk_sites, &index);
  if (!site || site->kind == PK_RET_RAX) return rax;
  __s32 status = (__s32)rax;
  if (status <= 0) return status;
  /* PK_RET_COUNT_VIA_ENTRY_RCX and PK_RET_AT_SITE: the pointer is in aux */
  __u64 at = site->kind == PK_RET_COUNT_AT_RSP ? PT_REGS_SP(ctx) + site->rsp_offset : aux;
  __u64 count = 0;
  if (bpf_probe_read_user(&count, sizeof(count), (void *)at) != 0) return status;
  return (__s64)count;
}
#endif

/* Starts a record in this CPU's scratch buffer and fills the header. */
static __noinline __u8 *pk_begin(__u32 probe) {
  __u32 cpu = bpf_get_smp_processor_id();
  struct pk_scratch *s = bpf_map_lookup_elem(&pk_scratch_map, &cpu);
  if (!s) return 0;
  struct pk_event_header *h = (struct pk_event_header *)s->data;
  __u64 id = bpf_get_current_pid_tgid();
  h->probe_id = probe;
  h->size = 0;
  h->pid = id >> 32;
  h->tid = (__u32)id;
  h->ts_ns = bpf_ktime_get_ns();
  h->cgroup_id = bpf_get_current_cgroup_id();
  return s->data;
}

static __always_inline __u32 pk_align8(__u32 off) { return (off + 7) & ~7u; }

/* A field's copy settings packed in one argument (BPF subprograms take at most five):
 * bits 0-31 max bytes, 32-47 probe id, bit 48 set when the source is kernel memory. */
#define PK_FIELD_CFG(max, probe, kernel) \
  (((__u64)(kernel) << 48) | ((__u64)(probe) << 32) | (__u64)(__u32)(max))

/* Appends a byte field: pk_var prefix + up to max bytes read from user (or kernel) memory.
 * Returns the offset after the field. Lengths are 64-bit and clamped with barrier_var so the
 * verifier follows the bound whatever the compiler does with them. */
static __noinline __u32 pk_put_bytes(__u8 *buf, __u32 off, __u64 src, __u64 len, __u64 cfg) {
  __u32 probe = (cfg >> 32) & 0xffff;
  __u64 max = cfg & 0xffffffffull;
  off &= PK_EVENT_MAX - 1;
  __u64 cap = len;
  if (cap > max) cap = max;
  barrier_var(cap);
  if (cap > PK_EVENT_MAX - 8) cap = PK_EVENT_MAX - 8;
  struct pk_var *v = (struct pk_var *)(buf + off);
  v->original = len > 0xffffffffull ? 0xffffffffu : (__u32)len;
  if (len > max) pk_count(probe, PK_STAT_TRUNCATED);
  long err = (cfg >> 48) ? bpf_probe_read_kernel(buf + off + 8, cap, (void *)src)
                         : bpf_probe_read_user(buf + off + 8, cap, (void *)src);
  if (err != 0) {
    pk_count(probe, PK_STAT_READ_ERRORS);
    cap = 0;
  }
  v->captured = (__u32)cap;
  return pk_align8(off + 8 + (__u32)cap);
}

/* Appends a NUL-terminated string of at most max bytes (terminator included). */
static __noinline __u32 pk_put_str(__u8 *buf, __u32 off, __u64 src, __u64 cfg) {
  __u32 probe = (cfg >> 32) & 0xffff;
  off &= PK_EVENT_MAX - 1;
  __u64 cap = cfg & 0xffffffffull;
  barrier_var(cap);
  if (cap > PK_EVENT_MAX - 8) cap = PK_EVENT_MAX - 8;
  struct pk_var *v = (struct pk_var *)(buf + off);
  long n = (cfg >> 48) ? bpf_probe_read_kernel_str(buf + off + 8, cap, (void *)src)
                       : bpf_probe_read_user_str(buf + off + 8, cap, (void *)src);
  if (n < 0) {
    pk_count(probe, PK_STAT_READ_ERRORS);
    n = 0;
  } else if (n > 0) {
    n -= 1; /* drop the terminator from the captured length */
  }
  if (n > (long)(PK_EVENT_MAX - 8)) n = 0;
  v->captured = (__u32)n;
  v->original = (__u32)n;
  return pk_align8(off + 8 + (__u32)n);
}

/* Reads up to PK_PEEK_LEN leading bytes of a payload so a protocol matcher can decide whether
 * the record is worth building. Returns the number of bytes read (0 on fault). */
static __always_inline __u32 pk_peek(__u8 *head, __u64 src, __u64 len, int kernel) {
  __u64 n = len < PK_PEEK_LEN ? len : PK_PEEK_LEN;
  barrier_var(n);
  if (n > PK_PEEK_LEN) n = PK_PEEK_LEN;
  long err = kernel ? bpf_probe_read_kernel(head, n, (void *)src)
                    : bpf_probe_read_user(head, n, (void *)src);
  return err ? 0 : (__u32)n;
}

/* Reads a string's leading bytes (at most PK_PEEK_LEN) for string filters; the buffer must
 * have PK_PEEK_LEN + 1 bytes. Returns the length without the terminator. */
static __always_inline __u32 pk_peek_str(__u8 *head, __u64 src, int kernel) {
  long n = kernel ? bpf_probe_read_kernel_str(head, PK_PEEK_LEN + 1, (void *)src)
                  : bpf_probe_read_user_str(head, PK_PEEK_LEN + 1, (void *)src);
  return n > 0 ? (__u32)(n - 1) : 0;
}

/* floor(log2(v)) for v > 0, without loops (the verifier and old kernels prefer straight code). */
static __always_inline __u32 pk_floor_log2(__u64 v) {
  __u32 r = 0;
  if (v >> 32) { v >>= 32; r += 32; }
  if (v >> 16) { v >>= 16; r += 16; }
  if (v >> 8) { v >>= 8; r += 8; }
  if (v >> 4) { v >>= 4; r += 4; }
  if (v >> 2) { v >>= 2; r += 2; }
  if (v >> 1) r += 1;
  return r;
}

/* Histogram buckets by "le" bound: log2 bounds are 0, 1, 2, 4, ..., 2^63, +Inf. */
static __always_inline __u32 pk_log2_bucket(__s64 x) {
  if (x <= 0) return 0;
  if (x == 1) return 1;
  return pk_floor_log2((__u64)x - 1) + 2;
}

/* Linear bounds are min, min+step, ..., +Inf; `last` is the +Inf bucket. */
static __always_inline __u32 pk_linear_bucket(__s64 x, __s64 min, __s64 step, __u32 last) {
  if (x <= min) return 0;
  __u64 i = ((__u64)(x - min) + (__u64)step - 1) / (__u64)step;
  return i > last ? last : (__u32)i;
}

/* Copies the finished record into the ring buffer; a full ring is counted as a drop. */
static __noinline int pk_submit(__u8 *buf, __u32 size, __u32 probe) {
  size &= 2 * PK_EVENT_MAX - 1;
  if (size < sizeof(struct pk_event_header)) return 0;
  ((struct pk_event_header *)buf)->size = size;
  if (bpf_ringbuf_output(&pk_events, buf, size, 0) != 0) {
    pk_count(probe, PK_STAT_RINGBUF_DROPS);
    return 0;
  }
  pk_count(probe, PK_STAT_EMITTED);
  return 0;
}

#endif
