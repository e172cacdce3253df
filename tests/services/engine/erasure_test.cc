// Erasure by crypto-shredding, end to end over the memory bus (issue 5 item 6;
// docs/tell-it-once.md section 6): a child whose records may be erased is erased, after
// which no topic and no RocksDB column family (nor any file of the stores) yields
// their personal data in clear and what was sealed under their key no longer opens;
// a child whose records must be kept is refused naming the rule and its end date; the
// other child and the statistics are untouched.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "services/engine/engine.h"
#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"
#include "tests/common/file_scan.h"
#include "tests/common/two_children.h"

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
  for (const auto& e : h.Read(topics::kEvents)) {
    if (e.has_erasure_refused()) refused.push_back(e.erasure_refused());
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

}  // namespace
}  // namespace pathway::engine
