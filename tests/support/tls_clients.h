// Real HTTPS clients, one or more per TLS library, for tests that watch TLS plaintext. Each
// makes one GET over HTTP/1.1 (with the given Host header) to a server on 127.0.0.1 and
// prints the response body. A client that cannot run here says why, so the test can skip.
//
//   auto c = test::wget_client(server.url("/gnutls/wget"), "api.wget.test");
//   if (!c.missing.empty()) GTEST_SKIP() << c.missing;
//   auto r = test::run_client(c);   // r.rc, r.out, r.err
#pragma once

#include <string>
#include <vector>

#include "tests/support/env.h"

namespace probe::test {

struct TlsClient {
  std::vector<std::string> argv;
  std::string stdin_data;  // the request itself, for clients that send what they read
  std::string missing;     // non-empty: why this client is not available
};

struct ClientRun {
  int rc = -1;      // -1: it did not finish within a minute
  std::string out;  // stdout
  std::string err;  // stderr
};

// GnuTLS: wget (Debian builds it against GnuTLS; checked with ldd) ...
TlsClient wget_client(const std::string& url, const std::string& host);
// ... and gnutls-cli (gnutls-bin), which sends a hand-written request read from stdin and
// prints the whole response, headers included.
TlsClient gnutls_cli_client(int port, const std::string& path, const std::string& host);
// NSS: a small C client compiled in `dir` against libnss3-dev. `use_send` makes it call
// PR_Send/PR_Recv instead of PR_Write/PR_Read.
TlsClient nss_client(const TempDir& dir, int port, const std::string& path, const std::string& host,
                     bool use_send);
// Go crypto/tls: a Go program (standard library only) built in `dir`; argv[0] is its path,
// which a policy targets.
TlsClient go_client(const TempDir& dir, const std::string& url, const std::string& host);
// Node.js with OpenSSL linked into the node executable (`node` must export SSL_write).
TlsClient node_client(const std::string& node, int port, const std::string& path,
                      const std::string& host);

ClientRun run_client(const TlsClient& client);

}  // namespace probe::test
