/* Per-connection state of TLS plaintext streams, kept in the kernel so that only what a
 * handler needs crosses to user space (docs/policy-reference.md, "stream").
 *
 * A connection is (process, connection object): the SSL*, gnutls_session_t, PRFileDesc* or Go
 * *tls.Conn a TLS library hands its read and write functions. For each one the kernel keeps:
 *  - the protocol seen on it (HTTP/1.x or HTTP/2, from the first plaintext written);
 *  - HTTP/1.x: the time of the oldest unanswered request and how many are unanswered, so a
 *    response head is kept only while a request waits, and its latency is measured here;
 *  - HTTP/2: per direction, where the next frame header starts (frames span TLS records and
 *    reads), so only buffers holding header blocks cross, starting at that frame;
 *  - the socket it runs over (fd and addresses), learnt from the first write syscall the TLS
 *    library makes on the same thread while a call on the connection is in flight.
 * Bodies never cross. */
#ifndef PK_TLS_STREAM_H
#define PK_TLS_STREAM_H

#include "proto/http1.h"

enum pk_stream_dir {
  PK_DIR_SEND = 0,
  PK_DIR_RECV = 1,
  /* Or'ed into PK_DIR_SEND by a write probe at the call's entry, before the library knows
   * whether the write goes out: the same write repeated is then a retry (see below). */
  PK_DIR_AT_ENTRY = 2,
};

enum pk_stream_proto {
  PK_PROTO_UNKNOWN = 0,
  PK_PROTO_HTTP1 = 1,
  PK_PROTO_HTTP2 = 2,
  PK_PROTO_OTHER = 3, /* neither: nothing of it crosses */
};

/* HTTP/2 frames looked at per buffer; a buffer with more loses that direction's framing. */
#define PK_H2_MAX_FRAMES 32
#define PK_H2_FRAME_HEADER 9
#define PK_H2_PREFACE_LEN 24

struct pk_h2_dir {
  __u32 skip;   /* payload bytes of the current frame still to come */
  __u8 have;    /* bytes of a frame header split across buffers, kept in hdr */
  __u8 lost;    /* framing lost: nothing more of this direction crosses */
  __u8 pad[2];
  __u8 hdr[32]; /* a frame header split across buffers (room for any have + need) */
};

struct pk_conn_key {
  __u32 tgid;
  __u32 pad;
  __u64 conn;
};

struct pk_conn_state {
  __u64 req_ts;    /* HTTP/1.x: when the oldest unanswered request was written */
  __u32 pending;   /* HTTP/1.x: requests without a response yet */
  __s32 fd;        /* socket, -1 until bound */
  __u8 proto;
  __u8 bound;
  __u16 family;    /* AF_INET / AF_INET6, 0 unknown */
  __u16 sport;     /* host byte order */
  __u16 dport;
  __u8 saddr[16];  /* IPv4 in the first four bytes */
  __u8 daddr[16];
  struct pk_h2_dir dir[2];
  /* The last write seen at its entry, to recognise its retry: length and first bytes. */
  __u64 sent_len;
  __u64 sent_head[2];
  __u8 read_since; /* plaintext was read after that write */
  __u8 pad2[7];
};

/* What a stream probe learns about the buffer it saw; probes capture these as stream.*. */
struct pk_stream_out {
  __u64 latency_ns; /* HTTP/1.x response: since its request was written */
  __u64 conn;
  __u32 offset;     /* first byte worth keeping (HTTP/2: the first header-block frame) */
  __u32 keep;       /* bytes worth keeping from offset, 0 for all (an HTTP/1.x status line) */
  __s32 fd;
  __u16 family;
  __u16 sport;
  __u16 dport;
  __u8 proto;
  __u8 pad;
  __u8 saddr[16];
  __u8 daddr[16];
};

/* Bytes of an HTTP/1.x response kept: the status line and the first headers. */
#ifndef PK_STREAM_STATUS_KEEP
#define PK_STREAM_STATUS_KEEP 128
#endif

#ifndef PK_STREAM_CONNS
#define PK_STREAM_CONNS 16384
#endif

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, PK_STREAM_CONNS);
  __type(key, struct pk_conn_key);
  __type(value, struct pk_conn_state);
} pk_stream_conns SEC(".maps");

