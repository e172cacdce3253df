// Child processes for pathway-loadgen (the broker, the engine, the raw pipe): started
// with fork/exec, measured from /proc, stopped with SIGTERM within a bound. A child
// gets SIGTERM if pathway-loadgen dies first (PR_SET_PDEATHSIG), so none is left behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace pathway::loadgen {

using std::chrono::milliseconds;

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is the program's path
    // Extra environment variables (the rest is inherited).
    std::map<std::string, std::string> env;
    bool pipe_stdout = false;  // else stdout goes where stderr goes
    std::string log_file;      // stderr (appended); empty: inherited
  };
  static Result<std::unique_ptr<ChildProcess>> Start(const Options& options);
  ~ChildProcess();  // SIGKILL and reap if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  // Whether it runs; reaps it and keeps its status if it ended.
  bool Running();
  // Its exit code (128 + signal if a signal ended it) once it ended.
  std::optional<int> status() const { return status_; }
  // One line of its stdout (without the newline), or nullopt after `timeout`, at end of
  // file, when a signal interrupts the wait, or if stdout is not piped.
  std::optional<std::string> ReadLine(milliseconds timeout);
  // SIGTERM, then waits up to `timeout` for the exit; SIGKILL after that. The status,
  // or nullopt if it had to be killed.
  std::optional<int> Terminate(milliseconds timeout);
  // Waits up to `timeout` for it to end by itself; its status, or nullopt.
  std::optional<int> Wait(milliseconds timeout);

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string name_;
  std::string buffered_;  // stdout read past the last line returned
  std::optional<int> status_;
};

// What a process has used so far, from /proc/PID/stat and /proc/PID/status.
struct ProcessUsage {
  double cpu_s = 0;        // user + system time of all its threads
  double peak_rss_mb = 0;  // VmHWM: the largest resident set so far (MiB)
};
std::optional<ProcessUsage> ReadUsage(pid_t pid);
// The same for this process (getrusage).
ProcessUsage SelfUsage();

// GET http://127.0.0.1:PORT/PATH (HTTP/1.0): the status code, or nullopt if nothing
// answered within `timeout`.
std::optional<int> HttpGetStatus(int port, const std::string& path, milliseconds timeout);

// A TCP port on 127.0.0.1 that was free a moment ago (for a child to listen on).
Result<int> FreeLoopbackPort();

// A fresh directory under $TMPDIR (or /tmp) named pathway-loadgen-XXXXXX.
Result<std::string> MakeWorkDir();
// The whole file, or "" if it cannot be read.
std::string ReadFileText(const std::string& path);

}  // namespace pathway::loadgen
