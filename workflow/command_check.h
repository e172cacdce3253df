// The checks of a command that need no case state, reporting EVERY violation at once
// (docs/decisions.md 137), so a partner fixes all its mistakes in one round trip:
//
//   required     every field the schema marks (pathway.v1.required) = true
//                (proto/pathway/v1/common.proto) is set: read from the descriptors,
//                so the schema and this code cannot disagree      -> required
//   input limits every value within workflow/input_limits.h       -> enum.*, date.*,
//                                                                    string.*, ...
//   formats      the referral's NHS number (modulus 11), its dates (real, not after
//                the command's day, a birth not after the referral)
//
// Violations come in schema order (field-number order, depth first; the elements of
// a repeated field in index order), at most one per field (the first rule it breaks),
// and at most kMaxViolations of them (the first in that order): a hostile message of
// many small bad values must not make a rejection many times its own size.
// Paths are protobuf field names ("referral_submitted.child.nhs_number"), as in
// CommandRejected. Rules that depend on the case (a step not valid in the pathway's
// state) are decided later, one at a time, by Decide. Pure; thread-safe.
#pragma once

#include <google/protobuf/message.h>

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "pathway/v1/envelope.pb.h"
#include "workflow/calendar.h"
#include "workflow/rejection.h"

namespace pathway::workflow {

inline constexpr size_t kMaxViolations = 100;

// Every field marked required in `message` (and, recursively, in every message field
// that is set) that is unset, empty or zero, as rule "required" with its path under
// `prefix`. A required message field that is unset is named itself; one that is set is
// walked. Schema order.
std::vector<Rejection> MissingRequired(const google::protobuf::Message& message,
                                       std::string_view prefix = "");

// The referral's own field rules (required fields and formats) against `today`, the
// command's day (CommandDay). Schema order; empty if it is valid.
std::vector<Rejection> ReferralViolations(const pathway::v1::ReferralSubmitted& referral,
                                          CivilDate today);

// Every stateless violation of `command` as partners send it (input limits, required
// fields, formats), in schema order; empty if there is none. The intake stage rejects
// a command with any, listing them all (CommandRejected.violations).
std::vector<Rejection> CommandViolations(const pathway::v1::Envelope& command);

// The NHS number checks (10 digits, modulus 11) naming `field`.
std::optional<Rejection> CheckNhsNumber(std::string_view nhs, std::string_view field);

}  // namespace pathway::workflow
