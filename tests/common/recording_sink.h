// An operations::AuditSink that records what is published, for the tests of the
// operations audit trail and of the commands operations send.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "services/operations/operation_audit.h"

namespace pathway::testing {

class RecordingSink final : public operations::AuditSink {
 public:
  // Refuses ("broker down") every record from the `refuse_from`th on (0: all).
  size_t refuse_from = std::numeric_limits<size_t>::max();
  std::vector<std::pair<std::string, pathway::v1::Envelope>> records;

  Status Publish(const std::string& key, const pathway::v1::Envelope& e) override {
    if (records.size() >= refuse_from) {
      return Error{std::make_error_code(std::errc::io_error), "broker down"};
    }
    records.emplace_back(key, e);
    return {};
  }
};

}  // namespace pathway::testing
