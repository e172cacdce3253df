// pathway-loadgen: end-to-end load on pathway-engine over Kafka (issue 13). See
// kUsage below and docs/performance.md, "Load generator (pathway-loadgen)".
//
// Builds a synthetic population (bench/loadgen/population.h), publishes it to
// pathway.inbound.v1 keyed as `pathwayctl publish` keys, runs pathway-engine (or the
// raw pipe, bench/loadgen/raw_pipe.h) as a child process against a broker it starts or
// is given, reads every output (bench/loadgen/collector.h) and prints exactly one JSON
// line on stdout: throughput, latency, the engine's CPU seconds and peak RSS. Progress
// goes to stderr. Every wait is bounded.
//
// Exit codes: 0 done, 1 the run failed (timeout, a process died, most commands
// rejected), 2 bad flags.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/loadgen/collector.h"
#include "bench/loadgen/population.h"
#include "bench/loadgen/process.h"
#include "bench/loadgen/raw_pipe.h"
#include "common/log.h"
#include "services/bus/kafka_admin.h"
#include "services/bus/kafka_bus.h"
#include "services/topics.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"

namespace pathway::loadgen {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
extern "C" void OnSignal(int) { g_stop.store(true); }

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr milliseconds kStopBound{40000};  // the engine stops itself within 30 s
constexpr milliseconds kStartBound{120000};
constexpr milliseconds kKafkaStartBound{900000};  // the first start fetches Kafka
constexpr milliseconds kProgressEvery{5000};
// After the last command's outcome, outputs are still counted until none came for
// kSettleQuiet (at most kSettleBound): events a command causes after its first.
constexpr milliseconds kSettleQuiet{1500};
constexpr milliseconds kSettleBound{15000};

constexpr const char* kUsage =
    "usage: pathway-loadgen [--scenario mixed|ehc] [--children N] [--seed S]\n"
    "                       [--rate N] [--publish-first]\n"
    "                       [--broker mock|kafka | --bootstrap-servers B [--recreate-topics]]\n"
    "                       [--partitions N] [--replication-factor N] [--raw-pipe | --compare]\n"
    "                       [--engine-clock real|stream] [--timeout S]\n"
    "                       [--engine PATH] [--devbroker PATH] [--kafka-sh PATH]\n"
    "                       [--histories DIR] [--statutory-sharing FILE|none]\n"
    "                       [--engine-arg ARG]... [-X key=value]...\n"
    "                       [--data-dir DIR] [--work-dir DIR] [--keep-work-dir]\n"
    "\n"
    "Publishes a synthetic population to pathway.inbound.v1 (keyed as `pathwayctl\n"
    "publish` keys), runs pathway-engine on an empty data directory, reads every\n"
    "output and prints one JSON line on stdout (progress on stderr).\n"
    "\n"
    "  --scenario mixed        every realistic history (tests/workflow/histories): every\n"
    "                          pathway, consent, shared-record facts (default)\n"
    "  --scenario ehc          each child sends the 13 messages of an EHC needs assessment\n"
    "  --children N            children (default 200); each follows one history\n"
    "  --seed S                the population's seed (default 1)\n"
    "  --rate N                commands per second; 0 (default): as fast as possible\n"
    "  --publish-first         publish everything, then start the engine (throughput\n"
    "                          only: latency is null)\n"
    "  --broker mock           start pathway-devbroker (default without\n"
    "                          --bootstrap-servers); a fresh one per run\n"
    "  --broker kafka          start a 1-node Apache Kafka with scripts/kafka.sh in the\n"
    "                          work directory, stopped at the end\n"
    "  --bootstrap-servers B   use this cluster; its pathway topics must be empty, or\n"
    "                          --recreate-topics deletes and creates them (destroys data)\n"
    "  --partitions N          partitions of every pathway topic (default 8)\n"
    "  --replication-factor N  of the topics created on a real cluster (default 1)\n"
    "  --raw-pipe              instead of the engine, the same two Kafka hops with no\n"
    "                          engine logic (the machine's Kafka limit)\n"
    "  --compare               the raw pipe, then the engine, each on fresh topics; both\n"
    "                          reported, with the ratio\n"
    "  --engine-clock real     the engine's business clock is the system clock (default):\n"
    "                          deadlines between a child's past steps fall due as the\n"
    "                          engine reads them, and later steps re-decide the case\n"
    "  --engine-clock stream   the engine's clock stands still on the day before the first\n"
    "                          command (--fixed-clock): every step decided in order, the\n"
    "                          same work on every run\n"
    "  --timeout S             seconds a run may take after its start (default 900)\n"
    "  --engine PATH           the pathway-engine binary (default: the one built beside)\n"
    "  --devbroker PATH        the pathway-devbroker binary (default: the one built beside)\n"
    "  --kafka-sh PATH         scripts/kafka.sh (default: the source tree's)\n"
    "  --histories DIR         the history files (default tests/workflow/histories)\n"
    "  --statutory-sharing F   passed to the engine (default config/statutory_sharing.json)\n"
    "  --engine-arg ARG        one more argument for pathway-engine; repeatable\n"
    "  -X key=value            a librdkafka setting for every client; repeatable\n"
    "  --data-dir DIR          the engine's data directory (must not exist; default: in\n"
    "                          the work directory)\n"
    "  --work-dir DIR          logs and data (default: a fresh pathway-loadgen-* in $TMPDIR,\n"
    "                          removed after a successful run unless --keep-work-dir)\n";

enum class Mode { kEngine, kRawPipe, kCompare };
// The engine's business clock.
enum class EngineClock {
  // The system clock, as deployed. The population lies in the past year, so the
  // deadlines between a child's steps are already due when the engine reads the steps:
  // it fires them, then re-decides the case when the next (earlier-dated) step arrives.
  // A backlog of historic records; how many timers fire depends on timing.
  kReal,
  // Stands still (--fixed-clock) on the day before the population's first command: no
  // deadline is due by the engine's clock, and a deadline due by a command's own date
  // fires as the command is decided (as `pathwayctl simulate` does). Every step is
  // decided in order, the same work on every run: a live stream without the waiting.
  kStream,
};
enum class BrokerKind { kMock, kKafka, kExternal };

struct Flags {
  Scenario scenario = Scenario::kMixed;
  int children = 200;
  uint64_t seed = 1;
  double rate = 0;
  bool publish_first = false;
  std::optional<BrokerKind> broker;
  bus::KafkaConfig kafka;  // bootstrap (external) and -X settings
  bool recreate_topics = false;
  int partitions = topics::kDefaultPartitions;
  int replication_factor = 1;  // of the topics it creates on a real cluster
  Mode mode = Mode::kEngine;
  EngineClock engine_clock = EngineClock::kReal;
  int timeout_s = 900;
  std::string engine = PATHWAY_LOADGEN_ENGINE;
  std::string devbroker = PATHWAY_LOADGEN_DEVBROKER;
  std::string kafka_sh = std::string(PATHWAY_SOURCE_DIR) + "/scripts/kafka.sh";
  std::string histories = std::string(PATHWAY_SOURCE_DIR) + "/tests/workflow/histories";
  std::string sharing = std::string(PATHWAY_SOURCE_DIR) + "/config/statutory_sharing.json";
  std::vector<std::string> engine_args;
  std::vector<std::string> x_args;  // -X as given, passed on to the engine and raw pipe
  std::string data_dir;
  std::string work_dir;
  bool keep_work_dir = false;
};

void Progress(const std::string& line) { std::cerr << "loadgen: " << line << std::endl; }

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// A failure of the run itself (not of a library call): its detail says it all.
Error Failure(std::string what) {
  return Error{std::make_error_code(std::errc::io_error), std::move(what)};
}
std::string Describe(const Error& e) {
  return e.code == std::errc::io_error ? e.detail : e.ToString();
}

// ---------------------------------------------------------------------------------
// The broker.

// Where the runs' Kafka is: started per run (mock), once (kafka.sh) or given.
class Broker {
 public:
  Broker(const Flags& flags, std::string work_dir)
      : flags_(flags), work_dir_(std::move(work_dir)) {}
  ~Broker() { (void)Close(); }
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Readies empty pathway topics for run `run` (0, 1, ...); the bootstrap servers.
  Result<std::string> BeginRun(int run) {
    switch (kind()) {
      case BrokerKind::kMock:
        return StartDevbroker(run);
      case BrokerKind::kKafka:
        if (!kafka_started_) {
          if (auto s = StartKafka(); !s) return s.error();
        }
        if (auto s = FreshTopics(/*remove=*/run > 0); !s) return s.error();
        return bootstrap_;
      case BrokerKind::kExternal:
        bootstrap_ = flags_.kafka.bootstrap_servers;
        if (auto s = FreshTopics(/*remove=*/flags_.recreate_topics); !s) return s.error();
        if (!flags_.recreate_topics) {
          if (auto s = CheckEmpty(); !s) return s.error();
        }
        return bootstrap_;
    }
    return Error{std::make_error_code(std::errc::invalid_argument), "no broker"};
  }

