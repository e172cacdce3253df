#include "state/case_store.h"

#include <openssl/evp.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/options_util.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "common/crypto.h"

namespace pathway::state {
namespace {

constexpr std::array<ColumnFamilySpec, 9> kFamilies = {{
    {ColumnFamily::kMeta, "meta"},
    {ColumnFamily::kCaseState, "case_state"},
    {ColumnFamily::kHistory, "history"},
    {ColumnFamily::kDedupe, "dedupe"},
    {ColumnFamily::kOutbox, "outbox"},
    {ColumnFamily::kOffsets, "offsets"},
    {ColumnFamily::kTimers, "timers"},
    {ColumnFamily::kDataKeys, "data_keys"},
    {ColumnFamily::kCaseIndex, "case_index"},
}};
constexpr std::array<uint8_t, 0> kRetired = {};

constexpr std::string_view kMetaSchemaVersion = "schema_version";
constexpr std::string_view kMetaOutboxNext = "outbox_next_sequence";
constexpr std::string_view kMetaLocalFence = "local_fence";
// Followed by an owner: noted before its fence is produced (CaseStore::NoteOwner).
constexpr std::string_view kMetaNotedOwner = "noted_owner/";
// Present while an erasure's landing-topic records wait to be deleted (never mirrored:
// a restore sets it again from the erasure marks it applies).
constexpr std::string_view kMetaPurgePending = "purge_pending";
// Changelog key of a fence: the meta family's id, this prefix, the owner.
constexpr std::string_view kFencePrefix = "fence/";
// The CaseIndexer::version the index was built under, plus one (absent: never built).
constexpr std::string_view kMetaIndexVersion = "index_version";
// Present while a changelog re-seed is under way: the index in kReseedOrder of the
// family it stands in (one byte), then the first key of it not queued yet.
constexpr std::string_view kMetaReseed = "reseed_next";
// The families a re-seed queues, in the order that keeps any prefix safe (case_store.h).
constexpr std::array<ColumnFamily, 6> kReseedOrder = {
    ColumnFamily::kDataKeys,  ColumnFamily::kTimers, ColumnFamily::kHistory,
    ColumnFamily::kCaseState, ColumnFamily::kDedupe, ColumnFamily::kOffsets};
// A re-seed call stops after this many bytes of values, whatever its key count.
constexpr size_t kReseedBatchBytes = 8 << 20;
constexpr uint64_t kSchemaVersion = 1;

// The case_index family holds three kinds of key, told apart by their first byte:
// an entry (the indexer's key after it), a subject's list of its entries (so that the
// next state's entries replace them), and a subject whose entries a restore has yet
// to derive.
constexpr char kIndexSubject = '\0';
constexpr char kIndexEntry = '\1';
constexpr char kIndexPending = '\2';
constexpr size_t kDedupeDigestBytes = 16;  // Batch::dedupe_digest

// A sealed value starts with a byte no serialized protobuf message starts with (field
// number 0 does not exist), so clear values written before sealing still read.
constexpr char kSealedMark = '\0';
constexpr size_t kDataKeyBytes = 32;

// Associated data: a sealed value or key opens only where it was written.
std::string WrapAad(std::string_view subject) {
  return "pathway.data_key.v1|" + std::string(subject);
}
std::string ValueAad(ColumnFamily family, std::string_view key) {
  return "pathway.value.v1|" + std::string(1, static_cast<char>(family)) + std::string(key);
}
std::string FieldAad(std::string_view field, std::string_view subject) {
  return "pathway.field.v1|" + std::string(field) + "|" + std::string(subject);
}

// A subject's index entries as kept under kIndexSubject: for each, its key's and its
// value's length (4 bytes each) followed by them.
std::string EncodeEntries(const std::vector<IndexEntry>& entries);
bool DecodeEntries(std::string_view in, std::vector<IndexEntry>& out);

class StateCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "pathway.state"; }
  std::string message(int code) const override {
    switch (static_cast<errc>(code)) {
      case errc::kOk:
        return "ok";
      case errc::kIo:
        return "storage error";
      case errc::kCorruption:
        return "stored data is corrupt";
      case errc::kIncompatible:
        return "data directory is incompatible with this version";
      case errc::kInvalidArgument:
        return "invalid argument";
      case errc::kErased:
        return "subject erased";
      case errc::kKeyMismatch:
        return "key-encryption key mismatch";
    }
    return "unknown state error";
  }
};

// Big-endian so that RocksDB's bytewise order is numeric order.
void AppendU64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}
uint64_t ReadU64(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

void AppendU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

uint32_t ReadU32(std::string_view s) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4 && i < s.size(); ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

// A dedupe entry's value: the command's content digest (16 bytes), the day the entry
// was made (4 bytes big-endian, days since 1970-01-01; 0: not known) and a flag byte.
// The flag says the entry is a changelog record of its own (a command that changed no
// case state), so deleting it must tombstone that record; an entry that travels inside
// its case state's record has none. Older values: the digest alone (before retention),
// or anything else (before digests: an offset, or nothing).
constexpr size_t kDedupeValueBytes = kDedupeDigestBytes + 4 + 1;
constexpr char kDedupeOwnRecord = '\1';
struct DedupeValue {
  std::string digest;  // empty: not known (before digests)
  uint32_t day = 0;
  bool own_record = false;
};
std::string EncodeDedupe(std::string_view digest, uint32_t day, bool own_record) {
  std::string out(digest);
  out.resize(kDedupeDigestBytes, '\0');
  AppendU32(out, day);
  out.push_back(own_record ? kDedupeOwnRecord : '\0');
  return out;
}
DedupeValue DecodeDedupe(std::string_view value) {
  DedupeValue out;
  if (value.size() == kDedupeValueBytes) {
    out.digest = value.substr(0, kDedupeDigestBytes);
    // Written for an entry that had no digest (EncodeDedupe pads it with zeros).
    if (out.digest == std::string(kDedupeDigestBytes, '\0')) out.digest.clear();
    out.day = ReadU32(value.substr(kDedupeDigestBytes, 4));
    out.own_record = value.back() == kDedupeOwnRecord;
  } else if (value.size() == kDedupeDigestBytes) {
    out.digest = value;
    // Before retention, whether it was a record of its own was not kept: assume it was
    // (a tombstone of a key the changelog does not hold costs one small record).
    out.own_record = true;
  } else {
    out.own_record = true;
  }
  return out;
}

std::string EncodeEntries(const std::vector<IndexEntry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    AppendU32(out, static_cast<uint32_t>(e.key.size()));
    out += e.key;
    AppendU32(out, static_cast<uint32_t>(e.value.size()));
    out += e.value;
  }
  return out;
}

bool DecodeEntries(std::string_view in, std::vector<IndexEntry>& out) {
  auto take = [&in](std::string& field) {
    if (in.size() < 4) return false;
    size_t n = 0;
    for (size_t i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(in[i]);
    in.remove_prefix(4);
    if (in.size() < n) return false;
    field.assign(in.substr(0, n));
    in.remove_prefix(n);
    return true;
  };
  while (!in.empty()) {
    IndexEntry e;
    if (!take(e.key) || !take(e.value)) return false;
    out.push_back(std::move(e));
  }
  return true;
}

// Days since 1970-01-01, biased so that bytewise order is date order.
uint32_t DayKey(const pathway::v1::Date& d) {
  using namespace std::chrono;
  year_month_day ymd{year{d.year()}, month{static_cast<unsigned>(d.month())},
                     day{static_cast<unsigned>(d.day())}};
  return static_cast<uint32_t>(sys_days{ymd}.time_since_epoch().count()) + 0x80000000u;
}

class RocksMemory final : public SharedMemory {
 public:
  explicit RocksMemory(const MemoryBudget& budget)
      : cache(rocksdb::NewLRUCache(budget.block_cache_bytes)),
        write_buffers(
            std::make_shared<rocksdb::WriteBufferManager>(budget.write_buffer_bytes, nullptr)),
        write_buffer_bytes(budget.write_buffer_bytes) {
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    // Index and filter blocks count against the cache too, so that a store of a
    // million children does not hold all of theirs outside the budget.
    table.cache_index_and_filter_blocks = true;
    table.pin_l0_filter_and_index_blocks_in_cache = true;
    // Most reads are point lookups of keys that may not exist (a new child's case, a
    // new event id's dedupe entry, a data key): a filter answers those without a read.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    tables.reset(rocksdb::NewBlockBasedTableFactory(table));
  }
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers;
  std::shared_ptr<rocksdb::TableFactory> tables;
  size_t write_buffer_bytes;
};

Error FromRocks(const rocksdb::Status& s, std::string_view what) {
  errc code = s.IsCorruption() ? errc::kCorruption : errc::kIo;
  return Error{make_error_code(code), std::string(what) + ": " + s.ToString()};
}

// Open and OpenReadOnly (defined below); CopyTo creates its copy with it.
Result<std::unique_ptr<CaseStore>> OpenStore(const std::string& dir, StoreOptions store_options,
                                             const std::string& secondary);

// SHA-256 fed in pieces (StoreCopy::digest).
class StreamDigest {
 public:
  StreamDigest() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~StreamDigest() { EVP_MD_CTX_free(ctx_); }
  StreamDigest(const StreamDigest&) = delete;
  StreamDigest& operator=(const StreamDigest&) = delete;
  void Add(std::string_view bytes) { EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()); }
  void AddField(std::string_view bytes) {
    std::string length;
    for (int shift = 24; shift >= 0; shift -= 8) {
      length.push_back(static_cast<char>(bytes.size() >> shift));
    }
    Add(length);
    Add(bytes);
  }
  std::string HexDigest() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx_, out, &size);
    return HexEncode(std::string_view(reinterpret_cast<const char*>(out), size));
  }

 private:
  EVP_MD_CTX* ctx_;
};

