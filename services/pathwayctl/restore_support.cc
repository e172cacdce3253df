#include "services/pathwayctl/restore_support.h"

#include <algorithm>
#include <set>

#include "common/crypto.h"
#include "services/bus/key_partition.h"
#include "services/topics.h"
#include "workflow/identifiers.h"
#include "workflow/workflow.h"

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using Clock = std::chrono::steady_clock;

constexpr size_t kSubjectBytes = 32;

struct Range {
  int32_t partition = 0;
  int64_t from = 0;
  int64_t end = 0;  // exclusive
};

// Reads `topic`'s `ranges` (outside any group), calling `fn` with each message in them
// in offset order per partition; `fn` returning false ends its partition's range. Done
// when every range is read to its end (a position at the end counts: the last offsets
// of a transactional topic are markers no message is returned for).
Status ReadRanges(const Consumers& consumers, std::string_view topic, std::vector<Range> ranges,
                  const std::function<bool(const bus::Message&)>& fn, const ReadLimits& limits) {
  std::map<int32_t, Range> pending;
  std::vector<bus::TopicPartition> assignment;
  for (const Range& r : ranges) {
    if (r.from >= r.end) continue;
    pending[r.partition] = r;
    assignment.push_back({std::string(topic), r.partition, r.from});
  }
  if (pending.empty()) return {};
  auto made = consumers();
  if (!made) return made.error();
  bus::Consumer& consumer = **made;
  if (Status s = consumer.Assign(assignment); !s) return s;
  Clock::time_point progress = Clock::now();
  while (!pending.empty()) {
    if (limits.stop && limits.stop()) {
      return Status(std::make_error_code(std::errc::operation_canceled), "interrupted");
    }
    auto polled = consumer.Poll(std::chrono::milliseconds(200));
    if (!polled) return polled.error();
    if (polled->has_value()) {
      const bus::Message& m = **polled;
      auto it = pending.find(m.partition);
      if (m.topic == topic && it != pending.end() && m.offset >= it->second.from) {
        progress = Clock::now();
        if (limits.on_message) limits.on_message();
        const bool go_on = m.offset < it->second.end && fn(m);
        if (!go_on || m.offset + 1 >= it->second.end) pending.erase(it);
      }
    }
    for (const bus::TopicPartition& at : consumer.Positions()) {
      auto it = pending.find(at.partition);
      if (at.topic == topic && it != pending.end() && at.offset >= it->second.end) {
        pending.erase(it);
      }
    }
    if (!pending.empty() && Clock::now() - progress > limits.idle) {
      const Range& r = pending.begin()->second;
      return Status(bus::make_error_code(bus::errc::kTimeout),
                    std::string(topic) + "[" + std::to_string(r.partition) +
                        "] was not read to its end offset " + std::to_string(r.end) + " in time");
    }
  }
  return {};
}

// An erasure a changelog record shows: the data key's erasure mark (the value is
// empty), or the ErasureCompleted an erasure keeps in the child's history (written
// unsealed: it holds nothing personal).
void NoteErasure(const bus::Message& m, Erasures& out) {
  if (!m.key || m.tombstone || m.key->empty()) return;
  const std::string& key = *m.key;
  const auto family = static_cast<state::ColumnFamily>(static_cast<uint8_t>(key[0]));
  const bool mark = family == state::ColumnFamily::kDataKeys && key.size() == 1 + kSubjectBytes;
  const bool history =
      family == state::ColumnFamily::kHistory && key.size() == 1 + kSubjectBytes + 8;
  if (!mark && !history) return;
  store::ChangelogValue value;
  if (!value.ParseFromString(m.value)) return;
  const std::string subject = HexEncode(std::string_view(key).substr(1, kSubjectBytes));
  if (mark) {
    if (value.value().empty()) out.try_emplace(subject);
    return;
  }
  // Sealed history values start with a zero byte, which no message does: they do not
  // parse.
  v1::Envelope event;
  if (event.ParseFromString(value.value()) && event.has_erasure_completed()) {
    out[subject] = std::move(event);
  }
}

Error NotFound(std::string_view topic, int32_t partition, const Error& e) {
  return Error{e.code, std::string(topic) + "[" + std::to_string(partition) + "]: " + e.detail};
}

}  // namespace

std::string_view ContinuationName(Continuation c) {
  switch (c) {
    case Continuation::kChangelog:
      return "changelog";
    case Continuation::kBackup:
      return "backup";
    case Continuation::kCommands:
      return "commands";
  }
  return "unknown";
}

Continuation Continues(const store::BackupPartition& backup, const ChangelogFacts& facts) {
  // A store without a local fence is wiped and rebuilt from the changelog (an empty
  // one leaves it to pathway.commands.v1).
  if (backup.fence_offset() < 0) {
    return facts.complete && facts.end > facts.start ? Continuation::kChangelog
                                                     : Continuation::kCommands;
  }
  // The changelog has all of it and more: restore forgets the fence so that the engine
  // rebuilds from it even when nobody fenced the partition since the backup.
  if (facts.complete && facts.holds_fence) return Continuation::kChangelog;
  // Nobody else fenced it: the engine keeps the store (logging changelog_truncated
  // when the backup's fence is gone from the topic).
  if (!facts.other_owner) return Continuation::kBackup;
  // Someone owned it since, and the changelog lost its start (or the backup's fence):
  // the engine logs changelog_incomplete and rebuilds from pathway.commands.v1.
  return Continuation::kCommands;
}

