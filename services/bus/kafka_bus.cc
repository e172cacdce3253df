#include "services/bus/kafka_bus.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string_view>
#include <utility>

#include "common/log.h"

namespace pathway::bus {
namespace {

constexpr std::string_view kBootstrapEnv = "PATHWAY_KAFKA_BOOTSTRAP";
constexpr std::string_view kClientId = "pathway";

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

// Splits `key=value`. The value is never echoed in errors: it may be a password.
std::optional<std::pair<std::string, std::string>> SplitSetting(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  std::string_view key = Trim(text.substr(0, eq));
  if (key.empty()) return std::nullopt;
  return std::make_pair(std::string(key), std::string(Trim(text.substr(eq + 1))));
}

int ToTimeoutMs(std::chrono::milliseconds timeout) {
  const auto ms = std::max<std::chrono::milliseconds::rep>(timeout.count(), 0);
  return static_cast<int>(
      std::min<std::chrono::milliseconds::rep>(ms, std::numeric_limits<int>::max()));
}

// Errors librdkafka recovers from by itself (reconnects, metadata refresh): worth a
// warning, never a reason to stop consuming.
// Errors about one message that no retry can fix: the engine dead-letters that
// message instead of sending it again (or stopping).
bool IsPermanentForMessage(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR_INVALID_MSG_SIZE:
    case RdKafka::ERR_RECORD_LIST_TOO_LARGE:
    case RdKafka::ERR_INVALID_MSG:
    case RdKafka::ERR_INVALID_RECORD:
    case RdKafka::ERR_INVALID_TIMESTAMP:
    case RdKafka::ERR_POLICY_VIOLATION:
    case RdKafka::ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RdKafka::ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

bool IsTransient(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR__PARTITION_EOF:
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__RESOLVE:
    case RdKafka::ERR__MSG_TIMED_OUT:
    case RdKafka::ERR__UNKNOWN_PARTITION:
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
    case RdKafka::ERR_NETWORK_EXCEPTION:
    case RdKafka::ERR_COORDINATOR_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_COORDINATOR:
    case RdKafka::ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RdKafka::ERR_REBALANCE_IN_PROGRESS:
    case RdKafka::ERR__AUTO_OFFSET_RESET:
    case RdKafka::ERR_OFFSET_OUT_OF_RANGE:
      return true;
    default:
      return false;
  }
}

// Errors that will not go away until an operator changes configuration or ACLs.
bool IsPermanent(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR__FATAL:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
    case RdKafka::ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

// Our special offsets have Kafka's values, but librdkafka's constants are the
// authority, so the mapping is explicit. In assign(), librdkafka treats both
// OFFSET_STORED and OFFSET_INVALID as "the group's committed offset".
std::optional<int64_t> ToRdOffset(int64_t offset) {
  if (offset >= 0) return offset;
  if (offset == kOffsetBeginning) return RdKafka::Topic::OFFSET_BEGINNING;
  if (offset == kOffsetEnd) return RdKafka::Topic::OFFSET_END;
  if (offset == kOffsetCommitted) return RdKafka::Topic::OFFSET_STORED;
  return std::nullopt;
}

int64_t FromRdOffset(int64_t offset) {
  if (offset >= 0) return offset;
  if (offset == RdKafka::Topic::OFFSET_BEGINNING) return kOffsetBeginning;
  if (offset == RdKafka::Topic::OFFSET_END) return kOffsetEnd;
  return kOffsetCommitted;  // OFFSET_STORED, OFFSET_INVALID (what rebalances hand us)
}

// Owns the RdKafka::TopicPartition objects of a list.
struct PartitionList {
  std::vector<RdKafka::TopicPartition*> items;
  PartitionList() = default;
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  ~PartitionList() { RdKafka::TopicPartition::destroy(items); }
};

std::string PartitionName(const std::string& topic, int32_t partition) {
  return topic + "[" + std::to_string(partition) + "]";
}

// Owners for the C API's handles (the Admin API has no C++ binding in 2.0.2).
struct CDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
  void operator()(rd_kafka_DeleteRecords_t* d) const { rd_kafka_DeleteRecords_destroy(d); }
};
template <class T>
using COwned = std::unique_ptr<T, CDeleter>;

// The bus error for a librdkafka error of a request bounded by a timeout.
errc RequestErrc(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return errc::kTimeout;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:  // DeleteRecords beyond the end
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
      return errc::kConfig;
    default:
      return errc::kTransport;
  }
}

// Kafka's DeleteRecords on the client `rk` (any handle type): a temporary result queue,
// request and broker operation timeouts of `timeout`, and at most `timeout` waiting.
Status DeleteRecords(rd_kafka_t* rk, const std::vector<TopicPartition>& before,
                     std::chrono::milliseconds timeout) {
  if (before.empty()) return Status::Ok();
  COwned<rd_kafka_topic_partition_list_t> offsets(
      rd_kafka_topic_partition_list_new(static_cast<int>(before.size())));
  for (const TopicPartition& tp : before) {
    if (tp.offset < 0) {
      // librdkafka would read OFFSET_END as "everything": not part of this contract.
      return Status(errc::kConfig, "cannot delete records of " +
                                       PartitionName(tp.topic, tp.partition) + " below offset " +
                                       std::to_string(tp.offset));
    }
    rd_kafka_topic_partition_list_add(offsets.get(), tp.topic.c_str(), tp.partition)->offset =
        tp.offset;
  }
  // Admin timeouts must lie in [1 ms, 1 h].
  const int timeout_ms = std::clamp(ToTimeoutMs(timeout), 1, 3600 * 1000);
  char errstr[512];
  COwned<rd_kafka_AdminOptions_t> options(
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETERECORDS));
  if (!options ||
      rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms, errstr, sizeof errstr) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      rd_kafka_AdminOptions_set_operation_timeout(options.get(), timeout_ms, errstr,
                                                  sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status(errc::kConfig,
                  std::string("delete records: options: ") + (options ? errstr : "not supported"));
  }
  COwned<rd_kafka_DeleteRecords_t> request(rd_kafka_DeleteRecords_new(offsets.get()));
  COwned<rd_kafka_queue_t> queue(rd_kafka_queue_new(rk));
  rd_kafka_DeleteRecords_t* requests[] = {request.get()};
  rd_kafka_DeleteRecords(rk, requests, 1, options.get(), queue.get());
  // The request timeout makes librdkafka report a result by then. Should it not, the
  // queue is destroyed with the request outstanding: the request holds its own
  // reference to the queue, so the late result is dropped safely.
  COwned<rd_kafka_event_t> event(rd_kafka_queue_poll(queue.get(), timeout_ms));
  if (!event) {
    return Status(errc::kTimeout,
                  "delete records: no answer within " + std::to_string(timeout_ms) + " ms");
  }
  if (const rd_kafka_resp_err_t err = rd_kafka_event_error(event.get())) {
    return Status(RequestErrc(err),
                  std::string("delete records: ") + rd_kafka_event_error_string(event.get()));
  }
  const rd_kafka_DeleteRecords_result_t* result = rd_kafka_event_DeleteRecords_result(event.get());
  const rd_kafka_topic_partition_list_t* results =
      result ? rd_kafka_DeleteRecords_result_offsets(result) : nullptr;
  if (results == nullptr) {
    return Status(errc::kTransport, std::string("delete records: unexpected result event ") +
                                        rd_kafka_event_name(event.get()));
  }
  for (int i = 0; i < results->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = results->elems[i];
    if (p.err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    std::string detail = "delete records of " + PartitionName(p.topic, p.partition);
    if (p.err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      const auto asked = std::find_if(before.begin(), before.end(), [&](const TopicPartition& tp) {
        return tp.topic == p.topic && tp.partition == p.partition;
      });
      if (asked != before.end()) detail += " below offset " + std::to_string(asked->offset);
      detail += ": beyond the partition's end";
    } else {
      detail += std::string(": ") + rd_kafka_err2str(p.err);
    }
    return Status(RequestErrc(p.err), detail);
  }
  return Status::Ok();
}

// Routes librdkafka's errors and logs into pathway's structured log. librdkafka's
// texts name brokers, topics and partitions, never message keys or values.
// Log events arrive on librdkafka's threads; log::Write is thread-safe.
class LogEvents final : public RdKafka::EventCb {
 public:
  explicit LogEvents(std::string role) : role_(std::move(role)) {}

  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_ERROR: {
        log::Level level = log::Level::kError;
        if (!event.fatal() && IsTransient(event.err())) level = log::Level::kWarn;
        log::Write(level, "kafka.error",
                   {{"client", role_},
                    {"code", RdKafka::err2str(event.err())},
                    {"detail", event.str()},
                    {"fatal", event.fatal() ? "true" : "false"}});
        break;
      }
      case RdKafka::Event::EVENT_LOG:
        log::Write(LevelOf(event.severity()), "kafka.log",
                   {{"client", role_}, {"facility", event.fac()}, {"detail", event.str()}});
        break;
      case RdKafka::Event::EVENT_THROTTLE:
        log::Debug("kafka.throttle", {{"client", role_},
                                      {"broker", event.broker_name()},
                                      {"ms", std::to_string(event.throttle_time())}});
        break;
      case RdKafka::Event::EVENT_STATS:
        break;
    }
  }

 private:
  static log::Level LevelOf(RdKafka::Event::Severity severity) {
    switch (severity) {
      case RdKafka::Event::EVENT_SEVERITY_EMERG:
      case RdKafka::Event::EVENT_SEVERITY_ALERT:
      case RdKafka::Event::EVENT_SEVERITY_CRITICAL:
        return log::Level::kError;
      // librdkafka logs every failed connection at ERROR and reports it again as an
      // error event; the event carries the judgement (transient or not).
      case RdKafka::Event::EVENT_SEVERITY_ERROR:
      case RdKafka::Event::EVENT_SEVERITY_WARNING:
        return log::Level::kWarn;
      case RdKafka::Event::EVENT_SEVERITY_NOTICE:
        return log::Level::kInfo;
      case RdKafka::Event::EVENT_SEVERITY_INFO:
      case RdKafka::Event::EVENT_SEVERITY_DEBUG:
        return log::Level::kDebug;
    }
    return log::Level::kInfo;
  }

  std::string role_;
};

