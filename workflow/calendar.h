// Calendar dates for statutory arithmetic. Pure functions, thread-safe.
#pragma once

#include <chrono>
#include <optional>

#include "common/time_source.h"
#include "pathway/v1/envelope.pb.h"

namespace pathway::workflow {

using CivilDate = std::chrono::year_month_day;

// The calendar date in England (Europe/London: GMT, or BST from 01:00 UTC on the last
// Sunday of March to 01:00 UTC on the last Sunday of October) at instant `t`.
// Statutory days are English days, so "today" is never the UTC date.
CivilDate LondonDate(TimePoint t);

// The years ToCivil accepts: what a proto Date can hold without wrapping and what
// protobuf's JSON printer can print. Commands are held to the narrower
// kMinYear..kMaxYear of workflow/input_limits.h at intake; this wider range leaves room
// for dates computed from them (a 26th birthday, a deadline).
inline constexpr int kMinCivilYear = 1;
inline constexpr int kMaxCivilYear = 9999;

// nullopt if `d` is not a real calendar date (e.g. 2023-02-29, month 13) or its year is
// outside kMinCivilYear..kMaxCivilYear.
std::optional<CivilDate> ToCivil(const pathway::v1::Date& d);
pathway::v1::Date ToProto(CivilDate d);

// A date the engine wrote into a stored case or timer itself (an instance's start, a
// deadline's dates, a hold's expiry): a real date unless the stored bytes are corrupt,
// and then 1970-01-01, so that a corrupt record gives wrong dates rather than undefined
// behaviour (found by fuzz/decide_fuzz; docs/fuzzing.md).
CivilDate StoredDate(const pathway::v1::Date& d);

}  // namespace pathway::workflow
