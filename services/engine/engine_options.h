// The engine's options, counters and metrics snapshot: what its owner configures and
// reads. Shared by the Engine facade (engine.h, which includes this) and the stages
// it is made of.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "pathway/config/v1/config.pb.h"
#include "pathway/v1/pathways.pb.h"
#include "workflow/case_step.h"
#include "workflow/outcome.h"

namespace pathway::engine {

class ReadGate;  // query_service.h

struct EngineOptions {
  size_t max_batch = 256;      // messages per stage per Step
  size_t outbox_batch = 1024;  // outbox entries sent per Step
  // Inbound values larger than this are dead-lettered. Well below max_record_bytes, so
  // a routed command (the inbound value and a subject key) always fits a record.
  size_t max_message_bytes = 512 << 10;
  // The largest record (key and value) the producer and the brokers accept: at most
  // librdkafka's message.max.bytes (default 1,000,000) and every output topic's
  // max.message.bytes. Every output is checked against it before it is committed; one
  // that does not fit is rejected or dead-lettered instead (docs/guarantees.md).
  size_t max_record_bytes = 1'000'000;
  // A case's state (one RocksDB value and one changelog record) may not grow past
  // this: the command that would pass it is rejected (rule case.too_large).
  size_t max_case_bytes = 256 << 10;
  // 32 bytes: dead letters carry their excerpt sealed under this key (main.cc derives
  // it from the key-encryption key). Empty: the excerpt goes in clear (unit tests).
  std::string dead_letter_key;
  std::chrono::milliseconds flush_timeout{15000};  // intake output delivery bound
  // How long a Step waits for new data keys' changelog records to be confirmed before
  // it sends what is sealed under them; unconfirmed by then, they go on a later Step.
  std::chrono::milliseconds new_key_wait{200};
  int warning_lead_days = 14;  // deadline warnings this long before
  // How long a command naming only an unlinked UPN or local id waits for its link.
  int identity_hold_days = 14;
  // Sharing the law allows without consent (config/statutory_sharing.json); none if
  // unset: then only an agency's own facts and consented ones are shared.
  std::optional<pathway::config::v1::StatutorySharing> statutory_sharing;
  // Whose outcome topic each inbound message's outcome goes to (config/partners.json,
  // docs/partners.md); without partners every outcome is unaddressed.
  workflow::PartnerDirectory partners;
  // Pathway kind -> the definition version new instances start under; absent: the
  // latest (workflow::DecideOptions::start_versions). Running instances keep theirs
  // whatever this says; `pathwayctl migrate` moves them (docs/operations.md).
  std::map<pathway::v1::PathwayKind, uint32_t> start_versions;
  // Events kept per case. A command that would grow a case beyond this is rejected
  // (rule history_limit) so one runaway subject cannot grow without bound.
  uint64_t max_history_per_case = 10000;
  // Retention of the engine's bookkeeping (docs/operations.md, "Retention"): a dedupe
  // entry is deleted this many days (of the engine's clock) after it was made; 0 keeps
  // them for ever. At least the retention of pathway.inbound.v1 and pathway.commands.v1
  // (what Kafka can deliver again) plus a week; a kept command repeated later is still
  // recognised by its case's history (decision 126).
  int dedupe_retention_days = 35;
  // A closed case's history (its commands and events, partners' messages in full) is
  // replaced by one entry carrying the case this many days after it closed and was last
  // changed (workflow/history_retention.h); 0 keeps histories until erasure. A command
  // dated before the trim is refused then (rule history.trimmed).
  int closed_history_retention_days = 400;
  // Dedupe entries each partition's sweep reads per Step, and a tenth as many cases
  // (RetentionSweeper); 0 stops both sweeps.
  size_t retention_batch = 2000;
  // After a send or delivery that failed but may pass later, the partition's outbox
  // waits this long before it is tried again, doubling up to the maximum.
  std::chrono::milliseconds retry_backoff_min{100};
  std::chrono::milliseconds retry_backoff_max{5000};
  // After an erasure, deleting the landing topics' records is retried until it
  // succeeds: this long after the first failure, doubling up to the maximum.
  std::chrono::milliseconds purge_backoff_min{1000};
  std::chrono::milliseconds purge_backoff_max{600000};
  std::chrono::milliseconds restore_timeout{120000};      // per partition, on assignment
  std::chrono::milliseconds revoke_drain_timeout{10000};  // per revocation
  // Kafka transactions (needs a transactional producer, Producer::transactional()).
  // Each Step's output (intake output, outbox entries with their changelog records) is
  // one transaction, committed together with the consumed offsets of both stages; the
  // commands group's offsets carry the last outbox sequence committed, so an entry
  // whose transaction committed is never sent again, even after a crash before its
  // local deletion. read_committed consumers then see every output once, and a
  // replaced instance's transaction is fenced by its group's generation (KIP-447).
  bool transactions = false;
  std::chrono::milliseconds transaction_timeout{60000};  // per transactional call
  // Called after each command of the stateful stage with how long it took to decide
  // (its commit is the Step's group commit, after the last command) and how long ago
  // it was appended to pathway.commands.v1 (broker time; 0 if unknown). On the engine
  // thread; for metrics.
  std::function<void(std::chrono::microseconds took, std::chrono::milliseconds age)> on_command;
  // Not owned; may be null. Told which partitions' stores serve reads: a partition
  // once its restore completes, never while it is restored, wiped or handed over.
  ReadGate* reads = nullptr;
};

// Values that cost a RocksDB read to compute, for metrics (Engine::Snapshot).
// The decision settings `options` give: what the command stage decides with, and what
// the operations the engine runs for the gateway check and re-decide with. Points into
// `options` (its sharing rules and start versions), which must outlive the result.
workflow::StepSettings StepSettingsOf(const EngineOptions& options);

struct EngineSnapshot {
  size_t owned_partitions = 0;
  uint64_t outbox_depth = 0;                // entries waiting for delivery (incl. changelog)
  uint64_t timers_due = 0;                  // due now, counted up to the cap given to Snapshot
  int64_t oldest_due_overdue_days = 0;      // how late the oldest due timer is (0: none due)
  int64_t inbound_lag = 0;                  // messages behind on pathway.inbound.v1
  int64_t commands_lag = 0;                 // messages behind on pathway.commands.v1
  size_t purges_pending = 0;                // partitions whose landing records wait for deletion
  std::map<std::string, uint64_t> rocksdb;  // CaseStore::Stats summed over partitions
};

struct EngineStats {
  uint64_t inbound = 0;           // messages read from pathway.inbound.v1
  uint64_t commands = 0;          // messages read from pathway.commands.v1
  uint64_t events = 0;            // events decided (recorded and queued for emission)
  uint64_t rejections = 0;        // commands rejected (intake and stateful stage)
  uint64_t dead_letters = 0;      // messages dead-lettered
  uint64_t duplicates = 0;        // commands whose event id was seen before
  uint64_t delivered = 0;         // outbox entries confirmed and deleted
  uint64_t timers_fired = 0;      // deadline warnings and breaches recorded
  uint64_t restored_records = 0;  // changelog records applied by restores
  uint64_t restores = 0;          // partitions rebuilt from the changelog
  uint64_t reseeded_records = 0;  // changelog records queued again by re-seeds (decision 133)
  uint64_t history_limit_rejections = 0;
  uint64_t redecisions = 0;            // cases re-decided for a command that arrived out of order
  uint64_t size_rejections = 0;        // commands whose outputs or state were too large
  uint64_t outputs_dead_lettered = 0;  // outputs the broker refused for good
  uint64_t send_retries = 0;           // transient send or delivery failures, retried later
  uint64_t purge_failures = 0;         // failed attempts to delete landing records
  uint64_t dedupe_expired = 0;         // dedupe entries deleted past their retention
  uint64_t histories_trimmed = 0;      // closed cases whose history retention trimmed
};

}  // namespace pathway::engine
