#include "tests/support/tls_clients.h"

#include <fmt/format.h>
#include <unistd.h>

#include "common/elf_file.h"
#include "tests/support/go_build.h"
#include "tests/support/process.h"

namespace probe::test {
namespace {

// nssget PORT PATH HOST write|send: the plain NSS client sequence (import a TCP socket into
// SSL, handshake, write, read to end of stream). PR_Write/PR_Read are what Firefox's socket
// transport calls; PR_Send/PR_Recv what curl's NSS backend called.
constexpr char kNssClient[] = R"(#include <nss.h>
#include <prerror.h>
#include <prio.h>
#include <prnetdb.h>
#include <ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The test server's certificate is self-signed and throw-away: accept it. */
static SECStatus accept_any(void *arg, PRFileDesc *fd, PRBool checksig, PRBool is_server) {
  (void)arg; (void)fd; (void)checksig; (void)is_server;
  return SECSuccess;
}

static int fail(const char *what) {
  fprintf(stderr, "nssget: %s failed: NSPR error %d\n", what, PR_GetError());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: nssget PORT PATH HOST write|send\n");
    return 2;
  }
  int use_send = strcmp(argv[4], "send") == 0;
  if (NSS_NoDB_Init(NULL) != SECSuccess) return fail("NSS_NoDB_Init");
  PRFileDesc *tcp = PR_OpenTCPSocket(PR_AF_INET);
  if (!tcp) return fail("PR_OpenTCPSocket");
  PRFileDesc *fd = SSL_ImportFD(NULL, tcp);
  if (!fd) return fail("SSL_ImportFD");
  SSL_OptionSet(fd, SSL_HANDSHAKE_AS_CLIENT, PR_TRUE);
  SSL_SetURL(fd, "localhost");
  SSL_AuthCertificateHook(fd, accept_any, NULL);
  PRNetAddr addr;
  PR_InitializeNetAddr(PR_IpAddrLoopback, (PRUint16)atoi(argv[1]), &addr);
  if (PR_Connect(fd, &addr, PR_INTERVAL_NO_TIMEOUT) != PR_SUCCESS) return fail("PR_Connect");
  /* Offer ALPN http/1.1 and, once connected, read the channel's facts as curl's NSS backend
     and Firefox do. */
  static const unsigned char alpn[] = "\x08http/1.1";
  if (SSL_SetNextProtoNego(fd, alpn, sizeof alpn - 1) != SECSuccess) return fail("SSL_SetNextProtoNego");
  if (SSL_ForceHandshake(fd) != SECSuccess) return fail("SSL_ForceHandshake");
  SSLChannelInfo info;
  if (SSL_GetChannelInfo(fd, &info, sizeof info) != SECSuccess) return fail("SSL_GetChannelInfo");
  SSLNextProtoState state;
  unsigned char proto[32];
  unsigned int proto_len = 0;
  if (SSL_GetNextProto(fd, &state, proto, &proto_len, sizeof proto) != SECSuccess) return fail("SSL_GetNextProto");
  fprintf(stderr, "nssget: TLS 0x%04x, ALPN %.*s\n", info.protocolVersion, (int)proto_len, proto);

  char req[512];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                   argv[2], argv[3]);
  int w = use_send ? PR_Send(fd, req, n, 0, PR_INTERVAL_NO_TIMEOUT) : PR_Write(fd, req, n);
  if (w != n) return fail(use_send ? "PR_Send" : "PR_Write");

  static char resp[65536];
  size_t len = 0;
  while (len < sizeof resp - 1) {
    int r = use_send ? PR_Recv(fd, resp + len, (int)(sizeof resp - 1 - len), 0, PR_INTERVAL_NO_TIMEOUT)
                     : PR_Read(fd, resp + len, (int)(sizeof resp - 1 - len));
    if (r < 0) return fail(use_send ? "PR_Recv" : "PR_Read");
    if (r == 0) break;
    len += (size_t)r;
  }
  resp[len] = '\0';
  PR_Close(fd);
  NSS_Shutdown();
  char *body = strstr(resp, "\r\n\r\n");
  if (strncmp(resp, "HTTP/1.1 200 ", 13) != 0 || !body) {
    fprintf(stderr, "nssget: unexpected response: %.80s\n", resp);
    return 1;
  }
  fputs(body + 4, stdout);
  return 0;
}
)";

