// The event-bus interface: everything pathway needs from Kafka, and nothing more.
//
// Two implementations: Kafka (kafka_bus.h, librdkafka; the same code talks to the
// embedded mock broker and to a real cluster) and in-memory (memory_bus.h, for unit
// tests). Services depend only on this header.
//
// Threading: a Producer or Consumer is used from one thread at a time. Delivery
// callbacks run on the thread that calls Producer::Poll or Producer::Flush.
// Every blocking call takes a timeout and returns when it expires.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/result.h"

namespace pathway::bus {

enum class errc {
  kOk = 0,
  kConfig = 1,     // a setting or an argument was rejected
  kTimeout = 2,    // a bounded call ran out of time
  kTransport = 3,  // the broker or network failed
  kDelivery = 4,   // a message could not be delivered
  kQueueFull = 5,  // the producer's local queue is full; Poll and retry
  kState = 6,      // called in the wrong state (e.g. Poll before Subscribe/Assign)
  // Transactions: the open transaction failed and must be aborted; nothing of it is
  // visible to read_committed consumers.
  kTxnAbortable = 7,
  // Transactions: this producer was fenced (a newer producer with its transactional
  // id, or a consumer group that moved on without it) or failed fatally. It cannot be
  // used again: the process should exit and start afresh.
  kFenced = 8,
  // The broker or the client refused this one message for good (too large, an invalid
  // record): sending it again cannot succeed. Send returns it for a message the
  // client refuses locally, a Delivery carries it for one the broker refused.
  kRejected = 9,
};
const std::error_category& bus_category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), bus_category()}; }

// Special offsets, with Kafka's meanings.
inline constexpr int64_t kOffsetBeginning = -2;
inline constexpr int64_t kOffsetEnd = -1;
inline constexpr int64_t kOffsetCommitted = -1000;  // the group's committed offset

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = kOffsetCommitted;  // where to start (Assign) or the next offset (Commit)
};

// A consumer group's committed position in a partition, with the metadata string that
// Kafka keeps beside it (SendOffsetsToTransaction writes it, Committed reads it).
struct GroupOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;  // the next offset; < 0 where the group has committed nothing
  std::string metadata;
};

struct Message {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;  // absent for a null key
  std::string value;               // empty for a tombstone
  bool tombstone = false;          // a null value (deletes the key from a compacted topic)
  int64_t timestamp_ms = 0;
};

// The outcome of one Produce call, reported once.
struct Delivery {
  uint64_t opaque = 0;    // the value given to Produce
  std::error_code error;  // empty on success
  std::string error_detail;
  int32_t partition = -1;
  int64_t offset = -1;
};
using DeliveryCallback = std::function<void(const Delivery&)>;

// One message to produce. Views: the producer copies what it keeps.
struct Outgoing {
  std::string_view topic;
  std::string_view key;
  std::string_view value;
  bool tombstone = false;  // a null value: on a compacted topic, deletes `key`
  // kPartitionByKey: murmur2 of the key, as Kafka's Java client (same key, same
  // partition, in order). Otherwise this partition (e.g. a changelog partition that
  // must match the state it mirrors).
  int32_t partition = -1;
};
inline constexpr int32_t kPartitionByKey = -1;

class Consumer;

class Producer {
 public:
  // Messages not yet reported are dropped without a callback: Flush first. (The
  // engine's outbox makes that safe: an entry is deleted only on a confirmed delivery.)
  virtual ~Producer() = default;
  // Queues a message; copies key and value. kQueueFull means: call Poll and try again.
  virtual Status Send(const Outgoing& message, uint64_t opaque) = 0;
  Status Produce(std::string_view topic, std::string_view key, std::string_view value,
                 uint64_t opaque) {
    return Send(Outgoing{topic, key, value}, opaque);
  }
  // Serves delivery callbacks; waits at most `timeout` for one.
  virtual void Poll(std::chrono::milliseconds timeout) = 0;
  // Waits until every queued message is delivered or failed (callbacks run), or until
  // `timeout`; kTimeout if messages are still outstanding.
  virtual Status Flush(std::chrono::milliseconds timeout) = 0;
  // Messages produced but not yet reported.
  virtual size_t InFlight() const = 0;

