#include "workflow/personal_fields.h"

#include "workflow/calendar.h"
#include "workflow/clock.h"

namespace pathway::workflow {
namespace v1 = pathway::v1;

Status SealPersonalFields(v1::Envelope& event, const SealFunction& seal) {
  if (event.has_fact_recorded() && !event.fact_recorded().content().empty()) {
    v1::FactRecorded* fact = event.mutable_fact_recorded();
    auto sealed = seal(fact->content(), "fact_recorded.content");
    if (!sealed) return sealed.error();
    fact->set_sealed_content(std::move(*sealed));
    fact->clear_content();
  }
  if (event.has_referral_received() && event.referral_received().has_date_of_birth()) {
    v1::ReferralReceived* referral = event.mutable_referral_received();
    auto dob = ToCivil(referral->date_of_birth());
    auto received = ToCivil(referral->received_on());
    if (dob && received) referral->set_age_years(static_cast<uint32_t>(AgeOn(*dob, *received)));
    auto sealed =
        seal(referral->date_of_birth().SerializeAsString(), "referral_received.date_of_birth");
    if (!sealed) return sealed.error();
    referral->set_sealed_date_of_birth(std::move(*sealed));
    referral->clear_date_of_birth();
  }
  return {};
}

}  // namespace pathway::workflow
