/* Minimal kernel types for generated BPF programs: only what probekit's code touches, marked
 * preserve_access_index so libbpf relocates field offsets against the running kernel's BTF
 * (CO-RE). Replaces a 2.8 MB vmlinux.h: compiles in tens of milliseconds, no kernel headers. */
#ifndef PK_KERNEL_TYPES_H
#define PK_KERNEL_TYPES_H

/* bpf_tracing.h switches to kernel-style pt_regs names (di, si, ax) when this is defined. */
#define __VMLINUX_H__

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

enum bpf_map_type {
  BPF_MAP_TYPE_HASH = 1,
  BPF_MAP_TYPE_ARRAY = 2,
  BPF_MAP_TYPE_PERCPU_HASH = 5,
  BPF_MAP_TYPE_PERCPU_ARRAY = 6,
  BPF_MAP_TYPE_STACK_TRACE = 7,
  BPF_MAP_TYPE_LRU_HASH = 9,
  BPF_MAP_TYPE_LRU_PERCPU_HASH = 10,
  BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
  BPF_ANY = 0,
  BPF_NOEXIST = 1,
  BPF_EXIST = 2,
};

enum {
  BPF_F_NO_PREALLOC = 1,
  BPF_F_USER_STACK = 256,
};

/* Stack traces: 127 frames, as perf keeps by default. */
#define PK_STACK_DEPTH 127

/* Context of raw tracepoints: the tracepoint's arguments as u64s. */
struct bpf_raw_tracepoint_args {
  __u64 args[0];
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
struct pt_regs {
  unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip,
      cs, flags, sp, ss;
};

/* The path from the current task to a socket's addresses (stdlib/bpf/tls/stream.h binds a
 * TLS connection to its socket). Fields inside the kernel's anonymous unions are named
 * directly: libbpf finds them through the anonymous members when it relocates. */
struct in6_addr {
  union {
    __u8 u6_addr8[16];
  } in6_u;
};

struct sock_common {
  __be32 skc_daddr;
  __be32 skc_rcv_saddr;
  __be16 skc_dport;
  __u16 skc_num;
  unsigned short skc_family;
  struct in6_addr skc_v6_daddr;
  struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
  struct sock_common __sk_common;
};

struct socket {
  struct sock *sk;
};

struct inode {
  unsigned short i_mode;
};

struct file {
  struct inode *f_inode;
  void *private_data;
};

struct fdtable {
  unsigned int max_fds;
  struct file **fd;
};

struct files_struct {
  struct fdtable *fdt;
};

struct task_struct {
  struct files_struct *files;
};
#pragma clang attribute pop

#endif
