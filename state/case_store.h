// CaseStore: the engine's durable state, over RocksDB (RocksDB details stay in state/).
//
// What one processed inbound message changes (new case state, appended history,
// dedupe entry, outbox entries, consumed offset) is committed by Commit() as ONE
// atomic RocksDB WriteBatch: after a crash either all of it is there or none.
//
// Keys never hold personal data: cases and history are keyed by the subject key (a
// keyed hash), dedupe entries by a hash of the event id.
//
// Crypto-shredding (docs/tell-it-once.md section 6), when StoreOptions::kek is set:
// each subject's case state and history values are sealed (AES-256-GCM) under the
// subject's own random data key, which is stored only wrapped by the KEK in the
// data_keys family and travels through the changelog like every other write. A batch
// with `erase_subject` destroys the key (leaving an erasure mark), deletes the
// subject's history and rewrites the affected files, so every sealed copy anywhere
// (SST files, changelog records, outputs on topics) stops opening. A backup (CopyTo)
// carries the wrapped data keys of its moment: it opens, with the KEK, until it is
// deleted (docs/operations.md, "backup and restore").
//
// Thread safety: all methods may be called concurrently (RocksDB is thread-safe);
// the engine nevertheless uses one store per process from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "state/errc.h"

namespace pathway::state {

// Column families. The numbers are PERMANENT: a family's id is never reused, even
// after the family is retired (add it to RetiredColumnFamilyIds()). Names on disk
// are derived from the id ("cf<id>_<name>"), so renaming code never moves data.
enum class ColumnFamily : uint8_t {
  kMeta = 1,       // store-wide values (schema version, outbox sequence)
  kCaseState = 2,  // subject key -> CaseState
  kHistory = 3,    // subject key + sequence -> Envelope (the audit trail, replay source)
  kDedupe = 4,     // hash(event id) -> content digest, day made, flags (case_store.cc)
  kOutbox = 5,     // sequence -> OutboxEntry waiting for delivery
  kOffsets = 6,    // topic + partition -> next offset to consume
  kTimers = 7,     // partition + fire date + subject + identity -> Timer
  kDataKeys = 8,   // subject key -> data key wrapped by the KEK; empty: erased
  kCaseIndex = 9,  // StoreOptions::indexer's entries (never mirrored: derived from states)
};

struct ColumnFamilySpec {
  ColumnFamily id;
  std::string_view name;
};
// Every live column family, in id order.
std::span<const ColumnFamilySpec> ColumnFamilies();
// Ids that were used once and must never be used again.
std::span<const uint8_t> RetiredColumnFamilyIds();
// "cf02_case_state": the on-disk RocksDB column family name.
std::string DiskName(const ColumnFamilySpec& spec);

struct ConsumedOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t next_offset = 0;  // the offset of the message after the one processed
};

// Everything one processed message (or one fired timer) changes.
struct Batch {
  std::optional<ConsumedOffset> consumed;  // absent for a fired timer
  // The command's dedupe identity (workflow::DedupeId: source, event id and subject);
  // empty: nothing to remember (e.g. an undecodable message).
  std::string dedupe_event_id;
  std::string dedupe_digest;  // 16 bytes: the command's content (workflow::ContentDigest)
  // The day the dedupe entry is made (days since 1970-01-01, the engine's own date, not
  // the command's business date): its retention runs from it (PruneDedupe).
  uint32_t dedupe_day = 0;
  std::string subject_key;                                 // empty: no case change
  std::optional<pathway::store::v1::CaseState> new_state;  // with subject_key
  std::vector<pathway::v1::Envelope> history;              // appended after the existing history
  uint64_t history_start = 0;                              // sequence of history[0]
  std::vector<pathway::store::v1::OutboxEntry> outbox;
  // Deadline timers, filed under the subject's partition so that the instance owning
  // the partition fires them.
  int32_t partition = 0;
  std::vector<pathway::store::v1::Timer> timers_add;
  std::vector<pathway::store::v1::Timer> timers_remove;
  // Retention of a closed case (workflow/history_retention.h): the subject's history
  // entries with a sequence below this are deleted (0: none), with their changelog
  // records; `history` holds the HistoryTrimmed entry that replaces them.
  uint64_t history_drop_before = 0;
  // Erasure of subject_key: its data key is destroyed and its earlier history deleted;
  // new_state and history (the erased mark and the erasure event, which hold no
  // personal data) are written unsealed.
  bool erase_subject = false;
};