/* Thread (pid_tgid) → connection whose TLS call is running on it and has no socket yet. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, struct pk_conn_key);
} pk_stream_inflight SEC(".maps");

/* A zeroed state to insert from (too big to build on the stack beside a record). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pk_conn_state);
} pk_stream_zero SEC(".maps");

/* Connections are per process: two processes may hold the same pointer value. */
static __always_inline struct pk_conn_key pk_conn_key_of(__u64 conn) {
  struct pk_conn_key key = {(__u32)(bpf_get_current_pid_tgid() >> 32), 0, conn};
  return key;
}

static __always_inline struct pk_conn_state *pk_stream_state(struct pk_conn_key *key, int create) {
  struct pk_conn_state *st = bpf_map_lookup_elem(&pk_stream_conns, key);
  if (st || !create) return st;
  __u32 zero = 0;
  struct pk_conn_state *init = bpf_map_lookup_elem(&pk_stream_zero, &zero);
  if (!init) return 0;
  __builtin_memset(init, 0, sizeof(*init));
  init->fd = -1;
  bpf_map_update_elem(&pk_stream_conns, key, init, BPF_NOEXIST);
  return bpf_map_lookup_elem(&pk_stream_conns, key);
}

static __always_inline void pk_stream_copy_socket(struct pk_stream_out *out, struct pk_conn_state *st) {
  out->fd = st->fd;
  out->family = st->family;
  out->sport = st->sport;
  out->dport = st->dport;
  __builtin_memcpy(out->saddr, st->saddr, 16);
  __builtin_memcpy(out->daddr, st->daddr, 16);
}

/* Walks the HTTP/2 frames of one buffer from where the previous buffer of this direction left
 * off. Returns 1 if the buffer holds a frame user space needs (HEADERS, CONTINUATION,
 * PUSH_PROMISE, RST_STREAM, GOAWAY), with out->offset at the first one.
 *
 * The loop body is branch-free apart from its exits: a branch per frame would double the
 * states the verifier explores on every iteration. */
static __always_inline int pk_h2_walk(struct pk_h2_dir *d, __u64 src, __u64 len, struct pk_stream_out *out) {
  if (d->lost) return 0;
  __u64 pos = 0;
  __u64 skip = d->skip;
  __u64 keep = 0, first = 0;
  __u8 h[16] = {};
  if (d->have) {
    /* Finish a frame header split across buffers (hdr has room for any have + need). A
     * header block that began in the previous buffer cannot be kept from its start; it is
     * skipped like any other frame. */
    __u64 have = d->have & 7;
    __u64 need = PK_H2_FRAME_HEADER - have;
    d->have = 0;
    if (need > len || bpf_probe_read_user(d->hdr + have, need & 15, (void *)src) != 0) {
      d->lost = 1;
      return 0;
    }
    skip = ((__u64)d->hdr[0] << 16) | ((__u64)d->hdr[1] << 8) | d->hdr[2];
    pos = need;
  }
#pragma clang loop unroll(disable)
  for (int i = 0; i < PK_H2_MAX_FRAMES; i++) {
    __u64 left = len - pos;
    if (skip >= left) { /* the frame runs to (or past) the end of this buffer */
      d->skip = (__u32)(skip - left);
      out->offset = (__u32)first;
      return (int)keep;
    }
    pos += skip;
    left -= skip;
    if (left < PK_H2_FRAME_HEADER) { /* a header split across buffers */
      d->skip = 0;
      d->have = (__u8)left;
      if (bpf_probe_read_user(d->hdr, left & 7, (void *)(src + pos)) != 0) d->lost = 1;
      out->offset = (__u32)first;
      return (int)keep;
    }
    if (bpf_probe_read_user(h, PK_H2_FRAME_HEADER, (void *)(src + pos)) != 0) {
      d->lost = 1;
      return 0;
    }
    __u64 type = h[3];
    /* HEADERS 1, RST_STREAM 3, PUSH_PROMISE 5, GOAWAY 7, CONTINUATION 9: odd and below 10 */
    __u64 wanted = (type & 1) & ((type - 10) >> 63);
    __u64 fresh = wanted & (keep ^ 1);
    first |= fresh * pos;
    keep |= wanted;
    skip = ((__u64)h[0] << 16) | ((__u64)h[1] << 8) | h[2];
    pos += PK_H2_FRAME_HEADER;
  }
  d->lost = 1; /* more frames than we follow: this direction's framing is gone */
  out->offset = (__u32)first;
  return (int)keep;
}

