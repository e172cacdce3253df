// Every record of a topic up to its end offsets now, with pathwayctl's reader
// (ctl::ReadToEnd, bounded at 30 s): for the integration tests that check what the
// engine and pathwayctl wrote. Needs pathway_ctl_ops.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "services/bus/kafka_bus.h"
#include "services/pathwayctl/deadletters.h"

namespace pathway::testing {

inline std::vector<bus::Message> ReadTopic(const std::string& bootstrap, std::string_view topic) {
  bus::KafkaConfig config;
  config.bootstrap_servers = bootstrap;
  auto consumer = bus::NewKafkaConsumer(config, "");
  EXPECT_TRUE(consumer.ok());
  std::vector<bus::Message> out;
  if (!consumer.ok()) return out;
  Status s = ctl::ReadToEnd(**consumer, std::string(topic),
                            std::chrono::steady_clock::now() + std::chrono::seconds(30),
                            [&](const bus::Message& m) { out.push_back(m); });
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  (*consumer)->Close();
  return out;
}

}  // namespace pathway::testing
