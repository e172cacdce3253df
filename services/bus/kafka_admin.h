// Topic administration on a Kafka cluster (librdkafka's Admin API). Used by
// `pathwayctl create-topics`, deployment scripts and tests; services never create
// topics implicitly.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "services/bus/kafka_bus.h"

namespace pathway::bus {

struct TopicSpec {
  std::string name;
  int partitions = 8;
  int replication_factor = 1;
  std::map<std::string, std::string> configs;  // e.g. {"min.insync.replicas", "2"}
};

// Creates each topic that does not exist yet; an existing topic is left as it is
// (its partition count is not changed), and with none missing nothing is requested.
// Bounded by `timeout` (about 2 s more for the result's delivery).
Status CreateTopics(const KafkaConfig& config, const std::vector<TopicSpec>& topics,
                    std::chrono::milliseconds timeout);

// Deletes each named topic that exists (a missing one is not an error), then waits
// until the cluster's metadata lists none of them: a real Kafka deletes
// asynchronously, and creating a topic of the same name before that fails or finds
// the old one. Bounded by `timeout` (kTimeout if a topic is still listed then).
// Destroys data: meant for tests and development clusters.
Status DeleteTopics(const KafkaConfig& config, const std::vector<std::string>& names,
                    std::chrono::milliseconds timeout);

// The configuration of each named topic as its brokers apply it (defaults included):
// topic -> config name -> value. Bounded by `timeout`. kConfig names a topic that does
// not exist; kTimeout past the bound; kTransport for any other refusal, including a
// broker without the DescribeConfigs API (librdkafka's mock cluster) and a principal
// not allowed to describe the topic (a DESCRIBE_CONFIGS ACL).
Result<std::map<std::string, std::map<std::string, std::string>>> DescribeTopicConfigs(
    const KafkaConfig& config, const std::vector<std::string>& topics,
    std::chrono::milliseconds timeout);

}  // namespace pathway::bus