  // The broker's CPU seconds so far (its processes that this run can see).
  std::optional<double> CpuSeconds() const {
    std::vector<pid_t> pids;
    if (devbroker_) pids.push_back(devbroker_->pid());
    if (kafka_started_) {
      std::string pid = ReadFileText(work_dir_ + "/kafka/node1/pid");
      if (!pid.empty()) pids.push_back(static_cast<pid_t>(std::atoi(pid.c_str())));
    }
    if (pids.empty()) return std::nullopt;
    double total = 0;
    for (pid_t p : pids) {
      if (auto u = ReadUsage(p)) total += u->cpu_s;
    }
    return total;
  }

  void EndRun() {
    if (devbroker_) {
      (void)devbroker_->Terminate(milliseconds(10000));
      devbroker_.reset();
    }
  }

  Status Close() {
    EndRun();
    // Also after a failed start: kafka.sh leaves no node running then, but a start cut
    // short by a signal might.
    if (!kafka_used_) return {};
    kafka_used_ = false;
    kafka_started_ = false;
    Progress("stopping Kafka (" + work_dir_ + "/kafka)");
    auto stop = ChildProcess::Start(
        {{"/bin/bash", flags_.kafka_sh, "stop", "--dir", work_dir_ + "/kafka"}, {}, false, ""});
    if (!stop) return stop.error();
    if (!(*stop)->Wait(milliseconds(90000))) return Failure("kafka.sh stop did not finish");
    return {};
  }

  BrokerKind kind() const { return flags_.broker.value_or(BrokerKind::kMock); }

 private:
  Result<std::string> StartDevbroker(int run) {
    EndRun();
    ChildProcess::Options o;
    o.argv = {flags_.devbroker, "--partitions", std::to_string(flags_.partitions)};
    o.pipe_stdout = true;
    o.log_file = work_dir_ + "/devbroker-" + std::to_string(run) + ".log";
    auto started = ChildProcess::Start(o);
    if (!started) return started.error();
    devbroker_ = std::move(*started);
    auto line = devbroker_->ReadLine(milliseconds(30000));
    const std::string prefix = "bootstrap.servers=";
    if (!line || line->rfind(prefix, 0) != 0) {
      return Failure("pathway-devbroker printed no bootstrap line within 30 s; see " + o.log_file);
    }
    bootstrap_ = line->substr(prefix.size());
    Progress("pathway-devbroker at " + bootstrap_ + " (" + std::to_string(flags_.partitions) +
             " partitions per topic)");
    return bootstrap_;
  }

