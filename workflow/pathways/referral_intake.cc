// Referral intake at the single point of referral, version 1: received, screened
// (early help offered while waiting), then accepted onto pathways, redirected or
// declined. Local process; no statutory clock.
#include "workflow/pathways/definitions.h"
#include "workflow/pathways/step_helpers.h"

namespace pathway::workflow::pathways {
namespace {
namespace v1 = pathway::v1;

constexpr std::string_view kReceived = "received";
constexpr std::string_view kScreened = "screened";
constexpr std::string_view kAccepted = "accepted";
constexpr std::string_view kRedirected = "redirected";
constexpr std::string_view kDeclined = "declined";

StepResult Received(const StepInput& in) {
  const auto& r = in.command.referral_submitted();
  Outcome out;
  out.to_state = kReceived;
  out.facts.push_back(
      MakeFact("reason", EnumSuffix(v1::ReferralReason_Name(r.reason()), "REFERRAL_REASON_")));
  out.facts.push_back(MakeFact("referrer_agency", r.referrer().agency()));
  return out;
}

StepResult Screened(const StepInput& in) {
  Outcome out;
  out.to_state = kScreened;
  out.facts.push_back(MakeFact("early_help_offered",
                               in.command.referral_screened().early_help_offered() ? "yes" : "no"));
  return out;
}

StepResult Accepted(const StepInput& in) {
  const auto& c = in.command.referral_accepted();
  Outcome out;
  out.to_state = kAccepted;
  for (int kind : c.pathways()) {
    if (kind == v1::PATHWAY_KIND_UNSPECIFIED || kind == v1::PATHWAY_KIND_REFERRAL_INTAKE) {
      return Rejection{"referral_accepted.pathways", "pathway.invalid",
                       "a referral is accepted onto a service pathway, not onto intake"};
    }
    out.facts.push_back(MakeFact(
        "accepted_onto",
        EnumSuffix(v1::PathwayKind_Name(static_cast<v1::PathwayKind>(kind)), "PATHWAY_KIND_")));
  }
  return out;
}

StepResult Redirected(const StepInput& in) {
  const auto& c = in.command.referral_redirected();
  Outcome out;
  out.to_state = kRedirected;
  out.facts.push_back(MakeFact("redirected_to", c.service()));
  return out;
}

StepResult Declined(const StepInput&) {
  Outcome out;
  out.to_state = kDeclined;
  return out;
}

// Implied (docs/pathways.md): every referral to the single point of referral is screened
// before the hub decides on it; whether early help was offered is not known.
StepResult ScreenedImplied(const StepInput&) {
  Outcome out;
  out.to_state = kScreened;
  return out;
}

Definition Make() {
  Definition d;
  d.kind = v1::PATHWAY_KIND_REFERRAL_INTAKE;
  d.version = 1;
  d.name = "referral_intake";
  d.title = "Referral intake (single point of referral)";
  d.states = {kReceived, kScreened, kAccepted, kRedirected, kDeclined};
  d.terminal = {kAccepted, kRedirected, kDeclined};
  d.waiting = {kReceived, kScreened};
  d.transitions = {
      {"received",
       {},
       {kReceived},
       "referral received",
       Received,
       {"referral_submitted", "referral_id", "received_on"},
       {},
       nullptr,
       /*by_referrer=*/true},
      {"screened",
       {kReceived},
       {kScreened},
       "screened (early help offered while waiting)",
       Screened,
       {"referral_screened", "referral_id", "screened_on"},
       {},
       ScreenedImplied},
      {"accepted",
       {kScreened},
       {kAccepted},
       "accepted onto pathways",
       Accepted,
       {"referral_accepted", "referral_id", "accepted_on"},
       {{"screened", kScreened}}},
      {"redirected",
       {kScreened},
       {kRedirected},
       "redirected to another service",
       Redirected,
       {"referral_redirected", "referral_id", "redirected_on"},
       {{"screened", kScreened}}},
      {"declined",
       {kScreened},
       {kDeclined},
       "declined with reason",
       Declined,
       {"referral_declined", "referral_id", "declined_on"},
       {{"screened", kScreened}}},
  };
  return d;
}
}  // namespace

const Definition& ReferralIntakeV1() {
  static const Definition d = Make();
  return d;
}

}  // namespace pathway::workflow::pathways