/* Remembers the connection while its call runs, so the syscall it makes binds the socket. */
static __always_inline void pk_stream_note_inflight(struct pk_conn_key *key) {
  __u64 tid = bpf_get_current_pid_tgid();
  bpf_map_update_elem(&pk_stream_inflight, &tid, key, BPF_ANY);
}

/* A write probed at its entry (PK_DIR_AT_ENTRY) cannot see whether the write went out. A
 * non-blocking caller repeats a write that failed (SSL_ERROR_WANT_*, or a write issued before
 * the handshake finished) with the same length and bytes — the buffer may move (node sets
 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) — before any plaintext is read: that repetition is
 * the same request, not a new one. A new HTTP/1.x request comes only after its predecessor's
 * response was read, and a new HTTP/2 frame differs in its header (stream id, length). */
static __always_inline int pk_stream_is_retry(struct pk_conn_state *st, __u64 len, const __u8 *head) {
  __u64 h0 = pk_word(head, 0), h1 = pk_word(head, 1);
  int same = !st->read_since && st->sent_len == len && st->sent_head[0] == h0 && st->sent_head[1] == h1;
  st->sent_len = len;
  st->sent_head[0] = h0;
  st->sent_head[1] = h1;
  st->read_since = 0;
  return same;
}

/* An HTTP/1.x or HTTP/2 plaintext buffer written (PK_DIR_SEND, with PK_DIR_AT_ENTRY when
 * probed at the write's entry) or read (PK_DIR_RECV) on a connection. Returns 1 when the
 * buffer should cross to user space. */
static __noinline int pk_stream_http(__u64 conn, __u32 how, __u64 src, __u64 len, struct pk_stream_out *out) {
  __u32 dir = how & 1;
  struct pk_conn_key key = pk_conn_key_of(conn);
  out->conn = conn;
  out->fd = -1;
  struct pk_conn_state *st = pk_stream_state(&key, dir == PK_DIR_SEND);
  if (!st) return 0;
  /* The buffer's first bytes, read once: for the protocol checks below and, at a write's
   * entry, for the retry check (connections of another protocol need neither). */
  int at_entry = dir == PK_DIR_SEND && (how & PK_DIR_AT_ENTRY) && st->proto != PK_PROTO_OTHER;
  __u8 head[PK_PEEK_LEN] = {};
  __u32 n = 0;
  if (st->proto == PK_PROTO_UNKNOWN || st->proto == PK_PROTO_HTTP1 || at_entry) n = pk_peek(head, src, len, 0);
  if (dir == PK_DIR_RECV) st->read_since = 1;
  else if (at_entry && pk_stream_is_retry(st, len, head)) return 0;
  /* A write makes its syscall inside the call (a probe at its entry sees it coming; one at
   * its return binds through the handshake's); a read probe fires after its syscall. */
  if (!st->bound && dir == PK_DIR_SEND) pk_stream_note_inflight(&key);
  pk_stream_copy_socket(out, st);
  __u64 start = 0; /* bytes of the HTTP/2 client preface opening this buffer */
  if (st->proto == PK_PROTO_UNKNOWN || st->proto == PK_PROTO_HTTP1) {
    if (st->proto == PK_PROTO_UNKNOWN && dir == PK_DIR_SEND) {
      __u64 w0 = pk_word(head, 0), w1 = pk_word(head, 1);
      if (n >= 16 && len >= PK_H2_PREFACE_LEN && w0 == PK_W('P', 'R', 'I', ' ', '*', ' ', 'H', 'T') &&
          w1 == PK_W('T', 'P', '/', '2', '.', '0', '\r', '\n')) {
        /* The preface opens the first buffer written; frames follow it. */
        st->proto = PK_PROTO_HTTP2;
        start = PK_H2_PREFACE_LEN;
      } else if (pk_http1_is_request(head, n)) {
        st->proto = PK_PROTO_HTTP1;
      } else {
        st->proto = PK_PROTO_OTHER;
      }
    }
    if (st->proto == PK_PROTO_HTTP1) {
      out->proto = PK_PROTO_HTTP1;
      if (dir == PK_DIR_SEND) {
        if (!pk_http1_is_request(head, n)) return 0;
        if (st->pending == 0) st->req_ts = bpf_ktime_get_ns();
        st->pending += 1;
        return 1;
      }
      if (st->pending == 0 || !pk_http1_is_response(head, n)) return 0;
      __u64 now = bpf_ktime_get_ns();
      out->latency_ns = now - st->req_ts;
      out->keep = PK_STREAM_STATUS_KEEP;
      st->pending -= 1;
      /* A pipelined request behind it: its wait is measured from this response on. */
      if (st->pending) st->req_ts = now;
      return 1;
    }
  }
  if (st->proto != PK_PROTO_HTTP2) return 0;
  out->proto = PK_PROTO_HTTP2;
  struct pk_h2_dir *d = dir == PK_DIR_SEND ? &st->dir[PK_DIR_SEND] : &st->dir[PK_DIR_RECV];
  int keep = pk_h2_walk(d, src + start, len - start, out);
  out->offset += (__u32)start;
  return keep;
}