  Status StartKafka() {
    ChildProcess::Options o;
    o.argv = {"/bin/bash",          flags_.kafka_sh, "start", "--dir",
              work_dir_ + "/kafka", "--brokers",     "1"};
    // kafka.sh's default JVM options favour start-up (C1 only) over throughput.
    if (const char* jvm = std::getenv("PATHWAY_KAFKA_JVM_OPTS"); !jvm || !*jvm) {
      o.env["PATHWAY_KAFKA_JVM_OPTS"] = "-Xms512m -Xmx1g";
    }
    o.pipe_stdout = true;
    o.log_file = work_dir_ + "/kafka-sh.log";
    Progress("starting Kafka with " + flags_.kafka_sh + " (log: " + o.log_file + ")");
    kafka_used_ = true;
    auto started = ChildProcess::Start(o);
    if (!started) return started.error();
    auto line = (*started)->ReadLine(kKafkaStartBound);
    const std::string prefix = "bootstrap.servers=";
    if (!line || line->rfind(prefix, 0) != 0) {
      return Failure("kafka.sh start printed no bootstrap line; see " + o.log_file);
    }
    if ((*started)->Wait(milliseconds(30000)).value_or(1) != 0) {
      return Failure("kafka.sh start failed; see " + o.log_file);
    }
    kafka_started_ = true;
    bootstrap_ = line->substr(prefix.size());
    Progress("Kafka at " + bootstrap_);
    return {};
  }

  bus::KafkaConfig Config() const {
    bus::KafkaConfig c = flags_.kafka;
    c.bootstrap_servers = bootstrap_;
    return c;
  }

  Status FreshTopics(bool remove) {
    std::vector<std::string> names;
    std::vector<bus::TopicSpec> specs;
    for (std::string_view t : topics::kAll) {
      names.emplace_back(t);
      bus::TopicSpec spec{std::string(t), flags_.partitions, flags_.replication_factor, {}};
      if (topics::IsCompacted(t)) spec.configs["cleanup.policy"] = "compact";
      specs.push_back(std::move(spec));
    }
    if (remove) {
      Progress("deleting and creating the pathway topics anew");
      if (auto s = bus::DeleteTopics(Config(), names, milliseconds(120000)); !s) return s;
    }
    if (auto s = bus::CreateTopics(Config(), specs, milliseconds(60000)); !s) return s;
    return AwaitTopics(names);
  }

  // A new topic reaches every broker's metadata a moment after CreateTopics returns.
  Status AwaitTopics(const std::vector<std::string>& names) {
    auto consumer = bus::NewKafkaConsumer(Config(), "");
    if (!consumer) return consumer.error();
    const auto deadline = SteadyClock::now() + milliseconds(60000);
    std::string missing;
    // Bounded by the deadline.
    while (SteadyClock::now() < deadline && !g_stop.load()) {
      missing.clear();
      for (const auto& name : names) {
        if (!(*consumer)->Partitions(name, milliseconds(5000))) missing = name;
      }
      if (missing.empty()) break;
      std::this_thread::sleep_for(milliseconds(200));
    }
    (*consumer)->Close();
    if (!missing.empty()) return Failure("topic " + missing + " not in the cluster's metadata");
    return {};
  }

  // A cluster given by --bootstrap-servers must not hold earlier inbound commands: a
  // fresh engine would process them too.
  Status CheckEmpty() {
    auto consumer = bus::NewKafkaConsumer(Config(), "");
    if (!consumer) return consumer.error();
    std::vector<bus::TopicPartition> assignment;
    for (std::string_view topic : {topics::kInbound, topics::kCommands}) {
      auto partitions = (*consumer)->Partitions(std::string(topic), milliseconds(15000));
      if (!partitions) return partitions.error();
      for (int32_t p : *partitions) {
        assignment.push_back({std::string(topic), p, bus::kOffsetBeginning});
      }
    }
    if (auto s = (*consumer)->Assign(assignment); !s) return s;
    auto polled = (*consumer)->Poll(milliseconds(3000));
    (*consumer)->Close();
    if (!polled) return polled.error();
    if (polled->has_value()) {
      return Failure((*polled)->topic +
                     " already holds messages: use fresh topics, or --recreate-topics");
    }
    return {};
  }

  const Flags& flags_;
  std::string work_dir_;
  std::string bootstrap_;
  std::unique_ptr<ChildProcess> devbroker_;
  bool kafka_used_ = false;     // kafka.sh start ran: stop it at the end
  bool kafka_started_ = false;  // and the cluster serves
};

// ---------------------------------------------------------------------------------
// One run: the engine or the raw pipe over the whole population.

enum class Target { kEngine, kRawPipe };
const char* TargetName(Target t) { return t == Target::kEngine ? "engine" : "raw_pipe"; }

struct Latency {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
};

struct RunResult {
  Target target = Target::kEngine;
  size_t commands_in = 0;
  size_t accepted = 0;
  size_t rejected = 0;
  size_t unresolved = 0;
  Counts counts;
  double publish_s = 0;       // first send to the last delivery confirmed
  double publish_rate = 0;    // commands per second while publishing
  double first_result_s = 0;  // start to the first outcome
  double elapsed_s = 0;       // start to the last command's outcome
  double commands_per_s = 0;
  std::optional<Latency> latency;
  std::optional<ProcessUsage> usage;  // the target's, at the last command's outcome
  std::optional<double> broker_cpu_s;
  std::optional<int> exit_status;
  std::string failure;  // empty when the run completed
};

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

class Run {
 public:
  Run(const Flags& flags, Broker& broker, const Population& population, std::string work_dir,
      std::string run_tag, int index, Target target)
      : flags_(flags),
        broker_(broker),
        population_(population),
        work_dir_(std::move(work_dir)),
        tag_(std::move(run_tag)),
        index_(index) {
    result_.target = target;
    result_.commands_in = population.commands.size();
  }

  RunResult Go() {
    if (Status s = Execute(); !s) result_.failure = Describe(s.error());
    Finish();
    return result_;
  }

 private:
  std::string Suffix() const { return std::to_string(index_); }
  std::string LogFile() const {
    return work_dir_ + "/" + TargetName(result_.target) + "-" + Suffix() + ".log";
  }

