// Go crypto/tls: a client built by the test (standard library only) makes HTTPS requests to a
// real nginx while (*Conn).Write has an entry probe and (*Conn).Read a "return" probe. Go
// binaries must never get uretprobes (the runtime moves goroutine stacks and the return
// address trampoline corrupts them), so the return side is a uprobe on every RET instruction,
// paired with its entry by goroutine. The client must succeed with every body intact, and the
// probes must see each request and response. Also for a stripped build (.gopclntab only).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/support/bpf_session.h"
#include "tests/support/go_build.h"
#include "tests/support/process.h"
#include "tests/support/tls_server.h"

namespace probe {
namespace {

// GETs /go/<i> n times over one keep-alive HTTP/1.1 connection and checks every body.
constexpr char kClient[] = R"(package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
)

func main() {
	n, _ := strconv.Atoi(os.Args[2])
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	client := &http.Client{Transport: tr}
	good := 0
	for i := 0; i < n; i++ {
		resp, err := client.Get(fmt.Sprintf("%s/go/%d", os.Args[1], i))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && string(body) == "hello from nginx\n" {
			good++
		}
	}
	fmt.Printf("ok %d\n", good)
}
)";

std::string policy(const std::string& binary) {
  return fmt::format(R"TOML([policy]
name = "go-tls"
[target.client]
binary = "{}"

[probe.go_write]
target = "client"
uprobe = "crypto/tls.(*Conn).Write"
abi = "go"
# receiver, then the []byte as pointer, length, capacity
capture = [{{ name = "conn", value = "arg0" }}, {{ name = "data", value = "arg1", type = "bytes", len = "arg2", max = 128 }}]

[probe.go_read]
target = "client"
uretprobe = "crypto/tls.(*Conn).Read"
abi = "go"
capture = [{{ name = "conn", value = "arg0" }}, {{ name = "n", value = "ret" }},
           {{ name = "data", value = "arg1", type = "bytes", len = "ret", max = 128 }}]
filter = "ret > 0"
)TOML",
                     binary);
}

class GoTls : public ::testing::TestWithParam<bool> {};

TEST_P(GoTls, ClientSurvivesRetSiteReturnProbesAndEveryCallIsSeen) {
  bool stripped = GetParam();
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  test::TempDir dir;
  auto [bin, why] = test::build_go_program(dir, "goclient", kClient,
                                           stripped ? std::vector<std::string>{"-ldflags=-s -w"}
                                                    : std::vector<std::string>{});
  if (bin.empty()) GTEST_SKIP() << why;
  test::NginxTls server;
  if (server.error()) GTEST_SKIP() << "nginx: " << *server.error();
  test::BpfSession s(policy(bin));
  ASSERT_EQ(s.error(), "");
  for (const auto& r : s.attach_records()) {
    EXPECT_EQ(r.state, AttachState::kAttached) << r.probe << ": " << r.reason;
    if (r.probe == "go_read") EXPECT_NE(r.where.find("ret-sites"), std::string::npos) << r.where;
  }

  constexpr int kRequests = 20;
  auto [rc, out] = test::run({bin, fmt::format("https://127.0.0.1:{}", server.port()), std::to_string(kRequests)});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(out, fmt::format("ok {}\n", kRequests)) << "every response arrived intact";

  int requests = 0, responses = 0;
  for (const auto& e : s.events_of("go_write")) requests += e["data"].get<std::string>().rfind("GET /go/", 0) == 0;
  for (const auto& e : s.events_of("go_read")) {
    EXPECT_GT(e["n"].get<int64_t>(), 0);
    responses += e["data"].get<std::string>().rfind("HTTP/1.1 200", 0) == 0;
  }
  EXPECT_EQ(requests, kRequests);
  EXPECT_EQ(responses, kRequests);
  // Every RET found the entry of its own goroutine's call.
  EXPECT_EQ(s.counters("go_read").no_entry, 0u);
}

INSTANTIATE_TEST_SUITE_P(Builds, GoTls, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Stripped" : "WithSymbols"; });

}  // namespace
}  // namespace probe
