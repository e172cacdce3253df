#include "services/bus/memory_bus.h"

#include <algorithm>
#include <cstddef>
#include <deque>
#include <set>

#include "services/bus/key_partition.h"

namespace pathway::bus {

void MemoryBroker::CreateTopic(const std::string& topic, int32_t partitions) {
  topics_[topic].resize(static_cast<size_t>(partitions));
}

std::vector<std::vector<Message>>& MemoryBroker::Topic(const std::string& topic) {
  auto it = topics_.find(topic);
  if (it == topics_.end()) {
    it = topics_
             .emplace(topic,
                      std::vector<std::vector<Message>>(static_cast<size_t>(default_partitions_)))
             .first;
  }
  return it->second;
}

int64_t MemoryBroker::Append(const std::string& topic, int32_t partition,
                             std::optional<std::string> key, std::string value) {
  auto& log = Topic(topic).at(static_cast<size_t>(partition));
  Message m;
  m.topic = topic;
  m.partition = partition;
  m.offset = static_cast<int64_t>(log.size());
  m.key = std::move(key);
  m.value = std::move(value);
  log.push_back(std::move(m));
  return log.back().offset;
}

int64_t MemoryBroker::AppendTombstone(const std::string& topic, int32_t partition,
                                      std::string key) {
  int64_t offset = Append(topic, partition, std::move(key), "");
  Topic(topic).at(static_cast<size_t>(partition)).back().tombstone = true;
  return offset;
}

void MemoryBroker::Truncate(const std::string& topic, int32_t partition, size_t size) {
  auto& log = Topic(topic).at(static_cast<size_t>(partition));
  if (log.size() > size) log.resize(size);
  // The start never lies beyond the end.
  if (auto it = log_start_.find({topic, partition}); it != log_start_.end()) {
    it->second = std::min(it->second, static_cast<int64_t>(log.size()));
  }
}

Status MemoryBroker::DeleteRecordsBefore(const std::string& topic, int32_t partition,
                                         int64_t offset) {
  const std::string name = topic + "[" + std::to_string(partition) + "]";
  if (fail_delete_records_ > 0) {
    --fail_delete_records_;
    return Status(errc::kTransport, "injected DeleteRecords failure on " + name);
  }
  auto topic_it = topics_.find(topic);  // unlike a read, no topic is created here
  if (topic_it == topics_.end() || partition < 0 ||
      static_cast<size_t>(partition) >= topic_it->second.size()) {
    return Status(errc::kConfig, "unknown partition " + name);
  }
  auto& log = topic_it->second[static_cast<size_t>(partition)];
  if (offset < 0 || offset > static_cast<int64_t>(log.size())) {
    return Status(errc::kConfig, "cannot delete records of " + name + " below offset " +
                                     std::to_string(offset) + ": its end is " +
                                     std::to_string(log.size()));
  }
  int64_t& start = log_start_[{topic, partition}];
  for (int64_t o = start; o < offset; ++o) {
    Message& m = log[static_cast<size_t>(o)];
    m.key.reset();
    std::string().swap(m.value);  // frees the bytes, not just the size
    m.tombstone = true;
  }
  start = std::max(start, offset);
  return {};
}

int64_t MemoryBroker::LogStart(const std::string& topic, int32_t partition) const {
  auto it = log_start_.find({topic, partition});
  return it == log_start_.end() ? 0 : it->second;
}

std::vector<Message> MemoryBroker::ReadAll(const std::string& topic) const {
  std::vector<Message> out;
  auto it = topics_.find(topic);
  if (it == topics_.end()) return out;
  for (size_t p = 0; p < it->second.size(); ++p) {
    const auto& log = it->second[p];
    const auto start = static_cast<size_t>(
        std::min(LogStart(topic, static_cast<int32_t>(p)), static_cast<int64_t>(log.size())));
    out.insert(out.end(), log.begin() + static_cast<std::ptrdiff_t>(start), log.end());
  }
  return out;
}

int32_t MemoryBroker::PartitionCount(const std::string& topic) {
  return static_cast<int32_t>(Topic(topic).size());
}

int32_t MemoryBroker::PartitionFor(const std::string& topic, std::string_view key) {
  // As Kafka's producers: code that finds a key's partition (the engine's reads) is
  // then tested against the same placement it meets on a real cluster.
  return KeyPartition(key, PartitionCount(topic));
}

const std::vector<Message>& MemoryBroker::Log(const std::string& topic, int32_t partition) {
  return Topic(topic).at(static_cast<size_t>(partition));
}

bool MemoryBroker::TooLarge(const std::string& topic, size_t bytes) const {
  for (const std::string& scope : {std::string(), topic}) {
    auto it = max_message_bytes_.find(scope);
    if (it != max_message_bytes_.end() && it->second > 0 && bytes > it->second) return true;
  }
  return false;
}

bool MemoryBroker::TakeDeliveryFailure(const std::string& topic) {
  if (fail_deliveries_ == 0 || (!fail_topic_.empty() && fail_topic_ != topic)) return false;
  --fail_deliveries_;
  return true;
}

namespace {

std::string CommitKey(const std::string& group, const std::string& topic, int32_t partition) {
  return group + "/" + topic + "/" + std::to_string(partition);
}

class MemoryProducer final : public Producer {
 public:
  MemoryProducer(MemoryBroker& broker, DeliveryCallback cb, bool transactional)
      : broker_(broker), cb_(std::move(cb)), transactional_(transactional) {}