  Status Execute() {
    auto bootstrap = broker_.BeginRun(index_);
    if (!bootstrap) return bootstrap.error();
    config_ = flags_.kafka;
    config_.bootstrap_servers = *bootstrap;
    // A Kafka started once serves several runs: its CPU counts from here.
    broker_cpu_at_start_ = broker_.CpuSeconds();

    std::vector<std::string> ids;
    ids.reserve(population_.commands.size());
    for (const auto& c : population_.commands) ids.push_back(c.event_id);
    auto collector = Collector::Start(config_, ids);
    if (!collector) return collector.error();
    collector_ = std::move(*collector);

    send_ns_.assign(population_.commands.size(), 0);
    if (flags_.publish_first) {
      if (auto s = Publish(); !s) return s;
      start_ = SteadyClock::now();
      if (auto s = StartTarget(/*wait_ready=*/false); !s) return s;
    } else {
      if (auto s = StartTarget(/*wait_ready=*/true); !s) return s;
      start_ = SteadyClock::now();
      if (auto s = Publish(); !s) return s;
    }
    if (auto s = AwaitOutcomes(); !s) return s;
    Settle();
    return {};
  }

  Status StartTarget(bool wait_ready) {
    ChildProcess::Options o;
    o.log_file = LogFile();
    const std::string group = "loadgen-" + tag_ + "-" + Suffix();
    if (result_.target == Target::kEngine) {
      std::string data_dir =
          flags_.data_dir.empty() ? work_dir_ + "/engine-data-" + Suffix() : flags_.data_dir;
      if (fs::exists(data_dir)) return Failure("the data directory " + data_dir + " exists");
      auto port = FreeLoopbackPort();
      if (!port) return port.error();
      ops_port_ = *port;
      o.argv = {flags_.engine,
                "--bootstrap-servers",
                config_.bootstrap_servers,
                "--data-dir",
                data_dir,
                "--ops-listen",
                "127.0.0.1:" + std::to_string(ops_port_),
                "--group-prefix",
                group};
      if (flags_.engine_clock == EngineClock::kStream) {
        o.argv.insert(
            o.argv.end(),
            {"--fixed-clock",
             workflow::FormatDate(workflow::AddDays(population_.first_day, -1)) + "T00:00:00Z"});
      }
      if (!flags_.sharing.empty() && flags_.sharing != "none") {
        o.argv.insert(o.argv.end(), {"--statutory-sharing", flags_.sharing});
      }
    } else {
      std::string self = fs::read_symlink("/proc/self/exe").string();
      o.argv = {self,
                "--raw-pipe-worker",
                "--bootstrap-servers",
                config_.bootstrap_servers,
                "--group-prefix",
                group};
      o.pipe_stdout = true;
    }
    for (const auto& x : flags_.x_args) o.argv.insert(o.argv.end(), {"-X", x});
    if (result_.target == Target::kEngine) {
      o.argv.insert(o.argv.end(), flags_.engine_args.begin(), flags_.engine_args.end());
    }
    auto started = ChildProcess::Start(o);
    if (!started) return started.error();
    target_ = std::move(*started);
    Progress(std::string("started ") + TargetName(result_.target) + " (pid " +
             std::to_string(target_->pid()) + ", log " + o.log_file + ")");
    if (!wait_ready) return {};
    return result_.target == Target::kEngine ? AwaitEngineReady() : AwaitRawPipeReady();
  }

