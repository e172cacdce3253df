// Input limits: the values a command may carry at all, checked by the intake stage
// (workflow::Intake, which the engine and `pathwayctl simulate` both call) before a
// command can reach any case state. One generic walk over the whole Envelope, by
// reflection, so a field added to the catalogue is covered without new code:
//
//   enum      every set enum value (singular, repeated, nested) is a value its enum
//             declares (proto3 enums are open: any int32 parses)  -> enum.unknown_value
//   Date      year in kMinYear..kMaxYear                          -> date.out_of_range
//             a real calendar date (month 1..12, day in month)    -> date.calendar
//   Timestamp seconds within kMinYear-01-01..kMaxYear-12-31 UTC,
//             nanos 0..999999999                                  -> timestamp.out_of_range
//   string    at most StringLimitFor(field).max_bytes bytes       -> string.too_long
//             valid UTF-8                                         -> string.invalid_utf8
//             no C0 control (incl. NUL, CR, ESC), DEL or C1
//             character; free text may keep \n and \t only        -> string.control_character
//
// The first offending field (in field-number order, depth first; InputLimitViolations:
// every one) is named by its path
// in protobuf names ("referral_submitted.child.given_name", "legal_bases[2]"); the
// reason never repeats the value. Pure and deterministic; thread-safe.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "pathway/v1/common.pb.h"
#include "workflow/rejection.h"

namespace pathway::workflow {

// The years a date or timestamp in a command may name. Wide enough for any living
// person's date of birth and any statutory deadline; narrow enough that no date
// arithmetic or JSON printing (0001..9999) can overflow.
inline constexpr int kMinYear = 1900;
inline constexpr int kMaxYear = 2200;

// What a string field may hold.
enum class StringKind {
  kIdentifier,  // ids, event ids, references, codes, keys: 128 bytes, one line
  kLabel,       // roles, purposes, services, step names: 200 bytes, one line
  kName,        // a person's given or family name: 200 bytes, one line
  kPostcode,    // 16 bytes, one line
  kFreeText,    // reasons, concerns, fact content: 4000 bytes, may keep \n and \t
};
struct StringLimit {
  StringKind kind;
  size_t max_bytes;
  bool multiline;  // \n and \t allowed (free text only)
};

// The limit for a string field: an explicit entry by full name, else one by field
// name, else by suffix ("_id", "_key": identifiers). nullopt if the table has none:
// tests/workflow/input_limits_test.cc walks every string field reachable from
// pathway.v1.Envelope and fails on one without a limit. At run time such a field is
// held to the identifier limit.
std::optional<StringLimit> StringLimitFor(const google::protobuf::FieldDescriptor& field);

// The first value in `message` (an Envelope, or any message for tests) outside the
// limits above, as a rejection naming its field and rule; nullopt if none.
std::optional<Rejection> CheckInputLimits(const google::protobuf::Message& message);
// Every value in `message` outside the limits, one per value, in the same order; at
// most `max` of them (the first), so that a hostile message of many small bad values
// cannot make a list many times its own size.
std::vector<Rejection> InputLimitViolations(const google::protobuf::Message& message,
                                            size_t max = SIZE_MAX);

// The single checks, for callers that build or copy values themselves.
bool TimestampInRange(const google::protobuf::Timestamp& t);
std::optional<Rejection> CheckDate(const pathway::v1::Date& d, std::string_view path);
std::optional<Rejection> CheckString(std::string_view value, const StringLimit& limit,
                                     std::string_view path);

// The identifier limit (128 bytes, printable, one line) applied to an id.
bool IsAcceptableIdentifier(std::string_view id);

}  // namespace pathway::workflow
