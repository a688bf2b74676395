/* Shared definitions for protocol matchers. Matchers are plain C over a byte prefix so the same
 * code runs in BPF and in host unit tests.
 *
 * Matchers read the prefix as little-endian 64-bit words and compare with masks: the verifier
 * rejects byte loads at variable offsets into a stack buffer, and Clang folds repeated
 * constant-index loads across branches into exactly that. Whole-word loads avoid it. */
#ifndef PK_PROTO_COMMON_H
#define PK_PROTO_COMMON_H

#ifdef __bpf__
#define PK_MATCHER static __always_inline
#else
#include <linux/types.h>
#define PK_MATCHER static inline
#endif

/* Bytes of each payload a matcher may look at (the buffer is zero past the payload). */
#define PK_PEEK_LEN 32

enum pk_match_kind {
  PK_MATCH_NONE = 0,
  PK_MATCH_REQUEST = 1,
  PK_MATCH_RESPONSE = 2,
};

/* Word i (bytes 8i..8i+7) of a PK_PEEK_LEN buffer. */
PK_MATCHER __u64 pk_word(const __u8 *p, int i) {
  __u64 v;
  __builtin_memcpy(&v, p + 8 * i, 8);
  return v;
}

/* Byte b of a little-endian word. */
#define PK_BYTE(w, b) ((__u8)((w) >> (8 * (b))))
/* A little-endian word spelling up to eight characters. */
#define PK_W(a, b, c, d, e, f, g, h)                                                       \
  ((__u64)(__u8)(a) | (__u64)(__u8)(b) << 8 | (__u64)(__u8)(c) << 16 |                     \
   (__u64)(__u8)(d) << 24 | (__u64)(__u8)(e) << 32 | (__u64)(__u8)(f) << 40 |              \
   (__u64)(__u8)(g) << 48 | (__u64)(__u8)(h) << 56)
/* Mask of the first n bytes of a word (1..8). */
#define PK_MASK(n) ((n) >= 8 ? ~0ull : ((1ull << (8 * (n))) - 1))
/* Whether the first n bytes of word w equal the n characters in PK_W(...). */
#define PK_HAS(w, n, word) (((w) & PK_MASK(n)) == ((word) & PK_MASK(n)))

#endif
