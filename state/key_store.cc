#include "state/key_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "common/crypto.h"
#include "state/errc.h"

namespace pathway::state {
namespace {

// Key prefixes: PERMANENT (tests/state/key_store_test.cc checks none is reused).
constexpr char kPrefixDataKey = 'k';  // subject key -> wrapped data key
constexpr char kPrefixErased = 'e';   // subject key -> "" (erased)

Error FromRocks(const rocksdb::Status& s, std::string what) {
  return Error{make_error_code(errc::kIo), std::move(what) + ": " + s.ToString()};
}

class RocksKeyStore final : public KeyStore {
 public:
  RocksKeyStore(std::unique_ptr<rocksdb::DB> db, std::string kek)
      : db_(std::move(db)), kek_(std::move(kek)) {
    // Keys are few and precious: every write is synced.
    write_.sync = true;
  }

  Result<std::string> DataKey(std::string_view subject_key) override {
    auto found = FindDataKey(subject_key);
    if (!found) return found.error();
    if (*found) return **found;
    auto key = RandomBytes(kAeadKeyBytes);
    if (!key) return key.error();
    auto wrapped = AeadSeal(kek_, *key, Aad(subject_key));
    if (!wrapped) return wrapped.error();
    auto s = db_->Put(write_, Key(kPrefixDataKey, subject_key), *wrapped);
    if (!s.ok()) return FromRocks(s, "write data key");
    return *key;
  }

  Result<std::optional<std::string>> FindDataKey(std::string_view subject_key) override {
    if (subject_key.empty()) {
      return Error{make_error_code(errc::kInvalidArgument), "empty subject key"};
    }
    auto erased = Erased(subject_key);
    if (!erased) return erased.error();
    if (*erased) return Error{make_error_code(errc::kErased), "subject's data key destroyed"};
    std::string wrapped;
    auto s = db_->Get(rocksdb::ReadOptions(), Key(kPrefixDataKey, subject_key), &wrapped);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "read data key");
    auto key = AeadOpen(kek_, wrapped, Aad(subject_key));
    if (!key) {
      return Error{make_error_code(errc::kCorruption),
                   "data key does not unwrap (another key-encryption key?)"};
    }
    return std::optional<std::string>(std::move(*key));
  }

  Status Destroy(std::string_view subject_key) override {
    if (subject_key.empty()) {
      return Error{make_error_code(errc::kInvalidArgument), "empty subject key"};
    }
    rocksdb::WriteBatch batch;
    if (auto s = batch.Delete(Key(kPrefixDataKey, subject_key)); !s.ok()) {
      return FromRocks(s, "batch");
    }
    if (auto s = batch.Put(Key(kPrefixErased, subject_key), ""); !s.ok()) {
      return FromRocks(s, "batch");
    }
    if (auto s = db_->Write(write_, &batch); !s.ok()) return FromRocks(s, "destroy data key");
    // A delete only hides the value: the memtable, the write-ahead log and older SST
    // files still hold it until they are rewritten. Flush (which retires the WAL
    // that logged the key's creation) and compact every level, bottommost included,
    // so the wrapped key is gone from the directory, not merely unreachable.
    if (auto s = db_->Flush(rocksdb::FlushOptions()); !s.ok()) return FromRocks(s, "flush");
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    if (auto s = db_->CompactRange(compact, nullptr, nullptr); !s.ok()) {
      return FromRocks(s, "compact");
    }
    return {};
  }

  Result<bool> Erased(std::string_view subject_key) override {
    std::string value;
    auto s = db_->Get(rocksdb::ReadOptions(), Key(kPrefixErased, subject_key), &value);
    if (s.IsNotFound()) return false;
    if (!s.ok()) return FromRocks(s, "read erasure marker");
    return true;
  }

 private:
  static std::string Key(char prefix, std::string_view subject_key) {
    std::string key(1, prefix);
    key.append(subject_key);
    return key;
  }
  // Binds a wrapped key to its subject: it cannot be moved to another one unnoticed.
  static std::string Aad(std::string_view subject_key) {
    return "pathway.keystore.v1|" + std::string(subject_key);
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::string kek_;
  rocksdb::WriteOptions write_;
};

}  // namespace

Result<std::unique_ptr<KeyStore>> KeyStore::Open(const std::string& dir, std::string kek) {
  if (kek.size() != kAeadKeyBytes) {
    return Error{make_error_code(errc::kInvalidArgument), "key-encryption key must be 32 bytes"};
  }
  rocksdb::Options options;
  options.create_if_missing = true;
  // Obsolete WAL files go at once (none kept for recovery tools or replication).
  options.WAL_ttl_seconds = 0;
  options.WAL_size_limit_MB = 0;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return FromRocks(s, "open key store " + dir);
  return std::unique_ptr<KeyStore>(
      std::make_unique<RocksKeyStore>(std::unique_ptr<rocksdb::DB>(raw), std::move(kek)));
}

}  // namespace pathway::state
