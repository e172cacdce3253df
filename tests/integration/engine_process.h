// A harness for process-level guarantee tests: pathway-engine as a black-box process
// (started, SIGKILLed, restarted, SIGTERMed) against a Kafka cluster (librdkafka's mock
// in-process, or the real Apache Kafka named by PATHWAY_TEST_KAFKA_BOOTSTRAP), with
// the input stream, the "done" detection and the comparison with a crash-free
// reference run that crash_test, broker_fault_test and rebalance_test share.
//
// Everything waits against a deadline; nothing sleeps for correctness (short poll
// intervals inside bounded loops only).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "pathway/v1/envelope.pb.h"
#include "services/devbroker/mock_cluster.h"

namespace pathway::testing {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline constexpr const char* kFixedClock = "2026-01-05T09:00:00Z";
inline constexpr int kTestPartitions = 4;  // as the other integration tests

// The pathway-engine binary: $PATHWAY_TEST_ENGINE if set, else the one CMake built.
std::string EngineBinary();

// ---------------------------------------------------------------------------------
// A scratch directory: removed when the test passed, kept (and named) when it failed
// or PATHWAY_TEST_KEEP_DIRS is set, so that the engine logs can be read.
class WorkDir {
 public:
  explicit WorkDir(const std::string& name);
  ~WorkDir();
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes a subject key file (64 hex digits, as engine::SubjectKeyer reads) derived from
// `seed`, and beside it the key-encryption key (KekFile): every run of one test uses
// the same keys, so subject keys match and every instance unwraps every data key.
std::string WriteKeyFile(const std::string& path, uint64_t seed);
inline std::string KekFile(const std::string& key_file) { return key_file + ".kek"; }
// The key-encryption key written beside `key_file` (32 raw bytes), to read the stores.
std::string ReadKek(const std::string& key_file);

// ---------------------------------------------------------------------------------
// Input: a deterministic stream of inbound messages.

struct InboundMessage {
  int32_t partition = 0;
  std::string key;
  std::string value;  // usually a serialized Envelope; sometimes undecodable bytes
};

struct InboundStream {
  std::vector<InboundMessage> messages;
  size_t families = 0;     // replayed histories (each with its own children)
  size_t children = 0;     // distinct valid NHS numbers
  size_t commands = 0;     // well-formed commands from the histories
  size_t invalid = 0;      // commands made to be rejected
  size_t undecodable = 0;  // dead letters: bytes that are no Envelope, unknown payloads
  size_t duplicates = 0;   // exact re-publications of an earlier message
  std::string Summary() const;
};

// At least `min_messages` messages on `partitions` inbound partitions. Histories from
// tests/workflow/histories replayed per family with fresh valid NHS numbers; every
// message of a family goes to one partition (so its order is kept end to end). Step
// dates are moved to the fixed clock's day so that no deadline is due while the
// stream is processed (a due timer fires at whatever Step it meets, which would make
// two runs differ). Same seed, same bytes.
//
// `mix` leaves out the commands made to be rejected and the undecodable bytes (a stream
// of the histories' commands and partner retries only). With the default mix the same
// seed gives the same bytes as before `mix` existed.
struct StreamMix {
  bool invalid = true;      // commands made to be rejected
  bool undecodable = true;  // dead letters
};
InboundStream GenerateInboundStream(uint64_t seed, size_t min_messages, int partitions,
                                    StreamMix mix = {});

// Moves the dates of a command (all but dates of birth) to the fixed clock's day
// (kFixedClock), keeping how far a date lay after the day the command occurred (a future
// date stays as far in the future). Deadlines then fall due after the fixed day: no
// timer fires mid-stream. For commands a test adds to a generated stream.
void MoveDatesToFixedDay(pathway::v1::Envelope& e);

// ---------------------------------------------------------------------------------
// The cluster.

class TestCluster {
 public:
  // A fresh in-process mock cluster with every pathway topic (kTestPartitions each).
  static std::unique_ptr<TestCluster> Mock(int brokers);
  // The real cluster of PATHWAY_TEST_KAFKA_BOOTSTRAP with every pathway topic deleted
  // and created anew (replication factor min(3, brokers), min.insync.replicas 2 when
  // 3). The destructor leaves them deleted and created anew again, empty, for the next
  // test on the cluster.
  static std::unique_ptr<TestCluster> Real();
  // Real() if PATHWAY_TEST_KAFKA_BOOTSTRAP is set, else Mock(mock_brokers).
  static std::unique_ptr<TestCluster> FromEnvironment(int mock_brokers);
  static bool RealRequested();

