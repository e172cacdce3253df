// TransactionalCommitter: the Kafka transactions protocol (see committer.h;
// EngineOptions::transactions, `pathway-engine --transactional-id`). Private to the
// engine.
//
// Each Step's output (intake output, outbox entries with their changelog records) is
// one transaction, opened lazily by the first record and committed at the end of the
// Step together with the consumed offsets of both stages. The commands group's offset
// of each partition carries, as metadata, the last outbox sequence a committed
// transaction carried ("pathway.outbox.v1:<n>"), so an entry whose transaction
// committed is never sent again, even after a crash before its local deletion
// (Restored reads it back). read_committed consumers then see every output once, and a
// replaced instance's transaction is fenced by its group's generation (KIP-447).
//
// Ownership: references the (transactional) producer, both group consumers and the
// context, which must outlive it. Not thread-safe: engine thread only. Errors: any
// failure of the open transaction (a call, or a delivery report noted by Delivered)
// aborts it, first replacing the outbox entries the broker refused by dead letters so
// that the restart does not meet them again, and is made sticky in
// StageContext::fatal: consumers and the outbox cursor have moved past what was
// aborted, so only a restart puts them back in step.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/engine/committer.h"
#include "services/engine/stage_context.h"

namespace pathway::engine {

// The commands group's offset metadata: the last outbox sequence of the partition that
// a committed transaction carried.
inline constexpr std::string_view kOutboxMetadataPrefix = "pathway.outbox.v1:";
// The sequence in `metadata`, if it is outbox metadata.
std::optional<uint64_t> ParseOutboxMetadata(std::string_view metadata);

class TransactionalCommitter final : public Committer {
 public:
  TransactionalCommitter(StageContext& context, bus::Producer& producer, bus::Consumer& intake,
                         bus::Consumer& processor)
      : context_(context), producer_(producer), intake_(intake), processor_(processor) {}

  Status Start() override;
  Status OpenOutput() override;
  Status SendAlone(const bus::Outgoing& record, uint64_t opaque) override;
  bool confirms_each_delivery() const override { return false; }
  DeliveryOutcome Delivered(const bus::Delivery& delivery,
                            std::optional<OutboxRef> outbox) override;
  void OutboxSent(int32_t partition, state::Delivered entry) override {
    sent_[partition].push_back(entry);
  }
  Status AwaitDelivery(std::chrono::milliseconds /*timeout*/) override { return {}; }
  Status CommitIntake(const std::map<int32_t, int64_t>& next_offsets) override;
  Status CommitCommands(const std::map<int32_t, int64_t>& next_offsets) override;
  Status Commit() override;
  Status EndStep() override;
  Status Restored(int32_t partition, state::CaseStore& store) override;
  void Assigned(int32_t partition, int64_t next_offset) override;
  void Revoked(int32_t partition) override;

  bool open() const { return open_; }

 private:
  // Aborts the open transaction (best effort) and makes `cause` sticky.
  Status Abort(Status cause);
  // Adds consumer positions that moved past what was last committed (e.g. past a
  // transaction's commit marker) to the next transaction's offsets.
  void NoteConsumerPositions();

  StageContext& context_;
  bus::Producer& producer_;
  bus::Consumer& intake_;
  bus::Consumer& processor_;

  // What the open transaction holds.
  bool open_ = false;
  bool delivery_failed_ = false;
  std::map<int32_t, int64_t> inbound_;                     // next offsets of pathway.inbound.v1
  std::map<int32_t, std::vector<state::Delivered>> sent_;  // outbox entries, per partition
  std::set<int32_t> commands_;                             // partitions whose offset moved
  // Outbox entries the broker refused for good, per partition: (sequence, detail);
  // dead-lettered before the transaction is aborted.
  std::map<int32_t, std::vector<std::pair<uint64_t, std::string>>> refused_;
  std::map<int32_t, int64_t> commands_next_;       // per owned partition
  std::map<int32_t, uint64_t> committed_through_;  // last committed outbox sequence
  std::map<int32_t, int64_t> committed_inbound_;   // offsets last committed by this
  std::map<int32_t, int64_t> committed_commands_;  //   instance, per partition
};

}  // namespace pathway::engine
