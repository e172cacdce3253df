// Shared test fixtures: realistic commands and dates. The NHS numbers are the
// documented test numbers from ../shared/domain.md, the people fictional.
#pragma once

#include <string>

#include "common/time_source.h"
#include "pathway/v1/envelope.pb.h"

namespace pathway::testing {

inline constexpr const char* kValidNhsNumber = "9434765919";
inline constexpr const char* kOtherValidNhsNumber = "6541003238";

// The i-th valid NHS number (mod-11 check digit) of a range starting at `first` (nine
// digits): many distinct children for tests and benchmarks.
inline std::string TestNhsNumber(long i, long first = 400000000) {
  for (long base = first + i * 13;; ++base) {
    std::string digits = std::to_string(base);
    int sum = 0;
    for (int k = 0; k < 9; ++k) sum += (digits[static_cast<size_t>(k)] - '0') * (10 - k);
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    if (check != 10) return digits + static_cast<char>('0' + check);
  }
}

// 2025-03-10T09:30:00Z, a Monday in GMT.
inline TimePoint March10th2025() { return TimePoint(std::chrono::seconds(1741599000)); }

// A complete, valid ReferralSubmitted from a GP for a child born 2019-06-14.
inline pathway::v1::Envelope ValidReferral(const std::string& event_id,
                                           const std::string& nhs = kValidNhsNumber) {
  pathway::v1::Envelope e;
  e.set_event_id(event_id);
  e.mutable_occurred_at()->set_seconds(1741598000);
  e.mutable_source()->set_agency("RQM");
  e.mutable_source()->set_system("gp-referrals");
  e.mutable_actor()->set_id("staff-4711");
  e.mutable_actor()->set_role("GP");
  auto* r = e.mutable_referral_submitted();
  r->set_referral_id("REF-" + event_id);
  auto* child = r->mutable_child();
  child->set_nhs_number(nhs);
  child->set_given_name("Amara");
  child->set_family_name("Okafor");
  child->mutable_date_of_birth()->set_year(2019);
  child->mutable_date_of_birth()->set_month(6);
  child->mutable_date_of_birth()->set_day(14);
  child->set_postcode("SE1 7PB");
  r->mutable_referrer()->set_agency("Y00001");
  r->mutable_referrer()->set_role("GP");
  r->set_reason(pathway::v1::REFERRAL_REASON_SOCIAL_COMMUNICATION);
  r->set_concerns("Limited eye contact, distress at transitions.");
  r->mutable_received_on()->set_year(2025);  // the day of occurred_at
  r->mutable_received_on()->set_month(3);
  r->mutable_received_on()->set_day(10);
  return e;
}

}  // namespace pathway::testing
