#include "services/bus/kafka_admin.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

namespace pathway::bus {
namespace {
struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
template <class T>
using Owned = std::unique_ptr<T, KafkaDeleter>;

Error ConfigError(const std::string& what) { return Error{make_error_code(errc::kConfig), what}; }

using Deadline = std::chrono::steady_clock::time_point;

// What is left of a call's bound, in librdkafka's int milliseconds: at least 1 (0 would
// mean "do not wait"), so each request of a call shares the one bound.
int MsLeft(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 1, 3'600'000));
}

// A producer handle for admin requests, configured like every pathway client.
Result<Owned<rd_kafka_t>> NewAdminHandle(const KafkaConfig& config) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& k, const std::string& v) {
    return rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) == RD_KAFKA_CONF_OK;
  };
  if (!set("bootstrap.servers", config.bootstrap_servers)) {
    rd_kafka_conf_destroy(conf);
    return ConfigError(err);
  }
  for (const auto& [k, v] : config.settings) {
    if (!set(k, v)) {
      rd_kafka_conf_destroy(conf);
      return ConfigError(k + ": " + err);
    }
  }
  Owned<rd_kafka_t> rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err));
  if (!rk) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new takes ownership only on success
    return ConfigError(err);
  }
  return rk;
}
}  // namespace

Status CreateTopics(const KafkaConfig& config, const std::vector<TopicSpec>& topics,
                    std::chrono::milliseconds timeout) {
  char err[512];
  auto handle = NewAdminHandle(config);
  if (!handle) return handle.error();
  Owned<rd_kafka_t> rk = std::move(*handle);
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;

  // Only what is missing is asked of the controller: with nothing missing there is no
  // request, so a cluster without one (librdkafka's mock) answers at once.
  std::set<std::string> existing;
  {
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk.get(), 1, nullptr, &md, MsLeft(deadline)) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < md->topic_cnt; ++i) {
        if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) existing.insert(md->topics[i].topic);
      }
      rd_kafka_metadata_destroy(md);
    }
  }
  std::vector<rd_kafka_NewTopic_t*> requests;
  Status status;
  for (const auto& t : topics) {
    if (existing.count(t.name)) continue;
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, t.replication_factor, err, sizeof err);
    if (!nt) {
      status = ConfigError(t.name + ": " + err);
      break;
    }
    requests.push_back(nt);
    for (const auto& [k, v] : t.configs) {
      if (rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = ConfigError(t.name + ": config " + k);
      }
    }
  }
  if (status.ok() && !requests.empty()) {
    Owned<rd_kafka_AdminOptions_t> options(
        rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
    const int left_ms = MsLeft(deadline);
    rd_kafka_AdminOptions_set_request_timeout(options.get(), left_ms, err, sizeof err);
    rd_kafka_AdminOptions_set_operation_timeout(options.get(), left_ms, err, sizeof err);
    Owned<rd_kafka_queue_t> queue(rd_kafka_queue_new(rk.get()));
    rd_kafka_CreateTopics(rk.get(), requests.data(), requests.size(), options.get(), queue.get());
    // The request timeout bounds the result; allow a little more for its delivery.
    Owned<rd_kafka_event_t> event(rd_kafka_queue_poll(queue.get(), left_ms + 2000));
    if (!event) {
      status = Error{make_error_code(errc::kTimeout), "create topics"};
    } else if (rd_kafka_event_error(event.get())) {
      status = Error{make_error_code(errc::kTransport), rd_kafka_event_error_string(event.get())};
    } else {
      const rd_kafka_CreateTopics_result_t* result =
          rd_kafka_event_CreateTopics_result(event.get());
      size_t n = 0;
      const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &n);
      for (size_t i = 0; i < n; ++i) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
          continue;
        status =
            Error{make_error_code(errc::kTransport),
                  std::string(rd_kafka_topic_result_name(results[i])) + ": " + rd_kafka_err2str(e)};
        break;
      }
    }
  }
  for (auto* nt : requests) rd_kafka_NewTopic_destroy(nt);
  return status;
}

