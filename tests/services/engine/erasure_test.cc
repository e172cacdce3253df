// Erasure by crypto-shredding, end to end over the memory bus (issue 5 item 6;
// docs/tell-it-once.md section 6): a child whose records may be erased is erased, after
// which no topic and no RocksDB column family (nor any file of the stores) yields
// their personal data in clear and what was sealed under their key no longer opens;
// a child whose records must be kept is refused naming the rule and its end date; the
// other child and the statistics are untouched.
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "services/engine/engine.h"
#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"
#include "tests/common/file_scan.h"
#include "tests/common/histories.h"
#include "tests/common/two_children.h"
#include "workflow/personal_fields.h"

namespace pathway::engine {
namespace {
using pathway::testing::AnyFileContains;
using pathway::testing::Command;
using pathway::testing::Day;
using pathway::testing::EngineHarness;
using pathway::testing::Erase;
using pathway::testing::kOtherValidNhsNumber;
using pathway::testing::kStoryA;
using pathway::testing::kStoryB;
using pathway::testing::kValidNhsNumber;
using pathway::testing::OccurredAt;
using pathway::testing::ReadHistory;
using pathway::testing::ReferralA;
using pathway::testing::ReferralB;
using pathway::testing::Story;
using pathway::testing::ValidReferral;
using pathway::v1::Envelope;

// Child A (a young adult now: no retention rule keeps their records) and child B.
constexpr const char* kUpnA = "B801200005001";
const std::vector<std::string> kPersonalA = {kValidNhsNumber,
                                             "Amara",
                                             "Okafor",
                                             "SE1 7PB",
                                             "Limited eye contact",
                                             kUpnA,
                                             "Amara loves trains and hates loud hand dryers",
                                             "Year 12 at Riverside College"};

// Every record of every pathway topic (keys and values), as a consumer would read it.
std::vector<std::string> EveryTopicRecord(EngineHarness& h) {
  std::vector<std::string> out;
  for (auto topic : topics::kAll) {
    for (const auto& m : h.broker().ReadAll(std::string(topic))) {
      out.push_back(std::string(topic) + " " + m.key.value_or("") + " " + m.value);
    }
  }
  return out;
}

bool AnyRecordContains(const std::vector<std::string>& records, const std::string& needle) {
  for (const auto& r : records) {
    if (r.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(Erasure, AfterErasureNoTopicOrColumnFamilyHoldsTheChildsDataAndNothingSealedOpens) {
  EngineHarness h;
  h.Publish(ReferralA(/*young_adult=*/true));
  h.Publish(ReferralB());
  h.Publish(Story("story-a", kValidNhsNumber, kPersonalA[6]));
  h.Publish(Story("story-b", kOtherValidNhsNumber, kStoryB));
  // The college knows A by UPN only; the council links it.
  h.Publish(Command("college-a", "2025-03-10", [](Envelope& e) {
    e.mutable_subject()->clear_nhs_number();
    e.mutable_subject()->set_upn(kUpnA);
    e.mutable_fact_provided()->set_type(pathway::v1::FACT_TYPE_CURRENT_SETTING);
    e.mutable_fact_provided()->set_content("Year 12 at Riverside College");
  }));
  h.Publish(Command("link-a", "2025-03-10", [](Envelope& e) {
    e.mutable_identifier_linked()->set_kind(pathway::v1::IDENTIFIER_KIND_UPN);
    e.mutable_identifier_linked()->set_value(kUpnA);
    *e.mutable_identifier_linked()->mutable_linked_on() = Day("2025-03-10");
  }));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  const std::string a = h.SubjectOf(kValidNhsNumber);
  const std::string b = h.SubjectOf(kOtherValidNhsNumber);
  auto state_a = h.StoreFor(a).LoadCase(a);
  ASSERT_TRUE(state_a.ok() && state_a->has_value());
  ASSERT_EQ((*state_a)->record_facts_size(), 2) << "the story and the held college fact";
  // The scan can see what partners sent before the erasure (the landing topics).
  ASSERT_TRUE(AnyRecordContains(EveryTopicRecord(h), "Okafor"));
  // The events topic carries facts sealed, never in clear, even before any erasure.
  std::string sealed_a, sealed_b;
  int events_of_a = 0;
  for (const auto& m : h.broker().ReadAll(std::string(topics::kEvents))) {
    Envelope e;
    ASSERT_TRUE(e.ParseFromString(m.value));
    if (m.key == a) ++events_of_a;
    if (!e.has_fact_recorded()) continue;
    EXPECT_TRUE(e.fact_recorded().content().empty());
    if (m.key == a && e.fact_recorded().type() == pathway::v1::FACT_TYPE_ALL_ABOUT_ME) {
      sealed_a = e.fact_recorded().sealed_content();
    }
    if (m.key == b) sealed_b = e.fact_recorded().sealed_content();
  }
  ASSERT_FALSE(sealed_a.empty());
  ASSERT_FALSE(sealed_b.empty());
  auto opened = h.StoreFor(a).OpenField(a, sealed_a, "fact_recorded.content");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, kPersonalA[6]) << "the key holder can read the sealed field";

  // B is five: the NHS keeps a child's records to their 25th birthday.
  h.Publish(Erase("erase-b", kOtherValidNhsNumber));
  // A is 28: nothing keeps theirs.
  h.Publish(Erase("erase-a", kValidNhsNumber));
  Status erased = h.RunUntilIdle();
  ASSERT_TRUE(erased.ok()) << erased.error().ToString();

  std::vector<pathway::v1::ErasureRefused> refused;
  int completed = 0;
  for (auto e : h.Read(topics::kEvents)) {
    if (e.has_erasure_refused()) {
      // Its end date is a birthday: sealed on the topic, opened by the key holder.
      EXPECT_FALSE(e.erasure_refused().has_retained_until());
      EXPECT_EQ(e.SerializeAsString().find("2044"), std::string::npos);
      const std::string subject = e.subject_key();
      ASSERT_TRUE(
          workflow::OpenPersonalFields(e, [&](std::string_view sealed, std::string_view field) {
            return h.StoreFor(subject).OpenField(subject, sealed, field);
          }).ok());
      refused.push_back(e.erasure_refused());
    }
    if (e.has_erasure_completed() && e.subject_key() == a) ++completed;
  }
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].rule(), "health-records-children");
  EXPECT_EQ(refused[0].retained_until().year(), 2044) << "the 25th birthday of a 2019 birth";
  EXPECT_NE(refused[0].reason().find("2044-06-14"), std::string::npos) << refused[0].reason();
  EXPECT_EQ(completed, 1);

  // No topic yields A's personal data in clear.
  const auto records = EveryTopicRecord(h);
  for (const auto& needle : kPersonalA) {
    for (const auto& r : records) {
      EXPECT_EQ(r.find(needle), std::string::npos)
          << "a topic still holds '" << needle << "': " << r.substr(0, r.find(' '));
    }
  }
  // No column family of any partition's store, nor any file of the stores.
  for (int32_t partition : h.stores().OpenPartitions()) {
    state::CaseStore* store = h.stores().Find(partition);
    for (const auto& spec : state::ColumnFamilies()) {
      ASSERT_TRUE(store
                      ->Scan(spec.id,
                             [&](std::string_view key, std::string_view value) {
                               for (const auto& needle : kPersonalA) {
                                 EXPECT_EQ(key.find(needle), std::string_view::npos);
                                 EXPECT_EQ(value.find(needle), std::string_view::npos)
                                     << state::DiskName(spec) << " holds '" << needle << "'";
                               }
                             })
                      .ok());
    }
  }
  for (const auto& needle : kPersonalA) {
    EXPECT_FALSE(AnyFileContains(h.data_dir(), needle)) << "a store file holds '" << needle << "'";
  }
  // What was sealed under A's key no longer opens; A's UPN alias was erased with A.
  auto shredded = h.StoreFor(a).OpenField(a, sealed_a, "fact_recorded.content");
  ASSERT_FALSE(shredded.ok());
  EXPECT_EQ(shredded.error().code, make_error_code(state::errc::kErased));
  const std::string alias = h.SubjectOf(std::string("upn:") + kUpnA);
  EXPECT_TRUE(*h.StoreFor(alias).Erased(alias));
  auto erased_a = h.StoreFor(a).LoadCase(a);
  ASSERT_TRUE(erased_a.ok() && erased_a->has_value());
  EXPECT_TRUE((*erased_a)->erased());

  // B is untouched: their sealed fact opens, their case reads.
  auto still_b = h.StoreFor(b).OpenField(b, sealed_b, "fact_recorded.content");
  ASSERT_TRUE(still_b.ok());
  EXPECT_EQ(*still_b, kStoryB);
  auto state_b = h.StoreFor(b).LoadCase(b);
  ASSERT_TRUE(state_b.ok() && state_b->has_value());
  EXPECT_EQ((*state_b)->referrals_size(), 1);
  // Statistics: A's events (deadlines, steps) stay on pathway.events.v1, keyed by hash.
  int events_after = 0;
  for (const auto& m : h.broker().ReadAll(std::string(topics::kEvents))) {
    if (m.key == a) ++events_after;
  }
  EXPECT_EQ(events_after, events_of_a + 1) << "everything A had, plus the erasure";

  // Nothing more is recorded about A.
  h.Publish(Story("story-a-2", kValidNhsNumber, "something new"));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto rejections = h.Read(topics::kRejections);
  ASSERT_FALSE(rejections.empty());
  EXPECT_EQ(rejections.back().command_rejected().rule(), "subject_erased");
}

// Free text a clinician or caseworker typed: a child's name and address in each free-text
// field a pathway step carries, one marker per field. Replaces every FREE_TEXT string of
// `command`, at any depth, as the catalogue classifies it.
void TypeNamesIntoFreeText(google::protobuf::Message& command, std::map<std::string, int>& fields,
                           std::vector<std::string>& markers) {
  using google::protobuf::FieldDescriptor;
  const auto* r = command.GetReflection();
  std::vector<const FieldDescriptor*> set;
  r->ListFields(command, &set);
  for (const FieldDescriptor* f : set) {
    if (f->message_type() != nullptr && !f->is_repeated()) {
      TypeNamesIntoFreeText(*r->MutableMessage(&command, f), fields, markers);
      continue;
    }
    if (f->options().GetExtension(pathway::v1::data_class) != pathway::v1::DATA_CLASS_FREE_TEXT ||
        f->is_repeated()) {
      continue;
    }
    std::string marker = "Zanele Mbeki, 9 Ashgrove Lane #" + std::to_string(markers.size());
    r->SetString(&command, f, marker);
    markers.push_back(marker);
    ++fields[f->full_name()];
  }
}

// Everything the engine sends (not the landing topics, which hold what partners sent).
std::vector<std::string> EveryOutputRecord(EngineHarness& h) {
  std::vector<std::string> out;
  for (auto topic : topics::kAll) {
    if (topic == topics::kInbound || topic == topics::kCommands) continue;
    for (const auto& m : h.broker().ReadAll(std::string(topic))) {
      out.push_back(std::string(topic) + " " + m.key.value_or("") + " " + m.value);
    }
  }
  return out;
}

// Issue 11: every free-text field the pathways emit (discharge and end reasons, the
// support offered, a provider, a cluster, a school preference, a named setting, where a
// referral was redirected), holding a child's name and address, leaves the engine
// sealed: no output topic and no file of the stores holds it in clear, the key holder
// reads it back, and after the children's erasure none of it opens and no topic or
// file holds it at all.
TEST(Erasure, FreeTextNeverLeavesInClearAndNoneOfItOpensAfterErasure) {
  constexpr const char* kPfaChild = "4000000020";
  std::vector<Envelope> commands;
  for (const char* name : {"neurodevelopmental.jsonl", "ehc_assessment.jsonl",
                           "exceptional_needs_grant.jsonl", "preparing_for_adulthood.jsonl"}) {
    for (auto& e : ReadHistory(name)) {
      // The grant goes to the neurodevelopmental child; the plan for adulthood to a
      // third young person, whose referral below gives the date of birth it names.
      if (e.has_eng_applied() || e.has_eng_decided() || e.has_eng_reviewed()) {
        e.mutable_subject()->set_nhs_number(kOtherValidNhsNumber);
      }
      if (std::string(name) == "preparing_for_adulthood.jsonl") {
        e.mutable_subject()->set_nhs_number(kPfaChild);
      }
      // Discharged (below) instead of offered post-diagnostic support, which ends the
      // pathway.
      if (e.has_nd_post_diagnostic_support_offered()) continue;
      commands.push_back(std::move(e));
    }
  }
  Envelope pfa_referral = ValidReferral("pfa-00", kPfaChild);
  *pfa_referral.mutable_referral_submitted()->mutable_child()->mutable_date_of_birth() =
      Day("2007-10-02");
  pfa_referral.mutable_referral_submitted()->set_referral_id("GP-2021-0999");
  *pfa_referral.mutable_referral_submitted()->mutable_received_on() = Day("2021-09-01");
  pfa_referral.mutable_occurred_at()->set_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(
          pathway::testing::At("2021-09-01").time_since_epoch())
          .count());
  commands.push_back(pfa_referral);
  // The steps no history takes: a discharge, a plan's end, a redirected referral.
  commands.push_back(Command(
      "nd-12", "2025-07-21",
      [](Envelope& e) {
        e.mutable_nd_discharged()->set_referral_id("RV5-ND-25-0147");
        *e.mutable_nd_discharged()->mutable_discharged_on() = Day("2025-07-21");
        e.mutable_nd_discharged()->set_reason("x");
      },
      kOtherValidNhsNumber));
  commands.push_back(Command(
      "pfa-11", "2025-11-10",
      [](Envelope& e) {
        e.mutable_pfa_plan_ended()->set_plan_id("PFA-2021-0311");
        *e.mutable_pfa_plan_ended()->mutable_ended_on() = Day("2025-11-10");
        e.mutable_pfa_plan_ended()->set_reason("x");
      },
      kPfaChild));
  commands.push_back(Command(
      "pfa-12", "2025-07-22",
      [](Envelope& e) {
        e.mutable_referral_redirected()->set_referral_id("GP-2021-0999");
        *e.mutable_referral_redirected()->mutable_redirected_on() = Day("2025-07-22");
        e.mutable_referral_redirected()->set_service("x");
      },
      kPfaChild));
  std::stable_sort(commands.begin(), commands.end(), [](const Envelope& a, const Envelope& b) {
    return a.occurred_at().seconds() < b.occurred_at().seconds();
  });
  std::map<std::string, int> fields;
  std::vector<std::string> markers;
  for (auto& e : commands) TypeNamesIntoFreeText(e, fields, markers);
  for (const char* field :
       {"pathway.v1.NdSupportOffered.support", "pathway.v1.NdAssessmentCommissioned.provider",
        "pathway.v1.NdDischarged.reason", "pathway.v1.EngApplied.cluster",
        "pathway.v1.EhcDraftPlanCommentsReceived.school_preference",
        "pathway.v1.EhcFinalPlanIssued.named_setting", "pathway.v1.PfaPlanEnded.reason",
        "pathway.v1.ReferralRedirected.service"}) {
    EXPECT_GT(fields[field], 0) << field << " is not in the history";
  }

