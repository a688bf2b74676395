#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

extern char** environ;

namespace probe::test {

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> env,
                 const std::string& stdin_data) {
  int out[2], err[2], in[2];
  if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(in, O_CLOEXEC)) return;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    if (!env.count(key)) envs.push_back(kv);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> args, envp;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  // A new process group, so signal() can reach helpers the child starts.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  if (posix_spawnp(&pid_, args[0], &fa, &attr, args.data(), envp.data()) != 0) pid_ = -1;
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  close(err[1]);
  close(in[0]);
  if (!stdin_data.empty()) (void)!write(in[1], stdin_data.data(), stdin_data.size());
  close(in[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  out_thread_ = std::thread([this] { pump(out_fd_, &out_lines_, &out_partial_); });
  err_thread_ = std::thread([this] { pump(err_fd_, &err_lines_, &err_partial_); });
}

Process::~Process() {
  if (pid_ > 0 && !exit_code_) {
    kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

void Process::pump(int fd, std::vector<std::string>* lines, std::string* partial) {
  char buf[8192];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard<std::mutex> lock(mu_);
    partial->append(buf, static_cast<size_t>(n));
    size_t pos;
    while ((pos = partial->find('\n')) != std::string::npos) {
      lines->push_back(partial->substr(0, pos));
      partial->erase(0, pos + 1);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!partial->empty()) lines->push_back(*partial);
  partial->clear();
}

std::optional<std::string> Process::wait_line(std::vector<std::string>* lines,
                                              const std::function<bool(const std::string&)>& pred,
                                              std::chrono::milliseconds timeout, size_t from) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = from; i < lines->size(); ++i)
        if (pred((*lines)[i])) return (*lines)[i];
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

std::optional<std::string> Process::wait_stdout(const std::function<bool(const std::string&)>& pred,
                                                std::chrono::milliseconds timeout) {
  return wait_line(&out_lines_, pred, timeout);
}

std::optional<std::string> Process::wait_stderr(const std::function<bool(const std::string&)>& pred,
                                                std::chrono::milliseconds timeout) {
  return wait_line(&err_lines_, pred, timeout);
}

std::optional<std::string> Process::signal_and_wait_stderr(int sig, const std::string& text,
                                                           std::chrono::milliseconds timeout) {
  size_t from;
  {
    std::lock_guard<std::mutex> lock(mu_);
    from = err_lines_.size();
  }
  signal(sig);
  return wait_line(&err_lines_, [&](const std::string& l) { return l.find(text) != std::string::npos; }, timeout,
                   from);
}

std::vector<std::string> Process::stdout_lines() {
  std::lock_guard<std::mutex> lock(mu_);
  return out_lines_;
}

std::string Process::stderr_text() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string s;
  for (const auto& l : err_lines_) s += l + "\n";
  return s + err_partial_;
}

void Process::signal(int sig) {
  if (pid_ > 0 && !exit_code_) kill(pid_, sig);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  if (pid_ <= 0) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      // Let the readers drain what the process wrote before it exited.
      if (out_thread_.joinable()) out_thread_.join();
      if (err_thread_.joinable()) err_thread_.join();
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::pair<int, std::string> run(const std::vector<std::string>& argv,
                                std::map<std::string, std::string> env) {
  Process p(argv, std::move(env));
  auto rc = p.wait(std::chrono::seconds(120));
  std::string out;
  for (const auto& l : p.stdout_lines()) out += l + "\n";
  out += p.stderr_text();
  return {rc.value_or(-1), out};
}

}  // namespace probe::test
