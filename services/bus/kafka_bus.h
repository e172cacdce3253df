// The Kafka implementation of the event bus (librdkafka C++ API). It does not know
// whether it talks to the embedded mock broker or to a real cluster: every
// librdkafka setting (SASL, TLS, timeouts) passes through KafkaConfig unchanged.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "services/bus/event_bus.h"

namespace pathway::bus {

struct KafkaConfig {
  std::string bootstrap_servers;
  // Any librdkafka property ("security.protocol", "sasl.mechanisms", ...). Applied after
  // pathway's defaults, so an operator can override them.
  std::map<std::string, std::string> settings;

  // Reads `key=value` lines ('#' comments, blank lines allowed) into `settings`.
  Status LoadPropertiesFile(const std::string& path);
  // Parses one `key=value` (from a -X flag) into `settings`.
  Status AddSetting(const std::string& key_equals_value);
  // Bootstrap servers: `flag` if not empty, else $PATHWAY_KAFKA_BOOTSTRAP, else error.
  Status ResolveBootstrap(const std::string& flag);
};

// librdkafka's version as RD_KAFKA_VERSION (0xMMmmrrxx).
int KafkaClientVersion();
// Whether this librdkafka's cooperative-sticky assignor is safe to use: before 2.3.0
// it aborts when a consumer closes before its first assignment (librdkafka #4312).
bool CooperativeStickyIsSafe();

// An idempotent producer (enable.idempotence=true, acks=all, murmur2 partitioner).
// With a `transactional.id` among the settings it is a transactional producer
// (Producer::transactional(); call InitTransactions before the first transaction).
Result<std::unique_ptr<Producer>> NewKafkaProducer(const KafkaConfig& config,
                                                   DeliveryCallback on_delivery);

// A consumer with manual commits (enable.auto.commit=false) that starts from the
// earliest offset when the group has none and reads only committed transactions
// (isolation.level=read_committed). `group_id` may be empty for Assign-only use.
Result<std::unique_ptr<Consumer>> NewKafkaConsumer(const KafkaConfig& config,
                                                   const std::string& group_id);

}  // namespace pathway::bus