  Status Send(const Outgoing& m, uint64_t opaque) override {
    if (transactional_) {
      if (state_ != TxnState::kOpen) return Status(errc::kState, "Send outside a transaction");
      txn_messages_.push_back({std::string(m.topic), std::string(m.key), std::string(m.value),
                               m.tombstone, m.partition, opaque});
      return {};
    }
    return Append(m, opaque);
  }

  bool transactional() const override { return transactional_; }

  Status InitTransactions(std::chrono::milliseconds) override {
    if (!transactional_) return Status(errc::kState, "not a transactional producer");
    state_ = TxnState::kReady;
    return {};
  }

  Status BeginTransaction() override {
    if (state_ != TxnState::kReady) return Status(errc::kState, "BeginTransaction");
    state_ = TxnState::kOpen;
    return {};
  }

  Status SendOffsetsToTransaction(const std::vector<GroupOffset>& offsets, Consumer& group,
                                  std::chrono::milliseconds) override;

  Status CommitTransaction(std::chrono::milliseconds) override {
    if (state_ != TxnState::kOpen) return Status(errc::kState, "CommitTransaction");
    state_ = TxnState::kReady;
    for (const auto& m : txn_messages_) {
      Outgoing out{m.topic, m.key, m.value, m.tombstone, m.partition};
      (void)Append(out, m.opaque);
    }
    txn_messages_.clear();
    for (const auto& [key, offset] : txn_offsets_) {
      broker_.CommittedOffsets()[key] = offset.first;
      broker_.CommittedMetadata()[key] = offset.second;
    }
    txn_offsets_.clear();
    Report();
    return {};
  }

  Status AbortTransaction(std::chrono::milliseconds) override {
    if (state_ != TxnState::kOpen) return Status(errc::kState, "AbortTransaction");
    state_ = TxnState::kReady;
    txn_messages_.clear();
    txn_offsets_.clear();
    return {};
  }

  void Poll(std::chrono::milliseconds) override { Report(); }

  Status Flush(std::chrono::milliseconds) override {
    Report();
    return {};
  }

  size_t InFlight() const override { return pending_.size(); }

 private:
  enum class TxnState { kUninitialized, kReady, kOpen };
  struct Held {
    std::string topic, key, value;
    bool tombstone;
    int32_t partition;
    uint64_t opaque;
  };