Status DeleteTopics(const KafkaConfig& config, const std::vector<std::string>& names,
                    std::chrono::milliseconds timeout) {
  if (names.empty()) return {};
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;
  auto left_ms = [&] { return MsLeft(deadline); };
  char err[512];
  auto handle = NewAdminHandle(config);
  if (!handle) return handle.error();
  Owned<rd_kafka_t> rk = std::move(*handle);

  std::vector<rd_kafka_DeleteTopic_t*> requests;
  for (const auto& name : names) requests.push_back(rd_kafka_DeleteTopic_new(name.c_str()));
  Status status;
  {
    Owned<rd_kafka_AdminOptions_t> options(
        rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_DELETETOPICS));
    rd_kafka_AdminOptions_set_request_timeout(options.get(), left_ms(), err, sizeof err);
    rd_kafka_AdminOptions_set_operation_timeout(options.get(), left_ms(), err, sizeof err);
    Owned<rd_kafka_queue_t> queue(rd_kafka_queue_new(rk.get()));
    rd_kafka_DeleteTopics(rk.get(), requests.data(), requests.size(), options.get(), queue.get());
    Owned<rd_kafka_event_t> event(rd_kafka_queue_poll(queue.get(), left_ms() + 2000));
    if (!event) {
      status = Error{make_error_code(errc::kTimeout), "delete topics"};
    } else if (rd_kafka_event_error(event.get())) {
      status = Error{make_error_code(errc::kTransport), rd_kafka_event_error_string(event.get())};
    } else {
      size_t n = 0;
      const rd_kafka_topic_result_t** results =
          rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event.get()), &n);
      for (size_t i = 0; i < n; ++i) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
          continue;
        status =
            Error{make_error_code(errc::kTransport),
                  std::string(rd_kafka_topic_result_name(results[i])) + ": " + rd_kafka_err2str(e)};
        break;
      }
    }
  }
  rd_kafka_DeleteTopic_destroy_array(requests.data(), requests.size());
  if (!status.ok()) return status;

  // Deletion is asynchronous: wait until no broker we ask lists the topics any more.
  while (true) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk.get(), 1, nullptr, &md, std::min(left_ms(), 5000));
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      bool listed = false;
      for (int i = 0; i < md->topic_cnt && !listed; ++i) {
        if (md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
        listed = std::find(names.begin(), names.end(), md->topics[i].topic) != names.end();
      }
      rd_kafka_metadata_destroy(md);
      if (!listed) return {};
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error{make_error_code(errc::kTimeout), "deleted topics are still listed"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll interval
  }
}

Result<std::map<std::string, std::map<std::string, std::string>>> DescribeTopicConfigs(
    const KafkaConfig& config, const std::vector<std::string>& topics,
    std::chrono::milliseconds timeout) {
  std::map<std::string, std::map<std::string, std::string>> out;
  if (topics.empty()) return out;
  // One bound for the metadata request and the describe request together.
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;
  char err[512];
  auto handle = NewAdminHandle(config);
  if (!handle) return handle.error();
  Owned<rd_kafka_t> rk = std::move(*handle);

  std::vector<rd_kafka_ConfigResource_t*> requests;
  for (const auto& topic : topics) {
    requests.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()));
  }
  std::optional<Error> failure;
  {
    Owned<rd_kafka_AdminOptions_t> options(
        rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS));
    // Any broker answers for a topic. Named, the request goes to it rather than waiting
    // for the controller, which librdkafka 2.0.2 does until the timeout on a cluster
    // that names none (the mock); and a broker without the API is refused at once.
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk.get(), 0, nullptr, &md, MsLeft(deadline)) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->broker_cnt > 0) {
        rd_kafka_AdminOptions_set_broker(options.get(), md->brokers[0].id, err, sizeof err);
      }
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_AdminOptions_set_request_timeout(options.get(), MsLeft(deadline), err, sizeof err);
    Owned<rd_kafka_queue_t> queue(rd_kafka_queue_new(rk.get()));
    rd_kafka_DescribeConfigs(rk.get(), requests.data(), requests.size(), options.get(),
                             queue.get());
    // The request timeout bounds the result; allow a little more for its delivery.
    Owned<rd_kafka_event_t> event(rd_kafka_queue_poll(queue.get(), MsLeft(deadline) + 2000));
    if (!event) {
      failure = Error{make_error_code(errc::kTimeout), "describe topic configs"};
    } else if (rd_kafka_event_error(event.get())) {
      const bool timed_out = rd_kafka_event_error(event.get()) == RD_KAFKA_RESP_ERR__TIMED_OUT;
      failure =
          Error{make_error_code(timed_out ? errc::kTimeout : errc::kTransport),
                std::string("describe topic configs: ") + rd_kafka_event_error_string(event.get())};
    } else {
      size_t n = 0;
      const rd_kafka_ConfigResource_t** resources = rd_kafka_DescribeConfigs_result_resources(
          rd_kafka_event_DescribeConfigs_result(event.get()), &n);
      for (size_t i = 0; i < n && !failure; ++i) {
        const std::string name = rd_kafka_ConfigResource_name(resources[i]);
        const rd_kafka_resp_err_t e = rd_kafka_ConfigResource_error(resources[i]);
        if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
          failure = ConfigError("topic '" + name + "' does not exist");
          break;
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
          failure = Error{make_error_code(errc::kTransport),
                          "topic '" + name + "': " + rd_kafka_err2str(e)};
          break;
        }
        std::map<std::string, std::string>& configs = out[name];
        size_t count = 0;
        const rd_kafka_ConfigEntry_t** entries =
            rd_kafka_ConfigResource_configs(resources[i], &count);
        for (size_t j = 0; j < count; ++j) {
          const char* value = rd_kafka_ConfigEntry_value(entries[j]);
          // A sensitive setting's value is not sent; none of a topic's matters here.
          if (value != nullptr) configs[rd_kafka_ConfigEntry_name(entries[j])] = value;
        }
      }
    }
  }
  rd_kafka_ConfigResource_destroy_array(requests.data(), requests.size());
  if (failure) return *failure;
  return out;
}

}  // namespace pathway::bus
