// The pathway topics. Names are part of the public contract with partner systems.
#pragma once

#include <array>
#include <string_view>

namespace pathway::topics {

// Partners -> engine intake; keyed as each partner likes.
inline constexpr std::string_view kInbound = "pathway.inbound.v1";
// Intake -> stateful stage; keyed by subject key (the repartition).
inline constexpr std::string_view kCommands = "pathway.commands.v1";
// What happened; keyed by subject key.
inline constexpr std::string_view kEvents = "pathway.events.v1";
// Commands that were well formed but invalid, with the field and the rule.
inline constexpr std::string_view kRejections = "pathway.rejections.v1";
// Messages that could not be processed at all, with the reason and original bytes.
inline constexpr std::string_view kDeadLetter = "pathway.deadletter.v1";
// What became of each inbound message (pathway.v1.MessageOutcome), one topic per
// partner: kOutcomesPrefix + the partner's id (config/partners.json), so that Kafka
// ACLs keep each partner to its own (docs/partners.md). Keyed by outcome id.
inline constexpr std::string_view kOutcomesPrefix = "pathway.outcomes.v1.";
// Outcomes of messages whose sender could not be read or is not registered: read by
// operations only. Its suffix cannot be a partner id (those start with a-z or 0-9).
inline constexpr std::string_view kUnaddressedOutcomes = "pathway.outcomes.v1._unaddressed";
// What operations decided about each dead letter (resubmitted or discarded): a
// pathway.store.v1.DeadLetterDisposition keyed by the dead letter's event id, written
// by `pathwayctl deadletters`. Compacted: the latest decision per dead letter is kept.
inline constexpr std::string_view kDeadLetterDispositions = "pathway.deadletter.dispositions.v1";

// Who saw or reused which part of a child's record (tell it once); keyed by subject
// key, so one partition holds a child's whole audit trail.
inline constexpr std::string_view kAudit = "pathway.audit.v1";

// The engine's state, partition by partition (same partitioning as kCommands), so that
// another instance can take a partition over. Compacted (cleanup.policy=compact).
inline constexpr std::string_view kChangelog = "pathway.engine.cases.changelog";

// Which engine instance serves reads for which partitions of kCommands, and where
// (pathway.store.v1.EngineMember keyed by instance; docs/gateway.md, "Reads").
// Compacted: the latest announcement of each instance is all a reader needs.
inline constexpr std::string_view kEngineMembers = "pathway.engine.members.v1";

// The fixed topics; each registered partner adds kOutcomesPrefix + its id.
inline constexpr std::array<std::string_view, 10> kAll = {kInbound,
                                                          kCommands,
                                                          kEvents,
                                                          kRejections,
                                                          kDeadLetter,
                                                          kAudit,
                                                          kChangelog,
                                                          kEngineMembers,
                                                          kDeadLetterDispositions,
                                                          kUnaddressedOutcomes};
inline constexpr int kDefaultPartitions = 8;

// Topic-level settings a real cluster needs (create topics with them).
inline constexpr bool IsCompacted(std::string_view topic) {
  return topic == kChangelog || topic == kEngineMembers || topic == kDeadLetterDispositions;
}

}  // namespace pathway::topics