  // The engine's operations endpoint answers /health/ready with 200 once it owns its
  // partitions (and has restored them).
  Status AwaitEngineReady() {
    const auto deadline = SteadyClock::now() + kStartBound;
    // Bounded by the deadline.
    while (SteadyClock::now() < deadline && !g_stop.load()) {
      if (!target_->Running()) return Failure("the engine exited while starting; see " + LogFile());
      if (HttpGetStatus(ops_port_, "/health/ready", milliseconds(2000)) == 200) {
        Progress("engine ready (ops port " + std::to_string(ops_port_) + ")");
        return {};
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    return Failure("the engine was not ready within " + std::to_string(kStartBound.count() / 1000) +
                   " s; see " + LogFile());
  }

  Status AwaitRawPipeReady() {
    auto line = target_->ReadLine(kStartBound);
    if (!line || *line != "ready") {
      return Failure("the raw pipe did not get its partitions; see " + LogFile());
    }
    Progress("raw pipe ready");
    return {};
  }

  Status Publish() {
    const auto& commands = population_.commands;
    size_t delivered = 0, failed = 0;
    std::string first_failure;
    auto producer = bus::NewKafkaProducer(config_, [&](const bus::Delivery& d) {
      if (!d.error) {
        ++delivered;
      } else if (failed++ == 0) {
        first_failure = d.error_detail;
      }
    });
    if (!producer) return producer.error();
    Progress("publishing " + std::to_string(commands.size()) + " commands to " +
             std::string(topics::kInbound) +
             (flags_.rate > 0 ? " at " + Fixed(flags_.rate, 0) + "/s" : " as fast as possible"));
    const auto begin = SteadyClock::now();
    const auto deadline = begin + seconds(flags_.timeout_s);
    auto next_progress = begin + kProgressEvery;
    for (size_t i = 0; i < commands.size(); ++i) {
      if (flags_.rate > 0) {
        auto due = begin + std::chrono::duration_cast<SteadyClock::duration>(
                               std::chrono::duration<double>(static_cast<double>(i) / flags_.rate));
        if (due > SteadyClock::now()) std::this_thread::sleep_until(due);
      }
      send_ns_[i] = SteadyClock::now().time_since_epoch().count();
      Status sent;
      // Bounded by the run's deadline.
      for (;;) {
        sent = (*producer)->Produce(topics::kInbound, commands[i].key, commands[i].value, i);
        if (sent || sent.error().code != make_error_code(bus::errc::kQueueFull)) break;
        if (SteadyClock::now() >= deadline) break;
        (*producer)->Poll(milliseconds(10));
      }
      if (!sent)
        return Failure("publishing command " + std::to_string(i) + ": " + sent.error().ToString());
      if (i % 64 == 0) (*producer)->Poll(milliseconds(0));
      if (g_stop.load()) return Failure("interrupted");
      if (i % 256 == 0) {
        if (target_ && !target_->Running()) return TargetDied();
        if (SteadyClock::now() >= next_progress) {
          next_progress += kProgressEvery;
          ProgressLine("published " + std::to_string(i) + "/" + std::to_string(commands.size()));
        }
      }
    }
    const auto left =
        std::max(milliseconds(1000),
                 std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()));
    if (auto s = (*producer)->Flush(left); !s) return s;
    result_.publish_s = Seconds(SteadyClock::now() - begin);
    result_.publish_rate = static_cast<double>(commands.size()) / std::max(result_.publish_s, 1e-9);
    if (failed > 0) {
      return Failure(std::to_string(failed) + " commands not delivered (first: " + first_failure +
                     ")");
    }
    Progress("published " + std::to_string(delivered) + " commands in " +
             Fixed(result_.publish_s, 1) + " s (" + Fixed(result_.publish_rate, 0) + "/s)");
    return {};
  }

  Status TargetDied() {
    return Failure(std::string(TargetName(result_.target)) + " exited (status " +
                   std::to_string(target_->status().value_or(-1)) + "); see " + LogFile());
  }

  void ProgressLine(const std::string& what) {
    std::string line = what + "; outcomes " + std::to_string(collector_->resolved()) + "/" +
                       std::to_string(result_.commands_in);
    if (target_) {
      if (auto u = ReadUsage(target_->pid())) {
        line += "; " + std::string(TargetName(result_.target)) + " cpu " + Fixed(u->cpu_s, 1) +
                " s, peak rss " + Fixed(u->peak_rss_mb, 0) + " MB";
      }
    }
    Progress(line);
  }

  Status AwaitOutcomes() {
    const size_t total = population_.commands.size();
    const auto deadline = start_ + seconds(flags_.timeout_s);
    auto next_progress = SteadyClock::now() + kProgressEvery;
    // Bounded by the deadline; each round sleeps 20 ms.
    while (collector_->resolved() < total) {
      if (g_stop.load()) return Failure("interrupted");
      if (collector_->failed()) return Failure("reading the outputs: " + collector_->failure());
      if (!target_->Running()) return TargetDied();
      if (SteadyClock::now() >= deadline) {
        return Failure("timed out after " + std::to_string(flags_.timeout_s) +
                       " s: " + std::to_string(total - collector_->resolved()) + " of " +
                       std::to_string(total) + " commands have no outcome; see " + LogFile());
      }
      if (SteadyClock::now() >= next_progress) {
        next_progress += kProgressEvery;
        ProgressLine("waiting");
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    // Measured now, before the quiet period below adds idle time.
    result_.usage = ReadUsage(target_->pid());
    result_.broker_cpu_s = broker_.CpuSeconds();
    if (result_.broker_cpu_s && broker_cpu_at_start_) {
      *result_.broker_cpu_s -= *broker_cpu_at_start_;
    }
    return {};
  }

  // Counts what the commands cause after their first output, until the outputs stop.
  void Settle() {
    const auto bound = SteadyClock::now() + kSettleBound;
    // Bounded by kSettleBound.
    while (SteadyClock::now() < bound && !g_stop.load()) {
      if (SteadyClock::now() - collector_->last_output() >= kSettleQuiet) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
  }

  void Finish() {
    if (target_) {
      result_.exit_status = target_->Terminate(kStopBound);
      if (result_.exit_status.value_or(1) != 0) {
        Progress(std::string(TargetName(result_.target)) + " did not exit cleanly (status " +
                 (result_.exit_status ? std::to_string(*result_.exit_status) : "killed") +
                 "); see " + LogFile());
      }
    }
    if (collector_) {
      collector_->Stop();
      Tally();
    }
    broker_.EndRun();
  }

  void Tally() {
    result_.counts = collector_->counts();
    const auto& outcomes = collector_->outcomes();
    const auto& seen = collector_->seen_ns();
    std::vector<double> latencies;
    int64_t first = 0, last = 0;
    for (size_t i = 0; i < outcomes.size(); ++i) {
      if (outcomes[i] == Outcome::kNone) {
        ++result_.unresolved;
        continue;
      }
      (outcomes[i] == Outcome::kAccepted ? result_.accepted : result_.rejected)++;
      first = first == 0 ? seen[i] : std::min(first, seen[i]);
      last = std::max(last, seen[i]);
      latencies.push_back(static_cast<double>(seen[i] - send_ns_[i]) / 1e6);
    }
    const int64_t start_ns = start_.time_since_epoch().count();
    if (start_ != SteadyClock::time_point{} && first > 0) {
      result_.first_result_s = static_cast<double>(first - start_ns) / 1e9;
      result_.elapsed_s = static_cast<double>(last - start_ns) / 1e9;
    }
    if (result_.failure.empty() && result_.elapsed_s > 0) {
      result_.commands_per_s = static_cast<double>(result_.commands_in) / result_.elapsed_s;
    }
    // Published first, a command waits for the engine to start: no latency to speak of.
    if (!flags_.publish_first && !latencies.empty()) {
      std::sort(latencies.begin(), latencies.end());
      result_.latency = Latency{Percentile(latencies, 0.50), Percentile(latencies, 0.99),
                                Percentile(latencies, 0.999), latencies.back()};
    }
  }

  const Flags& flags_;
  Broker& broker_;
  const Population& population_;
  std::string work_dir_;
  std::string tag_;
  int index_;
  bus::KafkaConfig config_;
  std::unique_ptr<Collector> collector_;
  std::unique_ptr<ChildProcess> target_;
  int ops_port_ = 0;  // the engine's operations endpoint
  std::vector<int64_t> send_ns_;
  SteadyClock::time_point start_;
  std::optional<double> broker_cpu_at_start_;  // the broker's CPU when the run began
  RunResult result_;
};

// ---------------------------------------------------------------------------------
// Output: one JSON line.

class Json {
 public:
  Json& Key(const std::string& k) {
    Sep();
    out_ += "\"" + k + "\":";
    fresh_ = true;
    return *this;
  }
  Json& Str(const std::string& k, const std::string& v) {
    Key(k);
    out_ += "\"" + v + "\"";  // our own names only: nothing to escape
    fresh_ = false;
    return *this;
  }
  Json& Int(const std::string& k, long long v) {
    Key(k);
    out_ += std::to_string(v);
    fresh_ = false;
    return *this;
  }
  Json& Num(const std::string& k, std::optional<double> v, int decimals = 3) {
    Key(k);
    out_ += v && std::isfinite(*v) ? Fixed(*v, decimals) : "null";
    fresh_ = false;
    return *this;
  }
  Json& Bool(const std::string& k, bool v) {
    Key(k);
    out_ += v ? "true" : "false";
    fresh_ = false;
    return *this;
  }
  Json& Null(const std::string& k) {
    Key(k);
    out_ += "null";
    fresh_ = false;
    return *this;
  }
  Json& Open(const std::string& k) {
    Key(k);
    out_ += "{";
    fresh_ = true;
    return *this;
  }
  Json& Close() {
    out_ += "}";
    fresh_ = false;
    return *this;
  }
  std::string Line() const { return "{" + out_ + "}"; }

 private:
  void Sep() {
    if (!fresh_ && !out_.empty()) out_ += ",";
    fresh_ = false;
  }
  std::string out_;
  bool fresh_ = true;
};

void AddRun(Json& j, const RunResult& r) {
  const std::string who = TargetName(r.target);
  j.Int("commands_in", static_cast<long long>(r.commands_in))
      .Int("accepted", static_cast<long long>(r.accepted))
      .Int("rejected", static_cast<long long>(r.rejected))
      .Int("unresolved", static_cast<long long>(r.unresolved))
      .Int("events_out", static_cast<long long>(r.counts.events))
      .Int("timer_events", static_cast<long long>(r.counts.timer_events))
      .Int("audit_out", static_cast<long long>(r.counts.audit))
      .Int("rejections_out", static_cast<long long>(r.counts.rejections))
      .Int("dead_letters", static_cast<long long>(r.counts.dead_letters))
      // Outputs that are no Envelope or name no command of this run nor a timer: 0
      // unless the topics held something else.
      .Int("unmatched_outputs", static_cast<long long>(r.counts.unknown + r.counts.undecodable))
      .Num("publish_s", r.publish_s)
      .Num("publish_per_s", r.publish_rate, 1)
      .Num("first_result_s", r.first_result_s)
      .Num("elapsed_s", r.elapsed_s)
      .Num("commands_per_s", r.failure.empty() ? std::optional(r.commands_per_s) : std::nullopt, 1)
      .Num("commands_per_s_after_first_result",
           r.failure.empty() && r.elapsed_s > r.first_result_s
               // the outcomes after the first, over the time they took
               ? std::optional(static_cast<double>(r.commands_in - 1) /
                               (r.elapsed_s - r.first_result_s))
               : std::nullopt,
           1);
  if (r.latency) {
    j.Open("latency_ms")
        .Num("p50", r.latency->p50, 1)
        .Num("p99", r.latency->p99, 1)
        .Num("p999", r.latency->p999, 1)
        .Num("max", r.latency->max, 1)
        .Close();
  } else {
    j.Null("latency_ms");
  }
  j.Num(who + "_cpu_s", r.usage ? std::optional(r.usage->cpu_s) : std::nullopt, 2)
      .Num(who + "_peak_rss_mb", r.usage ? std::optional(r.usage->peak_rss_mb) : std::nullopt, 1)
      .Num("broker_cpu_s", r.broker_cpu_s, 2);
  if (r.exit_status) {
    j.Int(who + "_exit_status", *r.exit_status);
  } else {
    j.Null(who + "_exit_status");  // killed after the stop bound
  }
  j.Open("rejections_by_rule");
  for (const auto& [rule, n] : r.counts.rejection_rules) j.Int(rule, static_cast<long long>(n));
  j.Close();
  if (!r.failure.empty()) j.Str("failure", "see stderr");
}

// ---------------------------------------------------------------------------------
// Flags.

std::optional<long long> ParseInt(const std::string& s, long long lo, long long hi) {
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < lo || v > hi) return std::nullopt;
  return v;
}

int Usage(const std::string& problem) {
  std::cerr << "pathway-loadgen: " << problem << "\n" << kUsage;
  return kExitUsage;
}

// Parses argv into `flags`; an exit code when the process should stop (help, errors).
std::optional<int> ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0) {
      if (size_t eq = arg.find('='); eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      }
    }
    auto value = [&](std::string* out) {
      if (inline_value) {
        *out = *inline_value;
        return true;
      }
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    auto need = [&](const char* what) -> bool {
      if (value(&v)) return true;
      Usage(arg + " needs " + what);
      return false;
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--scenario") {
      if (!need("mixed or ehc")) return kExitUsage;
      if (v == "mixed") {
        flags.scenario = Scenario::kMixed;
      } else if (v == "ehc") {
        flags.scenario = Scenario::kEhc;
      } else {
        return Usage("--scenario must be mixed or ehc");
      }
    } else if (arg == "--children") {
      if (!need("a number")) return kExitUsage;
      auto n = ParseInt(v, 1, 500000);
      if (!n) return Usage("--children must be a whole number from 1 to 500000");
      flags.children = static_cast<int>(*n);
    } else if (arg == "--seed") {
      if (!need("a number")) return kExitUsage;
      auto n = ParseInt(v, 0, 1LL << 62);
      if (!n) return Usage("--seed must be a whole number");
      flags.seed = static_cast<uint64_t>(*n);
    } else if (arg == "--rate") {
      if (!need("commands per second")) return kExitUsage;
      auto n = ParseInt(v, 0, 10'000'000);
      if (!n) return Usage("--rate must be a whole number of commands per second (0: no limit)");
      flags.rate = static_cast<double>(*n);
    } else if (arg == "--publish-first") {
      flags.publish_first = true;
    } else if (arg == "--broker") {
      if (!need("mock or kafka")) return kExitUsage;
      if (v == "mock") {
        flags.broker = BrokerKind::kMock;
      } else if (v == "kafka") {
        flags.broker = BrokerKind::kKafka;
      } else {
        return Usage("--broker must be mock or kafka (or give --bootstrap-servers)");
      }
    } else if (arg == "--bootstrap-servers") {
      if (!need("HOST:PORT[,...]")) return kExitUsage;
      flags.kafka.bootstrap_servers = v;
    } else if (arg == "--recreate-topics") {
      flags.recreate_topics = true;
    } else if (arg == "--partitions") {
      if (!need("a number")) return kExitUsage;
      auto n = ParseInt(v, 1, 1024);
      if (!n) return Usage("--partitions must be a whole number from 1 to 1024");
      flags.partitions = static_cast<int>(*n);
    } else if (arg == "--replication-factor") {
      if (!need("a number")) return kExitUsage;
      auto n = ParseInt(v, 1, 16);
      if (!n) return Usage("--replication-factor must be a whole number from 1 to 16");
      flags.replication_factor = static_cast<int>(*n);
    } else if (arg == "--raw-pipe") {
      flags.mode = Mode::kRawPipe;
    } else if (arg == "--compare") {
      flags.mode = Mode::kCompare;
    } else if (arg == "--engine-clock") {
      if (!need("real or stream")) return kExitUsage;
      if (v == "real") {
        flags.engine_clock = EngineClock::kReal;
      } else if (v == "stream") {
        flags.engine_clock = EngineClock::kStream;
      } else {
        return Usage("--engine-clock must be real or stream");
      }
    } else if (arg == "--timeout") {
      if (!need("seconds")) return kExitUsage;
      auto n = ParseInt(v, 1, 7 * 24 * 3600);
      if (!n) return Usage("--timeout must be a whole number of seconds");
      flags.timeout_s = static_cast<int>(*n);
    } else if (arg == "--engine") {
      if (!need("a path")) return kExitUsage;
      flags.engine = v;
    } else if (arg == "--devbroker") {
      if (!need("a path")) return kExitUsage;
      flags.devbroker = v;
    } else if (arg == "--kafka-sh") {
      if (!need("a path")) return kExitUsage;
      flags.kafka_sh = v;
    } else if (arg == "--histories") {
      if (!need("a directory")) return kExitUsage;
      flags.histories = v;
    } else if (arg == "--statutory-sharing") {
      if (!need("a file or none")) return kExitUsage;
      flags.sharing = v;
    } else if (arg == "--engine-arg") {
      if (!need("an argument")) return kExitUsage;
      flags.engine_args.push_back(v);
    } else if (arg == "-X") {
      if (!need("key=value")) return kExitUsage;
      if (auto s = flags.kafka.AddSetting(v); !s) return Usage(s.error().ToString());
      flags.x_args.push_back(v);
    } else if (arg == "--data-dir") {
      if (!need("a directory")) return kExitUsage;
      flags.data_dir = v;
    } else if (arg == "--work-dir") {
      if (!need("a directory")) return kExitUsage;
      flags.work_dir = v;
    } else if (arg == "--keep-work-dir") {
      flags.keep_work_dir = true;
    } else {
      return Usage("unknown argument '" + arg + "'");
    }
  }
  if (!flags.kafka.bootstrap_servers.empty()) {
    if (flags.broker) return Usage("give --broker or --bootstrap-servers, not both");
    flags.broker = BrokerKind::kExternal;
  }
  if (flags.recreate_topics && flags.broker != BrokerKind::kExternal) {
    return Usage("--recreate-topics is for a cluster given by --bootstrap-servers");
  }
  if (flags.mode == Mode::kCompare && flags.broker == BrokerKind::kExternal &&
      !flags.recreate_topics) {
    return Usage("--compare on a given cluster needs --recreate-topics (fresh topics per run)");
  }
  for (const auto& a : flags.engine_args) {
    if (a == "--ops-listen" || a == "--bootstrap-servers" || a == "--data-dir" ||
        a == "--group-prefix" || a == "--fixed-clock") {
      return Usage("--engine-arg " + a + " is set by pathway-loadgen itself");
    }
  }
  return std::nullopt;
}

// --raw-pipe-worker: the raw pipe as its own process, measured as the engine is.
int RawPipeWorker(int argc, char** argv) {
  bus::KafkaConfig config;
  std::string group_prefix = "loadgen-raw";
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string arg = argv[i], v = argv[i + 1];
    if (arg == "--bootstrap-servers") {
      config.bootstrap_servers = v;
    } else if (arg == "--group-prefix") {
      group_prefix = v;
    } else if (arg == "-X") {
      if (auto s = config.AddSetting(v); !s) return Usage(s.error().ToString());
    } else {
      return Usage("--raw-pipe-worker: unknown argument '" + arg + "'");
    }
  }
  if (config.bootstrap_servers.empty()) return Usage("--raw-pipe-worker needs --bootstrap-servers");
  return RunRawPipe(config, group_prefix, g_stop);
}

// The 1-minute load average (/proc/loadavg).
std::optional<double> LoadAverage() {
  const std::string text = ReadFileText("/proc/loadavg");
  if (text.empty()) return std::nullopt;
  return std::strtod(text.c_str(), nullptr);
}

std::string RunTag() {
  std::random_device device;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06x", device() & 0xFFFFFF);
  return buf;
}

int Main(int argc, char** argv) {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  if (argc >= 2 && std::string(argv[1]) == "--raw-pipe-worker") return RawPipeWorker(argc, argv);

  Flags flags;
  if (auto code = ParseFlags(argc, argv, flags)) return *code;
  log::SetLevel(log::Level::kWarn);

  std::string work_dir = flags.work_dir;
  if (work_dir.empty()) {
    auto made = MakeWorkDir();
    if (!made) {
      std::cerr << "pathway-loadgen: " << made.error().ToString() << "\n";
      return kExitFailed;
    }
    work_dir = *made;
  } else {
    std::error_code ec;
    fs::create_directories(work_dir, ec);
    if (ec) {
      std::cerr << "pathway-loadgen: cannot create " << work_dir << ": " << ec.message() << "\n";
      return kExitFailed;
    }
  }

  const std::string tag = RunTag();
  PopulationOptions options;
  options.scenario = flags.scenario;
  options.children = flags.children;
  options.seed = flags.seed;
  options.histories_dir = flags.histories;
  options.run_tag = tag;
  options.today = workflow::LondonDate(
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()));
  auto population = BuildPopulation(options);
  if (!population) {
    std::cerr << "pathway-loadgen: " << population.error().ToString() << "\n";
    return kExitFailed;
  }
  {
    std::string mix;
    for (const auto& [name, n] : population->children_per_history) {
      mix += (mix.empty() ? "" : ", ") + name + " " + std::to_string(n);
    }
    Progress(std::to_string(population->commands.size()) + " commands for " +
             std::to_string(flags.children) + " children (" + mix + "), " +
             Fixed(static_cast<double>(population->bytes) / 1e6, 1) + " MB; run " + tag +
             ", work directory " + work_dir);
  }
  if (flags.broker.value_or(BrokerKind::kMock) == BrokerKind::kMock && flags.publish_first &&
      population->bytes / static_cast<size_t>(flags.partitions) > (4u << 20)) {
    Progress("warning: about " +
             std::to_string(population->bytes / static_cast<size_t>(flags.partitions) >> 20) +
             " MB per inbound partition; the mock broker keeps about 5 MB per partition and "
             "drops older messages: use more --partitions or --broker kafka");
  }

