// Builders for pathway commands in tests: a command on a date, about a child.
#pragma once

#include <chrono>
#include <functional>
#include <stdexcept>
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

// `weeks` whole weeks after `date` ("YYYY-MM-DD"), in the same form.
inline std::string WeeksAfter(const std::string& date, int weeks) {
  auto d = workflow::ParseDate(date);
  if (!d) throw std::invalid_argument("bad date " + date);
  return workflow::FormatDate(
      std::chrono::year_month_day{std::chrono::sys_days{*d} + std::chrono::weeks(weeks)});
}

// A standard autism assessment accepted on the day of its referral `date`, sent by
// `agency` for its team `team` (empty: none): the neurodevelopmental pathway's first
// step, which puts the pathway on their caseloads.
inline pathway::v1::Envelope NdAccepted(const std::string& event_id, const std::string& referral_id,
                                        const std::string& date, const std::string& agency,
                                        const std::string& team,
                                        const std::string& nhs = kValidNhsNumber) {
  return Command(
      event_id, date,
      [&](pathway::v1::Envelope& e) {
        e.mutable_source()->set_agency(agency);
        e.mutable_actor()->set_team(team);
        auto* c = e.mutable_nd_referral_accepted();
        c->set_referral_id(referral_id);
        *c->mutable_referred_on() = Day(date);
        *c->mutable_accepted_on() = Day(date);
        c->set_assessment(pathway::v1::ND_ASSESSMENT_TYPE_AUTISM);
        c->set_route(pathway::v1::ND_ROUTE_STANDARD);
      },
      nhs);
}

}  // namespace pathway::testing
