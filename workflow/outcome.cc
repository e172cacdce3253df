#include "workflow/outcome.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/stubs/common.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <set>

#include "services/topics.h"
#include "workflow/case_step.h"
#include "workflow/workflow.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace config = pathway::config::v1;
using google::protobuf::internal::WireFormatLite;

Error Invalid(std::string detail) {
  return Error{std::make_error_code(std::errc::invalid_argument), std::move(detail)};
}

// `partners[1] ("icb").agencies`: the index always, the id when there is one.
std::string Where(int index, const config::Partner& partner, std::string_view field) {
  std::string where = "partners[" + std::to_string(index) + "]";
  if (!partner.id().empty()) {
    where += " (\"";
    where += partner.id();
    where += "\")";
  }
  where += '.';
  where += field;
  return where;
}

bool IsPartnerId(std::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(id.front())) return false;
  return std::all_of(id.begin(), id.end(), [&](char c) { return lower_or_digit(c) || c == '-'; });
}

bool IsPadded(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  return !s.empty() && (space(s.front()) || space(s.back()));
}

}  // namespace

Result<config::PartnerRegistry> ParsePartnerRegistry(std::string_view json) {
  config::PartnerRegistry registry;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a misspelt field must not be silently dropped
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &registry, options);
  if (!status.ok()) {
    const auto message = status.message();
    return Invalid("not a PartnerRegistry in JSON: " + std::string(message.data(), message.size()));
  }
  std::set<std::string> ids;
  std::set<std::string> agencies;
  for (int i = 0; i < registry.partners_size(); ++i) {
    const config::Partner& p = registry.partners(i);
    if (!IsPartnerId(p.id())) {
      return Invalid(Where(i, p, "id") +
                     ": 1 to 63 of a-z, 0-9 and '-', starting with a letter or digit (it names "
                     "the partner's outcome topic and consumer groups)");
    }
    if (!ids.insert(p.id()).second) return Invalid(Where(i, p, "id") + ": duplicate");
    if (p.agencies().empty()) {
      return Invalid(Where(i, p, "agencies") + ": required: the source.agency codes it sends as");
    }
    for (const std::string& agency : p.agencies()) {
      if (agency.empty() || IsPadded(agency)) {
        return Invalid(Where(i, p, "agencies") +
                       ": an agency code is matched exactly: not empty, no spaces around it");
      }
      if (!agencies.insert(agency).second) {
        return Invalid(Where(i, p, "agencies") + ": agency \"" + agency +
                       "\" is listed twice: each agency belongs to one partner");
      }
    }
    if (!p.principal().starts_with("User:") || p.principal().size() == 5 ||
        IsPadded(p.principal())) {
      return Invalid(Where(i, p, "principal") +
                     ": its Kafka principal, \"User:<name>\", for the ACLs");
    }
  }
  return registry;
}

PartnerDirectory::PartnerDirectory(const config::PartnerRegistry& registry) {
  for (const config::Partner& p : registry.partners()) {
    std::string topic(topics::kOutcomesPrefix);
    topic += p.id();
    for (const std::string& agency : p.agencies()) topic_by_agency_.emplace(agency, topic);
    partner_topics_.push_back(std::move(topic));
  }
}

const std::string& PartnerDirectory::TopicFor(std::string_view agency) const {
  auto it = topic_by_agency_.find(std::string(agency));
  return it == topic_by_agency_.end() ? unaddressed_ : it->second;
}

std::vector<std::string> PartnerDirectory::Topics() const {
  std::vector<std::string> out = partner_topics_;
  out.push_back(unaddressed_);
  return out;
}

Sender ReadSender(std::string_view bytes, size_t limit) {
  Sender out;
  const size_t size = std::min(bytes.size(), limit);
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(size));
  bool have_id = false;
  bool have_source = false;
  // Bounded by the bytes: every step reads at least one byte or stops.
  while (!(have_id && have_source)) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;  // the end, or malformed
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    const auto type = WireFormatLite::GetTagWireType(tag);
    if ((number == 1 || number == 6) && type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t length = 0;
      if (!in.ReadVarint32(&length)) break;
      std::string value;
      if (!in.ReadString(&value, static_cast<int>(length))) break;
      if (number == 1) {
        have_id = true;
        // Only an id that is valid text (OutcomeOf drops one too long to repeat).
        if (google::protobuf::internal::IsStructurallyValidUTF8(value.data(),
                                                                static_cast<int>(value.size()))) {
          out.event_id = std::move(value);
        }
      } else {
        have_source = true;
        v1::Source source;
        if (source.ParseFromString(value)) out.source = std::move(source);
      }
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) break;
  }
  return out;
}

v1::MessagePlace PlaceOf(std::string_view topic, int32_t partition, int64_t offset) {
  v1::MessagePlace place;
  place.set_topic(std::string(topic));
  place.set_partition(partition);
  place.set_offset(offset);
  return place;
}

std::string OutcomeId(const v1::MessagePlace& place) {
  std::string id = place.topic();
  id += '/';
  id += std::to_string(place.partition());
  id += '/';
  id += std::to_string(place.offset());
  return id;
}

v1::MessageOutcome OutcomeOf(const v1::MessagePlace& place, const Sender& sender,
                             std::string_view subject_key, TimePoint decided_at) {
  v1::MessageOutcome out;
  out.set_outcome_id(OutcomeId(place));
  // Bounded whatever the message held, so that an outcome always fits a record: an
  // over-long value is left out (its message was rejected for it).
  if (sender.event_id.size() <= kMaxOutcomeText) out.set_inbound_event_id(sender.event_id);
  if (sender.source.agency().size() <= kMaxOutcomeText &&
      sender.source.system().size() <= kMaxOutcomeText) {
    *out.mutable_source() = sender.source;
    out.mutable_source()->DiscardUnknownFields();
  }
  *out.mutable_place() = place;
  out.set_subject_key(std::string(subject_key));
  SetTimestamp(out.mutable_decided_at(), decided_at);
  return out;
}

v1::CausedEvent CausedEventOf(const v1::Envelope& event) {
  v1::CausedEvent out;
  out.set_event_id(event.event_id());
  const auto* oneof = v1::Envelope::descriptor()->FindOneofByName("payload");
  if (const auto* field = event.GetReflection()->GetOneofFieldDescriptor(event, oneof)) {
    out.set_type(field->name());
  }
  out.set_pathway_instance_id(event.pathway_instance_id());
  return out;
}

void AddCausedEvent(v1::OutcomeAccepted& accepted, const v1::Envelope& event) {
  if (accepted.events_size() < kMaxOutcomeEvents) {
    *accepted.add_events() = CausedEventOf(event);
  } else {
    accepted.set_events_not_listed(accepted.events_not_listed() + 1);
  }
}

FirstMessage FirstMessageOf(const std::vector<v1::Envelope>& history, std::string_view identity,
                            std::string_view event_id) {
  FirstMessage out;
  const std::string kept_id = KeptCommandId(identity);
  for (const auto& e : history) {
    if (e.has_command_recorded()) {
      if (out.place || e.event_id() != kept_id) continue;
      v1::Envelope kept;
      if (kept.ParseFromString(e.command_recorded().command()) && kept.has_inbound_place()) {
        out.place = kept.inbound_place();
      }
      continue;
    }
    if (e.has_history_trimmed() || e.has_pathways_migrated()) continue;  // history only
    if (e.causation_id() == event_id) AddCausedEvent(out.caused, e);
  }
  return out;
}

}  // namespace pathway::workflow