  EngineHarness h;
  for (const auto& e : commands) {
    h.time().Set(std::max(h.time().Now(), OccurredAt(e)));
    h.Publish(e);
    ASSERT_TRUE(h.RunUntilIdle().ok());
  }
  // The histories include commands their rules refuse; none of the added ones is.
  for (const auto& r : h.Read(topics::kRejections)) {
    const std::string& id = r.command_rejected().rejected_event_id();
    EXPECT_TRUE(id != "nd-12" && id != "pfa-11" && id != "pfa-12") << r.ShortDebugString();
  }
  const std::vector<std::string> children = {
      h.SubjectOf(kValidNhsNumber), h.SubjectOf(kOtherValidNhsNumber), h.SubjectOf(kPfaChild)};

  // Each marker went out on pathway.events.v1, sealed, and opens for the key holder.
  std::set<std::string> opened;
  int sealed_values = 0;
  for (const auto& m : h.broker().ReadAll(std::string(topics::kEvents))) {
    Envelope e;
    ASSERT_TRUE(e.ParseFromString(m.value));
    if (!e.has_pathway_step_recorded()) continue;
    for (const auto& f : e.pathway_step_recorded().facts()) {
      if (f.value().starts_with(workflow::kSealedTextPrefix)) ++sealed_values;
    }
    std::string subject = e.subject_key();
    auto open = [&](std::string_view sealed, std::string_view field) {
      return h.StoreFor(subject).OpenField(subject, sealed, field);
    };
    ASSERT_TRUE(workflow::OpenPersonalFields(e, open).ok()) << e.event_id();
    for (const auto& f : e.pathway_step_recorded().facts()) {
      if (std::find(markers.begin(), markers.end(), f.value()) != markers.end()) {
        opened.insert(f.value());
      }
    }
  }
  EXPECT_GT(sealed_values, 0);
  EXPECT_EQ(opened.size(), 8u) << "one marker per free-text field a step carries";