  // The machine is shared: how busy it was says how far to trust the figures.
  const std::optional<double> load_start = LoadAverage();
  std::vector<Target> targets;
  if (flags.mode == Mode::kCompare) targets = {Target::kRawPipe, Target::kEngine};
  if (flags.mode == Mode::kRawPipe) targets = {Target::kRawPipe};
  if (flags.mode == Mode::kEngine) targets = {Target::kEngine};

  std::vector<RunResult> results;
  {
    Broker broker(flags, work_dir);
    for (size_t i = 0; i < targets.size() && !g_stop.load(); ++i) {
      Progress(std::string("run ") + std::to_string(i + 1) + "/" + std::to_string(targets.size()) +
               ": " + TargetName(targets[i]));
      Run run(flags, broker, *population, work_dir, tag, static_cast<int>(i), targets[i]);
      results.push_back(run.Go());
      if (!results.back().failure.empty()) break;
    }
    if (auto s = broker.Close(); !s) Progress("warning: " + Describe(s.error()));
  }

  const char* broker_name = flags.broker == BrokerKind::kKafka      ? "kafka"
                            : flags.broker == BrokerKind::kExternal ? "external"
                                                                    : "mock";
  const char* mode_name = flags.mode == Mode::kCompare   ? "compare"
                          : flags.mode == Mode::kRawPipe ? "raw_pipe"
                                                         : "engine";
  Json j;
  j.Str("mode", mode_name)
      .Str("scenario", flags.scenario == Scenario::kEhc ? "ehc" : "mixed")
      .Int("children", flags.children)
      .Int("seed", static_cast<long long>(flags.seed))
      .Str("broker", broker_name)
      .Int("partitions", flags.partitions)
      .Num("rate", flags.rate, 0)
      .Bool("publish_first", flags.publish_first)
      .Str("engine_clock", flags.engine_clock == EngineClock::kStream ? "stream" : "real")
      .Num("load_avg_1m_start", load_start, 2);
  const RunResult* main_run = nullptr;
  const RunResult* raw_run = nullptr;
  for (const auto& r : results) (r.target == Target::kEngine ? main_run : raw_run) = &r;
  if (flags.mode == Mode::kRawPipe) std::swap(main_run, raw_run);
  if (main_run) AddRun(j, *main_run);
  if (flags.mode == Mode::kCompare && raw_run) {
    j.Open("raw_pipe");
    AddRun(j, *raw_run);
    j.Close();
    if (main_run && main_run->failure.empty() && raw_run->commands_per_s > 0) {
      j.Num("engine_vs_raw_pipe", main_run->commands_per_s / raw_run->commands_per_s, 3);
    }
  }
  j.Num("loadgen_cpu_s", SelfUsage().cpu_s, 2).Num("load_avg_1m_end", LoadAverage(), 2);
  std::cout << j.Line() << std::endl;

