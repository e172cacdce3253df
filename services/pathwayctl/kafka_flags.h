// The Kafka flags every pathwayctl subcommand that talks to a broker shares.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/bus/kafka_bus.h"
#include "services/pathwayctl/cli.h"

namespace pathway::ctl {

inline constexpr std::string_view kKafkaFlagsHelp =
    "  --bootstrap-servers B  Kafka brokers (default: $PATHWAY_KAFKA_BOOTSTRAP)\n"
    "  -X key=value           a librdkafka setting; repeatable\n"
    "  --kafka-config FILE    librdkafka settings, key=value lines ('#' comments)\n";

struct KafkaFlags {
  std::string bootstrap;
  bus::KafkaConfig config;

  // Adds the flags, which write into this object (it must outlive the parse).
  void AddTo(std::vector<Flag>& flags) {
    flags.push_back({"--bootstrap-servers", true, [this](std::string_view v) {
                       bootstrap = v;
                       return std::optional<std::string>();
                     }});
    flags.push_back({"-X", true, [this](std::string_view v) -> std::optional<std::string> {
                       if (Status s = config.AddSetting(std::string(v)); !s)
                         return s.error().detail;
                       return std::nullopt;
                     }});
    flags.push_back(
        {"--kafka-config", true, [this](std::string_view v) -> std::optional<std::string> {
           if (Status s = config.LoadPropertiesFile(std::string(v)); !s) {
             return s.error().detail;
           }
           return std::nullopt;
         }});
  }

  // The bootstrap servers from the flag or the environment; an error message if none.
  std::optional<std::string> Resolve() {
    if (Status s = config.ResolveBootstrap(bootstrap); !s) return s.error().detail;
    return std::nullopt;
  }
};

}  // namespace pathway::ctl