using Setting = std::pair<std::string, std::string>;

// Builds a librdkafka configuration: pathway's defaults, then the bootstrap servers,
// then every operator setting (so operators can override the defaults).
Result<std::unique_ptr<RdKafka::Conf>> BuildConf(const KafkaConfig& config,
                                                 const std::vector<Setting>& defaults,
                                                 RdKafka::EventCb* events) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  auto set = [&](const std::string& key, const std::string& value) -> Status {
    if (conf->set(key, value, errstr) != RdKafka::Conf::CONF_OK) {
      return Status(errc::kConfig, "setting '" + key + "': " + errstr);
    }
    return Status::Ok();
  };
  for (const auto& [key, value] : defaults) {
    if (Status s = set(key, value); !s) return s.error();
  }
  if (!config.bootstrap_servers.empty()) {
    if (Status s = set("bootstrap.servers", config.bootstrap_servers); !s) return s.error();
  }
  for (const auto& [key, value] : config.settings) {
    if (Status s = set(key, value); !s) return s.error();
  }
  std::string bootstrap;
  std::string broker_list;
  conf->get("bootstrap.servers", bootstrap);
  conf->get("metadata.broker.list", broker_list);
  if (bootstrap.empty() && broker_list.empty()) {
    // Without brokers librdkafka would wait forever without reporting anything.
    return Error{errc::kConfig, "no bootstrap servers configured"};
  }
  if (conf->set("event_cb", events, errstr) != RdKafka::Conf::CONF_OK) {
    return Error{errc::kConfig, "event_cb: " + errstr};
  }
  return conf;
}

