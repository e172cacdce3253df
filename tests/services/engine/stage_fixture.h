// What the engine's stage tests share: a StageContext over a real StoreSet in a temp
// dir (with a changelog and a KEK, as the engine runs), a producer fake that records
// every send and reports deliveries only when the test says, and a Committer fake
// that records what the stages tell it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "services/bus/event_bus.h"
#include "services/engine/committer.h"
#include "services/engine/engine_options.h"
#include "services/engine/outputs.h"
#include "services/engine/stage_context.h"
#include "services/topics.h"
#include "state/store_set.h"
#include "tests/common/temp_dir.h"

namespace pathway::engine::testing {

// Records every Send; reports a delivery only through Report (or, with
// `confirm_on_flush`, every pending one on Flush and Poll).
class FakeProducer final : public bus::Producer {
 public:
  struct Sent {
    std::string topic, key, value;
    bool tombstone = false;
    int32_t partition = bus::kPartitionByKey;
    uint64_t opaque = 0;
  };

  explicit FakeProducer(bus::DeliveryCallback on_delivery) : on_delivery_(std::move(on_delivery)) {}

  Status Send(const bus::Outgoing& m, uint64_t opaque) override {
    if (send_error) return Status(*send_error, "injected");
    sent.push_back({std::string(m.topic), std::string(m.key), std::string(m.value), m.tombstone,
                    m.partition, opaque});
    pending.push_back(opaque);
    return {};
  }
  void Poll(std::chrono::milliseconds) override {
    if (confirm_on_flush) ReportAll();
  }
  Status Flush(std::chrono::milliseconds) override {
    ++flushes;
    if (confirm_on_flush) ReportAll();
    return {};
  }
  size_t InFlight() const override { return pending.size(); }

  // Reports the delivery of the pending send with `opaque` (`error` empty: success).
  void Report(uint64_t opaque, std::error_code error = {}) {
    std::erase(pending, opaque);
    bus::Delivery d;
    d.opaque = opaque;
    d.error = error;
    d.error_detail = error ? "injected" : "";
    on_delivery_(d);
  }
  void ReportAll(std::error_code error = {}) {
    for (uint64_t opaque : std::vector<uint64_t>(pending)) Report(opaque, error);
  }

  std::vector<Sent> sent;
  std::vector<uint64_t> pending;
  std::optional<std::error_code> send_error;  // Send fails with it while set
  bool confirm_on_flush = false;
  int flushes = 0;

 private:
  bus::DeliveryCallback on_delivery_;
};

// Records what the stages tell it; deliveries are classified as the
// delivery-confirmed protocol does, unless `confirms_each` is false (then, as with
// transactions, every report is kPending).
class FakeCommitter final : public Committer {
 public:
  Status Start() override { return {}; }
  Status OpenOutput() override {
    ++opened;
    return open_error;
  }
  Status SendAlone(const bus::Outgoing& record, uint64_t opaque) override {
    ++sent_alone;
    return send_alone_via ? send_alone_via->Send(record, opaque) : Status();
  }
  bool confirms_each_delivery() const override { return confirms_each; }
  DeliveryOutcome Delivered(const bus::Delivery& d, std::optional<OutboxRef> outbox) override {
    delivered.push_back({d, outbox});
    if (!confirms_each) return DeliveryOutcome::kPending;
    if (!d.error) return DeliveryOutcome::kConfirmed;
    if (d.error == make_error_code(bus::errc::kRejected)) return DeliveryOutcome::kRefused;
    return DeliveryOutcome::kRetry;
  }
  void OutboxSent(int32_t partition, state::Delivered entry) override {
    outbox_sent[partition].push_back(entry.sequence);
  }
  Status AwaitDelivery(std::chrono::milliseconds) override { return {}; }
  Status CommitIntake(const std::map<int32_t, int64_t>& next) override {
    intake_offsets.push_back(next);
    return {};
  }
  Status CommitCommands(const std::map<int32_t, int64_t>& next) override {
    command_offsets.push_back(next);
    return {};
  }
  Status Commit() override { return {}; }
  Status EndStep() override { return {}; }
  Status Restored(int32_t partition, state::CaseStore&) override {
    restored.push_back(partition);
    return {};
  }
  void Assigned(int32_t, int64_t) override {}
  void Revoked(int32_t) override {}

  bool confirms_each = true;
  Status open_error;
  bus::Producer* send_alone_via = nullptr;  // SendAlone sends with it, if set
  int sent_alone = 0;
  int opened = 0;
  struct Report {
    bus::Delivery delivery;
    std::optional<OutboxRef> outbox;
  };
  std::vector<Report> delivered;
  std::map<int32_t, std::vector<uint64_t>> outbox_sent;
  std::vector<std::map<int32_t, int64_t>> intake_offsets;
  std::vector<std::map<int32_t, int64_t>> command_offsets;
  std::vector<int32_t> restored;
};

// A StageContext over a StoreSet in a temp dir, with partition 0 open and owned.
class StageFixture : public ::testing::Test {
 protected:
  StageFixture()
      : stores_(dir_.path() + "/state", std::string(topics::kChangelog), std::string(32, 'K')),
        context_{options_, stores_, stats_, owned_, {}} {}

  // Opens `partition`'s store and owns it.
  state::CaseStore& Own(int32_t partition = 0) {
    auto store = stores_.Open(partition);
    EXPECT_TRUE(store.ok());
    owned_.insert(partition);
    return **store;
  }
  // Commits one output of `value` to `topic` on `partition`'s outbox (and, with it,
  // its changelog record); the output's sequence.
  uint64_t Queue(state::CaseStore& store, std::string value,
                 std::string_view topic = topics::kEvents, int32_t partition = 0) {
    const uint64_t sequence = store.NextOutboxSequence();
    state::Batch batch;
    batch.partition = partition;
    AddToOutbox(batch, topic, "key-" + value, value);
    EXPECT_TRUE(store.Commit(batch).ok());
    return sequence;
  }
  // The values of `store`'s outbox entries for output topics (not the changelog
  // records every commit also queues), in order.
  std::vector<std::string> Outputs(state::CaseStore& store) {
    std::vector<std::string> out;
    for (const auto& item : Outbox(store)) {
      if (!item.entry.changelog()) out.push_back(item.entry.value());
    }
    return out;
  }
  // Every outbox entry of `store`, in order.
  std::vector<state::OutboxItem> Outbox(state::CaseStore& store) {
    auto items = store.ReadOutbox(0, 100000);
    EXPECT_TRUE(items.ok());
    return items.ok() ? *items : std::vector<state::OutboxItem>{};
  }

  pathway::testing::TempDir dir_;
  EngineOptions options_;
  state::StoreSet stores_;
  EngineStats stats_;
  std::set<int32_t> owned_;
  StageContext context_;
};

}  // namespace pathway::engine::testing
