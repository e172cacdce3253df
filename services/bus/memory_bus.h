// The in-memory event bus for unit tests: topics with partitions held in memory,
// deterministic and instantaneous. One MemoryBroker can serve several producers
// and consumers. Not thread-safe: use from one thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/bus/event_bus.h"

namespace pathway::bus {

class MemoryBroker {
 public:
  explicit MemoryBroker(int32_t default_partitions = 4) : default_partitions_(default_partitions) {}

  void CreateTopic(const std::string& topic, int32_t partitions);
  // Appends directly (as another system would publish). Returns the offset.
  int64_t Append(const std::string& topic, int32_t partition, std::optional<std::string> key,
                 std::string value);
  // Fault injection: keeps only the first `size` messages of a partition, as if the
  // rest had never been delivered (a producer that died mid-stream).
  void Truncate(const std::string& topic, int32_t partition, size_t size);
  // Appends a null value (a tombstone). Returns the offset.
  int64_t AppendTombstone(const std::string& topic, int32_t partition, std::string key);
  // Kafka's DeleteRecords: the partition's log start offset moves up to `offset` and
  // the records below it lose their key and value (see Log). kConfig naming
  // topic[partition] if `offset` is negative or beyond the partition's end (its size)
  // or the partition does not exist; an offset at or below the start changes nothing.
  Status DeleteRecordsBefore(const std::string& topic, int32_t partition, int64_t offset);
  // The partition's log start offset: the first offset not deleted (0 until
  // DeleteRecordsBefore moves it).
  int64_t LogStart(const std::string& topic, int32_t partition) const;
  // Every message of `topic` at or above its partition's log start, partition by
  // partition.
  std::vector<Message> ReadAll(const std::string& topic) const;
  int32_t PartitionCount(const std::string& topic);
  int32_t PartitionFor(const std::string& topic, std::string_view key);
  // The partition's log indexed by offset (so size() is the end offset), deleted
  // records included: those below LogStart() have no key and a null value (tombstone
  // set, value empty) and are never returned by ReadAll or a consumer.
  const std::vector<Message>& Log(const std::string& topic, int32_t partition);
  std::map<std::string, int64_t>& CommittedOffsets() { return committed_; }
  // "group/topic/partition" -> the metadata committed with the offset.
  std::map<std::string, std::string>& CommittedMetadata() { return committed_metadata_; }

  // Fault injection: the next `n` Produce calls to `topic` (any topic if empty) are
  // not appended and report kDelivery.
  void FailNextDeliveries(int n, std::string topic = "") {
    fail_deliveries_ = n;
    fail_topic_ = std::move(topic);
  }
  bool TakeDeliveryFailure(const std::string& topic);
  // As a broker's message.max.bytes (or a topic's max.message.bytes, with `topic`): a
  // message whose key and value together are larger is not appended and its delivery
  // reports kRejected. 0: no limit.
  void SetMaxMessageBytes(size_t bytes, const std::string& topic = "") {
    max_message_bytes_[topic] = bytes;
  }
  // Whether a message of `bytes` (key and value) to `topic` is over a limit.
  bool TooLarge(const std::string& topic, size_t bytes) const;
  // Fault injection: the next `n` DeleteRecordsBefore calls (per partition) fail with
  // kTransport, as a broker without DeleteRecords (the development broker) does.
  void FailNextDeleteRecords(int n) { fail_delete_records_ = n; }
  // Fault injection: while held, messages are appended but their delivery reports
  // are withheld (as if the process died before it heard back from the broker).
  void HoldDeliveryReports(bool hold) { hold_reports_ = hold; }
  bool holding_reports() const { return hold_reports_; }

 private:
  std::vector<std::vector<Message>>& Topic(const std::string& topic);

  int32_t default_partitions_;
  std::map<std::string, std::vector<std::vector<Message>>> topics_;
  // (topic, partition) -> log start offset, where DeleteRecordsBefore moved it above 0.
  std::map<std::pair<std::string, int32_t>, int64_t> log_start_;
  std::map<std::string, int64_t> committed_;  // "group/topic/partition" -> next offset
  std::map<std::string, std::string> committed_metadata_;
  std::map<std::string, size_t> max_message_bytes_;  // topic ("" for all) -> limit
  int fail_deliveries_ = 0;
  int fail_delete_records_ = 0;
  std::string fail_topic_;
  bool hold_reports_ = false;
};

// Messages are appended at Produce; deliveries are reported at the next Poll/Flush.
std::unique_ptr<Producer> NewMemoryProducer(MemoryBroker& broker, DeliveryCallback on_delivery);
// A transactional producer: what is sent in a transaction is appended, offsets are
// committed and deliveries are reported at CommitTransaction, all at once; an aborted
// transaction leaves no trace. (So consumers of the memory broker read as
// read_committed ones do.) No fencing: one instance per transactional id.
std::unique_ptr<Producer> NewMemoryTransactionalProducer(MemoryBroker& broker,
                                                         DeliveryCallback on_delivery);
// Subscribe assigns every partition of the topics at once (a group of one member).
std::unique_ptr<Consumer> NewMemoryConsumer(MemoryBroker& broker, std::string group_id);

}  // namespace pathway::bus
