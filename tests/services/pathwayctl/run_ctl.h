// Runs the pathwayctl binary (PATHWAYCTL_BIN, a compile definition of the test target)
// as a subprocess: stdin from a file, stdout and stderr captured in `dir`, killed at a
// deadline; or started and left running (CtlProcess), to be SIGKILLed part way. And
// the audit trail pathwayctl wrote, read back with `pathwayctl tail`. Shared by the
// pathwayctl tests and the integration tests that run pathwayctl as a process.
#pragma once

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pathway/v1/envelope.pb.h"

extern char** environ;

namespace pathway::testing {

struct RunResult {
  int exit_code = -1;  // -1: killed (at the deadline, or by Kill) or did not exit normally
  std::string out;
  std::string err;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One pathwayctl process. stdout and stderr go to `dir`/<name>stdout and
// `dir`/<name>stderr. `extra_env` entries come first; PATHWAY_KAFKA_BOOTSTRAP is never
// inherited, so a test's broker is the one it names.
class CtlProcess {
 public:
  CtlProcess(const std::string& dir, const std::vector<std::string>& args,
             const std::vector<std::string>& extra_env = {},
             const std::string& stdin_path = "/dev/null", const std::string& name = "")
      : out_path_(dir + "/" + name + "stdout"), err_path_(dir + "/" + name + "stderr") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, stdin_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<std::string> all = {PATHWAYCTL_BIN};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (const std::string& a : all) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = extra_env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!std::string_view(*e).starts_with("PATHWAY_KAFKA_BOOTSTRAP=")) env_strings.push_back(*e);
    }
    std::vector<char*> envp;
    for (const std::string& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const int spawned = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(spawned, 0);
    if (spawned != 0) pid_ = -1;
  }
  ~CtlProcess() { Kill(); }
  CtlProcess(const CtlProcess&) = delete;
  CtlProcess& operator=(const CtlProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Whether it still runs; reaps it (and keeps its status) once it has ended.
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) return true;
    if (r == pid_ && WIFEXITED(status)) exit_code_ = WEXITSTATUS(status);
    pid_ = -1;
    return false;
  }

  // Waits until it exits (SIGKILLed at `limit`, a test failure); what it printed.
  RunResult Wait(std::chrono::milliseconds limit = std::chrono::milliseconds(60000)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (Running()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        Kill();
        ADD_FAILURE() << "pathwayctl did not exit in time";
        break;
      }
      // Polling a child's exit has no blocking-with-timeout call; the deadline bounds it.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Result();
  }

  // SIGKILL (if it still runs) and reap; what it printed until then.
  RunResult Kill() {
    if (Running()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      exit_code_ = -1;
    }
    return Result();
  }

 private:
  RunResult Result() const {
    RunResult result;
    result.exit_code = exit_code_;
    result.out = ReadFile(out_path_);
    result.err = ReadFile(err_path_);
    return result;
  }

  std::string out_path_, err_path_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

inline RunResult RunCtl(const std::string& dir, const std::vector<std::string>& args,
                        const std::vector<std::string>& extra_env = {},
                        const std::string& stdin_path = "/dev/null",
                        std::chrono::milliseconds limit = std::chrono::milliseconds(60000)) {
  CtlProcess process(dir, args, extra_env, stdin_path);
  if (process.pid() <= 0) return RunResult{};
  return process.Wait(limit);
}

// The first `expected` messages of `topic` (fewer if it holds fewer after 30 s), read
// from the beginning with pathwayctl tail; each must be an Envelope.
inline std::vector<pathway::v1::Envelope> TailTopic(const std::string& dir,
                                                    const std::string& bootstrap,
                                                    const std::string& topic, size_t expected) {
  RunResult tailed =
      RunCtl(dir, {"tail", "--bootstrap-servers", bootstrap, "--topic", topic, "--from-beginning",
                   "--max", std::to_string(expected), "--timeout", "30"});
  EXPECT_EQ(tailed.exit_code, 0) << tailed.err;
  std::vector<pathway::v1::Envelope> out;
  std::stringstream lines(tailed.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    pathway::v1::Envelope e;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &e).ok()) << line;
    out.push_back(std::move(e));
  }
  return out;
}

// The first `expected` records of pathway.audit.v1 (fewer if it holds fewer after 30 s).
inline std::vector<pathway::v1::Envelope> AuditTrail(const std::string& dir,
                                                     const std::string& bootstrap,
                                                     size_t expected) {
  return TailTopic(dir, bootstrap, "pathway.audit.v1", expected);
}

}  // namespace pathway::testing