// goget URL HOST: one GET over HTTP/1.1 with crypto/tls; prints the body, exits 1 unless 200.
constexpr char kGoClient[] = R"(package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	tr := &http.Transport{
		// The test server's certificate is self-signed and throw-away.
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: os.Args[2]},
		ForceAttemptHTTP2: false,
		// An empty map (not nil) keeps HTTP/2 off whatever ALPN offers.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	req, err := http.NewRequest("GET", os.Args[1], nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goget:", err)
		os.Exit(2)
	}
	req.Host = os.Args[2]
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goget:", err)
		os.Exit(1)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "goget:", err)
		os.Exit(1)
	}
	os.Stdout.Write(body)
	if resp.StatusCode != 200 {
		os.Exit(1)
	}
}
)";

// node -e SCRIPT PORT PATH HOST. Node sends no ALPN unless asked, so this is HTTP/1.1.
constexpr char kNodeClient[] = R"(const https = require('https');
const [port, path, host] = process.argv.slice(1);
https.get({ host: '127.0.0.1', port: Number(port), path, rejectUnauthorized: false,
            headers: { Host: host } }, (r) => {
  let body = '';
  r.setEncoding('utf8');
  r.on('data', (d) => { body += d; });
  r.on('end', () => { process.stdout.write(body); process.exitCode = r.statusCode === 200 ? 0 : 1; });
}).on('error', (e) => { console.error('nodeget:', e.message); process.exitCode = 1; });
)";

TlsClient missing(std::string why) {
  TlsClient c;
  c.missing = std::move(why);
  return c;
}

}  // namespace

TlsClient wget_client(const std::string& url, const std::string& host) {
  auto wget = find_program("wget");
  if (!wget) return missing("wget is not installed (scripts/install-deps.sh installs it)");
  // Debian builds wget with GnuTLS; a build with OpenSSL would not exercise this pack.
  auto [rc, libs] = run({"ldd", *wget});
  if (rc != 0 || libs.find("libgnutls") == std::string::npos)
    return missing("wget here is not linked against GnuTLS: " + libs);
  // No retries, proxies, config files or HSTS database: one request, straight to the server.
  return {{*wget, "--no-config", "--no-proxy", "--no-hsts", "--tries=1", "-q", "-O", "-",
           "--no-check-certificate", "--header=Host: " + host, url},
          "",
          ""};
}

TlsClient gnutls_cli_client(int port, const std::string& path, const std::string& host) {
  auto cli = find_program("gnutls-cli");
  if (!cli) return missing("gnutls-cli is not installed (package gnutls-bin; scripts/install-deps.sh)");
  return {{*cli, "--insecure", "--alpn=http/1.1", "-p", std::to_string(port), "127.0.0.1"},
          fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", path, host),
          ""};
}

TlsClient nss_client(const TempDir& dir, int port, const std::string& path, const std::string& host,
                     bool use_send) {
  auto cc = find_program("cc");
  auto pkg_config = find_program("pkg-config");
  if (!cc || !pkg_config) return missing("needs cc and pkg-config to build the NSS client");
  auto [rc, flags] = run({*pkg_config, "--cflags", "--libs", "nss"});
  if (rc != 0) return missing("NSS headers are not installed (package libnss3-dev): " + flags);
  std::string src = dir.file("nssget.c"), bin = dir.file("nssget");
  write_text(src, kNssClient);
  // pkg-config prints the flags on one line; the shell splits them.
  auto [brc, out] = run({"sh", "-c", fmt::format("{} -O1 -o {} {} {}", *cc, bin, src, flags)});
  if (brc != 0) return missing("building the NSS client failed: " + out);
  return {{bin, std::to_string(port), path, host, use_send ? "send" : "write"}, "", ""};
}

TlsClient go_client(const TempDir& dir, const std::string& url, const std::string& host) {
  auto [bin, why] = build_go_program(dir, "goget", kGoClient);
  if (bin.empty()) return missing(why);
  return {{bin, url, host}, "", ""};
}

TlsClient node_client(const std::string& node, int port, const std::string& path,
                      const std::string& host) {
  // Debian's own nodejs package links libssl.so.3 (tls/openssl covers it); the pack needs a
  // node with OpenSSL inside that exports SSL_write.
  if (access(node.c_str(), X_OK) != 0) return missing(node + " is not installed");
  auto elf = ElfFile::open(node);
  if (!elf) return missing(node + ": " + elf.error().message);
  auto sym = elf->find_function("SSL_write");
  if (!sym || !sym->dynamic) return missing(node + " does not export SSL_write (OpenSSL is not linked into it)");
  return {{node, "-e", kNodeClient, std::to_string(port), path, host}, "", ""};
}

ClientRun run_client(const TlsClient& client) {
  Process p(client.argv, {}, client.stdin_data);
  ClientRun r;
  r.rc = p.wait(std::chrono::seconds(60)).value_or(-1);
  for (const auto& l : p.stdout_lines()) r.out += l + "\n";
  r.err = p.stderr_text();
  return r;
}

}  // namespace probe::test
