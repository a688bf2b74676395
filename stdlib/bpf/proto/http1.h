/* HTTP/1.x detection on the first bytes of a payload.
 * Request:  a known method token followed by a space ("GET /x", "OPTIONS *", "CONNECT h:443").
 * Response: "HTTP/1.<digit> <3 digits>". */
#ifndef PK_PROTO_HTTP1_H
#define PK_PROTO_HTTP1_H

#include "common.h"

PK_MATCHER int pk_http1_is_request(const __u8 *p, __u32 n) {
  if (n < 4) return 0;
  __u64 w = pk_word(p, 0);
  return PK_HAS(w, 4, PK_W('G', 'E', 'T', ' ', 0, 0, 0, 0)) ||
         PK_HAS(w, 4, PK_W('P', 'U', 'T', ' ', 0, 0, 0, 0)) ||
         (n >= 5 && PK_HAS(w, 5, PK_W('P', 'O', 'S', 'T', ' ', 0, 0, 0))) ||
         (n >= 5 && PK_HAS(w, 5, PK_W('H', 'E', 'A', 'D', ' ', 0, 0, 0))) ||
         (n >= 6 && PK_HAS(w, 6, PK_W('P', 'A', 'T', 'C', 'H', ' ', 0, 0))) ||
         (n >= 6 && PK_HAS(w, 6, PK_W('T', 'R', 'A', 'C', 'E', ' ', 0, 0))) ||
         (n >= 7 && PK_HAS(w, 7, PK_W('D', 'E', 'L', 'E', 'T', 'E', ' ', 0))) ||
         (n >= 8 && PK_HAS(w, 8, PK_W('O', 'P', 'T', 'I', 'O', 'N', 'S', ' '))) ||
         (n >= 8 && PK_HAS(w, 8, PK_W('C', 'O', 'N', 'N', 'E', 'C', 'T', ' ')));
}

PK_MATCHER int pk_http1_is_digit(__u8 c) { return c >= '0' && c <= '9'; }

PK_MATCHER int pk_http1_is_response(const __u8 *p, __u32 n) {
  if (n < 12) return 0;
  __u64 w0 = pk_word(p, 0), w1 = pk_word(p, 1);
  return PK_HAS(w0, 7, PK_W('H', 'T', 'T', 'P', '/', '1', '.', 0)) &&
         pk_http1_is_digit(PK_BYTE(w0, 7)) && PK_BYTE(w1, 0) == ' ' &&
         pk_http1_is_digit(PK_BYTE(w1, 1)) && pk_http1_is_digit(PK_BYTE(w1, 2)) &&
         pk_http1_is_digit(PK_BYTE(w1, 3));
}

/* Returns PK_MATCH_REQUEST, PK_MATCH_RESPONSE or PK_MATCH_NONE. */
PK_MATCHER int pk_match_http1(const __u8 *p, __u32 n) {
  if (pk_http1_is_request(p, n)) return PK_MATCH_REQUEST;
  if (pk_http1_is_response(p, n)) return PK_MATCH_RESPONSE;
  return PK_MATCH_NONE;
}

#endif