Result<ChangelogRead> ReadChangelog(const Consumers& consumers,
                                    const store::BackupPartition& backup,
                                    const ReadLimits& limits) {
  const std::string topic(topics::kChangelog);
  const int32_t partition = backup.partition();
  ChangelogRead out;
  auto made = consumers();
  if (!made) return made.error();
  bus::Consumer& consumer = **made;
  auto end = consumer.EndOffset(topic, partition, limits.idle);
  if (!end) {
    if (end.error().code == bus::make_error_code(bus::errc::kConfig)) return out;  // no partition
    return NotFound(topic, partition, end.error());
  }
  auto start = consumer.StartOffset(topic, partition, limits.idle);
  if (!start) return NotFound(topic, partition, start.error());
  ChangelogFacts& facts = out.facts;
  facts.exists = true;
  facts.start = *start;
  facts.end = *end;
  // The engine's own fence would be the first record of an empty partition.
  facts.complete = facts.start >= facts.end;
  if (facts.start < facts.end) {
    Status first = ReadRanges(
        consumers, topic, {{partition, facts.start, facts.end}},
        [&](const bus::Message& m) {
          facts.complete = m.offset == 0 || state::CaseStore::FenceOwner(m.key.value_or(""));
          return false;
        },
        limits);
    if (!first) return first.error();
  }
  // Where the engine reads from to check its local fence: the fence's offset, or the
  // start when that is out of range (auto.offset.reset=earliest).
  const int64_t fence = backup.fence_offset();
  const int64_t from = fence >= facts.start && fence <= facts.end ? fence : facts.start;
  Status read = ReadRanges(
      consumers, topic, {{partition, from, facts.end}},
      [&](const bus::Message& m) {
        ++out.records;
        if (auto owner = state::CaseStore::FenceOwner(m.key.value_or(""))) {
          if (fence >= 0 && m.offset == fence && *owner == backup.fence_owner()) {
            facts.holds_fence = true;
          } else if (*owner != backup.fence_owner()) {
            facts.other_owner = true;
          }
          return true;
        }
        NoteErasure(m, out.erasures);
        return true;
      },
      limits);
  if (!read) return read.error();
  return out;
}

Result<std::map<int32_t, Erasures>> ReadErasureEvents(const Consumers& consumers,
                                                      int32_t command_partitions,
                                                      const ReadLimits& limits,
                                                      uint64_t* events_read) {
  const std::string topic(topics::kEvents);
  std::map<int32_t, Erasures> out;
  auto made = consumers();
  if (!made) return made.error();
  bus::Consumer& consumer = **made;
  auto partitions = consumer.Partitions(topic, limits.idle);
  if (!partitions) return partitions.error();
  std::vector<Range> ranges;
  for (int32_t p : *partitions) {
    auto start = consumer.StartOffset(topic, p, limits.idle);
    if (!start) return NotFound(topic, p, start.error());
    auto end = consumer.EndOffset(topic, p, limits.idle);
    if (!end) return NotFound(topic, p, end.error());
    ranges.push_back({p, *start, *end});
  }
  uint64_t read = 0;
  Status s = ReadRanges(
      consumers, topic, ranges,
      [&](const bus::Message& m) {
        ++read;
        v1::Envelope e;
        if (!m.tombstone && e.ParseFromString(m.value) && e.has_erasure_completed() &&
            workflow::IsSubjectKey(e.subject_key())) {
          const int32_t p = bus::KeyPartition(e.subject_key(), command_partitions);
          out[p][e.subject_key()] = std::move(e);
        }
        return true;
      },
      limits);
  if (events_read) *events_read = read;
  if (!s) return s.error();
  return out;
}

Result<CommandsFacts> ReadCommandsFacts(bus::Consumer& consumer, int32_t partition, int64_t next,
                                        std::chrono::milliseconds timeout) {
  const std::string topic(topics::kCommands);
  CommandsFacts out;
  out.next = next;
  auto start = consumer.StartOffset(topic, partition, timeout);
  if (!start) return NotFound(topic, partition, start.error());
  auto end = consumer.EndOffset(topic, partition, timeout);
  if (!end) return NotFound(topic, partition, end.error());
  out.start = *start;
  out.end = *end;
  return out;
}

Result<bool> EraseSubject(state::CaseStore& store, int32_t partition,
                          const std::string& subject_key,
                          const std::optional<v1::Envelope>& event) {
  auto erased = store.Erased(subject_key);
  if (!erased) return erased.error();
  if (*erased) return false;
  auto loaded = store.LoadCase(subject_key);
  if (!loaded) return loaded.error();
  store::CaseState state = loaded->value_or(store::CaseState());
  state::Batch batch;
  batch.subject_key = subject_key;
  batch.erase_subject = true;
  batch.partition = partition;
  if (event) {
    workflow::Apply(state, *event);
    batch.history.push_back(*event);
    batch.history_start = state.history_length() - 1;
  } else {
    const uint64_t length = state.history_length();
    state.Clear();
    state.set_history_length(length);
  }
  state.set_erased(true);
  batch.new_state = std::move(state);
  // Its deadline timers go too: nothing is due for a case that holds nothing.
  Status scanned =
      store.Scan(state::ColumnFamily::kTimers, [&](std::string_view, std::string_view value) {
        store::Timer timer;
        if (timer.ParseFromArray(value.data(), static_cast<int>(value.size())) &&
            timer.subject_key() == subject_key) {
          batch.timers_remove.push_back(std::move(timer));
        }
      });
  if (!scanned) return scanned.error();
  if (Status s = store.Commit(batch); !s) return s.error();
  return true;
}

}  // namespace pathway::ctl