  ~TestCluster();
  const std::string& bootstrap() const { return bootstrap_; }
  bool is_real() const { return mock_ == nullptr; }
  devbroker::MockCluster* mock() { return mock_.get(); }
  int brokers() const { return brokers_; }

 private:
  TestCluster() = default;
  std::string bootstrap_;
  std::unique_ptr<devbroker::MockCluster> mock_;
  int brokers_ = 1;
};

// Deletes every pathway topic (topics::kAll) and creates it anew, waiting until every
// partition has a leader. Throws on failure.
void RecreatePathwayTopics(const std::string& bootstrap, int partitions);
// The same for the pathway topics named (e.g. a changelog lost, for a restore test).
void RecreateTopics(const std::string& bootstrap, const std::vector<std::string>& names,
                    int partitions);

// Publishes `stream` in order, each message to its partition, with an idempotent
// producer; waits for every delivery. Throws on failure.
void Publish(const std::string& bootstrap, const InboundStream& stream);
void Publish(const std::string& bootstrap, const std::vector<InboundMessage>& messages);

// The stream in `chunks` parts, each with the next share of every partition's messages:
// published one after another they give each partition the same order (and offsets).
std::vector<std::vector<InboundMessage>> SplitStream(const InboundStream& stream, size_t chunks);

// ---------------------------------------------------------------------------------
// Offsets: high watermarks and committed group offsets, straight from librdkafka.

class KafkaProbe {
 public:
  explicit KafkaProbe(std::string bootstrap);
  ~KafkaProbe();
  KafkaProbe(const KafkaProbe&) = delete;
  KafkaProbe& operator=(const KafkaProbe&) = delete;

  // Per partition; nullopt if the cluster did not answer in time.
  std::optional<std::vector<int64_t>> HighWatermarks(const std::string& topic);
  // Per partition, -1 where the group has committed nothing; nullopt if no answer.
  std::optional<std::vector<int64_t>> Committed(const std::string& group, const std::string& topic);
  // Sum of the high watermarks of `topics` (nullopt if any did not answer).
  std::optional<int64_t> Total(const std::vector<std::string>& topics);

 private:
  struct Handle;
  Handle* Group(const std::string& group);
  std::string bootstrap_;
  std::map<std::string, std::unique_ptr<Handle>> handles_;  // "" = no group
  std::map<std::string, int> partitions_;                   // topic -> partition count
};

// ---------------------------------------------------------------------------------
// The engine process.

struct EngineConfig {
  std::string bootstrap;
  std::string data_dir;
  std::string key_file;
  std::string group_prefix;
  std::string log_file;                      // stdout and stderr, appended
  std::map<std::string, std::string> kafka;  // -X key=value (session timeout...)
  std::vector<std::string> extra_args;       // e.g. --log-level warn
};

class EngineProcess {
 public:
  explicit EngineProcess(EngineConfig config);
  ~EngineProcess();  // SIGKILL if still running
  EngineProcess(const EngineProcess&) = delete;
  EngineProcess& operator=(const EngineProcess&) = delete;

  // Starts a new process (the previous one must have ended). Throws on failure.
  void Start();
  // Whether the process runs; reaps it (and records its status) if it ended.
  bool Running();
  // Exit code of the last process, 128+signal if a signal ended it; nullopt if it runs
  // or never ran.
  std::optional<int> last_status() const { return last_status_; }
  // SIGKILL and reap (bounded).
  void Kill();
  // SIGTERM, then wait up to `timeout` for it to end; nullopt if it did not (it is
  // SIGKILLed then). The exit status otherwise.
  std::optional<int> Terminate(milliseconds timeout);
  // Sends SIGTERM without waiting.
  void SignalTerm();
  // What a supervisor does: if the process that Start() began has ended by itself (not
  // by Kill, Terminate or SignalTerm), note its exit status and start it again. Returns
  // whether it did.
  bool RestartIfExited();
  // Exit statuses of the processes that ended by themselves.
  const std::vector<int>& own_exits() const { return own_exits_; }
  // Waits up to `timeout` for the process to end; its status, or nullopt.
  std::optional<int> WaitExit(milliseconds timeout);

  pid_t pid() const { return pid_; }
  int starts() const { return starts_; }
  const EngineConfig& config() const { return config_; }
  // The log file's content (every start so far).
  std::string Log() const;
  // The last `lines` lines of the log.
  std::string LogTail(size_t lines = 40) const;

