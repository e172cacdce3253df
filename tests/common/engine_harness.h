// Runs a real Engine over the in-memory bus and a real CaseStore in a temp dir,
// with simulated time. "Restart" tears the engine down and builds a new one on the
// same data, as a process restart would.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "common/crypto.h"
#include "services/bus/memory_bus.h"
#include "services/engine/caseload_index.h"
#include "services/engine/engine.h"
#include "services/topics.h"
#include "state/store_set.h"
#include "tests/common/fixtures.h"
#include "tests/common/temp_dir.h"
#include "tests/common/transaction_faults.h"

namespace pathway::testing {

class EngineHarness {
 public:
  explicit EngineHarness(engine::EngineOptions options = {})
      : time_(March10th2025()),
        keyer_(engine::SubjectKeyer::FromSecret(std::string(32, 'k'))),
        options_(std::move(options)) {
    for (auto topic : topics::kAll) broker_.CreateTopic(std::string(topic), 4);
    Restart();
  }
  // A second engine instance, on its own empty data directory, over a copy of
  // `broker` (everything published and emitted so far), as a new owner would see it.
  // With `copy_data_from`: starts on a copy of that (stopped) instance's data
  // directory, as that instance restarting against this broker would.
  explicit EngineHarness(const bus::MemoryBroker& broker, const std::string& copy_data_from = "",
                         engine::EngineOptions options = {})
      : time_(March10th2025()),
        keyer_(engine::SubjectKeyer::FromSecret(std::string(32, 'k'))),
        options_(std::move(options)),
        broker_(broker) {
    if (!copy_data_from.empty()) {
      std::filesystem::copy(copy_data_from, dir_.path(),
                            std::filesystem::copy_options::recursive |
                                std::filesystem::copy_options::overwrite_existing);
    }
    Restart();
  }

  // Destroys the engine and closes its stores (the data directory stays).
  void Stop() {
    engine_.reset();
    intake_.reset();
    processor_.reset();
    producer_.reset();
    restore_.reset();
    stores_.reset();
  }
  const std::string& data_dir() const { return dir_.path(); }

  // Destroys the engine and everything it holds, then starts a new one on the same
  // RocksDB directory and broker.
  void Restart() {
    engine_.reset();
    intake_.reset();
    processor_.reset();
    producer_.reset();
    restore_.reset();
    stores_ = std::make_unique<state::StoreSet>(
        dir_.path() + "/state", std::string(topics::kChangelog), std::string(32, 'K'),
        state::MemoryBudget{}, engine::CaseloadIndexer());
    auto on_delivery = deliveries_.callback();
    if (options_.transactions) {
      producer_ = std::make_unique<FaultyTransactionalProducer>(
          bus::NewMemoryTransactionalProducer(broker_, on_delivery), faults_);
    } else {
      producer_ = bus::NewMemoryProducer(broker_, on_delivery);
    }
    intake_ = bus::NewMemoryConsumer(broker_, "pathway-engine.intake");
    processor_ = bus::NewMemoryConsumer(broker_, "pathway-engine.commands");
    restore_ = bus::NewMemoryConsumer(broker_, "");
    engine_ = std::make_unique<engine::Engine>(options_, *stores_, keyer_, time_, *producer_,
                                               deliveries_, *intake_, *processor_, *restore_);
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
  const engine::SubjectKeyer& keyer() const { return keyer_; }

  bus::MemoryBroker& broker() { return broker_; }
  engine::Engine& engine() { return *engine_; }
  // The store of the partition that holds `subject_key`.
  state::CaseStore& StoreFor(const std::string& subject_key) {
    int32_t partition = broker_.PartitionFor(std::string(topics::kCommands), subject_key);
    auto store = stores_->Open(partition);
    if (!store.ok()) throw std::runtime_error(store.error().ToString());
    return **store;
  }
  state::StoreSet& stores() { return *stores_; }
  // Every case held by this instance: subject key -> case state and history bytes.
  std::map<std::string, std::string> Cases() {
    std::map<std::string, std::string> out;
    for (int32_t partition : stores_->OpenPartitions()) {
      state::CaseStore* store = stores_->Find(partition);
      std::vector<std::string> subjects;
      Status s = store->Scan(
          state::ColumnFamily::kCaseState,
          [&](std::string_view key, std::string_view) { subjects.push_back(HexEncode(key)); });
      if (!s.ok()) throw std::runtime_error(s.error().ToString());
      for (const auto& subject : subjects) {
        auto state = store->LoadCase(subject);
        auto history = store->History(subject);
        if (!state.ok() || !history.ok()) throw std::runtime_error("read case");
        std::string value = (*state)->SerializeAsString();
        for (const auto& e : *history) {
          value += '|';
          e.AppendToString(&value);
        }
        out[subject] = std::move(value);
      }
    }
    return out;
  }
  // Outbox entries for output topics (not the changelog) not yet confirmed.
  size_t PendingOutputs() {
    size_t n = 0;
    for (int32_t partition : stores_->OpenPartitions()) {
      auto items = stores_->Find(partition)->ReadOutbox(0, 100000);
      if (!items.ok()) throw std::runtime_error(items.error().ToString());
      for (const auto& item : *items) n += item.entry.changelog() ? 0 : 1;
    }
    return n;
  }
  SimulatedTimeSource& time() { return time_; }
  // Changes take effect at the next Restart.
  engine::EngineOptions& options() { return options_; }
  // Transactions mode (options().transactions): faults at commit time.
  TransactionFaults& faults() { return faults_; }

 private:
  TempDir dir_;
  SimulatedTimeSource time_;
  engine::SubjectKeyer keyer_;
  engine::EngineOptions options_;
  TransactionFaults faults_;
  bus::MemoryBroker broker_;
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
