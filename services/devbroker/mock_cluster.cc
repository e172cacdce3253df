#include "services/devbroker/mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <set>
#include <string>
#include <system_error>

#include "common/log.h"

namespace pathway::devbroker {
namespace {

constexpr int kMaxBrokers = 64;

// The mock cluster logs through its bookkeeping handle. Only warnings and errors are
// kept: the handle has no bootstrap servers on purpose, and librdkafka notices that.
void LogCallback(const rd_kafka_t* /*rk*/, int level, const char* facility, const char* text) {
  if (level > 4) return;  // syslog levels: 4 = warning
  log::Write(level <= 3 ? log::Level::kError : log::Level::kWarn, "mockbroker.log",
             {{"facility", facility}, {"detail", text}});
}

class MockClusterImpl final : public MockCluster {
 public:
  MockClusterImpl() = default;
  MockClusterImpl(const MockClusterImpl&) = delete;
  MockClusterImpl& operator=(const MockClusterImpl&) = delete;

  ~MockClusterImpl() override {
    // The cluster uses the handle for bookkeeping, so it goes first.
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (rk_ != nullptr) rd_kafka_destroy(rk_);
  }

  std::string BootstrapServers() const override { return bootstraps_; }
  rd_kafka_mock_cluster_s* Handle() override { return cluster_; }

  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
};

Error Invalid(std::string detail) {
  return Error{std::make_error_code(std::errc::invalid_argument), std::move(detail)};
}

}  // namespace

Result<std::unique_ptr<MockCluster>> MockCluster::Start(int brokers,
                                                        const std::vector<TopicSpec>& topics) {
  if (brokers < 1 || brokers > kMaxBrokers) {
    return Invalid("brokers must be between 1 and " + std::to_string(kMaxBrokers) + ", got " +
                   std::to_string(brokers));
  }
  std::set<std::string> seen;
  for (const TopicSpec& topic : topics) {
    if (topic.name.empty()) return Invalid("topic name is empty");
    if (topic.partitions < 1) {
      return Invalid("topic '" + topic.name + "' needs at least 1 partition, got " +
                     std::to_string(topic.partitions));
    }
    if (!seen.insert(topic.name).second) return Invalid("topic '" + topic.name + "' given twice");
  }

  auto impl = std::make_unique<MockClusterImpl>();
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, LogCallback);
  if (rd_kafka_conf_set(conf, "client.id", "pathway-mockbroker", errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return Error{std::make_error_code(std::errc::invalid_argument), errstr};
  }
  // rd_kafka_new takes ownership of conf only on success.
  impl->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (impl->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Error{std::make_error_code(std::errc::io_error),
                 std::string("creating the mock cluster's handle: ") + errstr};
  }
  impl->cluster_ = rd_kafka_mock_cluster_new(impl->rk_, brokers);
  if (impl->cluster_ == nullptr) {
    return Error{std::make_error_code(std::errc::io_error), "rd_kafka_mock_cluster_new failed"};
  }
  // Each rd_kafka_mock_topic_create is a request to the mock's thread. In 2.0.2 that
  // thread can miss a wake-up (it serves requests before draining its wake-up pipe),
  // so a start occasionally takes up to one second longer.
  const int replication = std::min(brokers, 3);
  for (const TopicSpec& topic : topics) {
    const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(impl->cluster_, topic.name.c_str(),
                                                               topic.partitions, replication);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Error{std::make_error_code(std::errc::io_error),
                   "creating topic '" + topic.name + "': " + rd_kafka_err2str(err)};
    }
  }
  impl->bootstraps_ = rd_kafka_mock_cluster_bootstraps(impl->cluster_);
  return std::unique_ptr<MockCluster>(std::move(impl));
}

}  // namespace pathway::devbroker