 private:
  EngineConfig config_;
  pid_t pid_ = -1;
  int starts_ = 0;
  bool meant_to_run_ = false;
  std::optional<int> last_status_;
  std::vector<int> own_exits_;
};

// Default -X settings for the engine against this cluster (short group timings).
std::map<std::string, std::string> EngineKafkaSettings(const TestCluster& cluster);

// The engine `name` of a test on `cluster`: data in <dir>/<name>-data, log in
// <dir>/<name>-engine.log, consumer groups under `group_prefix`.
EngineConfig NamedEngineConfig(const TestCluster& cluster, const WorkDir& dir,
                               const std::string& name, const std::string& key_file,
                               const std::string& group_prefix);

// ---------------------------------------------------------------------------------
// Progress and completion.

// Sum of the high watermarks of pathway.commands.v1 and the three output topics.
std::optional<int64_t> Progress(KafkaProbe& probe);

// Waits until Progress() reaches `target`, calling `tick` between polls. False on
// deadline.
bool WaitForProgress(KafkaProbe& probe, int64_t target, milliseconds timeout,
                     const std::function<void()>& tick);

// Whether `<group_prefix>.intake` has committed every inbound message and, after
// that, `<group_prefix>.commands` every command.
bool CaughtUp(KafkaProbe& probe, const std::string& group_prefix, std::string* detail);

// Waits until CaughtUp, calling `tick` between polls (e.g. to restart an engine that
// exited, or to inject faults). False on deadline; `detail` says where it stood.
bool WaitUntilCaughtUp(KafkaProbe& probe, const std::string& group_prefix, milliseconds timeout,
                       const std::function<void()>& tick, std::string* detail);

// ---------------------------------------------------------------------------------
// What a run produced.

struct OutputCopy {
  std::string topic;
  std::string key;
  std::string value;
  // `value` with each sealed personal field replaced by a fixed marker: runs seal
  // under different random data keys and nonces, so only this compares across runs
  // (copies within one run must match byte for byte).
  std::string comparable;
};

struct RunOutcome {
  // Distinct event ids on events/rejections/deadletter -> the first copy seen.
  std::map<std::string, OutputCopy> outputs;
  size_t wire_messages = 0;        // every copy on the three topics
  size_t wire_duplicates = 0;      // copies beyond the first of an id
  size_t inconsistent_copies = 0;  // copies of one id with other bytes, key or topic
  std::vector<std::string> inconsistent_examples;
  std::map<std::string, std::string> state;  // DumpCaseState
  size_t outbox_left = 0;
  int64_t progress = 0;  // Progress() at the end: how much the run wrote in all

  size_t Count(const std::string& topic) const;
};

// Reads the three output topics to their high watermarks (the engine has stopped).
void ReadOutputs(const std::string& bootstrap, RunOutcome& outcome, milliseconds timeout);

// The crash-free reference: a fresh mock cluster, the stream, one engine process run to
// completion and stopped with SIGTERM.
RunOutcome ReferenceRun(const InboundStream& stream, const std::string& key_file,
                        const WorkDir& dir);
// The same in stages: each stage published once the engine has finished the one before
// and stopped with SIGTERM (its outbox drained), then started again on its data. Stops
// with SIGTERM change no output id (docs/guarantees.md), so this is the crash-free run
// of all stages in order; `progress` (if given) gets Progress() after each stage: what
// a run of the same stages has written once it has finished that stage.
RunOutcome ReferenceRun(const std::vector<std::vector<InboundMessage>>& stages,
                        const std::string& key_file, const WorkDir& dir,
                        std::vector<int64_t>* progress);

// Checks that `actual` equals `reference`: the same distinct output ids with the same
// bytes, the same case state and history for every subject, exactly one transition per
// accepted inbound event, a drained outbox. gtest failures name what differs.
void ExpectSameOutcome(const RunOutcome& reference, const RunOutcome& actual);

// Checks on the reference itself: every inbound command answered (events or a
// rejection), every undecodable message dead-lettered, no deadline timer fired (the
// stream is built so that none is due), one transition per accepted event.
void ExpectSoundReference(const InboundStream& stream, const RunOutcome& reference);

// Per subject history checks: event ids unique, the events caused by one inbound event
// recorded in one contiguous run. Adds a gtest failure per violation (up to a few).
void ExpectOneTransitionPerEvent(const RunOutcome& outcome, const std::string& label);

// "event=<name>" lines of a log with their key=value fields.
std::vector<std::map<std::string, std::string>> LogEvents(const std::string& log,
                                                          const std::string& event);

// A number from the environment, or `fallback`.
uint64_t EnvNumber(const char* name, uint64_t fallback);

// Milliseconds, for reports.
inline int64_t Ms(Clock::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

// A unique group prefix for one run ("<name>-<pid>-<time>").
std::string UniqueGroupPrefix(const std::string& name);

}  // namespace pathway::testing
