// The pathway topics. Names are part of the public contract with partner systems.
#pragma once

#include <array>
#include <string_view>

namespace pathway::topics {

inline constexpr std::string_view kInbound = "pathway.inbound.v1";        // partners -> intake
inline constexpr std::string_view kCommands = "pathway.commands.v1";      // intake -> engine, keyed by subject
inline constexpr std::string_view kEvents = "pathway.events.v1";          // what happened, keyed by subject
inline constexpr std::string_view kRejections = "pathway.rejections.v1";  // invalid commands
inline constexpr std::string_view kDeadLetter = "pathway.deadletter.v1";  // unprocessable bytes

inline constexpr std::array<std::string_view, 5> kAll = {kInbound, kCommands, kEvents,
                                                         kRejections, kDeadLetter};
inline constexpr int kDefaultPartitions = 8;

}  // namespace pathway::topics
