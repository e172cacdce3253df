// An embedded Kafka: librdkafka's mock cluster (rdkafka_mock.h), speaking the real
// Kafka protocol on loopback TCP, in memory only. Used by pathway-devbroker and
// in-process by integration tests. Limits: no persistence; about 5 MB kept per
// partition; librdkafka 2.0.2's mock does not enforce transactions.
//
// Thread-safe after Start(); the cluster runs on librdkafka's own threads until the
// MockCluster is destroyed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

struct rd_kafka_mock_cluster_s;

namespace pathway::devbroker {

struct TopicSpec {
  std::string name;
  int partitions = 8;
};

class MockCluster {
 public:
  static Result<std::unique_ptr<MockCluster>> Start(int brokers,
                                                    const std::vector<TopicSpec>& topics);
  virtual ~MockCluster() = default;
  // "HOST:PORT[,HOST:PORT...]"
  virtual std::string BootstrapServers() const = 0;
  // For fault injection in tests (rd_kafka_mock_* functions).
  virtual rd_kafka_mock_cluster_s* Handle() = 0;
};

}  // namespace pathway::devbroker