// ---------------------------------------------------------------------------------
// Producer

// The outcome of a transactional call as a Status. Takes ownership of `error`.
Status TxnStatus(RdKafka::Error* raw, std::string_view call) {
  std::unique_ptr<RdKafka::Error> error(raw);
  if (!error) return Status::Ok();
  std::string detail = std::string(call) + ": " + error->str();
  if (error->is_fatal()) return Status(errc::kFenced, detail);
  if (error->txn_requires_abort()) return Status(errc::kTxnAbortable, detail);
  if (error->code() == RdKafka::ERR__TIMED_OUT) return Status(errc::kTimeout, detail);
  if (error->code() == RdKafka::ERR__STATE) return Status(errc::kState, detail);
  return Status(errc::kTransport, detail);
}

class KafkaConsumer;

class KafkaProducer final : public Producer {
 public:
  explicit KafkaProducer(DeliveryCallback on_delivery)
      : on_delivery_(std::move(on_delivery)), events_("producer"), reports_(this) {}

  ~KafkaProducer() override {
    // Topic handles must go before the client handle. Unreported messages are dropped
    // without callbacks: callers Flush first.
    topics_.clear();
    producer_.reset();
  }

  Status Init(const KafkaConfig& config) {
    Result<std::unique_ptr<RdKafka::Conf>> conf =
        BuildConf(config,
                  {
                      {"client.id", std::string(kClientId)},
                      {"enable.idempotence", "true"},
                      {"acks", "all"},
                      // Same key, same partition as Kafka's Java client.
                      {"partitioner", "murmur2_random"},
                      {"linger.ms", "5"},
                      {"message.timeout.ms", "30000"},
                  },
                  &events_);
    if (!conf) return conf.error();
    std::string errstr;
    if ((*conf)->set("dr_cb", &reports_, errstr) != RdKafka::Conf::CONF_OK) {
      return Status(errc::kConfig, "dr_cb: " + errstr);
    }
    std::string transactional_id;
    (*conf)->get("transactional.id", transactional_id);
    transactional_ = !transactional_id.empty();
    producer_.reset(RdKafka::Producer::create(conf->get(), errstr));
    if (!producer_) return Status(errc::kConfig, "creating producer: " + errstr);
    return Status::Ok();
  }

  bool transactional() const override { return transactional_; }

  Status InitTransactions(std::chrono::milliseconds timeout) override {
    if (!transactional_) return Status(errc::kState, "not a transactional producer");
    return TxnStatus(producer_->init_transactions(ToTimeoutMs(timeout)), "init_transactions");
  }

  Status BeginTransaction() override {
    if (!transactional_) return Status(errc::kState, "not a transactional producer");
    return TxnStatus(producer_->begin_transaction(), "begin_transaction");
  }

  Status SendOffsetsToTransaction(const std::vector<GroupOffset>& offsets, Consumer& group,
                                  std::chrono::milliseconds timeout) override;

  Status CommitTransaction(std::chrono::milliseconds timeout) override {
    if (!transactional_) return Status(errc::kState, "not a transactional producer");
    // librdkafka: a retriable failure leaves the commit to be called again.
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int attempt = 0;; ++attempt) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      std::unique_ptr<RdKafka::Error> error(
          producer_->commit_transaction(ToTimeoutMs(std::max(left, std::chrono::milliseconds(1)))));
      if (error && error->is_retriable() && !error->is_fatal() && !error->txn_requires_abort() &&
          std::chrono::steady_clock::now() < deadline && attempt < 100) {
        continue;
      }
      return TxnStatus(error.release(), "commit_transaction");
    }
  }

  Status AbortTransaction(std::chrono::milliseconds timeout) override {
    if (!transactional_) return Status(errc::kState, "not a transactional producer");
    return TxnStatus(producer_->abort_transaction(ToTimeoutMs(timeout)), "abort_transaction");
  }

  Status Send(const Outgoing& m, uint64_t opaque) override {
    return Send(m.topic, m.key, m.tombstone ? nullptr : m.value.data(),
                m.tombstone ? 0 : m.value.size(), m.partition, opaque);
  }

  void Poll(std::chrono::milliseconds timeout) override { producer_->poll(ToTimeoutMs(timeout)); }

  Status Flush(std::chrono::milliseconds timeout) override {
    // flush() serves delivery callbacks while it waits.
    producer_->flush(ToTimeoutMs(timeout));
    const int outstanding = producer_->outq_len();
    if (outstanding > 0) {
      return Status(errc::kTimeout,
                    std::to_string(outstanding) + " messages or requests still outstanding");
    }
    return Status::Ok();
  }

  size_t InFlight() const override {
    return static_cast<size_t>(produced_.load(std::memory_order_relaxed) -
                               reported_.load(std::memory_order_relaxed));
  }

 private:
  // `value` null: a tombstone (null value), which compaction uses to delete a key.
  Status Send(std::string_view topic, std::string_view key, const char* value, size_t size,
              int32_t partition, uint64_t opaque) {
    Result<RdKafka::Topic*> handle = TopicHandle(topic);
    if (!handle) return handle.error();
    // An empty key is sent as a null key (random partition): pathway always keys by a
    // subject or event id, so "no key" only ever means "no key".
    const void* key_ptr = key.empty() ? nullptr : key.data();
    // RK_MSG_COPY: librdkafka copies the value, so the const_cast never leads to a write.
    const RdKafka::ErrorCode err = producer_->produce(
        *handle, partition == kPartitionByKey ? RdKafka::Topic::PARTITION_UA : partition,
        RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value), size, key_ptr, key.size(),
        reinterpret_cast<void*>(static_cast<uintptr_t>(opaque)));
    if (err == RdKafka::ERR__QUEUE_FULL) {
      return Status(errc::kQueueFull, std::string(topic));
    }
    if (err != RdKafka::ERR_NO_ERROR) {
      return Status(IsPermanentForMessage(err) ? errc::kRejected : errc::kDelivery,
                    std::string(topic) + ": " + RdKafka::err2str(err));
    }
    produced_.fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }

  class Reports final : public RdKafka::DeliveryReportCb {
   public:
    explicit Reports(KafkaProducer* owner) : owner_(owner) {}
    void dr_cb(RdKafka::Message& message) override { owner_->Report(message); }

   private:
    KafkaProducer* owner_;
  };

  void Report(RdKafka::Message& message) {
    Delivery delivery;
    delivery.opaque = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(message.msg_opaque()));
    delivery.partition = message.partition();
    delivery.offset = message.offset();
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      delivery.error = IsPermanentForMessage(message.err()) ? errc::kRejected : errc::kDelivery;
      delivery.error_detail = message.topic_name() + ": " + RdKafka::err2str(message.err());
    }
    reported_.fetch_add(1, std::memory_order_relaxed);
    if (on_delivery_) on_delivery_(delivery);
  }

  // Topic handles are cached so a Produce does not allocate a topic name.
  Result<RdKafka::Topic*> TopicHandle(std::string_view topic) {
    auto it = topics_.find(topic);
    if (it != topics_.end()) return it->second.get();
    std::string errstr;
    std::unique_ptr<RdKafka::Topic> handle(
        RdKafka::Topic::create(producer_.get(), std::string(topic), nullptr, errstr));
    if (!handle) return Error{errc::kConfig, "topic '" + std::string(topic) + "': " + errstr};
    RdKafka::Topic* raw = handle.get();
    topics_.emplace(std::string(topic), std::move(handle));
    return raw;
  }

  DeliveryCallback on_delivery_;
  LogEvents events_;
  Reports reports_;
  bool transactional_ = false;
  std::atomic<uint64_t> produced_{0};
  std::atomic<uint64_t> reported_{0};
  // Destroyed before the callbacks above (members die in reverse order): librdkafka
  // may call them until the handle is gone. Topic handles go before the client.
  std::unique_ptr<RdKafka::Producer> producer_;
  std::map<std::string, std::unique_ptr<RdKafka::Topic>, std::less<>> topics_;
};

