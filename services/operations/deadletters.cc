#include "services/operations/deadletters.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>

#include "common/crypto.h"
#include "services/topics.h"
#include "workflow/identifiers.h"

namespace pathway::operations {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxShownReasonBytes = 512;
constexpr milliseconds kPollSlice(200);

milliseconds Remaining(Deadline deadline) {
  return std::max(milliseconds(0),
                  std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()));
}

Error Timeout(std::string what) {
  return Error{bus::make_error_code(bus::errc::kTimeout), std::move(what)};
}

std::string Place(std::string_view topic, int32_t partition, int64_t offset) {
  return std::string(topic) + "/" + std::to_string(partition) + "/" + std::to_string(offset);
}

void CollectUnknown(const google::protobuf::Message& m, std::set<int>& out) {
  const auto* reflection = m.GetReflection();
  const auto& unknown = reflection->GetUnknownFields(m);
  for (int i = 0; i < unknown.field_count(); ++i) out.insert(unknown.field(i).number());
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(m, f); ++i) {
        CollectUnknown(reflection->GetRepeatedMessage(m, f, i), out);
      }
    } else {
      CollectUnknown(reflection->GetMessage(m, f), out);
    }
  }
}

// The disposition record for `record`, closed by `closer`.
store::DeadLetterDisposition NewDisposition(const DeadLetterRecord& record, const Closer& closer,
                                            store::DeadLetterOutcome outcome) {
  store::DeadLetterDisposition d;
  d.set_outcome(outcome);
  d.set_dead_letter_event_id(record.envelope.event_id());
  d.set_dead_letter_partition(record.place.partition);
  d.set_dead_letter_offset(record.place.offset);
  d.set_operation_id(closer.operation_id);
  d.set_operator_id(closer.operator_id);
  d.set_at_ms(closer.at_ms);
  return d;
}

Status RecordDisposition(bus::Producer& producer, DeliveryWaiter& waiter,
                         const DeadLetterRecord& record, const store::DeadLetterDisposition& d,
                         Deadline deadline) {
  const std::string key = record.DispositionKey();
  const std::string value = d.SerializeAsString();
  auto sent = waiter.Send(
      producer,
      bus::Outgoing{topics::kDeadLetterDispositions, key, value, false, bus::kPartitionByKey},
      deadline);
  if (!sent) {
    return Error{sent.error().code, "the disposition was not recorded on " +
                                        std::string(topics::kDeadLetterDispositions) + ": " +
                                        sent.error().detail};
  }
  return {};
}

}  // namespace

std::string DeadLetterErrorText(const Error& e) {
  if (e.code == NoSuchDeadLetter() || e.code == Refused()) return e.detail;
  return e.ToString();
}

std::string DeadLetterRecord::DispositionKey() const {
  // The engine always names its dead letters; a record written by hand without an id
  // is keyed by its place.
  if (!envelope.event_id().empty()) return envelope.event_id();
  return "place:" + place.Text();
}

bool DeadLetterRecord::FromIntake() const { return dead().topic() == topics::kInbound; }

std::string_view DeadLetterRecord::DispositionText() const {
  if (!disposition) return "open";
  switch (disposition->outcome()) {
    case store::DEAD_LETTER_OUTCOME_RESUBMITTED:
      return "resubmitted";
    case store::DEAD_LETTER_OUTCOME_DISCARDED:
      return "discarded";
    default:
      return "open";
  }
}

