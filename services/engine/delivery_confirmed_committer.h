// DeliveryConfirmedCommitter: the default commit protocol (see committer.h). Private
// to the engine.
//
// A record is permanent once its own delivery report confirms it: the idempotent
// producer retries on its own, a failed report is the producing stage's to resend,
// and a refusal its to replace by a dead letter. Offsets: the intake's are committed
// to its group after its output is delivered (at-least-once; the command stage drops
// the repeated event ids); the command stage's are committed to its group after each
// Step's group commit, only so that Kafka's lag tools show progress, since RocksDB
// holds the authoritative ones. Outbox entries are deleted by the OutboxSender once
// confirmed.
//
// Ownership: references the producer, both group consumers and the context, which
// must outlive it. Not thread-safe: engine thread only. Errors: only Flush's
// (AwaitDelivery) and SendAlone's; failed offset commits are logged and retried by the
// next commit.
#pragma once

#include <map>

#include "services/engine/committer.h"
#include "services/engine/stage_context.h"

namespace pathway::engine {

class DeliveryConfirmedCommitter final : public Committer {
 public:
  DeliveryConfirmedCommitter(StageContext& context, bus::Producer& producer, bus::Consumer& intake,
                             bus::Consumer& processor)
      : context_(context), producer_(producer), intake_(intake), processor_(processor) {}

  Status Start() override;
  Status OpenOutput() override { return {}; }
  Status SendAlone(const bus::Outgoing& record, uint64_t opaque) override {
    return producer_.Send(record, opaque);
  }
  bool confirms_each_delivery() const override { return true; }
  DeliveryOutcome Delivered(const bus::Delivery& delivery,
                            std::optional<OutboxRef> outbox) override;
  void OutboxSent(int32_t /*partition*/, state::Delivered /*entry*/) override {}
  Status AwaitDelivery(std::chrono::milliseconds timeout) override {
    return producer_.Flush(timeout);
  }
  Status CommitIntake(const std::map<int32_t, int64_t>& next_offsets) override;
  Status CommitCommands(const std::map<int32_t, int64_t>& next_offsets) override;
  Status Commit() override { return {}; }
  Status EndStep() override { return {}; }
  Status Restored(int32_t /*partition*/, state::CaseStore& /*store*/) override { return {}; }
  void Assigned(int32_t partition, int64_t next_offset) override;
  void Revoked(int32_t partition) override { to_publish_.erase(partition); }

 private:
  StageContext& context_;
  bus::Producer& producer_;
  bus::Consumer& intake_;
  bus::Consumer& processor_;
  // Partitions assigned whose stored offset the group's committed offset does not show
  // yet (a new owner may restart behind it), with that offset.
  std::map<int32_t, int64_t> to_publish_;
};

}  // namespace pathway::engine
