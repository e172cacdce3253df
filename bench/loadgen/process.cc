#include "bench/loadgen/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

extern char** environ;

namespace pathway::loadgen {
namespace {

using Clock = std::chrono::steady_clock;

Error SysError(const std::string& what) {
  return Error{std::error_code(errno, std::generic_category()), what};
}

int StatusCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const Options& options) {
  if (options.argv.empty()) return SysError("no program to start");
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->name_ = std::filesystem::path(options.argv[0]).filename().string();

  // Everything the child needs is made before fork: it only calls async-signal-safe
  // functions (this process has threads).
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    if (!options.env.count(name)) env_strings.push_back(std::move(entry));
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  int out_pipe[2] = {-1, -1};
  if (options.pipe_stdout && ::pipe2(out_pipe, O_CLOEXEC) != 0) return SysError("pipe2");
  int log_fd = -1;
  if (!options.log_file.empty()) {
    log_fd = ::open(options.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) return SysError("open " + options.log_file);
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return SysError("fork");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // the parent is already gone
    if (log_fd >= 0) ::dup2(log_fd, STDERR_FILENO);
    if (out_pipe[1] >= 0) {
      ::dup2(out_pipe[1], STDOUT_FILENO);
    } else if (log_fd >= 0) {
      ::dup2(log_fd, STDOUT_FILENO);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  child->pid_ = pid;
  if (log_fd >= 0) ::close(log_fd);
  if (out_pipe[1] >= 0) ::close(out_pipe[1]);
  child->stdout_fd_ = out_pipe[0];
  return child;
}

ChildProcess::~ChildProcess() {
  if (Running()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);  // SIGKILL cannot be ignored: bounded
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

bool ChildProcess::Running() {
  if (status_ || pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = StatusCode(status);
    return false;
  }
  return r == 0;
}

std::optional<int> ChildProcess::Wait(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // Bounded by the deadline.
  while (Running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return status_;
}

std::optional<int> ChildProcess::Terminate(milliseconds timeout) {
  if (!Running()) return status_;
  ::kill(pid_, SIGTERM);
  if (auto status = Wait(timeout)) return status;
  ::kill(pid_, SIGKILL);
  int status = 0;
  if (::waitpid(pid_, &status, 0) == pid_) status_ = StatusCode(status);
  return std::nullopt;
}

std::optional<std::string> ChildProcess::ReadLine(milliseconds timeout) {
  if (stdout_fd_ < 0) return std::nullopt;
  const auto deadline = Clock::now() + timeout;
  // Bounded by the deadline: each round waits for what is left of it.
  for (;;) {
    if (size_t nl = buffered_.find('\n'); nl != std::string::npos) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return line;
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    // A signal (EINTR) is SIGINT or SIGTERM, the only ones pathway-loadgen handles: it
    // is stopping, so the line is not waited for.
    if (::poll(&p, 1, RemainingMs(deadline)) <= 0) return std::nullopt;
    char buf[4096];
    ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n <= 0) return std::nullopt;  // end of file, or a signal
    buffered_.append(buf, static_cast<size_t>(n));
  }
}

std::optional<ProcessUsage> ReadUsage(pid_t pid) {
  const std::string text = ReadFileText("/proc/" + std::to_string(pid) + "/stat");
  // The command name (field 2) may hold spaces: the fields after it follow the last ')'.
  size_t close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  double ticks = 0;
  for (int number = 3; number <= 15 && fields >> field; ++number) {
    if (number == 14 || number == 15) ticks += std::strtod(field.c_str(), nullptr);  // utime, stime
  }
  ProcessUsage usage;
  usage.cpu_s = ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {  // bounded by the file
    if (line.rfind("VmHWM:", 0) == 0) {
      usage.peak_rss_mb = std::strtod(line.c_str() + 6, nullptr) / 1024.0;  // kB
    }
  }
  return usage;
}

ProcessUsage SelfUsage() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  ProcessUsage usage;
  usage.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  usage.peak_rss_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;  // kB
  return usage;
}

std::optional<int> HttpGetStatus(int port, const std::string& path, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) return std::nullopt;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, RemainingMs(deadline)) <= 0) return std::nullopt;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return std::nullopt;
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return std::nullopt;
  }
  std::string response;
  // Bounded by the deadline and by the status line's length.
  while (response.find("\r\n") == std::string::npos && response.size() < 1024) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, RemainingMs(deadline)) <= 0) return std::nullopt;
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  // "HTTP/1.1 200 OK"
  size_t space = response.find(' ');
  if (response.rfind("HTTP/", 0) != 0 || space == std::string::npos) return std::nullopt;
  return std::atoi(response.c_str() + space + 1);
}

Result<int> FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return SysError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    Error e = SysError("bind 127.0.0.1:0");
    ::close(fd);
    return e;
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

Result<std::string> MakeWorkDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "pathway-loadgen-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) return SysError("mkdtemp " + pattern);
  return pattern;
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace pathway::loadgen