std::string DeadLetterRecord::OriginalText() const {
  // A topic name is at most 249 characters of [a-zA-Z0-9._-]; anything else is not shown.
  const std::string& topic = dead().topic();
  const bool name = !topic.empty() && topic.size() <= 249 &&
                    topic.find_first_not_of(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789._-") == std::string::npos;
  return Place(name ? topic : std::string("(not a topic name)"), dead().partition(),
               dead().offset());
}

std::optional<DeadLetterRecord> ParseDeadLetterRecord(const bus::Message& m) {
  DeadLetterRecord r;
  if (m.tombstone || m.value.size() > static_cast<size_t>(INT32_MAX) ||
      !r.envelope.ParseFromArray(m.value.data(), static_cast<int>(m.value.size())) ||
      !r.envelope.has_dead_lettered()) {
    return std::nullopt;
  }
  r.place = {m.partition, m.offset};
  r.timestamp_ms = std::max<int64_t>(0, m.timestamp_ms);
  return r;
}

std::string ShownReason(std::string_view text) {
  std::string out = workflow::MaskLongNumbers(text);
  if (out.size() > kMaxShownReasonBytes) {
    size_t cut = kMaxShownReasonBytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
}

std::string UtcText(int64_t ms) {
  if (ms <= 0) return "";
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

// ------------------------------------------------------------------------------- Reading

Status ReadToEnd(bus::Consumer& consumer, const std::string& topic, Deadline deadline,
                 const std::function<void(const bus::Message&)>& each) {
  return ReadFrom(consumer, topic, {}, deadline, each);
}

Status ReadFrom(bus::Consumer& consumer, const std::string& topic,
                const std::map<int32_t, int64_t>& from, Deadline deadline,
                const std::function<void(const bus::Message&)>& each) {
  auto partitions = consumer.Partitions(topic, Remaining(deadline));
  if (!partitions) return partitions.error();
  std::map<int32_t, int64_t> ends;  // the partitions still to read, and where they end
  std::vector<bus::TopicPartition> assignment;
  for (int32_t p : *partitions) {
    int64_t first = bus::kOffsetBeginning;
    if (!from.empty()) {
      auto named = from.find(p);
      if (named == from.end()) continue;
      first = named->second;
    }
    auto end = consumer.EndOffset(topic, p, Remaining(deadline));
    if (!end) return end.error();
    if (*end <= 0 || (first >= 0 && first >= *end)) continue;
    ends[p] = *end;
    assignment.push_back({topic, p, first});
  }
  if (ends.empty()) return {};
  if (Status s = consumer.Assign(assignment); !s) return s;
  while (!ends.empty()) {
    if (SteadyClock::now() >= deadline) {
      std::string left;
      for (const auto& [p, end] : ends) left += (left.empty() ? "" : ", ") + std::to_string(p);
      return Timeout(topic + " was not read to its end in time (partitions " + left + ")");
    }
    auto polled = consumer.Poll(std::min(Remaining(deadline), kPollSlice));
    if (!polled) return polled.error();
    if (polled->has_value()) {
      const bus::Message& m = **polled;
      auto it = ends.find(m.partition);
      if (m.topic != topic || it == ends.end()) continue;
      if (m.offset < it->second) each(m);
      if (m.offset + 1 >= it->second) ends.erase(it);
      continue;
    }
    // Nothing came: a partition whose last records are deleted, compacted away or
    // transaction markers is read to its end when its position reaches the end.
    for (const bus::TopicPartition& tp : consumer.Positions()) {
      auto it = ends.find(tp.partition);
      if (tp.topic == topic && it != ends.end() && tp.offset >= it->second) ends.erase(it);
    }
  }
  return {};
}

Result<std::optional<bus::Message>> ReadAt(bus::Consumer& consumer, const std::string& topic,
                                           int32_t partition, int64_t offset, Deadline deadline) {
  auto end = consumer.EndOffset(topic, partition, Remaining(deadline));
  if (!end) {
    if (end.error().code == bus::make_error_code(bus::errc::kConfig)) {
      return std::optional<bus::Message>();  // no such partition
    }
    return end.error();
  }
  if (offset < 0 || offset >= *end) return std::optional<bus::Message>();
  if (Status s = consumer.Assign({{topic, partition, offset}}); !s) return s.error();
  for (;;) {
    if (SteadyClock::now() >= deadline) {
      return Timeout(Place(topic, partition, offset) + " was not read in time");
    }
    auto polled = consumer.Poll(std::min(Remaining(deadline), kPollSlice));
    if (!polled) return polled.error();
    if (polled->has_value()) {
      bus::Message& m = **polled;
      if (m.topic != topic || m.partition != partition || m.offset < offset) continue;
      // Past it: the record was deleted and the consumer moved on to the first one kept.
      if (m.offset > offset) return std::optional<bus::Message>();
      return std::optional<bus::Message>(std::move(m));
    }
    for (const bus::TopicPartition& tp : consumer.Positions()) {
      if (tp.topic == topic && tp.partition == partition && tp.offset > offset) {
        return std::optional<bus::Message>();
      }
    }
  }
}

Result<std::map<std::string, store::DeadLetterDisposition>> ReadDispositions(
    bus::Consumer& consumer, Deadline deadline) {
  std::map<std::string, store::DeadLetterDisposition> out;
  Status s = ReadToEnd(
      consumer, std::string(topics::kDeadLetterDispositions), deadline, [&](const bus::Message& m) {
        if (!m.key) return;
        if (m.tombstone) {
          out.erase(*m.key);
          return;
        }
        store::DeadLetterDisposition d;
        // A record no version of this tool wrote decides nothing.
        if (!d.ParseFromString(m.value) || (d.outcome() != store::DEAD_LETTER_OUTCOME_RESUBMITTED &&
                                            d.outcome() != store::DEAD_LETTER_OUTCOME_DISCARDED)) {
          return;
        }
        out[*m.key] = std::move(d);
      });
  if (!s) return s.error();
  return out;
}

Result<std::vector<DeadLetterRecord>> ListDeadLetters(bus::Consumer& consumer, Deadline deadline) {
  std::vector<DeadLetterRecord> out;
  Status s =
      ReadToEnd(consumer, std::string(topics::kDeadLetter), deadline, [&](const bus::Message& m) {
        if (auto r = ParseDeadLetterRecord(m)) out.push_back(std::move(*r));
      });
  if (!s) return s.error();
  auto dispositions = ReadDispositions(consumer, deadline);
  if (!dispositions) return dispositions.error();
  for (DeadLetterRecord& r : out) {
    if (auto it = dispositions->find(r.DispositionKey()); it != dispositions->end()) {
      r.disposition = it->second;
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.timestamp_ms, a.place) < std::tie(b.timestamp_ms, b.place);
  });
  return out;
}

Result<DeadLetterRecord> FindDeadLetter(bus::Consumer& consumer, DeadLetterPlace place,
                                        Deadline deadline) {
  auto m =
      ReadAt(consumer, std::string(topics::kDeadLetter), place.partition, place.offset, deadline);
  if (!m) return m.error();
  std::optional<DeadLetterRecord> r;
  if (m->has_value()) r = ParseDeadLetterRecord(**m);
  if (!r) {
    return Error{NoSuchDeadLetter(), "there is no dead letter at " + place.Text() + " of " +
                                         std::string(topics::kDeadLetter) +
                                         " (pathwayctl deadletters list names them)"};
  }
  auto dispositions = ReadDispositions(consumer, deadline);
  if (!dispositions) return dispositions.error();
  if (auto it = dispositions->find(r->DispositionKey()); it != dispositions->end()) {
    r->disposition = it->second;
  }
  return std::move(*r);
}

// ------------------------------------------------------------------------------ Original

std::string DeadLetterKey(std::string_view kek) { return HmacSha256(kek, "pathway.deadletter.v1"); }

Result<bus::Message> ReadFullOriginal(bus::Consumer& consumer, const DeadLetterRecord& record,
                                      Deadline deadline) {
  const v1::DeadLettered& d = record.dead();
  if (!record.FromIntake()) {
    return Error{Refused(), "its original is an output to " + d.topic() +
                                " that the broker refused (engine partition " +
                                std::to_string(d.partition()) + ", outbox sequence " +
                                std::to_string(d.offset()) + "): it is on no topic"};
  }
  auto m = ReadAt(consumer, d.topic(), d.partition(), d.offset(), deadline);
  if (!m) return m.error();
  if (!m->has_value()) {
    return Error{Refused(), "its original is no longer on " + record.OriginalText() +
                                " (deleted by retention or an erasure purge)"};
  }
  bus::Message& original = **m;
  if (original.value.size() != d.original_size() || Sha256(original.value) != d.original_sha256()) {
    return Error{Refused(), "the record at " + record.OriginalText() +
                                " is not the original (its size or SHA-256 differs)"};
  }
  return std::move(original);
}

Result<OriginalContent> OpenOriginal(bus::Consumer& consumer, const DeadLetterRecord& record,
                                     std::string_view dead_letter_key, Deadline deadline) {
  OriginalContent out;
  auto full = ReadFullOriginal(consumer, record, deadline);
  if (full) {
    out.bytes = std::move(full->value);
    out.full = true;
    return out;
  }
  if (full.error().code != Refused()) return full.error();
  out.why_excerpt = full.error().detail;
  const v1::DeadLettered& d = record.dead();
  if (!d.sealed_excerpt().empty()) {
    auto opened = AeadOpen(dead_letter_key, d.sealed_excerpt(),
                           "pathway.deadletter.v1|" + record.envelope.event_id());
    if (!opened) {
      return Error{opened.error().code,
                   "the excerpt does not open with this key-encryption key (another "
                   "deployment's key?)"};
    }
    out.bytes = std::move(*opened);
  } else {
    out.bytes = d.original();  // an engine without a dead-letter key (tests)
  }
  return out;
}

bool SealedUnder(const DeadLetterRecord& record, std::string_view dead_letter_key) {
  if (record.dead().sealed_excerpt().empty()) return true;
  return AeadOpen(dead_letter_key, record.dead().sealed_excerpt(),
                  "pathway.deadletter.v1|" + record.envelope.event_id())
      .ok();
}

std::vector<int> UnknownFieldNumbers(const v1::Envelope& e) {
  std::set<int> numbers;
  CollectUnknown(e, numbers);
  return {numbers.begin(), numbers.end()};
}

std::string HexDump(std::string_view bytes) {
  std::string out;
  char buf[32];
  for (size_t line = 0; line < bytes.size(); line += 16) {
    std::snprintf(buf, sizeof buf, "%08zx  ", line);
    out += buf;
    const size_t n = std::min<size_t>(16, bytes.size() - line);
    for (size_t i = 0; i < 16; ++i) {
      if (i < n) {
        std::snprintf(buf, sizeof buf, "%02x ", static_cast<unsigned char>(bytes[line + i]));
        out += buf;
      } else {
        out += "   ";
      }
      if (i == 7) out += ' ';
    }
    out += " |";
    for (size_t i = 0; i < n; ++i) {
      const unsigned char c = static_cast<unsigned char>(bytes[line + i]);
      out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
    }
    out += "|\n";
  }
  return out;
}

// -------------------------------------------------------------------------------- Closing

bus::DeliveryCallback DeliveryWaiter::Callback() {
  return [this](const bus::Delivery& d) {
    std::lock_guard lock(mu_);
    report_ = d;
  };
}

Result<bus::Delivery> DeliveryWaiter::Send(bus::Producer& producer, const bus::Outgoing& message,
                                           Deadline deadline) {
  {
    std::lock_guard lock(mu_);
    report_.reset();
  }
  for (;;) {
    Status s = producer.Send(message, 0);
    if (s) break;
    if (s.error().code != bus::make_error_code(bus::errc::kQueueFull) ||
        SteadyClock::now() >= deadline) {
      return s.error();
    }
    producer.Poll(milliseconds(100));
  }
  Status flushed = producer.Flush(Remaining(deadline));
  std::lock_guard lock(mu_);
  if (!report_) {
    return Error{flushed ? bus::make_error_code(bus::errc::kTimeout) : flushed.error().code,
                 "not confirmed in time (it may still be written)"};
  }
  if (report_->error) return Error{report_->error, report_->error_detail};
  return *report_;
}

std::optional<std::string> RefusalToClose(const DeadLetterRecord& record, bool resubmit) {
  if (record.disposition) {
    const store::DeadLetterDisposition& d = *record.disposition;
    std::string text = "dead letter " + record.place.Text() + " was " +
                       std::string(record.DispositionText()) + " already, by " + d.operator_id() +
                       " at " + UtcText(d.at_ms()) + " (operation " + d.operation_id() + ")";
    if (d.outcome() == store::DEAD_LETTER_OUTCOME_RESUBMITTED) {
      text += "; the copy is " +
              Place(topics::kInbound, d.resubmitted_partition(), d.resubmitted_offset());
    }
    return text;
  }
  if (resubmit && !record.FromIntake()) {
    return "dead letter " + record.place.Text() + " is an output to " + record.dead().topic() +
           " that the broker refused (engine partition " +
           std::to_string(record.dead().partition()) + ", outbox sequence " +
           std::to_string(record.dead().offset()) +
           "): it is on no topic, so there is nothing to resubmit. The event is in the "
           "case's history; fix what refused it (docs/operations.md, \"Dead letters\"), "
           "then discard this dead letter with your reason";
  }
  return std::nullopt;
}

Status Resubmit(bus::Consumer& consumer, bus::Producer& producer, DeliveryWaiter& waiter,
                const DeadLetterRecord& record, const Closer& closer, Deadline deadline,
                ResubmitResult& result) {
  if (auto refusal = RefusalToClose(record, true)) return Error{Refused(), *refusal};
  auto original = ReadFullOriginal(consumer, record, deadline);
  if (!original) {
    if (original.error().code != Refused()) return original.error();
    return Error{Refused(), "cannot resubmit dead letter " + record.place.Text() + ": " +
                                original.error().detail +
                                ". Ask the sender to publish it again, then discard this "
                                "dead letter with your reason"};
  }
  v1::Envelope decoded;
  if (!decoded.ParseFromString(original->value)) {
    return Error{Refused(), "cannot resubmit dead letter " + record.place.Text() +
                                ": its original does not decode as a pathway.v1.Envelope, so "
                                "it would be dead-lettered again. Ask the sender to correct "
                                "and publish it, then discard this dead letter"};
  }
  result.bytes = original->value.size();
  const std::string key = original->key.value_or("");
  auto copy = waiter.Send(
      producer, bus::Outgoing{topics::kInbound, key, original->value, false, original->partition},
      deadline);
  if (!copy) {
    return Error{copy.error().code, "the original was not confirmed on " +
                                        std::string(topics::kInbound) + ": " + copy.error().detail};
  }
  result.copy = *copy;
  store::DeadLetterDisposition d =
      NewDisposition(record, closer, store::DEAD_LETTER_OUTCOME_RESUBMITTED);
  d.set_resubmitted_partition(copy->partition);
  d.set_resubmitted_offset(copy->offset);
  if (Status s = RecordDisposition(producer, waiter, record, d, deadline); !s) return s;
  result.disposition = std::move(d);
  return {};
}

Result<store::DeadLetterDisposition> Discard(bus::Producer& producer, DeliveryWaiter& waiter,
                                             const DeadLetterRecord& record, const Closer& closer,
                                             Deadline deadline) {
  if (auto refusal = RefusalToClose(record, false)) return Error{Refused(), *refusal};
  store::DeadLetterDisposition d =
      NewDisposition(record, closer, store::DEAD_LETTER_OUTCOME_DISCARDED);
  if (Status s = RecordDisposition(producer, waiter, record, d, deadline); !s) return s.error();
  return d;
}

}  // namespace pathway::operations
