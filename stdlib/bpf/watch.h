/* Process watcher: tells probed when a process execs, maps an executable file (a library
 * being loaded or dlopen()ed), or exits, so it can find and attach to files the policy names
 * in processes that start later. The generated program defines before including this:
 *   PK_MMAP_PROT_OFF, PK_MMAP_FD_OFF   offsets of prot and fd in syscalls:sys_enter_mmap
 *   PK_EXIT_PID_OFF                    offset of pid in sched:sched_process_exit */
#ifndef PK_WATCH_H
#define PK_WATCH_H

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} pk_watch SEC(".maps");

/* Threads inside an mmap(PROT_EXEC, fd) call: the mapping exists only once it returns. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, __u8);
} pk_watch_mmap SEC(".maps");

static __always_inline void pk_watch_emit(__u32 kind, __u32 pid) {
  struct pk_watch_event ev = {kind, pid};
  bpf_ringbuf_output(&pk_watch, &ev, sizeof(ev), 0);
}

SEC("tracepoint")
int pk_watch_exec(void *ctx) {
  pk_watch_emit(PK_WATCH_EXEC, bpf_get_current_pid_tgid() >> 32);
  return 0;
}

SEC("tracepoint")
int pk_watch_mmap_enter(void *ctx) {
  __u64 prot = *(__u64 *)((__u8 *)ctx + PK_MMAP_PROT_OFF);
  __s64 fd = *(__s64 *)((__u8 *)ctx + PK_MMAP_FD_OFF);
  if (!(prot & 4 /* PROT_EXEC */) || fd < 0) return 0;
  __u64 tid = bpf_get_current_pid_tgid();
  __u8 one = 1;
  bpf_map_update_elem(&pk_watch_mmap, &tid, &one, BPF_ANY);
  return 0;
}

SEC("tracepoint")
int pk_watch_mmap_exit(void *ctx) {
  __u64 tid = bpf_get_current_pid_tgid();
  if (!bpf_map_lookup_elem(&pk_watch_mmap, &tid)) return 0;
  bpf_map_delete_elem(&pk_watch_mmap, &tid);
  pk_watch_emit(PK_WATCH_MAP_EXEC, tid >> 32);
  return 0;
}

SEC("tracepoint")
int pk_watch_exit(void *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  /* Only the whole process: the exiting task is its thread-group leader. */
  if ((__u32)id != (__u32)(id >> 32)) return 0;
  pk_watch_emit(PK_WATCH_EXIT, id >> 32);
  return 0;
}

#endif