  // --- Transactions: only a producer made with a transactional id (see the
  // factories); every other producer returns kState. On a transactional producer,
  // Send is valid only between BeginTransaction and Commit/AbortTransaction, and a
  // successful delivery report means "written", not "visible": read_committed
  // consumers see a message only once its transaction commits.
  virtual bool transactional() const { return false; }
  // Registers the transactional id with the cluster: an earlier producer with the same
  // id is fenced and its open transaction aborted. Once, before the first transaction.
  virtual Status InitTransactions(std::chrono::milliseconds /*timeout*/) {
    return Status(make_error_code(errc::kState), "not a transactional producer");
  }
  virtual Status BeginTransaction() {
    return Status(make_error_code(errc::kState), "not a transactional producer");
  }
  // Adds `offsets` (next offsets, with metadata) of `group`'s consumer group to the open
  // transaction: they are committed for the group if and only if the transaction
  // commits. The group's current generation goes with them (KIP-447), so a member
  // that the group has replaced meanwhile fails here or at commit (kTxnAbortable or
  // kFenced) instead of committing work that is no longer its own.
  virtual Status SendOffsetsToTransaction(const std::vector<GroupOffset>& /*offsets*/,
                                          Consumer& /*group*/,
                                          std::chrono::milliseconds /*timeout*/) {
    return Status(make_error_code(errc::kState), "not a transactional producer");
  }
  // Flushes and commits the open transaction. kTxnAbortable: call AbortTransaction;
  // kFenced: stop using this producer.
  virtual Status CommitTransaction(std::chrono::milliseconds /*timeout*/) {
    return Status(make_error_code(errc::kState), "not a transactional producer");
  }
  virtual Status AbortTransaction(std::chrono::milliseconds /*timeout*/) {
    return Status(make_error_code(errc::kState), "not a transactional producer");
  }
};

// Told about partition assignment in a consumer group, on the Poll thread.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // May set each partition's start offset; kOffsetCommitted keeps the group's.
  virtual void OnAssign(std::vector<TopicPartition>& partitions) = 0;
  virtual void OnRevoke(const std::vector<TopicPartition>& partitions) = 0;
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  // Joins the consumer group for `topics`. `listener` (may be null) must outlive the
  // consumer.
  virtual Status Subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) = 0;
  // Reads exactly these partitions from their offsets, outside any group.
  virtual Status Assign(const std::vector<TopicPartition>& partitions) = 0;
  // The next message, or nullopt when none arrived within `timeout`.
  virtual Result<std::optional<Message>> Poll(std::chrono::milliseconds timeout) = 0;
  // Synchronously commits these next offsets for the group. Bounded by the client's
  // own timeouts (for Kafka, about session.timeout.ms when the coordinator is away).
  virtual Status Commit(const std::vector<TopicPartition>& next_offsets) = 0;
  // The offset the next message written to topic[partition] will get (Kafka's high
  // watermark), asked of the broker; needs no assignment or group. kConfig for an
  // unknown partition, kTimeout past `timeout`.
  virtual Result<int64_t> EndOffset(const std::string& topic, int32_t partition,
                                    std::chrono::milliseconds timeout) = 0;
  // The offset of the first message still in topic[partition] (Kafka's log start
  // offset, the low watermark: above 0 once retention or DeleteRecords removed the
  // first ones), asked of the broker; as EndOffset otherwise. With it a reader knows
  // [start, end) is all there is to read.
  virtual Result<int64_t> StartOffset(const std::string& topic, int32_t partition,
                                      std::chrono::milliseconds timeout) = 0;
  // The partition ids of `topic`.
  virtual Result<std::vector<int32_t>> Partitions(const std::string& topic,
                                                  std::chrono::milliseconds timeout) = 0;
  // The group's committed offsets and metadata for these partitions (offset < 0 where
  // the group has committed nothing). Waits for transactional commits still pending on
  // them (read_committed), so the answer is stable.
  virtual Result<std::vector<GroupOffset>> Committed(const std::vector<TopicPartition>& partitions,
                                                     std::chrono::milliseconds timeout) = 0;
  // The position (next offset to read) of each assigned partition whose position is
  // known, from the client's own state (no broker round trip). Unlike "last message
  // read + 1", it moves past transaction markers, so committing it lets a group's lag
  // reach 0 on topics written with transactions.
  virtual std::vector<TopicPartition> Positions() = 0;
  // Messages behind the end of the assigned partitions (high watermark minus the
  // position), from what the client last heard: cheap, no broker round trip. A
  // partition whose position or watermark is not known yet counts as 0.
  virtual int64_t Lag() = 0;
  // Deletes the records of each partition below its `offset` (Kafka's DeleteRecords):
  // the partition's log start offset moves up to `offset`, later records keep their
  // offsets, and reading below the start is out of range (a consumer positioned there
  // continues from the start). Used to remove what a landing topic holds once it has
  // been processed (erasure). Needs no assignment or group. An offset beyond the
  // partition's end, a negative (special) offset or an unknown partition is kConfig
  // naming topic[partition]; an offset at or below the current start changes nothing.
  // Partitions are handled independently: on an error, others may have been deleted.
  // Bounded by `timeout` (kTimeout).
  virtual Status DeleteRecordsBefore(const std::vector<TopicPartition>& before,
                                     std::chrono::milliseconds timeout) = 0;
  // Leaves the group. Further calls fail with kState. For Kafka, librdkafka 2.0.2 can
  // block here while no broker is reachable: callers bound their shutdown themselves.
  virtual void Close() = 0;
};

}  // namespace pathway::bus

template <>
struct std::is_error_code_enum<pathway::bus::errc> : std::true_type {};
