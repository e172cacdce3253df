#include "bench/loadgen/raw_pipe.h"

#include <cstdio>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "common/crypto.h"
#include "common/log.h"
#include "services/topics.h"

namespace pathway::loadgen {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kPollTimeout{100};  // as pathway-engine's Step
constexpr milliseconds kFlushTimeout{30000};
constexpr std::string_view kKeySecret = "pathway-loadgen raw pipe";

class AssignmentSeen final : public bus::RebalanceListener {
 public:
  void OnAssign(std::vector<bus::TopicPartition>& partitions) override {
    if (!partitions.empty()) assigned = true;
  }
  void OnRevoke(const std::vector<bus::TopicPartition>& /*partitions*/) override {}
  bool assigned = false;
};

struct Deliveries {
  size_t failed = 0;
  std::string first_failure;
};

// One hop: a batch from `in`, each message produced to `out_topic` under the key
// `key_of` gives it, then flush and commit. The number of messages moved.
Result<size_t> Hop(bus::Consumer& in, bus::Producer& producer, std::string_view out_topic,
                   const std::string& in_topic, Deliveries& deliveries,
                   std::string (*key_of)(const bus::Message&)) {
  std::map<int32_t, int64_t> next_offsets;
  size_t moved = 0;
  for (size_t i = 0; i < kRawPipeBatch; ++i) {
    auto polled = in.Poll(i == 0 ? kPollTimeout : milliseconds(0));
    if (!polled) return polled.error();
    if (!polled->has_value()) break;
    const bus::Message& m = **polled;
    const std::string key = key_of(m);
    Status sent;
    // Bounded retry on a full local queue, as the engine's intake.
    for (int attempt = 0; attempt < 100; ++attempt) {
      sent = producer.Produce(out_topic, key, m.value, 0);
      if (sent || sent.error().code != make_error_code(bus::errc::kQueueFull)) break;
      producer.Poll(milliseconds(100));
    }
    if (!sent) return sent.error();
    next_offsets[m.partition] = m.offset + 1;
    ++moved;
  }
  if (next_offsets.empty()) return moved;
  if (auto s = producer.Flush(kFlushTimeout); !s) return s.error();
  if (deliveries.failed > 0) {
    return Error{make_error_code(bus::errc::kDelivery), deliveries.first_failure};
  }
  std::vector<bus::TopicPartition> commit;
  for (const auto& [partition, offset] : next_offsets)
    commit.push_back({in_topic, partition, offset});
  if (auto s = in.Commit(commit); !s) {
    log::Warn("raw_pipe.commit_failed", {{"error", s.error().ToString()}});
  }
  return moved;
}

// The repartition: a key per inbound key (a child's bucket), 64 hex digits like the
// engine's subject key, from a keyed hash as the engine's.
std::string RepartitionKey(const bus::Message& m) {
  return HexEncode(HmacSha256(kKeySecret, m.key.value_or(std::string())));
}
std::string SameKey(const bus::Message& m) { return m.key.value_or(std::string()); }

}  // namespace

int RunRawPipe(const bus::KafkaConfig& config, const std::string& group_prefix,
               const std::atomic<bool>& stop) {
  Deliveries deliveries;
  auto producer = bus::NewKafkaProducer(config, [&deliveries](const bus::Delivery& d) {
    if (d.error && deliveries.failed++ == 0) deliveries.first_failure = d.error_detail;
  });
  auto intake = bus::NewKafkaConsumer(config, group_prefix + ".intake");
  auto commands = bus::NewKafkaConsumer(config, group_prefix + ".commands");
  if (!producer || !intake || !commands) {
    const Error& e = !producer ? producer.error() : !intake ? intake.error() : commands.error();
    log::Error("raw_pipe.kafka_failed", {{"error", e.ToString()}});
    return 1;
  }
  AssignmentSeen intake_assigned, commands_assigned;
  const std::string inbound(topics::kInbound), commands_topic(topics::kCommands);
  if (auto s = (*intake)->Subscribe({inbound}, &intake_assigned); !s) {
    log::Error("raw_pipe.subscribe_failed", {{"error", s.error().ToString()}});
    return 1;
  }
  if (auto s = (*commands)->Subscribe({commands_topic}, &commands_assigned); !s) {
    log::Error("raw_pipe.subscribe_failed", {{"error", s.error().ToString()}});
    return 1;
  }
  bool announced = false;
  size_t moved = 0;
  int rc = 0;
  // Until SIGTERM: each round is bounded (two batches of at most 256).
  while (!stop.load()) {
    auto first = Hop(**intake, **producer, topics::kCommands, inbound, deliveries, RepartitionKey);
    auto second =
        first ? Hop(**commands, **producer, topics::kEvents, commands_topic, deliveries, SameKey)
              : first;
    if (!first || !second) {
      log::Error("raw_pipe.step_failed",
                 {{"error", (!first ? first.error() : second.error()).ToString()}});
      rc = 1;
      break;
    }
    moved += *second;
    if (!announced && intake_assigned.assigned && commands_assigned.assigned) {
      announced = true;
      std::printf("ready\n");
      std::fflush(stdout);
    }
  }
  (*intake)->Close();
  (*commands)->Close();
  log::Info("raw_pipe.stopped", {{"events", std::to_string(moved)}});
  return rc;
}

}  // namespace pathway::loadgen
