// Why a command was not accepted.
#pragma once

#include <string>

namespace pathway::workflow {

// `field` is the offending field's path in protobuf names
// ("referral_submitted.child.nhs_number"), `rule` a stable id ("nhs_number.modulus11"),
// `reason` a sentence for people that never repeats the personal data it is about.
struct Rejection {
  std::string field;
  std::string rule;
  std::string reason;
};

}  // namespace pathway::workflow
