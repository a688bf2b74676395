// Test helper: a child process with captured stdout/stderr, read line by line with timeouts.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace probe::test {

class Process {
 public:
  // Starts argv[0] (searched in PATH) with extra environment variables.
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
          const std::string& stdin_data = "");
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  // Waits until a line of stdout (or stderr) satisfies `pred`; returns it.
  std::optional<std::string> wait_stdout(const std::function<bool(const std::string&)>& pred,
                                         std::chrono::milliseconds timeout);
  std::optional<std::string> wait_stderr(const std::function<bool(const std::string&)>& pred,
                                         std::chrono::milliseconds timeout);
  std::vector<std::string> stdout_lines();
  std::string stderr_text();
  void signal(int sig);
  // Sends `sig`, then waits for a stderr line written after it that contains `text` (a line
  // from before the signal does not count); returns it.
  std::optional<std::string> signal_and_wait_stderr(int sig, const std::string& text,
                                                    std::chrono::milliseconds timeout);
  // Waits for exit; returns the exit code (128+signal if killed), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  void pump(int fd, std::vector<std::string>* lines, std::string* partial);
  // Looks at lines[from...] only.
  std::optional<std::string> wait_line(std::vector<std::string>* lines,
                                       const std::function<bool(const std::string&)>& pred,
                                       std::chrono::milliseconds timeout, size_t from = 0);
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::mutex mu_;
  std::vector<std::string> out_lines_, err_lines_;
  std::string out_partial_, err_partial_;
  std::thread out_thread_, err_thread_;
  std::optional<int> exit_code_;
};

// Runs a command to completion; returns (exit code, stdout+stderr).
std::pair<int, std::string> run(const std::vector<std::string>& argv,
                                std::map<std::string, std::string> env = {});

}  // namespace probe::test