// An outbox entry the broker confirmed (CaseStore::DeleteDelivered).
struct Delivered {
  uint64_t sequence = 0;
  // The entry is an output restored from an older changelog (OutboxEntry.mirrored):
  // its deletion queues a tombstone of the mirrored copy.
  bool mirrored = false;
};

struct OutboxItem {
  uint64_t sequence = 0;
  pathway::store::v1::OutboxEntry entry;
};

// What RocksDB may hold in memory, for every store of a process together.
struct MemoryBudget {
  size_t block_cache_bytes = size_t{256} << 20;   // data, index and filter blocks read
  size_t write_buffer_bytes = size_t{128} << 20;  // memtables not yet flushed, all families
};
// One block cache and one write-buffer budget shared by the stores given it (StoreSet
// gives one to all its partitions), so RocksDB's memory is bounded by the budget
// however many partitions are open. Opaque outside state/; thread-safe.
class SharedMemory {
 public:
  static std::shared_ptr<SharedMemory> Make(const MemoryBudget& budget);
  virtual ~SharedMemory() = default;
};

// A secondary index of case states (caseloads: docs/gateway.md, "Caseloads"). The
// store keeps, for every subject, the entries `entries` derives from its case state,
// in the same atomic write as the state, so a read of the index never sees an entry
// that disagrees with a committed state. Keys and values are opaque to the store;
// keys of different subjects must differ. The entries are not mirrored to the
// changelog: a restore derives them again from the states it restores.
struct IndexEntry {
  std::string key;
  std::string value;
};
struct CaseIndexer {
  // What `entries` derives is versioned: a store whose index was built under another
  // version rebuilds it from every case state when opened.
  uint32_t version = 0;
  // Pure and thread-safe; called on the committing thread. Null: no index kept.
  std::function<std::vector<IndexEntry>(std::string_view subject_key,
                                        const pathway::store::v1::CaseState& state)>
      entries;
};

struct StoreOptions {
  // Empty: no changelog. Otherwise every Commit also queues, in the same WriteBatch,
  // outbox entries for this topic and partition that mirror what it wrote, so that
  // another instance can rebuild the store from the (compacted) topic. Outputs are
  // not mirrored (decision 107): they come first in the outbox, and the sender lets a
  // changelog record go only once every output before it is confirmed, so a restored
  // state's outputs are always out, and a state not restored is decided again, with
  // the same outputs. Within one batch the records are ordered so that any prefix of
  // them is safe to restore: history and new timers, then the case state (which
  // carries the command's event id, so state and dedupe entry are one record), then
  // removed timers and the consumed offset. A restore that ends mid-batch holds either
  // the old case state (the command is processed again, deterministically) or the new
  // one (the command is recognised as done).
  std::string changelog_topic;
  int32_t changelog_partition = 0;
  // 32 bytes: seal case state and history under per-subject data keys wrapped by this
  // key-encryption key. Empty: values are stored in clear (tests of other concerns).
  std::string kek;
  // Shared with other stores; null: a budget of this store's own (MemoryBudget's).
  std::shared_ptr<SharedMemory> memory;
  // The secondary index kept beside the case states; none without `entries`.
  CaseIndexer indexer = {};
};

// One slice of the dedupe retention sweep (CaseStore::PruneDedupe).
struct DedupePrune {
  uint32_t expire_before = 0;  // entries made before this day (days since 1970-01-01) go
  // Entries with no day (made before retention existed, or restored from a case state
  // record, which carries no day) are given this one: their window starts now.
  uint32_t today = 0;
  std::string after;       // the slice starts after this key (empty: at the first)
  size_t max_read = 1000;  // entries read in this slice, at most
};
struct DedupePruned {
  uint64_t read = 0;     // entries read
  uint64_t deleted = 0;  // entries past the window, deleted
  uint64_t dated = 0;    // entries with no day, given `today`
  std::string next;      // where the next slice starts (DedupePrune::after); empty: done
};