class RocksCaseStore final : public CaseStore {
 public:
  RocksCaseStore(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
                 uint64_t outbox_next, StoreOptions options)
      : db_(std::move(db)),
        handles_(std::move(handles)),
        outbox_next_(outbox_next),
        options_(std::move(options)) {}

  ~RocksCaseStore() override {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    // The WAL makes every committed batch durable without flushing memtables here.
    db_->Close().PermitUncheckedError();
    db_.reset();
    if (!secondary_dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(secondary_dir_, ec);
    }
  }

  // A read-only store (OpenReadOnly) keeps RocksDB's secondary-instance files here.
  void SetSecondaryDir(std::string dir) { secondary_dir_ = std::move(dir); }

  Result<std::optional<std::string>> SeenEvent(std::string_view dedupe_id) override {
    std::string value;
    auto s = db_->Get(read_, cf(ColumnFamily::kDedupe), DedupeKey(dedupe_id), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "read dedupe");
    return std::optional(DecodeDedupe(value).digest);
  }

  Result<std::vector<std::string>> CaseKeysAfter(std::string_view after, size_t max) override {
    std::vector<std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(ColumnFamily::kCaseState)));
    if (after.empty()) {
      it->SeekToFirst();
    } else {
      auto start = SubjectBytes(after);
      if (!start) return start.error();
      it->Seek(*start);
      if (it->Valid() && it->key() == rocksdb::Slice(*start)) it->Next();
    }
    for (; it->Valid() && out.size() < max; it->Next()) {
      out.push_back(HexEncode(it->key().ToStringView()));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read case keys");
    return out;
  }

  Result<DedupePruned> PruneDedupe(const DedupePrune& request) override {
    DedupePruned out;
    std::vector<Op> ops;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(ColumnFamily::kDedupe)));
    if (request.after.empty()) {
      it->SeekToFirst();
    } else {
      it->Seek(request.after);
      if (it->Valid() && it->key() == request.after) it->Next();
    }
    std::string last;
    for (; it->Valid() && out.read < request.max_read; it->Next()) {
      ++out.read;
      last = it->key().ToString();
      DedupeValue v = DecodeDedupe(it->value().ToStringView());
      if (v.day == 0) {
        // The window of an entry with no day starts now; the write is local only (a
        // restore reads its case state record again, undated, and it is dated again).
        ++out.dated;
        ops.push_back(PutOp(ColumnFamily::kDedupe, last,
                            EncodeDedupe(v.digest, request.today, v.own_record), {},
                            /*mirror=*/false));
        continue;
      }
      if (v.day >= request.expire_before) continue;
      ++out.deleted;
      Op drop = DeleteOp(ColumnFamily::kDedupe, last);
      drop.mirror = v.own_record;
      ops.push_back(std::move(drop));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read dedupe to prune");
    if (it->Valid()) out.next = std::move(last);
    if (ops.empty()) return out;
    if (auto s = WriteOps(ops, outbox_next_); !s) return s.error();
    return out;
  }

  Result<std::optional<pathway::store::v1::CaseState>> LoadCase(
      std::string_view subject_key) override {
    auto key = SubjectBytes(subject_key);
    if (!key) return key.error();
    std::string value;
    auto s = db_->Get(read_, cf(ColumnFamily::kCaseState), *key, &value);
    if (s.IsNotFound()) return std::optional<pathway::store::v1::CaseState>();
    if (!s.ok()) return FromRocks(s, "read case");
    auto clear = OpenValue(*key, ColumnFamily::kCaseState, *key, std::move(value));
    if (!clear) return clear.error();
    pathway::store::v1::CaseState state;
    if (!state.ParseFromString(*clear)) {
      return Error{make_error_code(errc::kCorruption), "case state does not parse"};
    }
    return std::optional(std::move(state));
  }

  Result<std::vector<pathway::v1::Envelope>> History(std::string_view subject_key) override {
    return HistoryFrom(subject_key, 0);
  }

  Result<std::vector<pathway::v1::Envelope>> HistoryFrom(std::string_view subject_key,
                                                         uint64_t from) override {
    auto prefix = SubjectBytes(subject_key);
    if (!prefix) return prefix.error();
    std::vector<pathway::v1::Envelope> out;
    std::string start = *prefix;
    AppendU64(start, from);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(ColumnFamily::kHistory)));
    for (it->Seek(start); it->Valid() && it->key().starts_with(*prefix); it->Next()) {
      auto clear = OpenValue(*prefix, ColumnFamily::kHistory, it->key().ToStringView(),
                             it->value().ToString());
      if (!clear) return clear.error();
      pathway::v1::Envelope e;
      if (!e.ParseFromString(*clear)) {
        return Error{make_error_code(errc::kCorruption), "history entry does not parse"};
      }
      out.push_back(std::move(e));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read history");
    return out;
  }

  Result<std::optional<int64_t>> NextOffset(std::string_view topic, int32_t partition) override {
    std::string value;
    auto s = db_->Get(read_, cf(ColumnFamily::kOffsets), OffsetKey(topic, partition), &value);
    if (s.IsNotFound()) return std::optional<int64_t>();
    if (!s.ok()) return FromRocks(s, "read offset");
    if (value.size() != 8) return Error{make_error_code(errc::kCorruption), "offset value size"};
    return std::optional(static_cast<int64_t>(ReadU64(value)));
  }

  Status Commit(std::span<const Batch> batches) override {
    if (batches.empty()) return {};
    for (const auto& batch : batches) {
      if (batch.erase_subject && batches.size() > 1) {
        return Error{make_error_code(errc::kInvalidArgument),
                     "an erasure is committed in a batch of its own"};
      }
    }
    // New data keys are written (and numbered on the outbox) before the group's own
    // records take their sequences.
    for (const auto& batch : batches) {
      if (batch.erase_subject || options_.kek.empty()) continue;
      if (!batch.new_state && batch.history.empty()) continue;
      auto subject = SubjectBytes(batch.subject_key);
      if (!subject) return subject.error();
      if (auto key = EnsureDataKey(*subject); !key) return key.error();
    }
    // The writes in changelog order (see StoreOptions); the WriteBatch takes them all.
    std::vector<Op> ops;
    uint64_t next = outbox_next_;
    for (const auto& batch : batches) {
      if (auto s = AppendOps(batch, ops, next); !s) return s;
    }
    // Of one subject's case states in a group only the last is written and mirrored
    // (decision 108). It carries the dedupe ids the others applied, so a restore that
    // holds it knows each of the subject's commands in the group as done, and one that
    // stops before it decides them all again from the older state.
    std::map<std::string, size_t> last_state;
    for (size_t i = ops.size(); i-- > 0;) {
      Op& op = ops[i];
      if (op.family != ColumnFamily::kCaseState || !op.value || op.skip) continue;
      auto [it, inserted] = last_state.try_emplace(op.key, i);
      if (inserted) continue;
      Op& last = ops[it->second];
      if (!op.applied_event_id.empty()) {
        last.also_applied.insert(last.also_applied.begin(),
                                 {op.applied_event_id, op.applied_digest});
      }
      op.skip = true;
    }
    // The index follows each subject's last state of the group, in the same write.
    if (options_.indexer.entries) {
      std::map<std::string, const pathway::store::v1::CaseState*> states;
      for (const auto& batch : batches) {
        if (!batch.new_state) continue;
        auto subject = SubjectBytes(batch.subject_key);
        if (!subject) return subject.error();
        states[*subject] = &*batch.new_state;
      }
      for (const auto& [subject, state] : states) {
        if (auto s = AppendIndexOps(subject, *state, ops); !s) return s;
      }
    } else if (!index_abandoned_) {
      // States change without their entries: a later open with an indexer rebuilds.
      Op forget = DeleteOp(ColumnFamily::kMeta, std::string(kMetaIndexVersion));
      forget.mirror = false;
      ops.push_back(std::move(forget));
      index_abandoned_ = true;
    }
    // Of one partition's consumed offsets only the last counts: a restore that stops
    // before it holds an older offset and so processes commands again, which their
    // dedupe entries (with their case states, earlier in the log) recognise.
    std::set<std::string> later_offsets;
    for (auto op = ops.rbegin(); op != ops.rend(); ++op) {
      if (op->family != ColumnFamily::kOffsets) continue;
      if (!later_offsets.insert(op->key).second) op->skip = true;
    }
    if (auto s = WriteOps(ops, next); !s) return s;
    if (batches.front().erase_subject) {
      auto subject = SubjectBytes(batches.front().subject_key);
      if (!subject) return subject.error();
      return Shred(*subject);
    }
    return {};
  }

  Status DeleteDelivered(std::span<const Delivered> delivered) override {
    if (delivered.empty()) return {};
    rocksdb::WriteBatch wb;
    uint64_t next = outbox_next_;
    for (const auto& d : delivered) {
      std::string key;
      AppendU64(key, d.sequence);
      CheckPut(wb.Delete(cf(ColumnFamily::kOutbox), key));
      if (options_.changelog_topic.empty() || !d.mirrored) continue;
      // The mirrored copy goes too, or a new owner would send it again.
      std::string tombstone_key;
      AppendU64(tombstone_key, next++);
      CheckPut(wb.Put(cf(ColumnFamily::kOutbox), tombstone_key,
                      MirrorEntry(DeleteOp(ColumnFamily::kOutbox, key)).SerializeAsString()));
    }
    if (next != outbox_next_) {
      std::string v;
      AppendU64(v, next);
      CheckPut(wb.Put(cf(ColumnFamily::kMeta), kMetaOutboxNext, v));
    }
    auto s = db_->Write(write_, &wb);
    if (!s.ok()) return FromRocks(s, "delete delivered outbox entries");
    outbox_next_ = next;
    return {};
  }

 private:
  struct Op;
  // Appends what `batch` writes to `ops`, in changelog order; its outbox entries take
  // sequences from `next` on.
  Status AppendOps(const Batch& batch, std::vector<Op>& ops, uint64_t& next) {
    std::optional<std::string> subject;
    std::optional<std::string> data_key;  // set: seal the subject's values with it
    if (batch.new_state || !batch.history.empty() || batch.erase_subject) {
      auto bytes = SubjectBytes(batch.subject_key);
      if (!bytes) return bytes.error();
      subject = std::move(*bytes);
      if (!batch.erase_subject && !options_.kek.empty()) {
        auto key = EnsureDataKey(*subject);
        if (!key) return key.error();
        data_key = std::move(*key);
      }
    }
    auto sealed = [&](ColumnFamily family, const std::string& key,
                      std::string value) -> Result<std::string> {
      if (!data_key) return value;
      auto s = AeadSeal(*data_key, value, ValueAad(family, key));
      if (!s) return s.error();
      return kSealedMark + std::move(*s);
    };
    // Outputs are not mirrored (StoreOptions::changelog_topic): a restore never needs
    // them, since the changelog records that follow them wait for their delivery.
    for (const auto& entry : batch.outbox) {
      std::string key;
      AppendU64(key, next++);
      if (entry.sealed_subject_key().empty()) {
        ops.push_back(PutOp(ColumnFamily::kOutbox, std::move(key), entry.SerializeAsString(), {},
                            /*mirror=*/false));
        continue;
      }
      if (entry.sealed_subject_key() != batch.subject_key || batch.erase_subject) {
        return Error{make_error_code(errc::kInvalidArgument),
                     "an output is sealed only under the subject its batch changes"};
      }
      pathway::store::v1::OutboxEntry at_rest = entry;
      if (data_key) {
        auto value = AeadSeal(*data_key, entry.value(), ValueAad(ColumnFamily::kOutbox, key));
        if (!value) return value.error();
        at_rest.set_value(kSealedMark + std::move(*value));
      }
      ops.push_back(PutOp(ColumnFamily::kOutbox, std::move(key), at_rest.SerializeAsString(), {},
                          /*mirror=*/false));
    }
    if (batch.erase_subject) {
      // Bounded by the case's history limit. Tombstones reach the changelog too.
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(ColumnFamily::kHistory)));
      for (it->Seek(*subject); it->Valid() && it->key().starts_with(*subject); it->Next()) {
        ops.push_back(DeleteOp(ColumnFamily::kHistory, it->key().ToString()));
      }
      if (!it->status().ok()) return FromRocks(it->status(), "read history to erase");
      // A changelog record of the wrapped key still waiting to be sent would keep the
      // key on disk (and send it after its erasure mark), and an output sealed under
      // the key could no longer be opened to be sent: both go unsent.
      std::string key_record(1, static_cast<char>(ColumnFamily::kDataKeys));
      key_record += *subject;
      std::unique_ptr<rocksdb::Iterator> out(db_->NewIterator(read_, cf(ColumnFamily::kOutbox)));
      for (out->SeekToFirst(); out->Valid(); out->Next()) {
        pathway::store::v1::OutboxEntry entry;
        if (entry.ParseFromArray(out->value().data(), static_cast<int>(out->value().size())) &&
            ((entry.changelog() && entry.key() == key_record) ||
             entry.sealed_subject_key() == batch.subject_key)) {
          Op drop = DeleteOp(ColumnFamily::kOutbox, out->key().ToString());
          drop.mirror = entry.mirrored();  // an older changelog's copy goes too
          ops.push_back(std::move(drop));
        }
      }
      if (!out->status().ok()) return FromRocks(out->status(), "read outbox to erase");
    }
    uint64_t seq = batch.history_start;
    for (const auto& event : batch.history) {
      std::string key = *subject;
      AppendU64(key, seq++);
      auto value = sealed(ColumnFamily::kHistory, key, event.SerializeAsString());
      if (!value) return value.error();
      ops.push_back(PutOp(ColumnFamily::kHistory, std::move(key), std::move(*value)));
    }
    // A timer removed and added again in one batch (a deadline replaced by one of the
    // same name and due date) must stay: the removal, written later, would delete it.
    std::set<std::string> added_timers;
    for (const auto& t : batch.timers_add) {
      auto key = TimerKey(batch.partition, t);
      if (!key) return key.error();
      LowerTimerFloor(batch.partition, *key);
      added_timers.insert(*key);
      ops.push_back(PutOp(ColumnFamily::kTimers, std::move(*key), t.SerializeAsString()));
    }
    std::string offset_value;
    if (batch.consumed) AppendU64(offset_value, static_cast<uint64_t>(batch.consumed->next_offset));
    bool dedupe_with_state = false;
    if (batch.new_state) {
      auto value = sealed(ColumnFamily::kCaseState, *subject, batch.new_state->SerializeAsString());
      if (!value) return value.error();
      ops.push_back(
          PutOp(ColumnFamily::kCaseState, *subject, std::move(*value), batch.dedupe_event_id));
      ops.back().applied_digest = batch.dedupe_digest;
      dedupe_with_state = !batch.dedupe_event_id.empty();
    }
    if (batch.history_drop_before > 0 && !batch.erase_subject) {
      // After the case state that says where its history starts now, so that a restore
      // ending before that state holds the whole old history, and one ending after it
      // reads from the trim on (HistoryFrom). Bounded by the history limit.
      std::string end = *subject;
      AppendU64(end, batch.history_drop_before);
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(ColumnFamily::kHistory)));
      for (it->Seek(*subject); it->Valid() && it->key().starts_with(*subject) &&
                               it->key().compare(rocksdb::Slice(end)) < 0;
           it->Next()) {
        ops.push_back(DeleteOp(ColumnFamily::kHistory, it->key().ToString()));
      }
      if (!it->status().ok()) return FromRocks(it->status(), "read history to trim");
    }
    if (batch.erase_subject) {
      // After the erased case state: a restore that stops between the two still holds
      // a key for what it restored (and finishes the erasure when it reads on).
      ops.push_back(PutOp(ColumnFamily::kDataKeys, *subject, ""));
      Op purge = PutOp(ColumnFamily::kMeta, std::string(kMetaPurgePending), "");
      purge.mirror = false;
      ops.push_back(std::move(purge));
    }
    for (const auto& t : batch.timers_remove) {
      auto key = TimerKey(batch.partition, t);
      if (!key) return key.error();
      if (added_timers.count(*key)) continue;
      ops.push_back(DeleteOp(ColumnFamily::kTimers, std::move(*key)));
    }
    if (!batch.dedupe_event_id.empty()) {
      ops.push_back(PutOp(ColumnFamily::kDedupe, DedupeKey(batch.dedupe_event_id),
                          EncodeDedupe(batch.dedupe_digest, batch.dedupe_day, !dedupe_with_state),
                          {},
                          /*mirror=*/!dedupe_with_state));
    }
    if (batch.consumed) {
      ops.push_back(PutOp(ColumnFamily::kOffsets,
                          OffsetKey(batch.consumed->topic, batch.consumed->partition),
                          offset_value));
    }

    return {};
  }

 public:
  Result<std::string> SealField(std::string_view subject_key, std::string_view plaintext,
                                std::string_view field, std::string_view context) override {
    if (options_.kek.empty()) {
      return Error{make_error_code(errc::kInvalidArgument), "sealing needs a key-encryption key"};
    }
    auto subject = SubjectBytes(subject_key);
    if (!subject) return subject.error();
    auto key = EnsureDataKey(*subject);
    if (!key) return key.error();
    return AeadSealSynthetic(*key, plaintext, FieldAad(field, *subject), context);
  }

  Result<std::string> OpenField(std::string_view subject_key, std::string_view sealed,
                                std::string_view field) override {
    auto subject = SubjectBytes(subject_key);
    if (!subject) return subject.error();
    auto key = FindDataKey(*subject);
    if (!key) return key.error();
    if (!*key) return Error{make_error_code(errc::kCorruption), "no data key for this subject"};
    auto clear = AeadOpen(**key, sealed, FieldAad(field, *subject));
    if (!clear) return Error{make_error_code(errc::kCorruption), "sealed field does not open"};
    return clear;
  }

  Status PrepareDataKey(std::string_view subject_key) override {
    if (options_.kek.empty()) return {};
    auto subject = SubjectBytes(subject_key);
    if (!subject) return subject.error();
    // Called for every command: a key made before (or its erasure mark) needs no unwrap.
    auto record = KeyRecord(*subject);
    if (!record) return record.error();
    if (*record) return {};
    auto key = EnsureDataKey(*subject);
    if (!key) return key.error();
    return {};
  }

  Result<bool> Erased(std::string_view subject_key) override {
    auto subject = SubjectBytes(subject_key);
    if (!subject) return subject.error();
    auto record = KeyRecord(*subject);
    if (!record) return record.error();
    return *record && (*record)->empty();
  }

  Result<std::vector<OutboxItem>> ReadOutbox(uint64_t from, size_t max) override {
    std::vector<OutboxItem> out;
    std::string start;
    AppendU64(start, from);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(ColumnFamily::kOutbox)));
    for (it->Seek(start); it->Valid() && out.size() < max; it->Next()) {
      OutboxItem item;
      item.sequence = ReadU64(it->key().ToStringView());
      if (!item.entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return Error{make_error_code(errc::kCorruption), "outbox entry does not parse"};
      }
      if (!item.entry.sealed_subject_key().empty()) {
        auto subject = SubjectBytes(item.entry.sealed_subject_key());
        if (!subject) return subject.error();
        auto value = OpenValue(*subject, ColumnFamily::kOutbox, it->key().ToStringView(),
                               item.entry.value());
        if (!value) return value.error();
        item.entry.set_value(std::move(*value));
        item.entry.clear_sealed_subject_key();
      }
      if (item.entry.changelog() && !item.entry.tombstone()) {
        // The sender, not the writer, owns a record: entries left by a crash go out
        // under the owner that restored them.
        pathway::store::v1::ChangelogValue v;
        if (!v.ParseFromString(item.entry.value())) {
          return Error{make_error_code(errc::kCorruption), "changelog entry does not parse"};
        }
        v.set_owner(owner_);
        item.entry.set_value(v.SerializeAsString());
      }
      out.push_back(std::move(item));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read outbox");
    return out;
  }

  Status DeleteOutbox(uint64_t sequence) override {
    std::string key;
    AppendU64(key, sequence);
    rocksdb::WriteBatch wb;
    CheckPut(wb.Delete(cf(ColumnFamily::kOutbox), key));
    uint64_t next = outbox_next_;
    if (!options_.changelog_topic.empty()) {
      std::string value;
      auto g = db_->Get(read_, cf(ColumnFamily::kOutbox), key, &value);
      if (g.IsNotFound()) return {};  // already deleted (a repeated delivery report)
      if (!g.ok()) return FromRocks(g, "read outbox entry");
      pathway::store::v1::OutboxEntry entry;
      if (!entry.ParseFromString(value)) {
        return Error{make_error_code(errc::kCorruption), "outbox entry does not parse"};
      }
      if (entry.mirrored()) {
        // The mirrored copy goes too, or a new owner would send it again.
        std::string tombstone_key;
        AppendU64(tombstone_key, next++);
        CheckPut(wb.Put(cf(ColumnFamily::kOutbox), tombstone_key,
                        MirrorEntry(DeleteOp(ColumnFamily::kOutbox, key)).SerializeAsString()));
        std::string v;
        AppendU64(v, next);
        CheckPut(wb.Put(cf(ColumnFamily::kMeta), kMetaOutboxNext, v));
      }
    }
    auto s = db_->Write(write_, &wb);
    if (!s.ok()) return FromRocks(s, "delete outbox entry");
    outbox_next_ = next;
    return {};
  }

  Result<bool> ReplaceOutbox(uint64_t sequence,
                             const pathway::store::v1::OutboxEntry& entry) override {
    std::string key;
    AppendU64(key, sequence);
    std::string value;
    auto g = db_->Get(read_, cf(ColumnFamily::kOutbox), key, &value);
    if (g.IsNotFound()) return false;
    if (!g.ok()) return FromRocks(g, "read outbox entry");
    pathway::store::v1::OutboxEntry old;
    if (!old.ParseFromString(value)) {
      return Error{make_error_code(errc::kCorruption), "outbox entry does not parse"};
    }
    pathway::store::v1::OutboxEntry replacement = entry;
    replacement.set_mirrored(old.mirrored());
    auto s = db_->Put(write_, cf(ColumnFamily::kOutbox), key, replacement.SerializeAsString());
    if (!s.ok()) return FromRocks(s, "replace outbox entry");
    return true;
  }

  Status ReserveOutboxSequences(uint64_t next) override {
    if (next <= outbox_next_) return {};
    std::string v;
    AppendU64(v, next);
    auto s = db_->Put(write_, cf(ColumnFamily::kMeta), kMetaOutboxNext, v);
    if (!s.ok()) return FromRocks(s, "write outbox sequence");
    outbox_next_ = next;
    return {};
  }

  void SetOwner(std::string owner) override { owner_ = std::move(owner); }

  Result<std::optional<Fence>> LocalFence() override {
    std::string value;
    auto s = db_->Get(read_, cf(ColumnFamily::kMeta), kMetaLocalFence, &value);
    if (s.IsNotFound()) return std::optional<Fence>();
    if (!s.ok()) return FromRocks(s, "read fence");
    if (value.size() < 8) return Error{make_error_code(errc::kCorruption), "fence value size"};
    return std::optional(Fence{
        value.substr(8), static_cast<int64_t>(ReadU64(std::string_view(value).substr(0, 8)))});
  }

  Result<bool> PurgePending() override {
    std::string value;
    auto s = db_->Get(read_, cf(ColumnFamily::kMeta), kMetaPurgePending, &value);
    if (s.IsNotFound()) return false;
    if (!s.ok()) return FromRocks(s, "read purge mark");
    return true;
  }

  Status ClearPurgePending() override {
    auto s = db_->Delete(write_, cf(ColumnFamily::kMeta), kMetaPurgePending);
    if (!s.ok()) return FromRocks(s, "clear purge mark");
    return {};
  }

  Status ClearLocalFence() override {
    rocksdb::WriteBatch wb;
    CheckPut(wb.Delete(cf(ColumnFamily::kMeta), kMetaLocalFence));
    if (auto s = ForgetNotedOwnersIn(wb); !s) return s;
    auto s = db_->Write(write_, &wb);
    if (!s.ok()) return FromRocks(s, "clear fence");
    return {};
  }

  Status NoteOwner(std::string_view owner) override {
    std::string key(kMetaNotedOwner);
    key += owner;
    auto s = db_->Put(write_, cf(ColumnFamily::kMeta), key, "");
    if (!s.ok()) return FromRocks(s, "note owner");
    return {};
  }

  Result<std::vector<std::string>> NotedOwners() override {
    std::vector<std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(ColumnFamily::kMeta)));
    // Bounded: one key per takeover cut short since the last saved fence.
    for (it->Seek(kMetaNotedOwner); it->Valid() && it->key().starts_with(kMetaNotedOwner);
         it->Next()) {
      out.push_back(it->key().ToString().substr(kMetaNotedOwner.size()));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read noted owners");
    return out;
  }

  Status ForgetNotedOwners() override {
    rocksdb::WriteBatch wb;
    if (auto s = ForgetNotedOwnersIn(wb); !s) return s;
    auto s = db_->Write(write_, &wb);
    if (!s.ok()) return FromRocks(s, "forget noted owners");
    return {};
  }

  Status StartReseed() override {
    if (options_.changelog_topic.empty()) return {};
    auto s = db_->Put(write_, cf(ColumnFamily::kMeta), kMetaReseed, std::string(1, '\0'));
    if (!s.ok()) return FromRocks(s, "mark re-seed");
    return {};
  }

  Result<ReseedStep> ReseedSome(size_t max_keys) override {
    if (options_.changelog_topic.empty()) return ReseedStep{};
    std::string position;
    auto g = db_->Get(read_, cf(ColumnFamily::kMeta), kMetaReseed, &position);
    if (g.IsNotFound()) return ReseedStep{};
    if (!g.ok()) return FromRocks(g, "read re-seed position");
    if (position.empty() || static_cast<uint8_t>(position[0]) >= kReseedOrder.size()) {
      return Error{make_error_code(errc::kCorruption), "re-seed position"};
    }
    size_t family = static_cast<uint8_t>(position[0]);
    std::string from = position.substr(1);
    std::vector<Op> ops;
    size_t bytes = 0;
    const size_t max = std::max<size_t>(max_keys, 1);
    while (family < kReseedOrder.size() && ops.size() < max && bytes < kReseedBatchBytes) {
      const ColumnFamily f = kReseedOrder[family];
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(f)));
      for (it->Seek(from); it->Valid() && ops.size() < max && bytes < kReseedBatchBytes;
           it->Next()) {
        bytes += it->key().size() + it->value().size();
        ops.push_back(PutOp(f, it->key().ToString(), it->value().ToString()));
      }
      if (!it->status().ok()) return FromRocks(it->status(), "read for re-seed");
      if (it->Valid()) {
        from = it->key().ToString();  // the first key the next call queues
        break;
      }
      ++family;
      from.clear();
    }
    const bool done = family >= kReseedOrder.size();
    rocksdb::WriteBatch wb;
    uint64_t next = outbox_next_;
    for (size_t i = 0; i < ops.size(); ++i) {
      pathway::store::v1::OutboxEntry e = MirrorEntry(ops[i]);
      // Nothing waits on these keys one by one (nothing new is sealed under them); the
      // call's last record holds back what follows until the whole call is confirmed.
      e.set_confirm_before_later(i + 1 == ops.size());
      std::string key;
      AppendU64(key, next++);
      CheckPut(wb.Put(cf(ColumnFamily::kOutbox), key, e.SerializeAsString()));
    }
    if (done) {
      CheckPut(wb.Delete(cf(ColumnFamily::kMeta), kMetaReseed));
    } else {
      std::string at(1, static_cast<char>(family));
      at += from;
      CheckPut(wb.Put(cf(ColumnFamily::kMeta), kMetaReseed, at));
    }
    if (next != outbox_next_) {
      std::string v;
      AppendU64(v, next);
      CheckPut(wb.Put(cf(ColumnFamily::kMeta), kMetaOutboxNext, v));
    }
    auto s = db_->Write(write_, &wb);
    if (!s.ok()) return FromRocks(s, "queue re-seed");
    outbox_next_ = next;
    return ReseedStep{ops.size(), done};
  }

  Status SaveLocalFence(const Fence& fence) override {
    std::string value;
    AppendU64(value, static_cast<uint64_t>(fence.offset));
    value += fence.owner;
    rocksdb::WriteBatch wb;
    CheckPut(wb.Put(cf(ColumnFamily::kMeta), kMetaLocalFence, value));
    if (auto s = ForgetNotedOwnersIn(wb); !s) return s;
    auto s = db_->Write(write_, &wb);
    if (!s.ok()) return FromRocks(s, "write fence");
    return {};
  }

  Status ForgetNotedOwnersIn(rocksdb::WriteBatch& wb) {
    auto noted = NotedOwners();
    if (!noted) return noted.error();
    for (const auto& owner : *noted) {
      std::string key(kMetaNotedOwner);
      key += owner;
      CheckPut(wb.Delete(cf(ColumnFamily::kMeta), key));
    }
    return {};
  }

  Status ApplyChangelog(std::span<const ChangelogRecord> records, RestoreFilter& filter) override {
    {
      std::lock_guard<std::mutex> lock(floor_mu_);
      timer_floor_.clear();  // restored timers may sit anywhere
    }
    ForgetDataKeys(nullptr);  // restored erasure marks may destroy keys
    rocksdb::WriteBatch wb;
    for (const auto& r : records) {
      if (auto owner = CaseStore::FenceOwner(r.key)) {
        filter.current_owner = std::move(*owner);
        continue;
      }
      if (r.key.empty()) return Corrupt(r, "empty key");
      auto family = static_cast<ColumnFamily>(static_cast<uint8_t>(r.key[0]));
      if (!IsMirrored(family)) return Corrupt(r, "unknown column family");
      std::string_view key = std::string_view(r.key).substr(1);
      if (!r.value) {
        // Tombstones carry no owner: a replaced owner's only deletes are of outbox
        // entries it delivered and of timers whose deadline its state already settled.
        CheckPut(wb.Delete(cf(family), key));
        MarkIndexPending(wb, family, key);
        ++filter.applied;
        continue;
      }
      pathway::store::v1::ChangelogValue v;
      if (!v.ParseFromString(*r.value)) return Corrupt(r, "value does not parse");
      if (!filter.current_owner.empty() && v.owner() != filter.current_owner) {
        ++filter.ignored;
        continue;
      }
      if (family == ColumnFamily::kOutbox) {
        // An output mirrored by an engine before decision 107: sent by this owner, and
        // tombstoned once delivered so that the compacted changelog forgets it.
        pathway::store::v1::OutboxEntry entry;
        if (!entry.ParseFromString(v.value())) return Corrupt(r, "outbox entry does not parse");
        if (!entry.changelog()) {
          entry.set_mirrored(true);
          CheckPut(wb.Put(cf(family), key, entry.SerializeAsString()));
          ++filter.applied;
          continue;
        }
      }
      CheckPut(wb.Put(cf(family), key, v.value()));
      MarkIndexPending(wb, family, key);
      // An erasure mark: the previous owner may not have deleted the landing topics'
      // records yet, so this store must (again; deleting twice changes nothing).
      if (family == ColumnFamily::kDataKeys && v.value().empty()) {
        CheckPut(wb.Put(cf(ColumnFamily::kMeta), kMetaPurgePending, ""));
      }
      // The record carries no day: PruneDedupe dates these when it first reads them.
      for (const auto& applied : v.superseded_applied()) {
        CheckPut(wb.Put(cf(ColumnFamily::kDedupe), DedupeKey(applied.event_id()),
                        EncodeDedupe(applied.digest(), 0, false)));
      }
      if (!v.applied_event_id().empty()) {
        CheckPut(wb.Put(cf(ColumnFamily::kDedupe), DedupeKey(v.applied_event_id()),
                        EncodeDedupe(v.applied_digest(), 0, false)));
      }
      ++filter.applied;
    }
    auto s = db_->Write(write_, &wb);
    if (!s.ok()) return FromRocks(s, "apply changelog");
    if (auto indexed = ReindexPending(); !indexed) return indexed;
    // Continue the outbox numbering above every restored entry.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(ColumnFamily::kOutbox)));
    it->SeekToLast();
    if (it->Valid()) return ReserveOutboxSequences(ReadU64(it->key().ToStringView()) + 1);
    return {};
  }

  Result<std::vector<pathway::store::v1::Timer>> DueTimers(int32_t partition,
                                                           const pathway::v1::Date& up_to,
                                                           size_t max) override {
    std::vector<pathway::store::v1::Timer> out;
    std::string prefix;
    AppendU32(prefix, static_cast<uint32_t>(partition));
    std::string end = prefix;
    AppendU32(end, DayKey(up_to) + 1);  // the first key after `up_to`
    // Start at the partition's floor: fired timers leave deletion markers at the front
    // of the range until compaction, and stepping over them again on every scan would
    // make each scan slower as a storm of deadlines is worked off.
    std::string start = prefix;
    {
      std::lock_guard<std::mutex> lock(floor_mu_);
      auto f = timer_floor_.find(partition);
      if (f != timer_floor_.end() && f->second > start) start = f->second;
    }
    if (start >= end) return out;
    rocksdb::ReadOptions read = read_;
    rocksdb::Slice upper(end);
    read.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(ColumnFamily::kTimers)));
    std::string first_key;
    for (it->Seek(start); it->Valid() && out.size() < max; it->Next()) {
      pathway::store::v1::Timer t;
      if (!t.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return Error{make_error_code(errc::kCorruption), "timer does not parse"};
      }
      if (out.empty()) first_key = it->key().ToString();
      out.push_back(std::move(t));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read timers");
    // Nothing before the first key found (or before `end`, if none) is left: a timer
    // filed there later lowers the floor again (Commit).
    std::lock_guard<std::mutex> lock(floor_mu_);
    timer_floor_[partition] = out.empty() ? end : first_key;
    return out;
  }

  uint64_t NextOutboxSequence() override { return outbox_next_; }

  uint64_t ApproximateOutboxEntries() override {
    uint64_t n = 0;
    db_->GetIntProperty(cf(ColumnFamily::kOutbox), "rocksdb.estimate-num-keys", &n);
    return n;
  }

  std::map<std::string, uint64_t> Stats() override {
    static constexpr std::pair<std::string_view, const char*> kProperties[] = {
        {"estimate_num_keys", "rocksdb.estimate-num-keys"},
        {"live_data_bytes", "rocksdb.estimate-live-data-size"},
        {"sst_files_bytes", "rocksdb.total-sst-files-size"},
        {"memtable_bytes", "rocksdb.cur-size-all-mem-tables"},
    };
    std::map<std::string, uint64_t> out;
    for (const auto& [name, property] : kProperties) {
      uint64_t total = 0;
      for (auto* handle : handles_) {
        uint64_t value = 0;
        if (db_->GetIntProperty(handle, property, &value)) total += value;
      }
      out[std::string(name)] = total;
    }
    return out;
  }

  Status ScanIndex(std::string_view prefix, std::string_view after,
                   const std::function<bool(std::string_view, std::string_view)>& fn) override {
    std::string start(1, kIndexEntry);
    start += prefix;
    const size_t marked_prefix = start.size();
    start += after;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(ColumnFamily::kCaseIndex)));
    it->Seek(start);
    if (!after.empty() && it->Valid() && it->key() == rocksdb::Slice(start)) it->Next();
    for (; it->Valid(); it->Next()) {
      std::string_view key = it->key().ToStringView();
      if (!key.starts_with(std::string_view(start).substr(0, marked_prefix))) break;
      if (!fn(key.substr(1), it->value().ToStringView())) break;
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read index");
    return {};
  }

  // Brings the index up to the indexer's version (every state's entries derived
  // again) and finishes what a restore left pending. Called by Open.
  Status PrepareIndex() {
    if (!options_.indexer.entries) return {};
    std::string built;
    auto s = db_->Get(read_, cf(ColumnFamily::kMeta), kMetaIndexVersion, &built);
    if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "read index version");
    std::string want;
    AppendU64(want, uint64_t{options_.indexer.version} + 1);
    if (s.ok() && built == want) return ReindexPending();
    // Every state pending, then the version: a crash between leaves the version old,
    // and the next open starts again.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(ColumnFamily::kCaseState)));
    rocksdb::WriteBatch wb;
    size_t marked = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      MarkIndexPending(wb, ColumnFamily::kCaseState, it->key().ToStringView());
      if (++marked % 4096 == 0) {
        if (auto w = db_->Write(write_, &wb); !w.ok()) return FromRocks(w, "mark index");
        wb.Clear();
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read case states");
    if (auto w = db_->Write(write_, &wb); !w.ok()) return FromRocks(w, "mark index");
    if (auto r = ReindexPending(); !r) return r;
    auto w = db_->Put(write_, cf(ColumnFamily::kMeta), kMetaIndexVersion, want);
    if (!w.ok()) return FromRocks(w, "write index version");
    return {};
  }

  Result<StoreCopy> CopyTo(const std::string& dir, const CopyProgress& progress) override {
    std::error_code ec;
    if (std::filesystem::exists(dir, ec)) {
      return Error{make_error_code(errc::kInvalidArgument),
                   dir + " exists: a copy needs a new one"};
    }
    if (auto parent = std::filesystem::path(dir).parent_path(); !parent.empty()) {
      std::filesystem::create_directories(parent, ec);
      if (ec) {
        return Error{make_error_code(errc::kIo), "create " + parent.string() + ": " + ec.message()};
      }
    }
    // A plain store (no changelog, no KEK, no index): the copy's bytes are written as
    // they are, and nothing is derived from them on the way.
    auto opened = OpenStore(dir, StoreOptions{}, "");
    if (!opened) return opened.error();
    auto& copy = static_cast<RocksCaseStore&>(**opened);
    StoreCopy out;
    StreamDigest digest;
    rocksdb::ReadOptions read = read_;
    read.fill_cache = false;  // a copy reads everything once: keep the engine's cache
    rocksdb::WriteBatch wb;
    auto write = [&]() -> Status {
      if (wb.Count() == 0) return {};
      auto s = copy.db_->Write(write_, &wb);
      wb.Clear();
      if (!s.ok()) return FromRocks(s, "write copy");
      return {};
    };
    constexpr size_t kBatchBytes = size_t{4} << 20;
    for (const auto& spec : kFamilies) {
      uint64_t& count = out.families[std::string(spec.name)];
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(spec.id)));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        digest.Add(std::string_view(reinterpret_cast<const char*>(&spec.id), 1));
        digest.AddField(it->key().ToStringView());
        digest.AddField(it->value().ToStringView());
        CheckPut(wb.Put(copy.cf(spec.id), it->key(), it->value()));
        ++count;
        if (++out.records % 4096 == 0) {
          if (progress && !progress(out.records)) {
            return Error{std::make_error_code(std::errc::operation_canceled),
                         "copy to " + dir + " interrupted"};
          }
        }
        if (wb.GetDataSize() >= kBatchBytes) {
          if (auto s = write(); !s) return s.error();
        }
      }
      if (!it->status().ok()) return FromRocks(it->status(), "read for copy");
    }
    if (auto s = write(); !s) return s.error();
    if (progress) progress(out.records);
    // Into table files, so the copy does not rest on its write-ahead log alone.
    if (auto s = copy.db_->Flush(rocksdb::FlushOptions(), copy.handles_); !s.ok()) {
      return FromRocks(s, "flush copy");
    }
    out.digest = digest.HexDigest();
    return out;
  }

  Status Scan(ColumnFamily family,
              const std::function<void(std::string_view, std::string_view)>& fn) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(family)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      fn(it->key().ToStringView(), it->value().ToStringView());
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan");
    return {};
  }

 private:
  // One write of a Commit. `mirror`: also a changelog record.
  struct Op {
    ColumnFamily family;
    std::string key;
    std::optional<std::string> value;  // nullopt: delete
    std::string applied_event_id;      // case state only
    bool mirror = true;
    std::string applied_digest;  // with applied_event_id
    bool skip = false;           // superseded later in the same write
    // Case state only: (event id, digest) of the states of the same subject it
    // superseded in the same write, in order.
    std::vector<std::pair<std::string, std::string>> also_applied;
  };
  static Op PutOp(ColumnFamily f, std::string key, std::string value,
                  std::string applied_event_id = {}, bool mirror = true) {
    return Op{f, std::move(key), std::move(value), std::move(applied_event_id), mirror, {}, false,
              {}};
  }
  static Op DeleteOp(ColumnFamily f, std::string key) {
    return Op{f, std::move(key), std::nullopt, {}, true, {}, false, {}};
  }

  static bool IsMirrored(ColumnFamily f) {
    return f == ColumnFamily::kCaseState || f == ColumnFamily::kHistory ||
           f == ColumnFamily::kDedupe || f == ColumnFamily::kOutbox ||
           f == ColumnFamily::kOffsets || f == ColumnFamily::kTimers ||
           f == ColumnFamily::kDataKeys;
  }

  // The writes that replace the subject's index entries by those of `state` (none
  // mirrored). Unchanged entries are not written again.
  Status AppendIndexOps(const std::string& subject, const pathway::store::v1::CaseState& state,
                        std::vector<Op>& ops) {
    std::vector<IndexEntry> fresh = options_.indexer.entries(HexEncode(subject), state);
    std::sort(fresh.begin(), fresh.end(),
              [](const auto& a, const auto& b) { return a.key < b.key; });
    fresh.erase(std::unique(fresh.begin(), fresh.end(),
                            [](const auto& a, const auto& b) { return a.key == b.key; }),
                fresh.end());
    const std::string list_key = kIndexSubject + subject;
    std::string stored;
    auto s = db_->Get(read_, cf(ColumnFamily::kCaseIndex), list_key, &stored);
    if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "read index entries");
    std::vector<IndexEntry> old;
    if (s.ok() && !DecodeEntries(stored, old)) {
      return Error{make_error_code(errc::kCorruption), "index entries do not decode"};
    }
    auto put = [&ops](std::string key, std::optional<std::string> value) {
      Op op = value ? PutOp(ColumnFamily::kCaseIndex, std::move(key), std::move(*value))
                    : DeleteOp(ColumnFamily::kCaseIndex, std::move(key));
      op.mirror = false;
      ops.push_back(std::move(op));
    };
    std::map<std::string_view, std::string_view> before;
    for (const auto& e : old) before.emplace(e.key, e.value);
    bool changed = old.size() != fresh.size();
    for (const auto& e : fresh) {
      auto it = before.find(e.key);
      if (it != before.end() && it->second == e.value) {
        before.erase(it);
        continue;
      }
      changed = true;
      if (it != before.end()) before.erase(it);
      put(kIndexEntry + e.key, e.value);
    }
    for (const auto& [key, value] : before) put(kIndexEntry + std::string(key), std::nullopt);
    if (changed || !before.empty()) {
      put(list_key, fresh.empty() ? std::nullopt : std::optional(EncodeEntries(fresh)));
    }
    return {};
  }

  // A restored (or deleted) case state: its entries are derived once it is written.
  // Without an indexer the index falls behind: the next open with one rebuilds it.
  void MarkIndexPending(rocksdb::WriteBatch& wb, ColumnFamily family, std::string_view key) {
    if (family != ColumnFamily::kCaseState) return;
    if (!options_.indexer.entries) {
      if (!index_abandoned_) CheckPut(wb.Delete(cf(ColumnFamily::kMeta), kMetaIndexVersion));
      index_abandoned_ = true;
      return;
    }
    CheckPut(wb.Put(cf(ColumnFamily::kCaseIndex), kIndexPending + std::string(key), ""));
  }

  // Derives the entries of every subject marked pending, each with the removal of its
  // mark in one write, so a crash leaves the rest marked for the next call.
  Status ReindexPending() {
    if (!options_.indexer.entries) return {};
    for (;;) {
      std::vector<std::string> subjects;
      {
        std::unique_ptr<rocksdb::Iterator> it(
            db_->NewIterator(read_, cf(ColumnFamily::kCaseIndex)));
        for (it->Seek(std::string(1, kIndexPending));
             it->Valid() && it->key().starts_with(std::string(1, kIndexPending)) &&
             subjects.size() < 1024;
             it->Next()) {
          subjects.push_back(it->key().ToString().substr(1));
        }
        if (!it->status().ok()) return FromRocks(it->status(), "read pending index");
      }
      if (subjects.empty()) return {};
      std::vector<Op> ops;
      for (const auto& subject : subjects) {
        pathway::store::v1::CaseState state;  // none (deleted, erased): no entries
        auto loaded = LoadCase(HexEncode(subject));
        if (loaded && *loaded) {
          state = std::move(**loaded);
        } else if (!loaded && loaded.error().code != make_error_code(errc::kErased)) {
          return loaded.error();
        }
        if (auto s = AppendIndexOps(subject, state, ops); !s) return s;
        Op done = DeleteOp(ColumnFamily::kCaseIndex, kIndexPending + subject);
        done.mirror = false;
        ops.push_back(std::move(done));
      }
      if (auto s = WriteOps(ops, outbox_next_); !s) return s;
    }
  }

  // Writes `ops` (and, with a changelog, their mirror records numbered from `next`) in
  // one atomic batch.
  Status WriteOps(const std::vector<Op>& ops, uint64_t next) {
    rocksdb::WriteBatch wb;
    for (const auto& op : ops) {
      if (op.skip) continue;
      if (op.value) {
        CheckPut(wb.Put(cf(op.family), op.key, *op.value));
      } else {
        CheckPut(wb.Delete(cf(op.family), op.key));
      }
    }
    if (!options_.changelog_topic.empty()) {
      for (const auto& op : ops) {
        if (!op.mirror || op.skip) continue;
        std::string key;
        AppendU64(key, next++);
        CheckPut(wb.Put(cf(ColumnFamily::kOutbox), key, MirrorEntry(op).SerializeAsString()));
      }
    }
    if (next != outbox_next_) {
      std::string v;
      AppendU64(v, next);
      CheckPut(wb.Put(cf(ColumnFamily::kMeta), kMetaOutboxNext, v));
    }
    auto s = db_->Write(write_, &wb);
    if (!s.ok()) return FromRocks(s, "commit batch");
    outbox_next_ = next;
    return {};
  }

  // The subject's data_keys record as stored: nullopt if none, empty once erased,
  // else the data key wrapped by the KEK.
  Result<std::optional<std::string>> KeyRecord(const std::string& subject) {
    std::string value;
    auto s = db_->Get(read_, cf(ColumnFamily::kDataKeys), subject, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "read data key");
    return std::optional(std::move(value));
  }

  // The subject's data key: nullopt if none was made yet, kErased once destroyed.
  Result<std::optional<std::string>> FindDataKey(const std::string& subject) {
    {
      std::lock_guard<std::mutex> lock(key_mu_);
      if (auto it = key_cache_.find(subject); it != key_cache_.end()) {
        return std::optional(it->second);
      }
    }
    auto record = KeyRecord(subject);
    if (!record) return record.error();
    if (!*record) return std::optional<std::string>();
    const std::string& wrapped = **record;
    if (wrapped.empty()) return Error{make_error_code(errc::kErased), "subject erased"};
    auto key = AeadOpen(options_.kek, wrapped, WrapAad(subject));
    if (!key || key->size() != kDataKeyBytes) {
      return Error{make_error_code(errc::kKeyMismatch),
                   "a data key does not unwrap: the key-encryption key differs from the one "
                   "that wrapped it"};
    }
    CacheDataKey(subject, *key);
    return std::optional(std::move(*key));
  }

  // Unwrapping a data key is a read and an AES-GCM open; a command needs its child's
  // key several times (state, history, sealed outputs), so recent keys stay in memory,
  // as the KEK that unwraps them does. Bounded: emptied when full. An erasure and a
  // restore drop the keys they may change.
  void CacheDataKey(const std::string& subject, const std::string& key) {
    std::lock_guard<std::mutex> lock(key_mu_);
    if (key_cache_.size() >= kKeyCacheEntries) key_cache_.clear();
    key_cache_.emplace(subject, key);
  }
  void ForgetDataKeys(const std::string* subject) {
    std::lock_guard<std::mutex> lock(key_mu_);
    if (subject) {
      key_cache_.erase(*subject);
    } else {
      key_cache_.clear();
    }
  }

  // The subject's data key, made (and written, mirrored) on first use.
  Result<std::string> EnsureDataKey(const std::string& subject) {
    auto found = FindDataKey(subject);
    if (!found) return found.error();
    if (*found) return std::move(**found);
    auto key = RandomBytes(kDataKeyBytes);
    if (!key) return key.error();
    auto wrapped = AeadSeal(options_.kek, *key, WrapAad(subject));
    if (!wrapped) return wrapped.error();
    if (auto s =
            WriteOps({PutOp(ColumnFamily::kDataKeys, subject, std::move(*wrapped))}, outbox_next_);
        !s) {
      return s.error();
    }
    CacheDataKey(subject, *key);
    return key;
  }

  // A value read back: opened if sealed, as stored if not (written before sealing).
  Result<std::string> OpenValue(const std::string& subject, ColumnFamily family,
                                std::string_view key, std::string value) {
    if (value.empty() || value[0] != kSealedMark) return value;
    auto data_key = FindDataKey(subject);
    if (!data_key) return data_key.error();
    if (!*data_key) {
      return Error{make_error_code(errc::kCorruption), "sealed value without a data key"};
    }
    auto clear = AeadOpen(**data_key, std::string_view(value).substr(1), ValueAad(family, key));
    if (!clear) return Error{make_error_code(errc::kCorruption), "sealed value does not open"};
    return clear;
  }

  // A delete only hides a value: the memtables, the write-ahead log and older SST files
  // keep it until rewritten. Flushing every family retires the logs that recorded the
  // wrapped key and the sealed values; compacting the subject's ranges (and the small
  // outbox) down to the bottommost level drops the older versions from the files.
  Status Shred(const std::string& subject) {
    ForgetDataKeys(&subject);
    if (auto s = db_->Flush(rocksdb::FlushOptions(), handles_); !s.ok()) {
      return FromRocks(s, "flush");
    }
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    std::string end = subject;
    AppendU64(end, ~uint64_t{0});  // after every history key of the subject
    rocksdb::Slice begin_slice(subject), end_slice(end);
    for (ColumnFamily family :
         {ColumnFamily::kCaseState, ColumnFamily::kHistory, ColumnFamily::kDataKeys}) {
      if (auto s = db_->CompactRange(compact, cf(family), &begin_slice, &end_slice); !s.ok()) {
        return FromRocks(s, "compact");
      }
    }
    // The index holds no personal data, but its entries name the child's pathways:
    // they go from the files too.
    for (ColumnFamily family : {ColumnFamily::kOutbox, ColumnFamily::kCaseIndex}) {
      if (auto s = db_->CompactRange(compact, cf(family), nullptr, nullptr); !s.ok()) {
        return FromRocks(s, "compact");
      }
    }
    return {};
  }

  static Error Corrupt(const ChangelogRecord& r, std::string_view what) {
    return Error{
        make_error_code(errc::kCorruption),
        "changelog record at offset " + std::to_string(r.offset) + ": " + std::string(what)};
  }

  pathway::store::v1::OutboxEntry MirrorEntry(const Op& op) const {
    pathway::store::v1::OutboxEntry e;
    e.set_topic(options_.changelog_topic);
    e.set_partition(options_.changelog_partition);
    e.set_changelog(true);
    std::string key(1, static_cast<char>(op.family));
    key += op.key;
    e.set_key(std::move(key));
    if (op.value) {
      pathway::store::v1::ChangelogValue v;
      v.set_value(*op.value);
      v.set_applied_event_id(op.applied_event_id);
      v.set_applied_digest(op.applied_digest);
      for (const auto& [event_id, digest] : op.also_applied) {
        auto* applied = v.add_superseded_applied();
        applied->set_event_id(event_id);
        applied->set_digest(digest);
      }
      e.set_value(v.SerializeAsString());
    } else {
      e.set_tombstone(true);
    }
    // A new data key (not the erasure mark, which is empty).
    if (op.family == ColumnFamily::kDataKeys && op.value && !op.value->empty()) {
      e.set_confirm_before_later(true);
    }
    return e;
  }

  void LowerTimerFloor(int32_t partition, const std::string& key) {
    std::lock_guard<std::mutex> lock(floor_mu_);
    auto f = timer_floor_.find(partition);
    if (f != timer_floor_.end() && key < f->second) f->second = key;
  }

  rocksdb::ColumnFamilyHandle* cf(ColumnFamily id) {
    // handles_ is in kFamilies order, which is id order starting at 1.
    return handles_[static_cast<size_t>(id) - 1];
  }

  // WriteBatch::Put only fails on oversized keys/values, which would be a bug here.
  static void CheckPut(const rocksdb::Status& s) { s.PermitUncheckedError(); }

  static Result<std::string> SubjectBytes(std::string_view subject_key) {
    std::string bytes;
    if (subject_key.size() != 64 || !HexDecode(subject_key, &bytes)) {
      return Error{make_error_code(errc::kInvalidArgument), "subject key is not 64 hex digits"};
    }
    return bytes;
  }
  // Event ids are chosen by partners; hashing keeps any identifier they might embed
  // out of our keys and bounds the key size.
  static std::string DedupeKey(std::string_view event_id) { return Sha256(event_id).substr(0, 16); }
  // partition | fire date | subject (32 bytes) | instance | NUL | deadline | NUL | kind:
  // one partition's timers in firing order, and the same timer always has one key.
  static Result<std::string> TimerKey(int32_t partition, const pathway::store::v1::Timer& t) {
    auto subject = SubjectBytes(t.subject_key());
    if (!subject) return subject.error();
    std::string key;
    AppendU32(key, static_cast<uint32_t>(partition));
    AppendU32(key, DayKey(t.fires_on()));
    key += *subject;
    key += t.instance_id();
    key.push_back('\0');
    key += t.deadline();
    key.push_back('\0');
    key.push_back(static_cast<char>(t.kind()));
    return key;
  }
  static std::string OffsetKey(std::string_view topic, int32_t partition) {
    std::string key(topic);
    key.push_back('\0');
    AppendU64(key, static_cast<uint32_t>(partition));
    return key;
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::string secondary_dir_;
  uint64_t outbox_next_;
  StoreOptions options_;
  std::string owner_;
  static constexpr size_t kKeyCacheEntries = 16384;
  std::mutex key_mu_;
  std::unordered_map<std::string, std::string> key_cache_;  // subject bytes -> data key
  std::mutex floor_mu_;
  std::map<int32_t, std::string> timer_floor_;  // partition -> first timer key that may exist
  rocksdb::ReadOptions read_;
  rocksdb::WriteOptions write_;
  bool index_abandoned_ = false;  // a Commit without an indexer forgot the index version
};

}  // namespace

