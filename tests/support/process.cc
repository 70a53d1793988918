#include "support/process.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace coinrelay::testing {

Process::Process(std::vector<std::string> argv, std::vector<std::string> extra_env,
                 std::string log_path)
    : log_path_(std::move(log_path)) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    // The child sees only the configuration the test gives it.
    if (std::string_view(*e).starts_with("COINRELAY_"))
      continue;
    env.emplace_back(*e);
  }
  for (auto& e : extra_env)
    env.push_back(std::move(e));
  std::vector<char*> c_argv, c_env;
  for (auto& a : argv)
    c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  for (auto& e : env)
    c_env.push_back(e.data());
  c_env.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  const int rc = posix_spawn(&pid_, c_argv[0], &actions, &attributes, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0)
    throw std::runtime_error("cannot start " + argv[0]);
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (status_)
    return status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int raw = 0;
    const pid_t done = ::waitpid(pid_, &raw, WNOHANG);
    if (done == pid_) {
      status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool Process::running() {
  return !status_ && !wait(std::chrono::milliseconds(0));
}

int Process::terminate(std::chrono::milliseconds timeout) {
  if (running())
    ::kill(pid_, SIGTERM);
  if (auto code = wait(timeout))
    return *code;
  ::kill(pid_, SIGKILL);
  return wait(std::chrono::seconds(5)).value_or(-1);
}

void Process::kill9() {
  if (running())
    ::kill(pid_, SIGKILL);
  wait(std::chrono::seconds(5));
}

std::string Process::output() const {
  std::ifstream in(log_path_);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

CommandResult runCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  static std::atomic<int> counter{0};
  const std::string log =
      (std::filesystem::temp_directory_path() /
       ("coinrelay-cmd-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".log"))
          .string();
  CommandResult result;
  {
    Process process(argv, {}, log);
    result.exit_code = process.wait(timeout).value_or(-1);
    if (result.exit_code == -1)
      process.kill9();
    result.output = process.output();
  }
  std::filesystem::remove(log);
  return result;
}

int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

namespace {
bool portFree(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return free;
}
}  // namespace

int freePortWith(int offset) {
  // Random ports below the kernel's ephemeral range, so that clients' own ports do not take
  // the neighbour between this check and the server's start.
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = std::uniform_int_distribution<int>(20'000, 39'000)(rng);
    if (portFree(port) && (offset == 0 || portFree(port + offset)))
      return port;
  }
  return 0;
}

std::string uniqueSuffix() {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count() %
                        100'000'000) +
         "-" + std::to_string(counter++);
}

}  // namespace coinrelay::testing
