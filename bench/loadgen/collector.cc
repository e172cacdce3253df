#include "bench/loadgen/collector.h"

#include "pathway/v1/envelope.pb.h"
#include "services/topics.h"

namespace pathway::loadgen {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kMetadataTimeout{15000};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<Collector>> Collector::Start(const bus::KafkaConfig& config,
                                                    const std::vector<std::string>& event_ids) {
  std::unique_ptr<Collector> c(new Collector());
  c->index_.reserve(event_ids.size());
  for (size_t i = 0; i < event_ids.size(); ++i) {
    c->index_.emplace(event_ids[i], static_cast<uint32_t>(i));
  }
  c->outcomes_.assign(event_ids.size(), Outcome::kNone);
  c->seen_ns_.assign(event_ids.size(), 0);
  // The instrument should add little to what it measures: an idle fetch returns after
  // at most 20 ms instead of librdkafka's 500 ms (a real broker answers a waiting fetch
  // as soon as data arrives; librdkafka's mock broker always waits the whole time).
  bus::KafkaConfig reader = config;
  reader.settings.try_emplace("fetch.wait.max.ms", "20");
  auto consumer = bus::NewKafkaConsumer(reader, "");
  if (!consumer) return consumer.error();
  c->consumer_ = std::move(*consumer);
  std::vector<bus::TopicPartition> assignment;
  for (std::string_view topic :
       {topics::kEvents, topics::kRejections, topics::kDeadLetter, topics::kAudit}) {
    auto partitions = c->consumer_->Partitions(std::string(topic), kMetadataTimeout);
    if (!partitions) return partitions.error();
    for (int32_t p : *partitions) {
      assignment.push_back({std::string(topic), p, bus::kOffsetBeginning});
    }
  }
  if (auto s = c->consumer_->Assign(assignment); !s) return s.error();
  c->thread_ = std::thread([raw = c.get()] { raw->Run(); });
  return c;
}

Collector::~Collector() { Stop(); }

void Collector::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (consumer_) consumer_->Close();
}

SteadyClock::time_point Collector::last_output() const {
  return SteadyClock::time_point(std::chrono::nanoseconds(last_output_ns_.load()));
}

void Collector::Run() {
  // Until Stop(): each Poll waits at most 100 ms.
  while (!stop_.load()) {
    auto polled = consumer_->Poll(milliseconds(100));
    if (!polled) {
      failure_ = polled.error().ToString();
      failed_.store(true);
      return;
    }
    if (polled->has_value()) Note(**polled);
  }
}

void Collector::Note(const bus::Message& m) {
  const int64_t now = NowNs();
  last_output_ns_.store(now);
  const bool rejection = m.topic == topics::kRejections;
  if (m.topic == topics::kEvents) ++counts_.events;
  if (m.topic == topics::kAudit) ++counts_.audit;
  if (rejection) ++counts_.rejections;
  if (m.topic == topics::kDeadLetter) {
    ++counts_.dead_letters;
    return;
  }
  pathway::v1::Envelope e;
  if (!e.ParseFromString(m.value)) {
    ++counts_.undecodable;
    return;
  }
  if (e.causation_id() == "timer") {
    ++counts_.timer_events;
    return;
  }
  const std::string& id = rejection && e.has_command_rejected()
                              ? e.command_rejected().rejected_event_id()
                          : e.correlation_id().empty() ? e.event_id()
                                                       : e.correlation_id();
  auto it = index_.find(id);
  if (it == index_.end()) {
    ++counts_.unknown;
    return;
  }
  const uint32_t i = it->second;
  if (outcomes_[i] != Outcome::kNone) return;
  if (rejection) ++counts_.rejection_rules[e.command_rejected().rule()];
  outcomes_[i] = rejection ? Outcome::kRejected : Outcome::kAccepted;
  seen_ns_[i] = now;
  resolved_.fetch_add(1);
}

}  // namespace pathway::loadgen