// What CaseStore::CopyTo copied (pathwayctl backup and restore).
struct StoreCopy {
  uint64_t records = 0;                      // keys, every column family
  std::map<std::string, uint64_t> families;  // family name -> keys (every family, even empty)
  // 64 hex digits: SHA-256 over every family in id order, and in each every key and value
  // in key order (family id byte, 4-byte big-endian length and bytes of the key, then of
  // the value). Equal digests: equal stores, byte for byte.
  std::string digest;
};
// Told the number of keys copied so far, every few thousand keys; returning false stops
// the copy.
using CopyProgress = std::function<bool(uint64_t records)>;

// A record read back from the changelog.
struct ChangelogRecord {
  int64_t offset = 0;
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
};

// Who owns a partition's changelog from which offset on. A new owner writes a fence
// record and restores up to it; records a replaced owner sends after the fence are
// ignored by every later restore.
struct Fence {
  std::string owner;  // random, one per assignment
  int64_t offset = -1;
};

// The ownership filter of one restore pass (ApplyChangelog updates it).
struct RestoreFilter {
  std::string current_owner;  // of the latest fence seen so far
  uint64_t applied = 0;       // records applied
  uint64_t ignored = 0;       // records of replaced owners
};

class CaseStore {
 public:
  // Opens or creates the store in `dir`. Fails with kIncompatible if the directory
  // holds a column family this version does not know (written by a newer pathway).
  static Result<std::unique_ptr<CaseStore>> Open(const std::string& dir, StoreOptions options = {});
  // Opens the store in `dir` to read, while its engine may be running (a RocksDB
  // secondary instance; pathwayctl's operations tools): it sees what was committed
  // when it opened. Every write fails (kIo, "not supported in secondary mode"), and so
  // does SealField for a subject with no data key yet; the caseload index is not read
  // or rebuilt. Fails with kInvalidArgument if `dir` does not exist.
  static Result<std::unique_ptr<CaseStore>> OpenReadOnly(const std::string& dir,
                                                         StoreOptions options = {});
  // Deletes the store in `dir` (it must not be open).
  static Status Destroy(const std::string& dir);

  // The changelog record that fences a partition for `owner`: produce it (to the
  // changelog partition) before restoring.
  static pathway::store::v1::OutboxEntry FenceRecord(std::string_view owner);
  // The owner named by a fence record's key, or nullopt if it is not a fence.
  static std::optional<std::string> FenceOwner(std::string_view changelog_key);
  virtual ~CaseStore() = default;

  // The content digest remembered for `dedupe_id` (Batch::dedupe_event_id), or nullopt
  // if it was never committed. An empty digest: the entry predates content digests.
  virtual Result<std::optional<std::string>> SeenEvent(std::string_view dedupe_id) = 0;
  virtual Result<std::optional<pathway::store::v1::CaseState>> LoadCase(
      std::string_view subject_key) = 0;
  virtual Result<std::vector<pathway::v1::Envelope>> History(std::string_view subject_key) = 0;
  // The subject's history entries with a sequence of `from` or more, in order. A case
  // whose history retention trimmed (CaseState.history_kept_from) is read from there:
  // entries before it may survive a restore that stopped mid-trim.
  virtual Result<std::vector<pathway::v1::Envelope>> HistoryFrom(std::string_view subject_key,
                                                                 uint64_t from) = 0;
  virtual Result<std::optional<int64_t>> NextOffset(std::string_view topic, int32_t partition) = 0;

  // Atomically applies `batch`. Outbox entries get increasing sequence numbers.
  // kErased if the batch changes a subject whose data key was destroyed (other than
  // by the erasing batch itself).
  Status Commit(const Batch& batch) { return Commit(std::span<const Batch>(&batch, 1)); }
  // Group commit: applies `batches` in order as ONE atomic write (one WAL record), as
  // if each were committed alone in turn, except that of the consumed offsets of one
  // topic and partition only the last is written (and mirrored), and of one subject's
  // case states only the last, carrying the dedupe ids of the others (decision 108).
  // Their changelog records keep batch order, so any prefix of them is still safe to
  // restore: it holds each subject's state before the group (its commands in the group
  // are decided again) or after it (all of them are done). A batch
  // with `erase_subject` must be committed alone (kInvalidArgument otherwise). On error
  // nothing is written.
  virtual Status Commit(std::span<const Batch> batches) = 0;

