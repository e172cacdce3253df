// The embedded broker, in-process and as the pathway-devbroker binary (label: mock).
#include "services/devbroker/mock_cluster.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "services/bus/kafka_bus.h"
#include "tests/common/temp_dir.h"

extern char** environ;

namespace pathway::devbroker {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, sep);) parts.push_back(part);
  return parts;
}

// The partition ids of `topic`, read through a real client.
std::vector<int32_t> PartitionsOf(const std::string& bootstrap, const std::string& topic) {
  bus::KafkaConfig config;
  config.bootstrap_servers = bootstrap;
  auto consumer = bus::NewKafkaConsumer(config, "");
  EXPECT_TRUE(consumer.ok()) << consumer.error().ToString();
  if (!consumer.ok()) return {};
  auto partitions = (*consumer)->Partitions(topic, milliseconds(10000));
  EXPECT_TRUE(partitions.ok()) << topic << ": " << partitions.error().ToString();
  (*consumer)->Close();
  return partitions.ok() ? *partitions : std::vector<int32_t>{};
}

std::vector<int32_t> Range(int32_t n) {
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < n; ++i) ids.push_back(i);
  return ids;
}

TEST(MockClusterTest, StartsBrokersAndTopics) {
  auto cluster = MockCluster::Start(3, {{"alpha", 3}, {"beta", 5}});
  ASSERT_TRUE(cluster.ok()) << cluster.error().ToString();
  ASSERT_NE((*cluster)->Handle(), nullptr);
  const std::string bootstrap = (*cluster)->BootstrapServers();
  const std::vector<std::string> servers = Split(bootstrap, ',');
  ASSERT_EQ(servers.size(), 3u) << bootstrap;
  for (const std::string& server : servers) {
    EXPECT_TRUE(std::regex_match(server, std::regex(R"([0-9.]+:[0-9]+)"))) << server;
  }
  EXPECT_EQ(PartitionsOf(bootstrap, "alpha"), Range(3));
  EXPECT_EQ(PartitionsOf(bootstrap, "beta"), Range(5));
}

TEST(MockClusterTest, RejectsInvalidArguments) {
  const std::error_code kInvalid = std::make_error_code(std::errc::invalid_argument);
  auto no_brokers = MockCluster::Start(0, {});
  ASSERT_FALSE(no_brokers.ok());
  EXPECT_EQ(no_brokers.error().code, kInvalid);
  EXPECT_THAT(no_brokers.error().detail, HasSubstr("brokers"));

  auto no_partitions = MockCluster::Start(1, {{"empty", 0}});
  ASSERT_FALSE(no_partitions.ok());
  EXPECT_EQ(no_partitions.error().code, kInvalid);
  EXPECT_THAT(no_partitions.error().detail, HasSubstr("empty"));

  EXPECT_FALSE(MockCluster::Start(1, {{"", 1}}).ok());
  EXPECT_FALSE(MockCluster::Start(1, {{"twice", 1}, {"twice", 2}}).ok());
}

// ---------------------------------------------------------------------------------
// pathway-devbroker as a subprocess.

