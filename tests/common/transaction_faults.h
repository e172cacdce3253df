// A Producer decorator for transactions-mode tests: forwards everything to a real
// (memory or Kafka) transactional producer and lets a test act at the moment of a
// commit: run a hook first (e.g. let another instance take over), fail without
// committing (an abortable error), or commit and then report failure (the process
// died after the broker committed, before it heard back).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "services/bus/event_bus.h"

namespace pathway::testing {

struct TransactionFaults {
  // Which commit (1 = the first) to act on; 0 = none.
  int at_commit = 0;
  enum class Kind { kFailBeforeCommit, kFailAfterCommit } kind = Kind::kFailAfterCommit;
  // Runs before every commit (with its number), whether or not a fault is due.
  std::function<void(int)> before_commit;
  // Runs before offsets are added to a transaction, with the messages the open
  // transaction has sent so far per topic (e.g. to pause an instance that has written
  // output but not yet committed it).
  std::function<void(const std::map<std::string, int>&)> before_send_offsets;
  int commits = 0;  // commits attempted so far
};

class FaultyTransactionalProducer final : public bus::Producer {
 public:
  FaultyTransactionalProducer(std::unique_ptr<bus::Producer> inner, TransactionFaults& faults)
      : inner_(std::move(inner)), faults_(faults) {}

  Status Send(const bus::Outgoing& m, uint64_t opaque) override {
    Status s = inner_->Send(m, opaque);
    if (s) ++sent_in_transaction_[std::string(m.topic)];
    return s;
  }
  void Poll(std::chrono::milliseconds t) override { inner_->Poll(t); }
  Status Flush(std::chrono::milliseconds t) override { return inner_->Flush(t); }
  size_t InFlight() const override { return inner_->InFlight(); }
  bool transactional() const override { return inner_->transactional(); }
  Status InitTransactions(std::chrono::milliseconds t) override {
    return inner_->InitTransactions(t);
  }
  Status BeginTransaction() override {
    sent_in_transaction_.clear();
    return inner_->BeginTransaction();
  }
  Status SendOffsetsToTransaction(const std::vector<bus::GroupOffset>& offsets,
                                  bus::Consumer& group, std::chrono::milliseconds t) override {
    if (faults_.before_send_offsets) faults_.before_send_offsets(sent_in_transaction_);
    return inner_->SendOffsetsToTransaction(offsets, group, t);
  }
  Status AbortTransaction(std::chrono::milliseconds t) override {
    return inner_->AbortTransaction(t);
  }
  Status CommitTransaction(std::chrono::milliseconds t) override {
    const int number = ++faults_.commits;
    if (faults_.before_commit) faults_.before_commit(number);
    if (number != faults_.at_commit) return inner_->CommitTransaction(t);
    if (faults_.kind == TransactionFaults::Kind::kFailBeforeCommit) {
      return Status(bus::errc::kTxnAbortable, "injected: the transaction failed");
    }
    if (Status s = inner_->CommitTransaction(t); !s) return s;
    return Status(bus::errc::kTransport, "injected: died after the broker committed");
  }

 private:
  std::unique_ptr<bus::Producer> inner_;
  TransactionFaults& faults_;
  std::map<std::string, int> sent_in_transaction_;
};

}  // namespace pathway::testing
