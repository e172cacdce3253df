// Dead letters for operations (docs/gateway.md, "Dead letters"):
//
//   GET /v1/deadletters[?limit=N&before=CURSOR]     role operations only
//
// The gateway keeps the newest dead letters of pathway.deadletter.v1 in memory
// (DeadLetterStore, fed by BusDeadLetterReader in bus_io.h) and answers a page of them,
// newest first: each dead letter's own partition and offset, when it was written, the
// engine's reason and where the original was (topic, partition, offset, size). Never
// the original's bytes, its sealed excerpt or its hash: the excerpt is personal data
// sealed under the dead-letter key, and a hash of a short original (an NHS number, say)
// could be reversed by trying every value. Showing and resubmitting an original is
// `pathwayctl deadletters` (docs/operations.md), audited.
//
// Reads of dead letters are not reads of a child's record (nothing in them identifies
// a child), so they are not audited on pathway.audit.v1.
//
// Paging: `limit` 1..200 (default 50); `before` is the opaque `next` of the previous
// page. Order: the record's timestamp, then its partition and offset, descending; a
// cursor names a place in that order, not an entry, so it stays good after the entry
// it came from has been dropped from memory. Bad values: 400 with rule `query.limit`
// or `query.before` and `field`.
#pragma once

#include <chrono>
#include <compare>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/gateway/auth/auth.h"
#include "services/gateway/http/http_server.h"

namespace pathway::gateway {

// What the gateway keeps of one record of pathway.deadletter.v1: no personal data.
struct DeadLetterEntry {
  int32_t partition = 0;  // the dead letter's own place on pathway.deadletter.v1
  int64_t offset = 0;
  int64_t timestamp_ms = 0;  // the record's timestamp (when it was dead-lettered); 0: unknown
  std::string reason;        // DeadLettered.reason (system text), bounded, numbers masked
  std::string original_topic;
  int32_t original_partition = 0;
  int64_t original_offset = 0;
  uint64_t original_size = 0;  // bytes
};

// A place in the newest-first order (compared oldest first).
struct DeadLetterCursor {
  int64_t timestamp_ms = 0;
  int32_t partition = 0;
  int64_t offset = 0;
  auto operator<=>(const DeadLetterCursor&) const = default;

  static DeadLetterCursor Of(const DeadLetterEntry& e) {
    return {e.timestamp_ms, e.partition, e.offset};
  }
  // The opaque text a page's `next` carries, and back (nullopt: not one of ours).
  std::string Text() const;
  static std::optional<DeadLetterCursor> Parse(std::string_view text);
};

// The entry for a record of pathway.deadletter.v1 (a pathway.v1.Envelope holding a
// DeadLettered), or nullopt when it is not one. Copies none of the original's bytes.
// Pure; thread-safe.
std::optional<DeadLetterEntry> ParseDeadLetter(int32_t partition, int64_t offset,
                                               int64_t timestamp_ms, std::string_view value);

// Where DeadLetterApi reads from: DeadLetterStore, or a fake in tests.
class DeadLetterSource {
 public:
  virtual ~DeadLetterSource() = default;
  // Up to `limit` entries strictly older than `before` (from the newest when absent),
  // newest first. `*more`: whether older entries than the last returned are kept.
  // Thread-safe.
  virtual std::vector<DeadLetterEntry> Page(const std::optional<DeadLetterCursor>& before,
                                            std::size_t limit, bool* more) const = 0;
};

// The newest `capacity` dead letters, in memory. Thread-safe: Add from the reader's
// thread, Page from any.
class DeadLetterStore final : public DeadLetterSource {
 public:
  explicit DeadLetterStore(std::size_t capacity = 10'000);

  // Keeps `entry` unless `capacity` newer ones are kept already; the oldest goes when
  // it is full. An entry at the same place replaces the one there.
  void Add(DeadLetterEntry entry);
  std::vector<DeadLetterEntry> Page(const std::optional<DeadLetterCursor>& before,
                                    std::size_t limit, bool* more) const override;
  std::size_t size() const;
  // How many records Add has been given, and a bounded wait for it to reach `count`
  // (for tests and start-up; false at the timeout).
  uint64_t added() const;
  bool AwaitAdded(uint64_t count, std::chrono::milliseconds timeout) const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  mutable std::condition_variable added_cv_;
  std::map<DeadLetterCursor, DeadLetterEntry> entries_;  // oldest first
  uint64_t added_ = 0;
};

class DeadLetterApi {
 public:
  static constexpr std::size_t kDefaultLimit = 50;
  static constexpr std::size_t kMaxLimit = 200;

  // `source` must outlive the DeadLetterApi.
  explicit DeadLetterApi(const DeadLetterSource& source) : source_(source) {}

  static bool Serves(std::string_view path);
  // The answer, at once (the store is in memory). Thread-safe.
  HttpResponse Handle(const HttpRequest& request, const Principal& principal) const;

 private:
  const DeadLetterSource& source_;
};

}  // namespace pathway::gateway
