// Builders for pathway commands in tests: a command on a date, about a child.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "pathway/v1/envelope.pb.h"
#include "tests/common/fixtures.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"

namespace pathway::testing {

// A London-date-safe instant on `date` (10:00 UTC is 10:00 or 11:00 in London).
inline TimePoint At(const std::string& date) {
  auto d = workflow::ParseDate(date);
  if (!d) throw std::invalid_argument("bad date " + date);
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::sys_days{*d} +
                                                                 std::chrono::hours(10));
}

inline pathway::v1::Date Day(const std::string& date) {
  return workflow::ToProto(*workflow::ParseDate(date));
}

// An Envelope about the child with `nhs`, occurring on `date`, filled by `fill`.
inline pathway::v1::Envelope Command(const std::string& event_id, const std::string& date,
                                     const std::function<void(pathway::v1::Envelope&)>& fill,
                                     const std::string& nhs = kValidNhsNumber) {
  pathway::v1::Envelope e;
  e.set_event_id(event_id);
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(At(date).time_since_epoch());
  e.mutable_occurred_at()->set_seconds(secs.count());
  e.mutable_source()->set_agency("209");
  e.mutable_source()->set_system("sen-case-management");
  e.mutable_subject()->set_nhs_number(nhs);
  fill(e);
  return e;
}

}  // namespace pathway::testing
