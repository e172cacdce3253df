// Whether the dedupe window covers how long a topic can deliver a message again
// (docs/operations.md, "Choosing the window"): Kafka re-delivers only what a topic still
// holds, so a window shorter than the retention of pathway.inbound.v1 or
// pathway.commands.v1 lets an operator re-reading those topics (a restore, a re-drive
// from the inbound topic) find messages neither remembered nor new. pathway-engine
// asks the brokers at start and refuses to start on a shortfall. Pure; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace pathway::engine {

// Why a dedupe window of `dedupe_days` (0: for ever) does not cover `topic`, given the
// topic's configuration as its brokers state it (DescribeTopicConfigs), or nullopt when
// it does. A topic that keeps messages for ever (retention.ms -1) needs a window kept
// for ever. A retention.ms missing or not a whole number is a shortfall too, named so:
// a check that cannot be made is not passed.
std::optional<std::string> DedupeWindowShortfall(int dedupe_days, std::string_view topic,
                                                 const std::map<std::string, std::string>& configs);

}  // namespace pathway::engine