  // A personal field sealed under the subject's data key (created on first use), for
  // values that leave the store (e.g. on pathway.events.v1); `field` names it and is
  // authenticated. Deterministic given the key: `context` (the id of the event it goes
  // out in) with the field and plaintext fixes the bytes, so a re-sent copy of an
  // event is the same bytes as the first. kErased after erasure; kInvalidArgument
  // without a KEK.
  virtual Result<std::string> SealField(std::string_view subject_key, std::string_view plaintext,
                                        std::string_view field, std::string_view context) = 0;
  // Makes the subject's data key now if it has none, so that a batch of commands can
  // have its new keys on the changelog (their outbox records are marked
  // confirm_before_later) before anything is sealed under them. Nothing happens
  // without a KEK or for a subject with a key or erasure mark already (the key is not
  // unwrapped here); kInvalidArgument for a malformed key.
  virtual Status PrepareDataKey(std::string_view subject_key) = 0;
  // The plaintext of SealField's output: kErased once the key is destroyed,
  // kKeyMismatch if the subject's data key does not unwrap under this store's KEK
  // (LoadCase, History and Commit fail alike), kCorruption for anything else that does
  // not open.
  virtual Result<std::string> OpenField(std::string_view subject_key, std::string_view sealed,
                                        std::string_view field) = 0;
  // Whether the subject was erased (its data key destroyed).
  virtual Result<bool> Erased(std::string_view subject_key) = 0;

  // Retention of the dedupe table (docs/operations.md, "Retention"): reads up to
  // `max_read` entries from `after` on, deletes those made before `expire_before` (an
  // entry that is a changelog record of its own is tombstoned there too) and dates the
  // undated ones, in one atomic write. Keys are hashes, so a slice is no personal data.
  // A command whose entry is gone is no longer recognised by it; the engine then
  // recognises a repeat from the case's history (docs/decisions.md 126).
  virtual Result<DedupePruned> PruneDedupe(const DedupePrune& request) = 0;

  // Up to `max` subject keys (64 hex digits) of stored cases, in key order, from the
  // first after `after` (from the first when it is empty): a sweep in slices.
  virtual Result<std::vector<std::string>> CaseKeysAfter(std::string_view after, size_t max) = 0;

  // Up to `max` outbox entries with sequence >= `from`, in sequence order.
  virtual Result<std::vector<OutboxItem>> ReadOutbox(uint64_t from, size_t max) = 0;
  // The sequence the next outbox entry will get.
  virtual uint64_t NextOutboxSequence() = 0;
  // RocksDB's estimate of the outbox's size (cheap; for metrics).
  virtual uint64_t ApproximateOutboxEntries() = 0;
  // Removes a delivered entry (with a changelog, a mirrored one queues its tombstone).
  virtual Status DeleteOutbox(uint64_t sequence) = 0;
  // Removes delivered entries in one write, without reading them (the sender knows
  // which are mirrored): with a changelog, each mirrored one queues its tombstone.
  // Deleting an entry that is already gone changes nothing but that tombstone, queued
  // again.
  virtual Status DeleteDelivered(std::span<const Delivered> delivered) = 0;
  // Replaces entry `sequence` in place (e.g. by a dead letter), so that it keeps its
  // place in the send order and what waits for it (later changelog records) waits for
  // the replacement; `entry` is stored as given (not sealed) and keeps the old entry's
  // `mirrored`. Returns false, changing nothing, if the entry is gone.
  virtual Result<bool> ReplaceOutbox(uint64_t sequence,
                                     const pathway::store::v1::OutboxEntry& entry) = 0;
  // Outbox entries from now on get sequences >= `next` (never lowers the sequence).
  // Durable. For the transactions mode: sequences a previous owner committed must not
  // be handed out again.
  virtual Status ReserveOutboxSequences(uint64_t next) = 0;

  // Whether an erasure committed here (or restored here from the changelog) still
  // waits for the landing topics' processed records to be deleted; durable, so a
  // restart goes on trying. ClearPurgePending once they are.
  virtual Result<bool> PurgePending() = 0;
  virtual Status ClearPurgePending() = 0;