  Status Append(const Outgoing& m, uint64_t opaque) {
    Delivery d;
    d.opaque = opaque;
    std::string t(m.topic);
    if (broker_.TakeDeliveryFailure(t)) {
      d.error = make_error_code(errc::kDelivery);
      d.error_detail = "injected delivery failure";
    } else if (broker_.TooLarge(t, m.key.size() + m.value.size())) {
      d.error = make_error_code(errc::kRejected);
      d.error_detail = t + ": Broker: Message size too large";
    } else {
      d.partition = m.partition == kPartitionByKey ? broker_.PartitionFor(t, m.key) : m.partition;
      d.offset = m.tombstone
                     ? broker_.AppendTombstone(t, d.partition, std::string(m.key))
                     : broker_.Append(t, d.partition, std::string(m.key), std::string(m.value));
    }
    pending_.push_back(std::move(d));
    return {};
  }

  void Report() {
    if (broker_.holding_reports()) return;
    // Callbacks may Produce again; report only what was pending on entry.
    std::deque<Delivery> ready;
    ready.swap(pending_);
    for (const auto& d : ready) {
      if (cb_) cb_(d);
    }
  }

  MemoryBroker& broker_;
  DeliveryCallback cb_;
  const bool transactional_;
  TxnState state_ = TxnState::kUninitialized;
  std::vector<Held> txn_messages_;
  // "group/topic/partition" -> offset and metadata, committed with the transaction.
  std::map<std::string, std::pair<int64_t, std::string>> txn_offsets_;
  std::deque<Delivery> pending_;
};

class MemoryConsumer final : public Consumer {
 public:
  MemoryConsumer(MemoryBroker& broker, std::string group)
      : broker_(broker), group_(std::move(group)) {}

  Status Subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) override {
    std::vector<TopicPartition> parts;
    for (const auto& t : topics) {
      for (int32_t p = 0; p < broker_.PartitionCount(t); ++p)
        parts.push_back({t, p, kOffsetCommitted});
    }
    if (listener) listener->OnAssign(parts);
    return Assign(parts);
  }

  Status Assign(const std::vector<TopicPartition>& partitions) override {
    positions_.clear();
    for (const auto& tp : partitions) {
      int64_t start = tp.offset;
      if (start == kOffsetCommitted) {
        auto it = broker_.CommittedOffsets().find(CommitKey(tp.topic, tp.partition));
        start = it == broker_.CommittedOffsets().end() ? 0 : it->second;
      } else if (start == kOffsetBeginning) {
        start = broker_.LogStart(tp.topic, tp.partition);
      } else if (start == kOffsetEnd) {
        start = static_cast<int64_t>(broker_.Log(tp.topic, tp.partition).size());
      }
      positions_[{tp.topic, tp.partition}] = start;
    }
    assigned_ = true;
    return {};
  }

  Result<std::optional<Message>> Poll(std::chrono::milliseconds) override {
    if (!assigned_) return Error{make_error_code(errc::kState), "poll before subscribe/assign"};
    // Round-robin over partitions so one busy partition cannot starve the others.
    size_t n = positions_.size();
    for (size_t i = 0; i < n; ++i) {
      auto it = positions_.begin();
      std::advance(it, static_cast<long>((next_ + i) % n));
      const auto& log = broker_.Log(it->first.first, it->first.second);
      // Below the log start (deleted records) or beyond the end (a truncated or
      // recreated topic): out of range, so continue from the start, as a Kafka consumer
      // with auto.offset.reset=earliest does.
      const int64_t log_start = broker_.LogStart(it->first.first, it->first.second);
      if (it->second < log_start || it->second > static_cast<int64_t>(log.size())) {
        it->second = log_start;
      }
      if (it->second < static_cast<int64_t>(log.size())) {
        next_ = (next_ + i + 1) % n;
        return std::optional<Message>(log[static_cast<size_t>(it->second++)]);
      }
    }
    return std::optional<Message>();
  }

  Status Commit(const std::vector<TopicPartition>& next_offsets) override {
    for (const auto& tp : next_offsets) {
      broker_.CommittedOffsets()[CommitKey(tp.topic, tp.partition)] = tp.offset;
      broker_.CommittedMetadata().erase(CommitKey(tp.topic, tp.partition));
    }
    return {};
  }