class Subprocess {
 public:
  // Starts `args` with stdout on a pipe and stderr in `stderr_path`.
  Subprocess(const std::vector<std::string>& args, const std::string& stderr_path) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    stdout_fd_ = out[0];
  }

  ~Subprocess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // The first stdout line, or nullopt if none arrived before `limit`.
  std::optional<std::string> ReadLine(milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      if (size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd pfd{stdout_fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[512];
      const ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;  // EOF: the process ended without a line
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // The wait status, or nullopt (after SIGKILL) if it did not exit before `limit`.
  std::optional<int> Wait(milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      if (r < 0 || Clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        return std::nullopt;
      }
      // Polling a child's exit has no blocking-with-timeout call; the deadline bounds it.
      std::this_thread::sleep_for(milliseconds(10));
    }
  }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(DevbrokerBinaryTest, PrintsBootstrapServesTopicsAndStopsOnSigterm) {
  testing::TempDir dir;
  const std::string err_path = dir.path() + "/stderr";
  Subprocess broker({PATHWAY_DEVBROKER_BIN, "--partitions", "2", "--topic", "pathway.events.v1:4",
                     "--topic", "extra"},
                    err_path);
  ASSERT_TRUE(broker.started());
  std::optional<std::string> line = broker.ReadLine(milliseconds(20000));
  ASSERT_TRUE(line.has_value()) << ReadFile(err_path);
  std::smatch match;
  ASSERT_TRUE(
      std::regex_match(*line, match, std::regex(R"(bootstrap\.servers=(127\.0\.0\.1:[0-9]+))")))
      << *line;
  const std::string bootstrap = match[1];

  EXPECT_EQ(PartitionsOf(bootstrap, "pathway.inbound.v1"), Range(2));
  EXPECT_EQ(PartitionsOf(bootstrap, "pathway.events.v1"), Range(4));
  EXPECT_EQ(PartitionsOf(bootstrap, "pathway.deadletter.v1"), Range(2));
  EXPECT_EQ(PartitionsOf(bootstrap, "extra"), Range(2));

  ASSERT_EQ(::kill(broker.pid(), SIGTERM), 0);
  std::optional<int> status = broker.Wait(milliseconds(20000));
  ASSERT_TRUE(status.has_value()) << "did not stop on SIGTERM";
  ASSERT_TRUE(WIFEXITED(*status)) << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  const std::string log = ReadFile(err_path);
  EXPECT_THAT(log, HasSubstr("topic=pathway.events.v1 partitions=4"));
  EXPECT_THAT(log, HasSubstr("topic=extra partitions=2"));
}

TEST(DevbrokerBinaryTest, DefaultsToEveryPathwayTopicWithEightPartitions) {
  testing::TempDir dir;
  Subprocess broker({PATHWAY_DEVBROKER_BIN}, dir.path() + "/stderr");
  ASSERT_TRUE(broker.started());
  std::optional<std::string> line = broker.ReadLine(milliseconds(20000));
  ASSERT_TRUE(line.has_value());
  ASSERT_TRUE(line->starts_with("bootstrap.servers=")) << *line;
  const std::string bootstrap = line->substr(std::string("bootstrap.servers=").size());
  EXPECT_EQ(Split(bootstrap, ',').size(), 1u);
  for (const char* topic : {"pathway.inbound.v1", "pathway.commands.v1", "pathway.events.v1",
                            "pathway.rejections.v1", "pathway.deadletter.v1"}) {
    EXPECT_EQ(PartitionsOf(bootstrap, topic), Range(8)) << topic;
  }
  ASSERT_EQ(::kill(broker.pid(), SIGINT), 0);
  std::optional<int> status = broker.Wait(milliseconds(20000));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

TEST(DevbrokerBinaryTest, BadFlagsExitTwoNamingTheFlag) {
  testing::TempDir dir;
  struct Case {
    std::vector<std::string> args;
    std::string named;
  };
  const std::vector<Case> cases = {
      {{"--brokers", "zero"}, "--brokers"}, {{"--partitions", "0"}, "--partitions"},
      {{"--topic", "t:x"}, "--topic"},      {{"--bogus"}, "--bogus"},
      {{"--brokers"}, "--brokers"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {PATHWAY_DEVBROKER_BIN};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const std::string err_path = dir.path() + "/stderr";
    Subprocess broker(args, err_path);
    ASSERT_TRUE(broker.started());
    std::optional<int> status = broker.Wait(milliseconds(20000));
    ASSERT_TRUE(status.has_value());
    ASSERT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 2) << c.named;
    EXPECT_THAT(ReadFile(err_path), HasSubstr(c.named));
  }
}

}  // namespace
}  // namespace pathway::devbroker
