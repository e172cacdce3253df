// Per-subject data keys for crypto-shredding (docs/tell-it-once.md, section 6).
//
// Each subject gets one random 32-byte data key; personal fields are sealed with it
// (common/crypto.h AeadSeal). Keys live in their own RocksDB, never beside the data
// they protect, and only ever wrapped (sealed) with a key-encryption key (KEK) that
// the operator provides: a copy of the directory without the KEK yields no key.
// Destroying a subject's key is erasure: afterwards nothing sealed under it opens,
// wherever the sealed bytes were copied to (RocksDB, changelogs, topics, backups).
//
// Not thread-safe: one thread (the engine's) uses a KeyStore.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pathway::state {

class KeyStore {
 public:
  // Opens or creates the store in `dir`. `kek` must be 32 bytes.
  static Result<std::unique_ptr<KeyStore>> Open(const std::string& dir, std::string kek);
  virtual ~KeyStore() = default;

  // The subject's data key, created on first use. kErased if it was destroyed: an
  // erased subject is not silently given a new key (new data about the child starts
  // a new record only by an explicit operator decision).
  virtual Result<std::string> DataKey(std::string_view subject_key) = 0;
  // The data key if one exists; nullopt if never created. kErased if destroyed.
  virtual Result<std::optional<std::string>> FindDataKey(std::string_view subject_key) = 0;
  // Erasure: deletes the key, keeps a marker that it was erased (no personal data),
  // and rewrites the store's files so the wrapped key is gone from disk too (memtable
  // flushed, write-ahead log retired, every level compacted). Idempotent.
  virtual Status Destroy(std::string_view subject_key) = 0;
  virtual Result<bool> Erased(std::string_view subject_key) = 0;
};

}  // namespace pathway::state