  bool ok = results.size() == targets.size();
  for (const auto& r : results) {
    if (!r.failure.empty()) {
      Progress(std::string("FAILED (") + TargetName(r.target) + "): " + r.failure);
      ok = false;
      continue;
    }
    // Realistic histories are mostly accepted; most rejected means the population (its
    // dates, its identifiers) no longer fits the engine, and the figures mean nothing.
    if (r.target == Target::kEngine && r.rejected * 2 > r.commands_in) {
      std::string rules;
      for (const auto& [rule, n] : r.counts.rejection_rules) {
        rules += " " + rule + "=" + std::to_string(n);
      }
      Progress("FAILED: the engine rejected " + std::to_string(r.rejected) + " of " +
               std::to_string(r.commands_in) + " commands (rules:" + rules + ")");
      ok = false;
    }
  }
  if (!ok && g_stop.load()) Progress("interrupted");
  if (ok && !flags.keep_work_dir && flags.work_dir.empty()) {
    std::error_code ec;
    fs::remove_all(work_dir, ec);
  } else {
    Progress("kept " + work_dir + " (logs and data)");
  }
  return ok ? 0 : kExitFailed;
}

}  // namespace
}  // namespace pathway::loadgen

int main(int argc, char** argv) {
  try {
    return pathway::loadgen::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "pathway-loadgen: fatal: " << e.what() << "\n";
    return 1;
  }
}
