// Outcomes: the answer each inbound message gets, on its sender's own topic
// (proto/pathway/v1/outcome.proto, docs/partners.md), and the partner registry that
// says whose topic that is (config/partners.json).
//
// Pure and thread-safe, except that a PartnerDirectory must not be changed while read
// (it is built once, at start).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "pathway/config/v1/config.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "pathway/v1/outcome.pb.h"
#include "services/topics.h"

namespace pathway::workflow {

// Parses a PartnerRegistry in protobuf's JSON mapping and checks it: every id 1..63 of
// a-z, 0-9 and '-' starting with a letter or digit, ids unique, at least one agency
// each, no agency empty, padded or listed twice (in one partner or two), a principal
// "User:<name>". Errors name the partner and the field, e.g. `partners[1] ("icb").id`.
// Unknown JSON fields are errors.
Result<pathway::config::v1::PartnerRegistry> ParsePartnerRegistry(std::string_view json);

// Which topic an outcome goes to, by the message's declared source agency.
class PartnerDirectory {
 public:
  PartnerDirectory() = default;  // no partners: every outcome is unaddressed
  explicit PartnerDirectory(const pathway::config::v1::PartnerRegistry& registry);

  // pathway.outcomes.v1.<id> of the partner `agency` belongs to, else the unaddressed
  // topic (an unknown, empty or unreadable sender).
  const std::string& TopicFor(std::string_view agency) const;
  // Every partner's outcome topic, and the unaddressed one last.
  std::vector<std::string> Topics() const;

 private:
  std::unordered_map<std::string, std::string> topic_by_agency_;
  std::vector<std::string> partner_topics_;
  std::string unaddressed_{topics::kUnaddressedOutcomes};
};

// What a message says of its sender, read from its bytes even when they do not decode
// as a whole Envelope: the top-level event_id (1) and source (6) fields, as far as the
// bytes are well formed before them (serialisers write fields in number order, so a
// damaged payload, field 100 and up, still leaves both readable). Reads at most
// `limit` bytes; an event id that is not UTF-8 is dropped.
struct Sender {
  std::string event_id;
  pathway::v1::Source source;
};
Sender ReadSender(std::string_view bytes, size_t limit = 64 * 1024);

pathway::v1::MessagePlace PlaceOf(std::string_view topic, int32_t partition, int64_t offset);
// "<topic>/<partition>/<offset>": the same for every outcome of one message.
std::string OutcomeId(const pathway::v1::MessagePlace& place);

// The longest event id, agency or system an outcome repeats; longer ones are left out.
inline constexpr size_t kMaxOutcomeText = 256;

// The common part of an outcome; the caller sets its result.
pathway::v1::MessageOutcome OutcomeOf(const pathway::v1::MessagePlace& place, const Sender& sender,
                                      std::string_view subject_key, TimePoint decided_at);

// An event named for an outcome: its id, its payload's field name and pathway instance.
pathway::v1::CausedEvent CausedEventOf(const pathway::v1::Envelope& event);
// The most events an outcome names; the rest are counted (events_not_listed).
inline constexpr int kMaxOutcomeEvents = 1000;
// Names `event` in `accepted`, or counts it past kMaxOutcomeEvents.
void AddCausedEvent(pathway::v1::OutcomeAccepted& accepted, const pathway::v1::Envelope& event);

// What a case's history holds of the first message with a command's identity
// (workflow::CommandIdentity): where the intake read it, if the case kept that command
// (CommandRecorded) and it was read after outcomes existed, and the events it caused
// (those whose causation_id is its event id, history-only records left out).
struct FirstMessage {
  std::optional<pathway::v1::MessagePlace> place;
  pathway::v1::OutcomeAccepted caused;
};
FirstMessage FirstMessageOf(const std::vector<pathway::v1::Envelope>& history,
                            std::string_view identity, std::string_view event_id);

}  // namespace pathway::workflow
