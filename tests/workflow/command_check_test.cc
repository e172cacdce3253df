// The schema marks required fields ((pathway.v1.required), proto/pathway/v1/common.proto)
// and the validator reads the marks: for every command payload type and every field
// marked required, a command without it is rejected naming exactly that field; a
// command with several mistakes is rejected once, naming them all, in schema order.
#include "workflow/command_check.h"

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "pathway/v1/common.pb.h"
#include "tests/common/fixtures.h"
#include "tests/workflow/required_fields.h"
#include "workflow/identity.h"
#include "workflow/input_limits.h"
#include "workflow/pathway.h"
#include "workflow/workflow.h"

namespace pathway::workflow {
namespace {
namespace pb = google::protobuf;
using pathway::store::v1::CaseState;
using pathway::testing::FillRequired;
using pathway::testing::kValidNhsNumber;
using pathway::testing::March10th2025;
using pathway::testing::ValidReferral;
using pathway::v1::Envelope;

std::string Join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Every path marked required in `type` (singular message fields walked), as the
// validator names them.
void RequiredPaths(const pb::Descriptor* type, const std::string& prefix, int depth,
                   std::vector<std::string>& out) {
  if (depth > 8) return;
  for (int i = 0; i < type->field_count(); ++i) {
    const pb::FieldDescriptor* f = type->field(i);
    if (f->options().GetExtension(pathway::v1::required)) out.push_back(Join(prefix, f->name()));
    if (f->message_type() && !f->is_repeated() &&
        f->message_type()->file()->package() == "pathway.v1") {
      RequiredPaths(f->message_type(), Join(prefix, f->name()), depth + 1, out);
    }
  }
}

// Clears the field at `path` (singular fields only) in `message`.
void ClearPath(pb::Message& message, const std::string& path) {
  const size_t dot = path.find('.');
  const pb::FieldDescriptor* f = message.GetDescriptor()->FindFieldByName(path.substr(0, dot));
  ASSERT_NE(f, nullptr) << path;
  if (dot == std::string::npos) {
    message.GetReflection()->ClearField(&message, f);
    return;
  }
  ClearPath(*message.GetReflection()->MutableMessage(&message, f), path.substr(dot + 1));
}

// An otherwise valid command carrying `payload` (a field of Envelope's payload oneof):
// the full valid referral, or the envelope's required fields, the child's NHS number
// and the payload's required fields (FillRequired, in the formats CommandViolations
// checks).
Envelope ValidCommand(const pb::FieldDescriptor* payload) {
  if (payload->name() == "referral_submitted") return ValidReferral("evt-1");
  Envelope e = ValidReferral("evt-1");
  e.clear_referral_submitted();
  e.mutable_subject()->set_nhs_number(kValidNhsNumber);
  FillRequired(*e.GetReflection()->MutableMessage(&e, payload));  // sets the payload
  if (e.has_identifier_linked()) {
    e.mutable_identifier_linked()->set_kind(pathway::v1::IDENTIFIER_KIND_LOCAL_ID);
    e.mutable_identifier_linked()->set_value("mosaic:123456");
  }
  return e;
}

std::vector<std::string> Fields(const std::vector<Rejection>& violations) {
  std::vector<std::string> out;
  for (const auto& v : violations) out.push_back(v.field + " " + v.rule);
  return out;
}

TEST(CommandCheck, EveryRequiredFieldOfEveryCommandIsNamedWhenMissing) {
  const pb::OneofDescriptor* oneof = Envelope::descriptor()->FindOneofByName("payload");
  ASSERT_NE(oneof, nullptr);
  std::set<std::string> checked;
  for (int i = 0; i < oneof->field_count(); ++i) {
    const pb::FieldDescriptor* payload = oneof->field(i);
    if (payload->number() >= 500) continue;  // commands are 100..499; events are not checked
    const Envelope valid = ValidCommand(payload);
    ASSERT_EQ(Fields(CommandViolations(valid)), std::vector<std::string>{}) << payload->name();
    std::vector<std::string> paths;
    RequiredPaths(Envelope::descriptor(), "", 0, paths);
    // Only this payload's required fields, and the envelope's own.
    std::erase_if(paths, [&](const std::string& p) {
      return p.find('.') != std::string::npos && !p.starts_with(payload->name() + ".");
    });
    for (const std::string& path : paths) {
      Envelope missing = valid;
      ClearPath(missing, path);
      EXPECT_EQ(Fields(CommandViolations(missing)), std::vector<std::string>{path + " required"})
          << payload->name() << ": " << path;
      // The same through Decide (for callers that skip intake): its one rejection.
      missing.set_subject_key(std::string(64, 'a'));
      Decision d = Decide(CaseState(), missing, March10th2025());
      ASSERT_TRUE(d.rejection.has_value()) << path;
      EXPECT_EQ(d.rejection->field, path);
      checked.insert(path);
    }
  }
  // The engine's requirements, as partners read them in the schema: the envelope's,
  // the referral's, ...
  for (const char* path :
       {"event_id", "occurred_at", "referral_submitted.referral_id", "referral_submitted.child",
        "referral_submitted.child.nhs_number", "referral_submitted.child.given_name",
        "referral_submitted.child.family_name", "referral_submitted.child.date_of_birth",
        "referral_submitted.referrer", "referral_submitted.referrer.agency",
        "referral_submitted.reason", "referral_submitted.received_on"}) {
    EXPECT_TRUE(checked.contains(path)) << path;
  }
  // ... every pathway command's reference and business date (the definitions' routes:
  // Decide cannot place a step without them) ...
  for (const CommandRoute& route : AllCommandRoutes()) {
    const std::string payload(route.payload);
    EXPECT_TRUE(checked.contains(Join(payload, std::string(route.reference_field))))
        << payload << " reference";
    EXPECT_TRUE(checked.contains(Join(payload, std::string(route.date_field))))
        << payload << " date";
  }
  // ... and what each step itself needs whatever the case holds (docs/schema.md
  // "Required fields" lists the fields required only in some states).
  for (const char* path : {"referral_accepted.pathways",
                           "referral_redirected.service",
                           "referral_declined.reason",
                           "ehc_assessment_requested.requested_by",
                           "ehc_assessment_decided.decision",
                           "ehc_advice_requested.source",
                           "ehc_advice_received.source",
                           "ehc_exception_recorded.exception",
                           "annual_review_meeting_scheduled.meeting_on",
                           "annual_review_decided.decision",
                           "phase_transfer_due.transfer",
                           "phase_transfer_due.moves_on",
                           "nd_referral_accepted.referred_on",
                           "nd_referral_accepted.assessment",
                           "nd_referral_accepted.route",
                           "nd_risk_assessed.risk",
                           "nd_support_offered.support",
                           "nd_assessment_commissioned.provider",
                           "nd_outcome_recorded.outcome",
                           "nd_discharged.reason",
                           "pfa_started.date_of_birth",
                           "pfa_named_worker_assigned.worker_id",
                           "pfa_handover_planned.service",
                           "pfa_handover_planned.handover_by",
                           "pfa_handover_completed.service",
                           "pfa_plan_ended.reason",
                           "eng_applied.cluster",
                           "eng_decided.decision",
                           "eng_reviewed.outcome",
                           "disagreement_opened.about",
                           "disagreement_resolved.how",
                           "fact_provided.type",
                           "fact_provided.content",
                           "consent_recorded.agency",
                           "consent_recorded.purpose",
                           "consent_recorded.decision",
                           "record_view_requested.agency",
                           "record_view_requested.purpose",
                           "identifier_linked.kind",
                           "identifier_linked.value",
                           "identifier_linked.linked_on"}) {
    EXPECT_TRUE(checked.contains(path)) << path;
  }
  // Fields required only in some states, or with another field's value, are decided by
  // their steps and never marked: a mark would reject what the case could make valid.
  for (const char* path : {"nd_referral_accepted.date_of_birth", "annual_review_due.date_of_birth",
                           "nd_referral_accepted.strong_evidence", "eng_decided.years",
                           "eng_reviewed.years", "ehc_assessment_decided.appeal_rights_given",
                           "annual_review_decided.appeal_rights_given"}) {
    EXPECT_FALSE(checked.contains(path)) << path;
  }
}

// Subject is a field of the envelope, required by every command a partner sends except
// a referral: not the schema's option (the payload decides), CommandViolations decides
// it, with the rest.
TEST(CommandCheck, EveryCommandButAReferralNamesItsSubject) {
  const pb::OneofDescriptor* oneof = Envelope::descriptor()->FindOneofByName("payload");
  int commands = 0;
  for (int i = 0; i < oneof->field_count(); ++i) {
    const pb::FieldDescriptor* payload = oneof->field(i);
    if (payload->number() >= 500) continue;
    Envelope e = ValidCommand(payload);
    e.clear_subject();
    const std::vector<std::string> violations = Fields(CommandViolations(e));
    const bool partner_command = payload->name() != "referral_submitted" &&
                                 payload->name() != "alias_linked" && payload->number() < 450;
    if (partner_command) {
      ++commands;
      EXPECT_EQ(violations, std::vector<std::string>{"subject.nhs_number required"})
          << payload->name();
    } else {
      EXPECT_EQ(violations, std::vector<std::string>{}) << payload->name();
    }
  }
  EXPECT_GT(commands, 40);
}

// One rejection names every mistake: a subject, an identifier and a pathway command's
// own fields, not one per round trip.
TEST(CommandCheck, SubjectFormatsAreListedWithTheOtherViolations) {
  Envelope e = ValidCommand(Envelope::descriptor()->FindFieldByName("nd_referral_accepted"));
  e.mutable_subject()->clear_nhs_number();
  e.mutable_subject()->set_upn("A12345678901");  // 12 characters, not 13
  e.mutable_nd_referral_accepted()->clear_route();
  EXPECT_EQ(Fields(CommandViolations(e)),
            (std::vector<std::string>{"subject.upn upn.check_letter",
                                      "nd_referral_accepted.route required"}));

  Envelope link = ValidCommand(Envelope::descriptor()->FindFieldByName("identifier_linked"));
  link.mutable_subject()->set_nhs_number("9434765918");  // fails modulus 11
  link.mutable_identifier_linked()->set_value("no-colon");
  link.mutable_identifier_linked()->clear_linked_on();
  EXPECT_EQ(Fields(CommandViolations(link)),
            (std::vector<std::string>{"subject.nhs_number nhs_number.modulus11",
                                      "identifier_linked.value local_id.format",
                                      "identifier_linked.linked_on required"}));
}

// A pathway command missing two of its own required fields: ONE rejection at intake
// naming both, in schema order, before it reaches any case.
TEST(CommandCheck, APathwayCommandMissingTwoFieldsIsRejectedOnceNamingBoth) {
  Envelope e = ValidCommand(Envelope::descriptor()->FindFieldByName("nd_referral_accepted"));
  e.mutable_nd_referral_accepted()->clear_assessment();
  e.mutable_nd_referral_accepted()->clear_referred_on();
  IntakeOutput out = Intake(e, [](std::string_view id) { return "key:" + std::string(id); });
  EXPECT_TRUE(out.commands.empty());
  ASSERT_TRUE(out.rejection.has_value());
  EXPECT_EQ(out.rejection->field, "nd_referral_accepted.referred_on");
  EXPECT_EQ(Fields(out.violations),
            (std::vector<std::string>{"nd_referral_accepted.referred_on required",
                                      "nd_referral_accepted.assessment required"}));
  Envelope rejected = MakeRejection(e, *out.rejection, March10th2025(), out.violations);
  ASSERT_EQ(rejected.command_rejected().violations_size(), 2);
  EXPECT_EQ(rejected.command_rejected().violations(1).field(), "nd_referral_accepted.assessment");
}

Envelope ThreeMistakes() {
  Envelope e = ValidReferral("evt-3");
  auto* r = e.mutable_referral_submitted();
  r->mutable_child()->set_nhs_number("9434765918");  // fails modulus 11
  r->mutable_child()->clear_given_name();
  r->clear_reason();
  return e;
}

TEST(CommandCheck, AReferralWithThreeMistakesNamesAllThreeInSchemaOrder) {
  EXPECT_EQ(Fields(CommandViolations(ThreeMistakes())),
            (std::vector<std::string>{"referral_submitted.child.nhs_number nhs_number.modulus11",
                                      "referral_submitted.child.given_name required",
                                      "referral_submitted.reason required"}));

  IntakeOutput out = Intake(ThreeMistakes(), [](std::string_view id) { return std::string(id); });
  ASSERT_TRUE(out.rejection.has_value());
  EXPECT_EQ(out.rejection->field, "referral_submitted.child.nhs_number");
  EXPECT_EQ(out.violations.size(), 3u);
  EXPECT_TRUE(out.commands.empty());
  EXPECT_EQ(out.subject_key, "") << "an invalid NHS number names no child";

  Envelope rejected =
      MakeRejection(ThreeMistakes(), *out.rejection, March10th2025(), out.violations);
  const auto& r = rejected.command_rejected();
  EXPECT_EQ(r.field(), "referral_submitted.child.nhs_number");
  EXPECT_EQ(r.rule(), "nhs_number.modulus11");
  ASSERT_EQ(r.violations_size(), 3);
  EXPECT_EQ(r.violations(1).field(), "referral_submitted.child.given_name");
  EXPECT_EQ(r.violations(2).field(), "referral_submitted.reason");
  EXPECT_EQ(r.violations(2).rule(), "required");
}

// A hostile message of many small bad values: the list stays bounded, the first in
// schema order, however many the message holds.
TEST(CommandCheck, AMessageWithThousandsOfBadValuesListsTheFirstHundred) {
  Envelope e;
  e.set_event_id("evt-many");
  e.mutable_occurred_at()->set_seconds(1741600000);  // 2025-03-10
  auto* redrive = e.mutable_case_redrive_requested();
  for (int i = 0; i < 5000; ++i) redrive->add_withdraw_event_ids("bad\x01id");
  const std::vector<Rejection> violations = CommandViolations(e);
  ASSERT_EQ(violations.size(), kMaxViolations);
  EXPECT_EQ(violations.front().field, "case_redrive_requested.withdraw_event_ids[0]");
  EXPECT_EQ(violations.back().field, "case_redrive_requested.withdraw_event_ids[99]");
  for (const auto& v : violations) EXPECT_EQ(v.rule, "string.control_character") << v.field;
  EXPECT_LE(InputLimitViolations(e, 7).size(), 7u);
  EXPECT_EQ(InputLimitViolations(e).size(), 5000u) << "unbounded unless asked";
}

TEST(CommandCheck, InputLimitsFormatsAndDatesAreListedTogetherOncePerField) {
  Envelope e = ValidReferral("evt-4");
  auto* r = e.mutable_referral_submitted();
  r->mutable_child()->set_family_name(std::string(300, 'x'));   // string.too_long
  r->mutable_child()->mutable_date_of_birth()->set_year(2026);  // after received_on
  r->mutable_received_on()->set_day(11);                        // after occurred_at
  r->mutable_referrer()->clear_agency();
  EXPECT_EQ(Fields(CommandViolations(e)),
            (std::vector<std::string>{
                "referral_submitted.child.family_name string.too_long",
                "referral_submitted.child.date_of_birth date_of_birth.not_in_future",
                "referral_submitted.referrer.agency required",
                "referral_submitted.received_on date.not_in_future"}));
}

TEST(CommandCheck, ARejectionForOneRuleListsItself) {
  Envelope out = MakeRejection(
      ValidReferral("evt-5"),
      {"referral_submitted.referral_id", "referral.duplicate", "already open"}, March10th2025());
  ASSERT_EQ(out.command_rejected().violations_size(), 1);
  EXPECT_EQ(out.command_rejected().violations(0).rule(), "referral.duplicate");
}

TEST(CommandCheck, AValidReferralNamesItsChildOnARejectionOfAnotherField) {
  Envelope e = ValidReferral("evt-6");
  e.mutable_referral_submitted()->clear_referral_id();
  IntakeOutput out = Intake(e, [](std::string_view id) { return "key:" + std::string(id); });
  ASSERT_TRUE(out.rejection.has_value());
  EXPECT_EQ(out.subject_key, "key:" + std::string(kValidNhsNumber));
}

}  // namespace
}  // namespace pathway::workflow