// ---------------------------------------------------------------------------------
// Consumer

class KafkaConsumer final : public Consumer {
 public:
  KafkaConsumer(std::string group_id, bool has_group)
      : group_id_(std::move(group_id)),
        has_group_(has_group),
        events_("consumer"),
        rebalance_(this) {}

  ~KafkaConsumer() override { Close(); }

  Status Init(const KafkaConfig& config) {
    Result<std::unique_ptr<RdKafka::Conf>> conf =
        BuildConf(config,
                  {
                      {"client.id", std::string(kClientId)},
                      {"group.id", group_id_},
                      {"enable.auto.commit", "false"},
                      {"auto.offset.reset", "earliest"},
                      {"enable.partition.eof", "false"},
                      // Never see what an aborted transaction wrote (librdkafka's
                      // default, stated because the guarantees depend on it).
                      {"isolation.level", "read_committed"},
                  },
                  &events_);
    if (!conf) return conf.error();
    std::string errstr;
    // Installed always; it only runs after Subscribe.
    if ((*conf)->set("rebalance_cb", &rebalance_, errstr) != RdKafka::Conf::CONF_OK) {
      return Status(errc::kConfig, "rebalance_cb: " + errstr);
    }
    consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), errstr));
    if (!consumer_) return Status(errc::kConfig, "creating consumer: " + errstr);
    return Status::Ok();
  }

  Status Subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) override {
    if (mode_ == Mode::kClosed) return Status(errc::kState, "consumer is closed");
    if (mode_ == Mode::kAssigned) return Status(errc::kState, "Subscribe after Assign");
    if (!has_group_) return Status(errc::kState, "Subscribe needs a group id");
    listener_ = listener;
    const RdKafka::ErrorCode err = consumer_->subscribe(topics);
    if (err != RdKafka::ERR_NO_ERROR) {
      return Status(errc::kConfig, "subscribe: " + RdKafka::err2str(err));
    }
    mode_ = Mode::kSubscribed;
    return Status::Ok();
  }

  Status Assign(const std::vector<TopicPartition>& partitions) override {
    if (mode_ == Mode::kClosed) return Status(errc::kState, "consumer is closed");
    if (mode_ == Mode::kSubscribed) return Status(errc::kState, "Assign after Subscribe");
    PartitionList list;
    for (const TopicPartition& tp : partitions) {
      std::optional<int64_t> offset = ToRdOffset(tp.offset);
      if (!offset) {
        return Status(errc::kConfig, "invalid start offset " + std::to_string(tp.offset) + " for " +
                                         PartitionName(tp.topic, tp.partition));
      }
      list.items.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition, *offset));
    }
    const RdKafka::ErrorCode err = consumer_->assign(list.items);
    if (err != RdKafka::ERR_NO_ERROR) {
      return Status(errc::kConfig, "assign: " + RdKafka::err2str(err));
    }
    mode_ = Mode::kAssigned;
    return Status::Ok();
  }

  Result<std::optional<Message>> Poll(std::chrono::milliseconds timeout) override {
    if (mode_ == Mode::kClosed) return Error{errc::kState, "consumer is closed"};
    if (mode_ == Mode::kIdle) return Error{errc::kState, "Poll before Subscribe or Assign"};
    if (pending_error_) return *std::exchange(pending_error_, std::nullopt);
    // consume() also runs the rebalance callback, so the listener runs on this thread.
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(ToTimeoutMs(timeout)));
    if (pending_error_) return *std::exchange(pending_error_, std::nullopt);
    const RdKafka::ErrorCode err = m->err();
    if (err == RdKafka::ERR_NO_ERROR) {
      Message out;
      out.topic = m->topic_name();
      out.partition = m->partition();
      out.offset = m->offset();
      if (m->key_pointer() != nullptr) {
        out.key.emplace(static_cast<const char*>(m->key_pointer()), m->key_len());
      }
      if (m->payload() != nullptr) {
        out.value.assign(static_cast<const char*>(m->payload()), m->len());
      } else {
        out.tombstone = true;
      }
      const RdKafka::MessageTimestamp ts = m->timestamp();
      out.timestamp_ms =
          ts.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE ? 0 : ts.timestamp;
      return std::optional<Message>(std::move(out));
    }
    if (err == RdKafka::ERR__TIMED_OUT) return std::optional<Message>();
    // An error event: it returns early (before `timeout`), which callers that poll in
    // a loop do not notice. errstr() is librdkafka's text, never message contents.
    if (err == RdKafka::ERR__FATAL) {
      std::string reason;
      const RdKafka::ErrorCode cause = consumer_->fatal_error(reason);
      return Error{errc::kTransport,
                   "fatal consumer error: " + RdKafka::err2str(cause) + ": " + reason};
    }
    if (IsPermanent(err)) {
      return Error{errc::kConfig, RdKafka::err2str(err) + ": " + m->errstr()};
    }
    log::Write(IsTransient(err) ? log::Level::kDebug : log::Level::kWarn, "kafka.consume_error",
               {{"code", RdKafka::err2str(err)},
                {"topic", m->topic_name()},
                {"partition", std::to_string(m->partition())},
                {"detail", m->errstr()}});
    return std::optional<Message>();
  }

  Status Commit(const std::vector<TopicPartition>& next_offsets) override {
    if (mode_ == Mode::kClosed) return Status(errc::kState, "consumer is closed");
    if (!has_group_) return Status(errc::kState, "Commit needs a group id");
    if (next_offsets.empty()) return Status::Ok();
    PartitionList list;
    for (const TopicPartition& tp : next_offsets) {
      if (tp.offset < 0) {
        return Status(errc::kConfig, "cannot commit offset " + std::to_string(tp.offset) + " for " +
                                         PartitionName(tp.topic, tp.partition));
      }
      list.items.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition, tp.offset));
    }
    // Bounded by librdkafka, not by us: with the coordinator unreachable, 2.0.2 gives
    // up with ERR__WAIT_COORD after about session.timeout.ms (45 s by default).
    const RdKafka::ErrorCode err = consumer_->commitSync(list.items);
    if (err == RdKafka::ERR__TIMED_OUT || err == RdKafka::ERR_REQUEST_TIMED_OUT) {
      return Status(errc::kTimeout, "commit: " + RdKafka::err2str(err));
    }
    if (err != RdKafka::ERR_NO_ERROR) {
      return Status(errc::kTransport, "commit: " + RdKafka::err2str(err));
    }
    for (const RdKafka::TopicPartition* tp : list.items) {
      if (tp->err() != RdKafka::ERR_NO_ERROR) {
        return Status(errc::kTransport, "commit " + PartitionName(tp->topic(), tp->partition()) +
                                            ": " + RdKafka::err2str(tp->err()));
      }
    }
    return Status::Ok();
  }

  Result<std::vector<GroupOffset>> Committed(const std::vector<TopicPartition>& partitions,
                                             std::chrono::milliseconds timeout) override {
    if (mode_ == Mode::kClosed || !consumer_) return Error{errc::kState, "consumer is closed"};
    if (!has_group_) return Error{errc::kState, "Committed needs a group id"};
    // The C API: the C++ TopicPartition of librdkafka 2.0.2 does not carry metadata.
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
    for (const TopicPartition& tp : partitions) {
      rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition);
    }
    const rd_kafka_resp_err_t err =
        rd_kafka_committed(consumer_->c_ptr(), list, ToTimeoutMs(timeout));
    std::vector<GroupOffset> out;
    std::optional<Error> failure;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      failure = Error{err == RD_KAFKA_RESP_ERR__TIMED_OUT ? errc::kTimeout : errc::kTransport,
                      std::string("committed offsets: ") + rd_kafka_err2str(err)};
    }
    for (int i = 0; !failure && i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& p = list->elems[i];
      if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        failure =
            Error{errc::kTransport, "committed offset of " + PartitionName(p.topic, p.partition) +
                                        ": " + rd_kafka_err2str(p.err)};
        break;
      }
      GroupOffset c{p.topic, p.partition, p.offset >= 0 ? p.offset : -1, {}};
      if (p.metadata != nullptr) {
        c.metadata.assign(static_cast<const char*>(p.metadata), p.metadata_size);
      }
      out.push_back(std::move(c));
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (failure) return *failure;
    return out;
  }

  // The C handle, for the transactional producer's group metadata; null once closed.
  rd_kafka_t* c_handle() { return consumer_ ? consumer_->c_ptr() : nullptr; }

  std::vector<TopicPartition> Positions() override {
    std::vector<TopicPartition> out;
    if (mode_ == Mode::kClosed || !consumer_) return out;
    std::vector<RdKafka::TopicPartition*> parts;
    if (consumer_->assignment(parts) != RdKafka::ERR_NO_ERROR) return out;
    if (consumer_->position(parts) == RdKafka::ERR_NO_ERROR) {
      for (const auto* tp : parts) {
        if (tp->offset() >= 0) out.push_back({tp->topic(), tp->partition(), tp->offset()});
      }
    }
    RdKafka::TopicPartition::destroy(parts);
    return out;
  }

  int64_t Lag() override {
    if (mode_ == Mode::kClosed || !consumer_) return 0;
    std::vector<RdKafka::TopicPartition*> parts;
    if (consumer_->assignment(parts) != RdKafka::ERR_NO_ERROR) return 0;
    int64_t lag = 0;
    if (consumer_->position(parts) == RdKafka::ERR_NO_ERROR) {
      for (auto* tp : parts) {
        int64_t low = 0;
        int64_t high = 0;
        // Cached from fetch responses: no request to the broker.
        if (consumer_->get_watermark_offsets(tp->topic(), tp->partition(), &low, &high) !=
                RdKafka::ERR_NO_ERROR ||
            high < 0 || tp->offset() < 0) {
          continue;
        }
        lag += std::max<int64_t>(0, high - tp->offset());
      }
    }
    RdKafka::TopicPartition::destroy(parts);
    return lag;
  }

  Result<int64_t> EndOffset(const std::string& topic, int32_t partition,
                            std::chrono::milliseconds timeout) override {
    auto marks = Watermarks(topic, partition, timeout);
    if (!marks) return marks.error();
    return marks->second;
  }

  Result<int64_t> StartOffset(const std::string& topic, int32_t partition,
                              std::chrono::milliseconds timeout) override {
    auto marks = Watermarks(topic, partition, timeout);
    if (!marks) return marks.error();
    return marks->first;
  }

  // The low and high watermarks, asked of the broker.
  Result<std::pair<int64_t, int64_t>> Watermarks(const std::string& topic, int32_t partition,
                                                 std::chrono::milliseconds timeout) {
    if (mode_ == Mode::kClosed) return Error{errc::kState, "consumer is closed"};
    int64_t low = 0;
    int64_t high = 0;
    const auto err = consumer_->query_watermark_offsets(topic, partition, &low, &high,
                                                        static_cast<int>(timeout.count()));
    if (err == RdKafka::ERR__TIMED_OUT) {
      return Error{errc::kTimeout,
                   topic + "[" + std::to_string(partition) + "]: no end offset in time"};
    }
    if (err != RdKafka::ERR_NO_ERROR) {
      return Error{
          err == RdKafka::ERR__UNKNOWN_PARTITION || err == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART
              ? errc::kConfig
              : errc::kTransport,
          topic + "[" + std::to_string(partition) + "]: " + RdKafka::err2str(err)};
    }
    return std::pair(low, high);
  }

  Result<std::vector<int32_t>> Partitions(const std::string& topic,
                                          std::chrono::milliseconds timeout) override {
    if (mode_ == Mode::kClosed) return Error{errc::kState, "consumer is closed"};
    // Where brokers auto-create topics, asking about one may create it: librdkafka
    // 2.0.2 can send this request before version negotiation, so it does not carry
    // allow.auto.create.topics=false. The mock then creates it with 4 partitions.
    std::string errstr;
    std::unique_ptr<RdKafka::Topic> handle(
        RdKafka::Topic::create(consumer_.get(), topic, nullptr, errstr));
    if (!handle) return Error{errc::kConfig, "topic '" + topic + "': " + errstr};
    RdKafka::Metadata* raw = nullptr;
    const RdKafka::ErrorCode err =
        consumer_->metadata(false, handle.get(), &raw, ToTimeoutMs(timeout));
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (err == RdKafka::ERR__TIMED_OUT) {
      return Error{errc::kTimeout, "metadata for '" + topic + "'"};
    }
    if (err != RdKafka::ERR_NO_ERROR || !metadata) {
      return Error{errc::kTransport, "metadata for '" + topic + "': " + RdKafka::err2str(err)};
    }
    for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
      if (t->topic() != topic) continue;
      if (t->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) {
        return Error{errc::kConfig, "unknown topic '" + topic + "'"};
      }
      if (t->err() != RdKafka::ERR_NO_ERROR) {
        return Error{errc::kTransport,
                     "metadata for '" + topic + "': " + RdKafka::err2str(t->err())};
      }
      std::vector<int32_t> ids;
      for (const RdKafka::PartitionMetadata* p : *t->partitions()) ids.push_back(p->id());
      std::sort(ids.begin(), ids.end());
      return ids;
    }
    return Error{errc::kConfig, "unknown topic '" + topic + "'"};
  }

  Status DeleteRecordsBefore(const std::vector<TopicPartition>& before,
                             std::chrono::milliseconds timeout) override {
    if (mode_ == Mode::kClosed || !consumer_) return Status(errc::kState, "consumer is closed");
    return DeleteRecords(consumer_->c_ptr(), before, timeout);
  }

  // Leaves the group: revokes the assignment (OnRevoke runs here) and sends
  // LeaveGroup. librdkafka bounds this by its own session and request timeouts;
  // librdkafka 2.0.2 can block longer when no broker is reachable (upstream
  // librdkafka issue #4519).
  void Close() override {
    if (mode_ == Mode::kClosed) return;
    const bool subscribed = mode_ == Mode::kSubscribed;
    mode_ = Mode::kClosed;
    if (!consumer_) return;
    if (subscribed) LeaveGroup();
    const RdKafka::ErrorCode err = consumer_->close();
    if (err != RdKafka::ERR_NO_ERROR) {
      log::Warn("kafka.close_error", {{"code", RdKafka::err2str(err)}});
    }
    consumer_.reset();
  }

 private:
  enum class Mode { kIdle, kSubscribed, kAssigned, kClosed };

  // How long Close waits, beyond what the listener's OnRevoke takes, for the group to
  // take the assignment back before it closes anyway.
  static constexpr int kLeaveBoundMs = 10000;

  // Unsubscribes, then serves the rebalance events until this member holds nothing
  // and none is queued, while the group is still running. librdkafka 2.0.2 can block
  // for ever in close() when it hands the application a rebalance left over from
  // before (typically after max.poll.interval.ms put this member out of the group and
  // it rejoined): the *assign() answering it is queued to a group that has meanwhile
  // terminated and never replies (upstream issue #4884; the fix, PR #4883, is in no
  // release). Answered here, every such call gets its reply, and close() has nothing
  // left to hand over. Messages read meanwhile are dropped uncommitted: the next owner
  // reads them from the committed offsets.
  void LeaveGroup() {
    if (RdKafka::ErrorCode e = consumer_->unsubscribe(); e != RdKafka::ERR_NO_ERROR) {
      log::Warn("kafka.unsubscribe_error", {{"code", RdKafka::err2str(e)}});
      return;
    }
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kLeaveBoundMs);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::unique_ptr<RdKafka::Message> m(consumer_->consume(100));
      const bool quiet = m == nullptr || m->err() == RdKafka::ERR__TIMED_OUT;
      std::vector<RdKafka::TopicPartition*> held;
      const RdKafka::ErrorCode e = consumer_->assignment(held);
      const bool empty = held.empty();
      RdKafka::TopicPartition::destroy(held);
      if (e != RdKafka::ERR_NO_ERROR) return;
      if (quiet && empty) return;
    }
    log::Warn("kafka.leave_incomplete", {{"bound_ms", std::to_string(kLeaveBoundMs)}});
  }

  // Eager rebalancing (the default range/roundrobin assignors): every rebalance
  // revokes everything, then assigns the new set. Cooperative-sticky, which moves
  // only the partitions that change owner, comes with the scale-out work; the
  // incremental calls below keep an operator override of
  // partition.assignment.strategy from corrupting the assignment meanwhile.
  class Rebalance final : public RdKafka::RebalanceCb {
   public:
    explicit Rebalance(KafkaConsumer* owner) : owner_(owner) {}

    void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                      std::vector<RdKafka::TopicPartition*>& partitions) override {
      owner_->OnRebalance(consumer, err, partitions);
    }

   private:
    KafkaConsumer* owner_;
  };

  void OnRebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                   std::vector<RdKafka::TopicPartition*>& partitions) {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    std::vector<TopicPartition> ours;
    ours.reserve(partitions.size());
    for (const RdKafka::TopicPartition* p : partitions) {
      ours.push_back({p->topic(), p->partition(), FromRdOffset(p->offset())});
    }
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS && mode_ == Mode::kClosed && !cooperative) {
      // Leaving: an assignment now is left over from a join before the unsubscribe.
      // It is answered (the group waits for an answer) by taking nothing, and the
      // listener never hears of it.
      if (RdKafka::ErrorCode e = consumer->unassign(); e != RdKafka::ERR_NO_ERROR) {
        log::Error("kafka.unassign_error", {{"code", RdKafka::err2str(e)}});
      }
      log::Info("kafka.assignment_declined", {{"count", std::to_string(partitions.size())}});
    } else if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      if (listener_ != nullptr) listener_->OnAssign(ours);
      for (const TopicPartition& tp : ours) announced_.insert({tp.topic, tp.partition});
      for (RdKafka::TopicPartition* p : partitions) {
        // Matched by name, so a listener that reorders the list still works.
        auto it = std::find_if(ours.begin(), ours.end(), [&](const TopicPartition& tp) {
          return tp.topic == p->topic() && tp.partition == p->partition();
        });
        const int64_t wanted = it == ours.end() ? kOffsetCommitted : it->offset;
        std::optional<int64_t> offset = ToRdOffset(wanted);
        if (!offset) {
          log::Error("kafka.rebalance_bad_offset",
                     {{"partition", PartitionName(p->topic(), p->partition())},
                      {"offset", std::to_string(wanted)}});
          offset = RdKafka::Topic::OFFSET_STORED;
        }
        p->set_offset(*offset);
      }
      std::string failure;
      if (cooperative) {
        std::unique_ptr<RdKafka::Error> e(consumer->incremental_assign(partitions));
        if (e) failure = e->str();
      } else if (RdKafka::ErrorCode e = consumer->assign(partitions); e != RdKafka::ERR_NO_ERROR) {
        failure = RdKafka::err2str(e);
      }
      if (!failure.empty()) {
        pending_error_ = Error{errc::kTransport, "assigning partitions: " + failure};
        return;
      }
      log::Info("kafka.partitions_assigned", {{"count", std::to_string(partitions.size())}});
    } else if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
      if (consumer->assignment_lost()) {
        log::Warn("kafka.partitions_lost", {{"count", std::to_string(partitions.size())}});
      }
      TellRevoked(std::move(ours));
      if (cooperative) {
        std::unique_ptr<RdKafka::Error> e(consumer->incremental_unassign(partitions));
        if (e) log::Error("kafka.unassign_error", {{"detail", e->str()}});
      } else if (RdKafka::ErrorCode e = consumer->unassign(); e != RdKafka::ERR_NO_ERROR) {
        log::Error("kafka.unassign_error", {{"code", RdKafka::err2str(e)}});
      }
      log::Info("kafka.partitions_revoked", {{"count", std::to_string(partitions.size())}});
    } else {
      log::Error("kafka.rebalance_error", {{"code", RdKafka::err2str(err)}});
      TellRevoked(std::move(ours));
      (void)consumer->unassign();
    }
  }

  // The listener hears a partition revoked only if it heard it assigned: a declined
  // assignment's partitions can still be listed in the revocation that follows. It is
  // called even when that leaves the list empty, as for an eager rebalance that had
  // nothing to take back.
  void TellRevoked(std::vector<TopicPartition> partitions) {
    std::erase_if(partitions, [&](const TopicPartition& tp) {
      return announced_.erase({tp.topic, tp.partition}) == 0;
    });
    if (listener_ != nullptr) listener_->OnRevoke(partitions);
  }

  std::string group_id_;
  bool has_group_;
  Mode mode_ = Mode::kIdle;
  RebalanceListener* listener_ = nullptr;
  // The partitions the listener was told are assigned and not yet told revoked.
  std::set<std::pair<std::string, int32_t>> announced_;
  std::optional<Error> pending_error_;
  LogEvents events_;
  Rebalance rebalance_;
  // Declared last so it is destroyed first (it calls the callbacks above).
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