/* Bytes of a payload of len bytes a stream probe copies. */
static __always_inline __u64 pk_stream_len(__u64 len, struct pk_stream_out *o) {
  __u64 n = len > o->offset ? len - o->offset : 0;
  return o->keep && n > o->keep ? o->keep : n;
}

/* At the entry of a stream probe that fires at return: whether the call can matter, so calls
 * that cannot keep no entry state. Connections whose first write was neither HTTP/1.x nor
 * HTTP/2 (a server's side, other protocols) are skipped. A read on a connection not seen yet
 * is kept: Go's transport starts reading before it writes the request. */
static __noinline int pk_stream_wanted(__u64 conn) {
  struct pk_conn_key key = pk_conn_key_of(conn);
  struct pk_conn_state *st = bpf_map_lookup_elem(&pk_stream_conns, &key);
  return !st || st->proto != PK_PROTO_OTHER;
}

/* The connection is gone (SSL_free, SSL_shutdown, gnutls_deinit, PR_Close, Conn.Close). */
static __noinline int pk_stream_close(__u64 conn) {
  struct pk_conn_key key = pk_conn_key_of(conn);
  return bpf_map_delete_elem(&pk_stream_conns, &key) == 0;
}

/* A TLS call that may write to the socket is starting (a handshake, say). */
static __noinline int pk_stream_enter(__u64 conn) {
  struct pk_conn_key key = pk_conn_key_of(conn);
  struct pk_conn_state *st = pk_stream_state(&key, 1);
  if (st && !st->bound) pk_stream_note_inflight(&key);
  return 0;
}

#define PK_S_IFMT 00170000
#define PK_S_IFSOCK 0140000
#define PK_AF_INET 2
#define PK_AF_INET6 10

/* A write-like syscall on fd: if a TLS call without a socket is running on this thread, the
 * connection runs over fd. Returns 1 when it newly bound one (out describes it). */
static __noinline int pk_stream_bind(__u64 fd, struct pk_stream_out *out) {
  __u64 tid = bpf_get_current_pid_tgid();
  struct pk_conn_key *key = bpf_map_lookup_elem(&pk_stream_inflight, &tid);
  if (!key) return 0;
  struct pk_conn_key k = *key;
  struct pk_conn_state *st = bpf_map_lookup_elem(&pk_stream_conns, &k);
  if (!st || st->bound) {
    bpf_map_delete_elem(&pk_stream_inflight, &tid);
    return 0;
  }
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
  unsigned int max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
  if (!fds || fd >= max_fds) return 0;
  struct file *f = 0;
  if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd & 0xffff]) != 0 || !f) return 0;
  unsigned short mode = BPF_CORE_READ(f, f_inode, i_mode);
  if ((mode & PK_S_IFMT) != PK_S_IFSOCK) return 0;
  struct socket *sock = BPF_CORE_READ(f, private_data);
  struct sock *sk = BPF_CORE_READ(sock, sk);
  if (!sk) return 0;
  unsigned short family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (family != PK_AF_INET && family != PK_AF_INET6) return 0; /* a unix socket: not it */
  bpf_map_delete_elem(&pk_stream_inflight, &tid);
  st->fd = (__s32)fd;
  st->bound = 1;
  st->family = family;
  st->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
  st->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (family == PK_AF_INET) {
    __be32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __be32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(st->saddr, &s, 4);
    __builtin_memcpy(st->daddr, &d, 4);
  } else {
    BPF_CORE_READ_INTO(&st->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
    BPF_CORE_READ_INTO(&st->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
  }
  out->conn = k.conn;
  out->proto = st->proto;
  pk_stream_copy_socket(out, st);
  return 1;
}

#endif
