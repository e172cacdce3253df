#include "state/case_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/options_util.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <map>

#include "common/crypto.h"

namespace pathway::state {
namespace {

constexpr std::array<ColumnFamilySpec, 7> kFamilies = {{
    {ColumnFamily::kMeta, "meta"},
    {ColumnFamily::kCaseState, "case_state"},
    {ColumnFamily::kHistory, "history"},
    {ColumnFamily::kDedupe, "dedupe"},
    {ColumnFamily::kOutbox, "outbox"},
    {ColumnFamily::kOffsets, "offsets"},
    {ColumnFamily::kTimers, "timers"},
}};
constexpr std::array<uint8_t, 0> kRetired = {};

constexpr std::string_view kMetaSchemaVersion = "schema_version";
constexpr std::string_view kMetaOutboxNext = "outbox_next_sequence";
constexpr uint64_t kSchemaVersion = 1;

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

// Days since 1970-01-01, biased so that bytewise order is date order.
uint32_t DayKey(const pathway::v1::Date& d) {
  using namespace std::chrono;
  year_month_day ymd{year{d.year()}, month{static_cast<unsigned>(d.month())},
                     day{static_cast<unsigned>(d.day())}};
  return static_cast<uint32_t>(sys_days{ymd}.time_since_epoch().count()) + 0x80000000u;
}

Error FromRocks(const rocksdb::Status& s, std::string_view what) {
  errc code = s.IsCorruption() ? errc::kCorruption : errc::kIo;
  return Error{make_error_code(code), std::string(what) + ": " + s.ToString()};
}

class RocksCaseStore final : public CaseStore {
 public:
  RocksCaseStore(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
                 uint64_t outbox_next)
      : db_(std::move(db)), handles_(std::move(handles)), outbox_next_(outbox_next) {}

  ~RocksCaseStore() override {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    // The WAL makes every committed batch durable without flushing memtables here.
    db_->Close().PermitUncheckedError();
  }

  Result<bool> SeenEvent(std::string_view event_id) override {
    std::string value;
    auto s = db_->Get(read_, cf(ColumnFamily::kDedupe), DedupeKey(event_id), &value);
    if (s.IsNotFound()) return false;
    if (!s.ok()) return FromRocks(s, "read dedupe");
    return true;
  }

  Result<std::optional<pathway::store::v1::CaseState>> LoadCase(
      std::string_view subject_key) override {
    auto key = SubjectBytes(subject_key);
    if (!key) return key.error();
    std::string value;
    auto s = db_->Get(read_, cf(ColumnFamily::kCaseState), *key, &value);
    if (s.IsNotFound()) return std::optional<pathway::store::v1::CaseState>();
    if (!s.ok()) return FromRocks(s, "read case");
    pathway::store::v1::CaseState state;
    if (!state.ParseFromString(value)) {
      return Error{make_error_code(errc::kCorruption), "case state does not parse"};
    }
    return std::optional(std::move(state));
  }

  Result<std::vector<pathway::v1::Envelope>> History(std::string_view subject_key) override {
    auto prefix = SubjectBytes(subject_key);
    if (!prefix) return prefix.error();
    std::vector<pathway::v1::Envelope> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(ColumnFamily::kHistory)));
    for (it->Seek(*prefix); it->Valid() && it->key().starts_with(*prefix); it->Next()) {
      pathway::v1::Envelope e;
      if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
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

  Status Commit(const Batch& batch) override {
    rocksdb::WriteBatch wb;
    std::string offset_value;
    if (batch.consumed) {
      AppendU64(offset_value, static_cast<uint64_t>(batch.consumed->next_offset));
      CheckPut(wb.Put(cf(ColumnFamily::kOffsets),
                      OffsetKey(batch.consumed->topic, batch.consumed->partition), offset_value));
    }
    if (!batch.dedupe_event_id.empty()) {
      CheckPut(wb.Put(cf(ColumnFamily::kDedupe), DedupeKey(batch.dedupe_event_id), offset_value));
    }
    if (batch.new_state || !batch.history.empty()) {
      auto subject = SubjectBytes(batch.subject_key);
      if (!subject) return subject.error();
      if (batch.new_state) {
        CheckPut(
            wb.Put(cf(ColumnFamily::kCaseState), *subject, batch.new_state->SerializeAsString()));
      }
      uint64_t seq = batch.history_start;
      for (const auto& event : batch.history) {
        std::string key = *subject;
        AppendU64(key, seq++);
        CheckPut(wb.Put(cf(ColumnFamily::kHistory), key, event.SerializeAsString()));
      }
    }
    for (const auto& t : batch.timers_remove) {
      auto key = TimerKey(batch.partition, t);
      if (!key) return key.error();
      CheckPut(wb.Delete(cf(ColumnFamily::kTimers), *key));
    }
    for (const auto& t : batch.timers_add) {
      auto key = TimerKey(batch.partition, t);
      if (!key) return key.error();
      CheckPut(wb.Put(cf(ColumnFamily::kTimers), *key, t.SerializeAsString()));
    }
    uint64_t next = outbox_next_;
    for (const auto& entry : batch.outbox) {
      std::string key;
      AppendU64(key, next++);
      CheckPut(wb.Put(cf(ColumnFamily::kOutbox), key, entry.SerializeAsString()));
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
      out.push_back(std::move(item));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read outbox");
    return out;
  }

  Status DeleteOutbox(uint64_t sequence) override {
    std::string key;
    AppendU64(key, sequence);
    auto s = db_->Delete(write_, cf(ColumnFamily::kOutbox), key);
    if (!s.ok()) return FromRocks(s, "delete outbox entry");
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
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf(ColumnFamily::kTimers)));
    for (it->Seek(prefix); it->Valid() && out.size() < max; it->Next()) {
      if (it->key().compare(end) >= 0) break;
      pathway::store::v1::Timer t;
      if (!t.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return Error{make_error_code(errc::kCorruption), "timer does not parse"};
      }
      out.push_back(std::move(t));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read timers");
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
  uint64_t outbox_next_;
  rocksdb::ReadOptions read_;
  rocksdb::WriteOptions write_;
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

Result<std::unique_ptr<CaseStore>> CaseStore::Open(const std::string& dir) {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;

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
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (const auto& spec : kFamilies) {
    descriptors.emplace_back(DiskName(spec), rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, dir, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "open " + dir);
  std::unique_ptr<rocksdb::DB> db(raw);
  // Drop the default family's handle: nothing is stored there.
  db->DestroyColumnFamilyHandle(handles.front());
  handles.erase(handles.begin());

  rocksdb::ColumnFamilyHandle* meta = handles[0];
  std::string value;
  auto vs = db->Get(rocksdb::ReadOptions(), meta, kMetaSchemaVersion, &value);
  if (vs.IsNotFound()) {
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
  std::unique_ptr<CaseStore> store =
      std::make_unique<RocksCaseStore>(std::move(db), std::move(handles), outbox_next);
  return store;
}

}  // namespace pathway::state