Status KafkaProducer::SendOffsetsToTransaction(const std::vector<GroupOffset>& offsets,
                                               Consumer& group, std::chrono::milliseconds timeout) {
  if (!transactional_) return Status(errc::kState, "not a transactional producer");
  auto* consumer = dynamic_cast<KafkaConsumer*>(&group);
  if (consumer == nullptr) return Status(errc::kConfig, "not a Kafka consumer");
  rd_kafka_t* handle = consumer->c_handle();
  if (handle == nullptr) return Status(errc::kState, "consumer is closed");
  // The C API again, for the per-partition metadata.
  rd_kafka_consumer_group_metadata_t* group_metadata = rd_kafka_consumer_group_metadata(handle);
  if (group_metadata == nullptr) return Status(errc::kState, "consumer has no group");
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const GroupOffset& tp : offsets) {
    rd_kafka_topic_partition_t* p =
        rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition);
    p->offset = tp.offset;
    if (!tp.metadata.empty()) {
      // Freed by rd_kafka_topic_partition_list_destroy with free().
      p->metadata = std::malloc(tp.metadata.size());
      std::memcpy(p->metadata, tp.metadata.data(), tp.metadata.size());
      p->metadata_size = tp.metadata.size();
    }
  }
  rd_kafka_error_t* error = rd_kafka_send_offsets_to_transaction(
      producer_->c_ptr(), list, group_metadata, ToTimeoutMs(timeout));
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_group_metadata_destroy(group_metadata);
  if (error == nullptr) return Status::Ok();
  std::string detail = std::string("send_offsets_to_transaction: ") + rd_kafka_error_string(error);
  errc code = errc::kTransport;
  if (rd_kafka_error_is_fatal(error)) {
    code = errc::kFenced;
  } else if (rd_kafka_error_txn_requires_abort(error)) {
    code = errc::kTxnAbortable;
  } else if (rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    code = errc::kTimeout;
  }
  rd_kafka_error_destroy(error);
  return Status(code, detail);
}