const std::error_category& state_category() {
  static const StateCategory category;
  return category;
}

std::span<const ColumnFamilySpec> ColumnFamilies() { return kFamilies; }
std::span<const uint8_t> RetiredColumnFamilyIds() { return kRetired; }

std::string DiskName(const ColumnFamilySpec& spec) {
  char prefix[8];
  std::snprintf(prefix, sizeof prefix, "cf%02u_", static_cast<unsigned>(spec.id));
  return prefix + std::string(spec.name);
}

pathway::store::v1::OutboxEntry CaseStore::FenceRecord(std::string_view owner) {
  pathway::store::v1::OutboxEntry e;
  std::string key(1, static_cast<char>(ColumnFamily::kMeta));
  key += kFencePrefix;
  key += owner;
  e.set_key(std::move(key));
  pathway::store::v1::ChangelogValue v;
  v.set_owner(std::string(owner));
  e.set_value(v.SerializeAsString());
  e.set_changelog(true);
  return e;
}

std::optional<std::string> CaseStore::FenceOwner(std::string_view key) {
  if (key.size() < 1 + kFencePrefix.size() ||
      static_cast<uint8_t>(key[0]) != static_cast<uint8_t>(ColumnFamily::kMeta) ||
      key.substr(1, kFencePrefix.size()) != kFencePrefix) {
    return std::nullopt;
  }
  return std::string(key.substr(1 + kFencePrefix.size()));
}

