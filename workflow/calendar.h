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

// nullopt if `d` is not a real calendar date (e.g. 2023-02-29, month 13).
std::optional<CivilDate> ToCivil(const pathway::v1::Date& d);
pathway::v1::Date ToProto(CivilDate d);

}  // namespace pathway::workflow