std::string RandomGroupId() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> dist;
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = dist(rd);
  std::string id = "pathway-assign-";
  for (int i = 0; i < 16; ++i, v >>= 4) id.push_back(kHex[v & 0xf]);
  return id;
}

}  // namespace

Status KafkaConfig::LoadPropertiesFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(errc::kConfig, "cannot read Kafka properties file '" + path + "'");
  std::map<std::string, std::string> parsed;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string_view text = Trim(line);
    if (text.empty() || text.front() == '#') continue;
    std::optional<Setting> setting = SplitSetting(text);
    if (!setting) {
      // The line is not echoed: it may hold a secret.
      return Status(errc::kConfig, path + ":" + std::to_string(number) + ": expected key=value");
    }
    parsed[setting->first] = std::move(setting->second);
  }
  if (in.bad()) return Status(errc::kConfig, "error reading '" + path + "'");
  // All or nothing: a half-applied file would be worse than none.
  for (auto& [key, value] : parsed) settings[key] = std::move(value);
  return Status::Ok();
}

Status KafkaConfig::AddSetting(const std::string& key_equals_value) {
  std::optional<Setting> setting = SplitSetting(key_equals_value);
  if (!setting) {
    // Without '=' the text is at most a key, so echoing it reveals no secret.
    const bool has_eq = key_equals_value.find('=') != std::string::npos;
    return Status(errc::kConfig, has_eq ? std::string("expected key=value, got an empty key")
                                        : "expected key=value, got '" + key_equals_value + "'");
  }
  settings[setting->first] = std::move(setting->second);
  return Status::Ok();
}

