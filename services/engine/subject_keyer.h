// The subject key: how pathway names a child without naming them.
//
// subject key = hex(HMAC-SHA256(secret, NHS number)). It keys Kafka messages and
// RocksDB entries, so the secret decides every partition assignment and every
// stored key: all engine instances of one deployment MUST share the same secret,
// and it must never change (a new secret orphans every stored case).
//
// Immutable after construction; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace pathway::engine {

// A 32-byte secret read from `file` (64 hex digits) if given; otherwise from
// `<data_dir>/<name>`, created at random (mode 0600) on first start, which `*created`
// reports. Used for the subject key's secret and the key-encryption key.
Result<std::string> LoadSecret(const std::string& file, const std::string& data_dir,
                               const std::string& name, bool* created);

class SubjectKeyer {
 public:
  // Reads the secret from `key_file` if given (it must exist: 64 hex digits, i.e. 32
  // bytes). Otherwise uses `<data_dir>/subject-key`, creating a random one (mode 0600)
  // on first start; `*created` tells the caller so it can say so.
  static Result<SubjectKeyer> Load(const std::string& key_file, const std::string& data_dir,
                                   bool* created);
  static SubjectKeyer FromSecret(std::string secret) { return SubjectKeyer(std::move(secret)); }

  // 64 lowercase hex characters.
  std::string Key(std::string_view nhs_number) const;

 private:
  explicit SubjectKeyer(std::string secret) : secret_(std::move(secret)) {}
  std::string secret_;
};

}  // namespace pathway::engine