Status CaseStore::Destroy(const std::string& dir) {
  auto s = rocksdb::DestroyDB(dir, rocksdb::Options());
  if (!s.ok()) return FromRocks(s, "destroy " + dir);
  return {};
}

std::shared_ptr<SharedMemory> SharedMemory::Make(const MemoryBudget& budget) {
  return std::make_shared<RocksMemory>(budget);
}

namespace {

// Open and OpenReadOnly: `secondary` empty opens the primary (read-write); otherwise a
// RocksDB secondary instance keeping its own files in `secondary`.
Result<std::unique_ptr<CaseStore>> OpenStore(const std::string& dir, StoreOptions store_options,
                                             const std::string& secondary) {
  if (!store_options.memory) store_options.memory = SharedMemory::Make(MemoryBudget{});
  const auto& memory = static_cast<const RocksMemory&>(*store_options.memory);
  rocksdb::DBOptions options;
  const bool read_only = !secondary.empty();
  options.create_if_missing = !read_only;
  options.create_missing_column_families = !read_only;
  // A secondary instance must keep every file open: the primary may delete one it
  // compacted away between our reads of the manifest and of the file.
  if (read_only) options.max_open_files = -1;
  options.write_buffer_manager = memory.write_buffers;
  rocksdb::ColumnFamilyOptions family_options;
  family_options.table_factory = memory.tables;
  // RocksDB's default (64 MiB a family, eight families a partition) would let one
  // partition's memtables outgrow the whole budget before the manager flushes them.
  family_options.write_buffer_size =
      std::clamp<size_t>(memory.write_buffer_bytes / 16, size_t{1} << 20, size_t{64} << 20);

  std::vector<std::string> existing;
  auto list = rocksdb::DB::ListColumnFamilies(options, dir, &existing);
  if (list.ok()) {
    for (const auto& name : existing) {
      if (name == rocksdb::kDefaultColumnFamilyName) continue;
      bool known = false;
      for (const auto& spec : kFamilies) known = known || DiskName(spec) == name;
      if (!known) {
        return Error{
            make_error_code(errc::kIncompatible),
            "unknown column family '" + name + "' in " + dir + " (written by a newer pathway?)"};
      }
    }
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, family_options);
  for (const auto& spec : kFamilies) descriptors.emplace_back(DiskName(spec), family_options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = read_only
               ? rocksdb::DB::OpenAsSecondary(options, dir, secondary, descriptors, &handles, &raw)
               : rocksdb::DB::Open(options, dir, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "open " + dir);
  std::unique_ptr<rocksdb::DB> db(raw);
  // Drop the default family's handle: nothing is stored there.
  db->DestroyColumnFamilyHandle(handles.front());
  handles.erase(handles.begin());

  rocksdb::ColumnFamilyHandle* meta = handles[0];
  std::string value;
  auto vs = db->Get(rocksdb::ReadOptions(), meta, kMetaSchemaVersion, &value);
  if (vs.IsNotFound() && read_only) {
    // A store that never committed: nothing to read, and nothing may be written.
  } else if (vs.IsNotFound()) {
    std::string v;
    AppendU64(v, kSchemaVersion);
    auto ws = db->Put(rocksdb::WriteOptions(), meta, kMetaSchemaVersion, v);
    if (!ws.ok()) return FromRocks(ws, "write schema version");
  } else if (!vs.ok()) {
    return FromRocks(vs, "read schema version");
  } else if (ReadU64(value) > kSchemaVersion) {
    return Error{make_error_code(errc::kIncompatible),
                 "schema version " + std::to_string(ReadU64(value)) + " is newer than " +
                     std::to_string(kSchemaVersion)};
  }
  uint64_t outbox_next = 0;
  auto os = db->Get(rocksdb::ReadOptions(), meta, kMetaOutboxNext, &value);
  if (os.ok()) {
    outbox_next = ReadU64(value);
  } else if (!os.IsNotFound()) {
    return FromRocks(os, "read outbox sequence");
  }
  auto store = std::make_unique<RocksCaseStore>(std::move(db), std::move(handles), outbox_next,
                                                std::move(store_options));
  if (read_only) {
    // Its index may be stale; OpenReadOnly's readers do not use it.
    store->SetSecondaryDir(secondary);
    return std::unique_ptr<CaseStore>(std::move(store));
  }
  if (auto prepared = store->PrepareIndex(); !prepared) return prepared.error();
  return std::unique_ptr<CaseStore>(std::move(store));
}

}  // namespace

Result<std::unique_ptr<CaseStore>> CaseStore::Open(const std::string& dir,
                                                   StoreOptions store_options) {
  return OpenStore(dir, std::move(store_options), "");
}

Result<std::unique_ptr<CaseStore>> CaseStore::OpenReadOnly(const std::string& dir,
                                                           StoreOptions store_options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Error{make_error_code(errc::kInvalidArgument), "no store in " + dir};
  }
  std::string pattern =
      (std::filesystem::temp_directory_path(ec) / "pathway-secondary-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Error{make_error_code(errc::kIo), "cannot make a directory for a read-only open"};
  }
  auto store = OpenStore(dir, std::move(store_options), pattern);
  if (!store) std::filesystem::remove_all(pattern, ec);
  return store;
}

}  // namespace pathway::state
