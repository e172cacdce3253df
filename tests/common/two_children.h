// Two children for the erasure and subject access tests: A (Amara, the valid test NHS
// number) and B (Ben, the other one), with commands that give the record personal
// data to look for afterwards.
#pragma once

#include <string>

#include "pathway/v1/envelope.pb.h"
#include "tests/common/commands.h"
#include "tests/common/fixtures.h"

namespace pathway::testing {

inline constexpr const char* kStoryA = "Amara loves trains and hates loud hand dryers";
inline constexpr const char* kStoryB = "Ben is happiest in the school garden";

// A's referral; a young adult (born 1996) has no records a retention rule keeps, so
// an erasure is carried out, while a child (born 2019) is refused.
inline pathway::v1::Envelope ReferralA(bool young_adult) {
  pathway::v1::Envelope e = ValidReferral("ref-a", kValidNhsNumber);
  if (young_adult) {
    auto* dob = e.mutable_referral_submitted()->mutable_child()->mutable_date_of_birth();
    dob->set_year(1996);
    dob->set_month(5);
    dob->set_day(1);
  }
  return e;
}

// B's referral: a five-year-old with names, postcode and concerns of their own.
inline pathway::v1::Envelope ReferralB() {
  pathway::v1::Envelope e = ValidReferral("ref-b", kOtherValidNhsNumber);
  auto* child = e.mutable_referral_submitted()->mutable_child();
  child->set_given_name("Ben");
  child->set_family_name("Hughes");
  child->set_postcode("LS1 4AP");
  e.mutable_referral_submitted()->set_concerns("Struggles with handwriting.");
  return e;
}

// The family's own story ("all about me") for the child with `nhs`.
inline pathway::v1::Envelope Story(const std::string& id, const std::string& nhs,
                                   const std::string& story) {
  return Command(
      id, "2025-03-10",
      [&](pathway::v1::Envelope& e) {
        e.mutable_fact_provided()->set_type(pathway::v1::FACT_TYPE_ALL_ABOUT_ME);
        e.mutable_fact_provided()->set_content(story);
        *e.mutable_fact_provided()->mutable_provided_on() = Day("2025-03-10");
      },
      nhs);
}

// A data protection officer asks for the child's records to be erased.
inline pathway::v1::Envelope Erase(const std::string& id, const std::string& nhs) {
  return Command(
      id, "2025-03-10",
      [](pathway::v1::Envelope& e) {
        e.mutable_actor()->set_id("staff-dpo-1");
        e.mutable_actor()->set_role("data protection officer");
        *e.mutable_erasure_requested()->mutable_requested_on() = Day("2025-03-10");
      },
      nhs);
}

}  // namespace pathway::testing