Status KafkaConfig::ResolveBootstrap(const std::string& flag) {
  if (!flag.empty()) {
    bootstrap_servers = flag;
    return Status::Ok();
  }
  const char* env = std::getenv(std::string(kBootstrapEnv).c_str());
  if (env != nullptr && *env != '\0') {
    bootstrap_servers = env;
    return Status::Ok();
  }
  return Status(errc::kConfig, "no bootstrap servers: pass --bootstrap-servers or set " +
                                   std::string(kBootstrapEnv));
}

int KafkaClientVersion() { return RdKafka::version(); }

bool CooperativeStickyIsSafe() { return KafkaClientVersion() >= 0x020300ff; }

Result<std::unique_ptr<Producer>> NewKafkaProducer(const KafkaConfig& config,
                                                   DeliveryCallback on_delivery) {
  auto producer = std::make_unique<KafkaProducer>(std::move(on_delivery));
  if (Status s = producer->Init(config); !s) return s.error();
  return std::unique_ptr<Producer>(std::move(producer));
}

Result<std::unique_ptr<Consumer>> NewKafkaConsumer(const KafkaConfig& config,
                                                   const std::string& group_id) {
  // librdkafka's KafkaConsumer requires a group.id even for Assign-only use; a random
  // one is never used for commits (Commit and Subscribe refuse without a group).
  const bool has_group = !group_id.empty();
  auto consumer =
      std::make_unique<KafkaConsumer>(has_group ? group_id : RandomGroupId(), has_group);
  if (Status s = consumer->Init(config); !s) return s.error();
  return std::unique_ptr<Consumer>(std::move(consumer));
}

}  // namespace pathway::bus
