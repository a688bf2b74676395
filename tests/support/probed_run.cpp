#include "tests/support/probed_run.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <regex>

namespace probe::test {

using namespace std::chrono_literals;

ProbedRun::ProbedRun(const std::string& policy_toml, const std::string& handler_lua,
                     std::map<std::string, std::string> env, const std::vector<std::string>& args) {
  write_text(dir_.file("policy.toml"), policy_toml);
  if (!handler_lua.empty()) write_text(dir_.file("handler.lua"), handler_lua);
  std::vector<std::string> argv = {probed_path(), "run", "--policy", dir_.file("policy.toml"),
                                   "--cache-dir", dir_.file("cache")};
  argv.insert(argv.end(), args.begin(), args.end());
  probed_ = std::make_unique<Process>(argv, std::move(env));
  // Ready within a minute (a cold compile on a busy machine), unless it exits first.
  auto is_ready = [](const std::string& l) { return l.find("ready:") != std::string::npos; };
  for (int i = 0; i < 300; ++i) {
    if (probed_->wait_stderr(is_ready, 200ms)) return;
    if (auto code = probed_->wait(0ms)) {
      error_ = fmt::format("probed exited with {} before it was ready:\n{}", *code, probed_->stderr_text());
      return;
    }
  }
  error_ = "probed did not become ready:\n" + probed_->stderr_text();
}

bool ProbedRun::running() { return kill(probed_->pid(), 0) == 0 && !probed_->wait(0ms); }

int ProbedRun::metrics_port() {
  static const std::regex re("serving metrics on http://[^ ]*:([0-9]+)/metrics");
  auto line = probed_->wait_stderr(
      [](const std::string& l) { return l.find("serving metrics on") != std::string::npos; }, 5s);
  std::smatch m;
  if (!line || !std::regex_search(*line, m, re)) return 0;
  return std::stoi(m[1]);
}

uint64_t ProbedRun::rss_bytes() const {
  std::ifstream in(fmt::format("/proc/{}/status", probed_->pid()));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

std::optional<int> ProbedRun::stop(std::chrono::milliseconds timeout) {
  probed_->signal(SIGTERM);
  return probed_->wait(timeout);
}

std::optional<SinkTotals> ProbedRun::final_totals(const std::string& sink) {
  std::regex re("sink " + sink + ": sent ([0-9]+) dropped ([0-9]+) failed ([0-9]+)");
  std::optional<SinkTotals> last;
  std::string log = probed_->stderr_text();
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator(); ++it)
    last = SinkTotals{std::stoull((*it)[1]), std::stoull((*it)[2]), std::stoull((*it)[3])};
  return last;
}

namespace {
std::optional<uint64_t> last_number(const std::string& log, const std::regex& re) {
  std::optional<uint64_t> last;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator(); ++it)
    last = std::stoull((*it)[1]);
  return last;
}
}  // namespace

std::optional<uint64_t> ProbedRun::final_handler_calls() {
  return last_number(probed_->stderr_text(), std::regex("handler calls ([0-9]+)"));
}

std::optional<uint64_t> ProbedRun::final_handler_errors() {
  return last_number(probed_->stderr_text(), std::regex("handler errors ([0-9]+)"));
}

std::string marker_probe_toml() {
  return fmt::format("[probe.marker]\ntracepoint = \"syscalls:sys_enter_getppid\"\nfilter = \"pid == {}\"\n",
                     getpid());
}

void fire_markers(int n) {
  for (int i = 0; i < n; ++i) syscall(SYS_getppid);
}

}  // namespace probe::test
