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

inline constexpr std::array<std::string_view, 9> kAll = {
    kInbound,    kCommands,      kEvents,
    kRejections, kDeadLetter,    kAudit,
    kChangelog,  kEngineMembers, kDeadLetterDispositions};
inline constexpr int kDefaultPartitions = 8;

// Topic-level settings a real cluster needs (create topics with them).
inline constexpr bool IsCompacted(std::string_view topic) {
  return topic == kChangelog || topic == kEngineMembers || topic == kDeadLetterDispositions;
}

}  // namespace pathway::topics
