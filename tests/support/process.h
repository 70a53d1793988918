#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace coinrelay::testing {

/// A child process of the test (the real `coinrelay` binary), its output captured to a file.
/// The destructor kills it if it is still running, so a failed assertion leaves nothing behind.
class Process {
 public:
  Process(std::vector<std::string> argv, std::vector<std::string> extra_env, std::string log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  /// Waits for exit; nullopt on timeout. The exit code, or 128 + signal.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  /// SIGTERM, then wait; SIGKILL after the timeout.
  int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void kill9();
  bool running();
  std::string output() const;  ///< what it printed so far (stdout and stderr)
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string log_path_;
};

/// Runs a command to completion and returns its exit code and output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult runCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// A loopback TCP port that was free a moment ago.
int freePort();
/// A free loopback port whose neighbour `port + offset` is free too (Kafka binds +1 for its
/// controller, OpenSearch and Elasticsearch +100 for transport); 0 if none was found.
int freePortWith(int offset);
/// A suffix that keeps topic and index names of one test run apart from every other run.
std::string uniqueSuffix();

/// Polls `check` until it holds or the timeout passes; returns its last value.
template <class Check>
bool eventually(Check check, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(250)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (check())
      return true;
    std::this_thread::sleep_for(step);
  }
  return check();
}

}  // namespace coinrelay::testing
