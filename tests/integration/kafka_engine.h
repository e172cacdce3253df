// One engine instance in the test process over the Kafka bus, wired as
// pathway-engine's main() wires it: its own StoreSet, producer (optionally
// transactional, optionally wrapped to inject faults at commit time) and the intake,
// commands and restore consumers. For in-process tests that need to step an engine
// themselves; process-level tests use engine_process.h.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "services/bus/kafka_bus.h"
#include "services/engine/caseload_index.h"
#include "services/engine/engine.h"
#include "services/topics.h"
#include "state/store_set.h"
#include "tests/common/transaction_faults.h"

namespace pathway::testing {

struct KafkaEngineConfig {
  bus::KafkaConfig producer;
  bus::KafkaConfig consumers;  // intake and commands groups; restore (no group)
  std::string data_dir;
  std::string group_prefix;
  engine::EngineOptions options;
  TransactionFaults* faults = nullptr;  // wraps the producer when set
};

class KafkaEngine {
 public:
  KafkaEngine(const KafkaEngineConfig& config, const TimeSource& time,
              const engine::SubjectKeyer& keyer) {
    stores_ = std::make_unique<state::StoreSet>(config.data_dir, std::string(topics::kChangelog),
                                                std::string(32, 'K'), state::MemoryBudget{},
                                                engine::CaseloadIndexer());
    auto producer = bus::NewKafkaProducer(config.producer, deliveries_.callback());
    auto intake = bus::NewKafkaConsumer(config.consumers, config.group_prefix + ".intake");
    auto processor = bus::NewKafkaConsumer(config.consumers, config.group_prefix + ".commands");
    auto restore = bus::NewKafkaConsumer(engine::RestoreConsumerConfig(config.consumers), "");
    for (const Status& s : {producer.ok() ? Status() : Status(producer.error()),
                            intake.ok() ? Status() : Status(intake.error()),
                            processor.ok() ? Status() : Status(processor.error()),
                            restore.ok() ? Status() : Status(restore.error())}) {
      if (!s.ok()) throw std::runtime_error("kafka clients: " + s.error().ToString());
    }
    producer_ = std::move(*producer);
    if (config.faults != nullptr) {
      producer_ =
          std::make_unique<FaultyTransactionalProducer>(std::move(producer_), *config.faults);
    }
    intake_ = std::move(*intake);
    processor_ = std::move(*processor);
    restore_ = std::move(*restore);
    engine_ = std::make_unique<engine::Engine>(config.options, *stores_, keyer, time, *producer_,
                                               deliveries_, *intake_, *processor_, *restore_);
    Status s = engine_->Start();
    if (!s.ok()) throw std::runtime_error(s.error().ToString());
  }

  // A clean shutdown, as on SIGTERM: leave both groups (revocations drain), then drain.
  ~KafkaEngine() {
    intake_->Close();
    processor_->Close();
    (void)engine_->Drain(std::chrono::seconds(10));
    engine_.reset();
  }

  KafkaEngine(const KafkaEngine&) = delete;
  KafkaEngine& operator=(const KafkaEngine&) = delete;

  engine::Engine& engine() { return *engine_; }
  state::StoreSet& stores() { return *stores_; }

 private:
  // Before the producer, so that it outlives it.
  engine::DeliveryRouter deliveries_;
  std::unique_ptr<state::StoreSet> stores_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<bus::Consumer> intake_;
  std::unique_ptr<bus::Consumer> processor_;
  std::unique_ptr<bus::Consumer> restore_;
  std::unique_ptr<engine::Engine> engine_;
};

}  // namespace pathway::testing