  Result<std::vector<GroupOffset>> Committed(const std::vector<TopicPartition>& partitions,
                                             std::chrono::milliseconds) override {
    std::vector<GroupOffset> out;
    for (const auto& tp : partitions) {
      GroupOffset c{tp.topic, tp.partition, -1, {}};
      std::string key = CommitKey(tp.topic, tp.partition);
      if (auto it = broker_.CommittedOffsets().find(key); it != broker_.CommittedOffsets().end()) {
        c.offset = it->second;
        c.metadata = broker_.CommittedMetadata()[key];
      }
      out.push_back(std::move(c));
    }
    return out;
  }

  const std::string& group() const { return group_; }

  std::vector<TopicPartition> Positions() override {
    std::vector<TopicPartition> out;
    for (const auto& [tp, position] : positions_) {
      out.push_back(
          {tp.first, tp.second, std::max(position, broker_.LogStart(tp.first, tp.second))});
    }
    return out;
  }

  int64_t Lag() override {
    int64_t lag = 0;
    for (const auto& [tp, position] : positions_) {
      lag += static_cast<int64_t>(broker_.Log(tp.first, tp.second).size()) -
             std::max(position, broker_.LogStart(tp.first, tp.second));
    }
    return lag;
  }

  Result<int64_t> EndOffset(const std::string& topic, int32_t partition,
                            std::chrono::milliseconds) override {
    if (partition < 0 || partition >= broker_.PartitionCount(topic)) {
      return Error{errc::kConfig, topic + "[" + std::to_string(partition) + "]: no such partition"};
    }
    return static_cast<int64_t>(broker_.Log(topic, partition).size());
  }

  Result<int64_t> StartOffset(const std::string& topic, int32_t partition,
                              std::chrono::milliseconds) override {
    if (partition < 0 || partition >= broker_.PartitionCount(topic)) {
      return Error{errc::kConfig, topic + "[" + std::to_string(partition) + "]: no such partition"};
    }
    return broker_.LogStart(topic, partition);
  }

  Result<std::vector<int32_t>> Partitions(const std::string& topic,
                                          std::chrono::milliseconds) override {
    std::vector<int32_t> out;
    for (int32_t p = 0; p < broker_.PartitionCount(topic); ++p) out.push_back(p);
    return out;
  }

  Status DeleteRecordsBefore(const std::vector<TopicPartition>& before,
                             std::chrono::milliseconds) override {
    for (const auto& tp : before) {
      if (Status s = broker_.DeleteRecordsBefore(tp.topic, tp.partition, tp.offset); !s) return s;
    }
    return {};
  }

  void Close() override { assigned_ = false; }

 private:
  std::string CommitKey(const std::string& topic, int32_t partition) const {
    return pathway::bus::CommitKey(group_, topic, partition);
  }

  MemoryBroker& broker_;
  std::string group_;
  std::map<std::pair<std::string, int32_t>, int64_t> positions_;
  size_t next_ = 0;
  bool assigned_ = false;
};

Status MemoryProducer::SendOffsetsToTransaction(const std::vector<GroupOffset>& offsets,
                                                Consumer& group, std::chrono::milliseconds) {
  if (state_ != TxnState::kOpen) return Status(errc::kState, "SendOffsetsToTransaction");
  auto* consumer = dynamic_cast<MemoryConsumer*>(&group);
  if (consumer == nullptr) return Status(errc::kConfig, "not a memory consumer");
  for (const auto& tp : offsets) {
    txn_offsets_[CommitKey(consumer->group(), tp.topic, tp.partition)] = {tp.offset, tp.metadata};
  }
  return {};
}

}  // namespace

std::unique_ptr<Producer> NewMemoryProducer(MemoryBroker& broker, DeliveryCallback on_delivery) {
  return std::make_unique<MemoryProducer>(broker, std::move(on_delivery), false);
}

std::unique_ptr<Producer> NewMemoryTransactionalProducer(MemoryBroker& broker,
                                                         DeliveryCallback on_delivery) {
  return std::make_unique<MemoryProducer>(broker, std::move(on_delivery), true);
}

std::unique_ptr<Consumer> NewMemoryConsumer(MemoryBroker& broker, std::string group_id) {
  return std::make_unique<MemoryConsumer>(broker, std::move(group_id));
}

}  // namespace pathway::bus
