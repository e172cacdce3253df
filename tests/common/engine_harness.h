// Runs a real Engine over the in-memory bus and a real CaseStore in a temp dir,
// with simulated time. "Restart" tears the engine down and builds a new one on the
// same data, as a process restart would.
#pragma once

#include <memory>
#include <string>

#include "services/bus/memory_bus.h"
#include "services/engine/engine.h"
#include "services/topics.h"
#include "tests/common/fixtures.h"
#include "tests/common/temp_dir.h"

namespace pathway::testing {

class EngineHarness {
 public:
  EngineHarness()
      : time_(March10th2025()), keyer_(engine::SubjectKeyer::FromSecret(std::string(32, 'k'))) {
    for (auto topic : topics::kAll) broker_.CreateTopic(std::string(topic), 4);
    Restart();
  }

  // Destroys the engine and everything it holds, then starts a new one on the same
  // RocksDB directory and broker.
  void Restart() {
    engine_.reset();
    intake_.reset();
    processor_.reset();
    producer_.reset();
    store_.reset();
    auto store = state::CaseStore::Open(dir_.path() + "/state");
    if (!store.ok()) throw std::runtime_error(store.error().ToString());
    store_ = std::move(*store);
    producer_ = bus::NewMemoryProducer(broker_, [this](const bus::Delivery& d) {
      if (engine_) engine_->OnDelivery(d);
    });
    intake_ = bus::NewMemoryConsumer(broker_, "pathway-engine.intake");
    processor_ = bus::NewMemoryConsumer(broker_, "pathway-engine.commands");
    engine_ = std::make_unique<engine::Engine>(options_, *store_, keyer_, time_, *producer_,
                                               *intake_, *processor_);
    Status s = engine_->Start();
    if (!s.ok()) throw std::runtime_error(s.error().ToString());
  }

  // Publishes as a partner would: onto pathway.inbound.v1, keyed as the partner likes.
  void Publish(const pathway::v1::Envelope& e, int32_t partition = 0) {
    broker_.Append(std::string(topics::kInbound), partition, e.event_id(), e.SerializeAsString());
  }
  void PublishRaw(std::string bytes, int32_t partition = 0) {
    broker_.Append(std::string(topics::kInbound), partition, std::nullopt, std::move(bytes));
  }

  // Steps until a step changes nothing (bounded); returns the last step's status.
  Status RunUntilIdle(int max_steps = 50) {
    for (int i = 0; i < max_steps; ++i) {
      engine::EngineStats before = engine_->stats();
      Status s = engine_->Step(std::chrono::milliseconds(0));
      if (!s.ok()) return s;
      const engine::EngineStats& after = engine_->stats();
      if (before.inbound == after.inbound && before.commands == after.commands &&
          before.delivered == after.delivered && before.timers_fired == after.timers_fired) {
        return s;
      }
    }
    return Status(std::make_error_code(std::errc::timed_out), "engine did not go idle");
  }

  std::vector<pathway::v1::Envelope> Read(std::string_view topic) const {
    std::vector<pathway::v1::Envelope> out;
    for (const auto& m : broker_.ReadAll(std::string(topic))) {
      pathway::v1::Envelope e;
      if (e.ParseFromString(m.value)) out.push_back(std::move(e));
    }
    return out;
  }

  std::string SubjectOf(const std::string& nhs) const { return keyer_.Key(nhs); }

  bus::MemoryBroker& broker() { return broker_; }
  engine::Engine& engine() { return *engine_; }
  state::CaseStore& store() { return *store_; }
  SimulatedTimeSource& time() { return time_; }
  engine::EngineOptions& options() { return options_; }

 private:
  TempDir dir_;
  SimulatedTimeSource time_;
  engine::SubjectKeyer keyer_;
  engine::EngineOptions options_;
  bus::MemoryBroker broker_;
  std::unique_ptr<state::CaseStore> store_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<bus::Consumer> intake_;
  std::unique_ptr<bus::Consumer> processor_;
  std::unique_ptr<engine::Engine> engine_;
};

}  // namespace pathway::testing