  // Changelog records read by ReadOutbox name this owner from now on.
  virtual void SetOwner(std::string owner) = 0;
  // The fence this store was last restored up to (kept locally, never mirrored).
  virtual Result<std::optional<Fence>> LocalFence() = 0;
  // Saves the fence and, in the same write, forgets every noted owner.
  virtual Status SaveLocalFence(const Fence& fence) = 0;
  // Forgets the local fence and every noted owner: the next takeover with a changelog
  // then rebuilds the store from the changelog instead of keeping it (a restored backup
  // the changelog holds more than; PartitionRestorer).
  virtual Status ClearLocalFence() = 0;
  // The owner a takeover is about to fence with, noted (durably) before its fence is
  // produced. A fence of a noted owner is this store's own, from a takeover cut short
  // between producing its fence and SaveLocalFence, and not proof that another owner
  // had the partition (decision 134). Owners are noted until SaveLocalFence,
  // ClearLocalFence or ForgetNotedOwners.
  virtual Status NoteOwner(std::string_view owner) = 0;
  virtual Result<std::vector<std::string>> NotedOwners() = 0;
  // A store restored from a backup: its noted owners are the backed-up engine's, whose
  // fences may have been followed by records this copy does not hold.
  virtual Status ForgetNotedOwners() = 0;
  // Re-seeding the changelog (docs/decisions.md 133). A store kept over a changelog
  // that lost its records (the topic recreated or emptied, nobody else fenced it since)
  // holds what the changelog does not, so an owner rebuilding from the changelog would
  // lose it. StartReseed marks the store, durably, to queue a changelog record of every
  // key of every mirrored family as it now stands; ReseedSome queues the records of up
  // to `max_keys` keys from where the re-seed stands, with the new position in the same
  // atomic write, so a re-seed a crash interrupted goes on where it stopped. The order
  // keeps any prefix safe to restore, as a Commit's does: data keys, timers, history,
  // then case states, then dedupe entries (never one whose state is missing: that
  // command would be taken as done), then consumed offsets. Each call's last record
  // asks for confirmation before anything after it goes
  // (OutboxEntry.confirm_before_later). Without a changelog, or with no re-seed
  // marked, StartReseed does nothing and ReseedSome returns {0, true}.
  virtual Status StartReseed() = 0;
  struct ReseedStep {
    uint64_t queued = 0;  // records queued by this call
    bool done = true;     // no re-seed left (the mark is gone)
  };
  virtual Result<ReseedStep> ReseedSome(size_t max_keys) = 0;
  // Applies changelog records, in log order, in one atomic write: puts and tombstones
  // of records whose owner wrote the latest fence seen (tracked in `filter` across
  // calls). Fails with kCorruption on a record this version cannot read.
  virtual Status ApplyChangelog(std::span<const ChangelogRecord> records,
                                RestoreFilter& filter) = 0;

  // Up to `max` timers of `partition` that fire on or before `up_to`, in firing order.
  virtual Result<std::vector<pathway::store::v1::Timer>> DueTimers(int32_t partition,
                                                                   const pathway::v1::Date& up_to,
                                                                   size_t max) = 0;

  // RocksDB's own figures, summed over the column families, for metrics:
  // "estimate_num_keys", "live_data_bytes", "sst_files_bytes", "memtable_bytes".
  virtual std::map<std::string, uint64_t> Stats() = 0;

  // Calls `fn` with the index entries (StoreOptions::indexer) whose key starts with
  // `prefix`, in key order, from the first key after `prefix` + `after` (from the
  // first with the prefix when `after` is empty), until `fn` returns false. Reads what
  // is committed; may run on another thread than Commit.
  virtual Status ScanIndex(
      std::string_view prefix, std::string_view after,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;

  // Backup and restore (pathwayctl): writes every key and value of every column family,
  // byte for byte, into a new store created in `dir`, and returns what it wrote. Sealed
  // values stay sealed (the copy opens with the same KEK); the meta family (schema
  // version, outbox sequence, local fence) and the outbox come along. What is copied is
  // one point in time: a read-only store (OpenReadOnly) reads as of its open, across all
  // its families, while its engine goes on writing. kInvalidArgument if `dir` exists;
  // std::errc::operation_canceled when `progress` says stop. After an error `dir` may
  // hold part of a copy, which the caller must not take for a whole one (Destroy it).
  virtual Result<StoreCopy> CopyTo(const std::string& dir, const CopyProgress& progress) = 0;

  // Calls `fn` with every key and value of `family` (tests and operations tools).
  virtual Status Scan(ColumnFamily family,
                      const std::function<void(std::string_view, std::string_view)>& fn) = 0;
};

}  // namespace pathway::state