  // The landing topics hold what partners sent (the scan can see it); nothing the engine
  // sends and no file of the stores does.
  EXPECT_TRUE(AnyRecordContains(EveryTopicRecord(h), markers.front()));
  const auto outputs = EveryOutputRecord(h);
  for (const auto& marker : markers) {
    EXPECT_FALSE(AnyRecordContains(outputs, marker)) << "an output topic holds '" << marker << "'";
    EXPECT_FALSE(AnyFileContains(h.data_dir(), marker)) << "a store file holds '" << marker << "'";
  }

  // Nor do identifiers: no NHS number, name or postcode is in anything the engine sends
  // or keeps in clear.
  for (const std::string identifier : {kValidNhsNumber, kOtherValidNhsNumber, kPfaChild, "Mensah",
                                       "Okafor", "SE5 8AZ", "SE1 7PB"}) {
    EXPECT_TRUE(AnyRecordContains(EveryTopicRecord(h), identifier)) << identifier;
    EXPECT_FALSE(AnyRecordContains(outputs, identifier)) << "an output topic holds " << identifier;
    EXPECT_FALSE(AnyFileContains(h.data_dir(), identifier)) << "a store file holds " << identifier;
  }

  // Long after: no retention rule keeps any of them. Each is erased.
  h.time().Set(pathway::testing::At("2060-01-05"));
  ASSERT_TRUE(h.RunUntilIdle(400).ok());
  h.Publish(Erase("erase-1", kValidNhsNumber));
  h.Publish(Erase("erase-2", kOtherValidNhsNumber));
  h.Publish(Erase("erase-3", kPfaChild));
  ASSERT_TRUE(h.RunUntilIdle(400).ok());
  for (const auto& subject : children) EXPECT_TRUE(*h.StoreFor(subject).Erased(subject));

  int shut = 0;
  for (const auto& m : h.broker().ReadAll(std::string(topics::kEvents))) {
    Envelope e;
    ASSERT_TRUE(e.ParseFromString(m.value));
    Envelope masked = e;
    workflow::MaskSealedFields(masked);
    if (masked.SerializeAsString() == e.SerializeAsString()) continue;  // nothing sealed
    std::string subject = e.subject_key();
    auto open = [&](std::string_view sealed, std::string_view field) {
      return h.StoreFor(subject).OpenField(subject, sealed, field);
    };
    Status s = workflow::OpenPersonalFields(e, open);
    ASSERT_FALSE(s.ok()) << e.event_id() << " still opens";
    EXPECT_EQ(s.error().code, make_error_code(state::errc::kErased));
    ++shut;
  }
  EXPECT_GT(shut, 8);
  const auto records = EveryTopicRecord(h);
  for (const auto& marker : markers) {
    EXPECT_FALSE(AnyRecordContains(records, marker)) << "a topic holds '" << marker << "'";
    EXPECT_FALSE(AnyFileContains(h.data_dir(), marker)) << "a store file holds '" << marker << "'";
  }
}

}  // namespace
}  // namespace pathway::engine
