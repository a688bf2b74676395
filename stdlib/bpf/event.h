/* Record layout shared by the generated BPF code (C) and the runtime (C++). Every ring-buffer
 * record starts with pk_event_header; the payload layout is described by the artifact manifest.
 * Variable-size fields are stored in order after the fixed fields, each as pk_var + bytes,
 * 8-byte aligned. */
#ifndef PK_EVENT_H
#define PK_EVENT_H

#ifndef __bpf__
#include <linux/types.h>
#endif

struct pk_event_header {
  __u32 probe_id;
  __u32 size; /* bytes in this record, header included */
  __u32 pid;  /* process (tgid) */
  __u32 tid;
  __u64 ts_ns; /* CLOCK_MONOTONIC */
  __u64 cgroup_id;
};

struct pk_var {
  __u32 captured; /* bytes present after this prefix */
  __u32 original; /* length at the source (for truncation reporting) */
};

/* Per-probe counters kept in BPF (index = probe_id * PK_NSTATS + stat). */
enum pk_stat {
  PK_STAT_HITS = 0,         /* program runs */
  PK_STAT_EMITTED = 1,      /* records written to the ring buffer */
  PK_STAT_FILTERED = 2,     /* dropped by a filter or protocol matcher */
  PK_STAT_RINGBUF_DROPS = 3,/* ring buffer full: record lost */
  PK_STAT_READ_ERRORS = 4,  /* bpf_probe_read_* failed */
  PK_STAT_MAP_FULL = 5,     /* map update failed (entry/return pairing, aggregations) */
  PK_STAT_NO_ENTRY = 6,     /* return without a saved entry */
  PK_STAT_TRUNCATED = 7,    /* a field was longer than its max */
  PK_NSTATS = 8,
};

/* Process watcher events (stdlib/bpf/watch.h), on their own ring buffer. */
enum pk_watch_kind {
  PK_WATCH_EXEC = 1,
  PK_WATCH_MAP_EXEC = 2,
  PK_WATCH_EXIT = 3,
};

struct pk_watch_event {
  __u32 kind;
  __u32 pid;
};

#endif
