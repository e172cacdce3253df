// Rule: an event leaves the engine with every PERSONAL and FREE_TEXT field sealed under
// the child's data key, as the catalogue classifies them (docs/decisions.md 62), each
// under its own path; readers with the key get the clear text back.
#include "workflow/personal_fields.h"

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <string>

#include "common/crypto.h"
#include "pathway/v1/common.pb.h"

namespace pathway::workflow {
namespace {
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
namespace v1 = pathway::v1;

constexpr std::string_view kMarker = "Amara Okafor, 12 Acacia Road";
const std::string kKey(kAeadKeyBytes, 'k');
const std::string kOtherKey(kAeadKeyBytes, 'o');

SealFunction SealWith(const std::string& key) {
  return [key](std::string_view plain, std::string_view field) {
    return AeadSealSynthetic(key, plain, field, "event-1");
  };
}
OpenFunction OpenWith(const std::string& key) {
  return [key](std::string_view sealed, std::string_view field) {
    return AeadOpen(key, sealed, field);
  };
}

bool Sealable(const FieldDescriptor* f) {
  auto c = f->options().GetExtension(v1::data_class);
  return c == v1::DATA_CLASS_PERSONAL || c == v1::DATA_CLASS_FREE_TEXT;
}

// Every field of `m` set, two deep for repeated ones: the marker in each sealable text
// field, "clear" in the others, a date everywhere a Date goes.
void Fill(Message& m, int depth = 0) {
  const auto* r = m.GetReflection();
  const auto* d = m.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->options().GetExtension(v1::data_class) == v1::DATA_CLASS_SEALED) continue;
    int n = f->is_repeated() ? 2 : 1;
    for (int k = 0; k < n; ++k) {
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_STRING: {
          std::string v = Sealable(f) ? std::string(kMarker) + " " + std::to_string(k) : "clear";
          f->is_repeated() ? r->AddString(&m, f, v) : r->SetString(&m, f, v);
          break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE:
          if (depth < 3) {
            Fill(f->is_repeated() ? *r->AddMessage(&m, f) : *r->MutableMessage(&m, f), depth + 1);
          }
          break;
        case FieldDescriptor::CPPTYPE_INT32:
          f->is_repeated() ? r->AddInt32(&m, f, 7) : r->SetInt32(&m, f, 7);
          break;
        default:
          break;
      }
    }
  }
}

// One envelope per payload, every field filled.
std::vector<v1::Envelope> EveryPayloadFilled() {
  std::vector<v1::Envelope> out;
  const auto* oneof = v1::Envelope::descriptor()->FindOneofByName("payload");
  for (int i = 0; i < oneof->field_count(); ++i) {
    v1::Envelope e;
    Fill(e);  // sets the last payload of the oneof; replaced just below
    const auto* r = e.GetReflection();
    Fill(*r->MutableMessage(&e, oneof->field(i)), 1);
    out.push_back(std::move(e));
  }
  return out;
}

TEST(PersonalFields, NoPayloadLeavesAPersonalOrFreeTextFieldInClear) {
  auto all = EveryPayloadFilled();
  ASSERT_GT(all.size(), 70u);
  for (const auto& original : all) {
    v1::Envelope e = original;
    ASSERT_TRUE(SealPersonalFields(e, SealWith(kKey)).ok());
    std::string bytes = e.SerializeAsString();
    EXPECT_EQ(bytes.find(kMarker), std::string::npos)
        << e.payload_case() << ": " << e.ShortDebugString().substr(0, 400);
    // What is not personal stays readable.
    EXPECT_EQ(e.event_id(), "clear");
    EXPECT_EQ(e.source().agency(), "clear");
  }
}

TEST(PersonalFields, TheKeyHolderGetsEveryFieldBack) {
  for (const auto& original : EveryPayloadFilled()) {
    v1::Envelope e = original;
    ASSERT_TRUE(SealPersonalFields(e, SealWith(kKey)).ok());
    ASSERT_TRUE(OpenPersonalFields(e, OpenWith(kKey)).ok()) << original.payload_case();
    v1::Envelope expected = original;
    // A command's date of birth has no sealed form: it does not leave at all.
    if (expected.has_annual_review_due())
      expected.mutable_annual_review_due()->clear_date_of_birth();
    if (expected.has_nd_referral_accepted()) {
      expected.mutable_nd_referral_accepted()->clear_date_of_birth();
    }
    if (expected.has_pfa_started()) expected.mutable_pfa_started()->clear_date_of_birth();
    if (expected.has_referral_submitted()) {
      expected.mutable_referral_submitted()->mutable_child()->clear_date_of_birth();
    }
    if (expected.has_referral_received()) {
      expected.mutable_referral_received()->set_age_years(e.referral_received().age_years());
    }
    EXPECT_EQ(e.SerializeAsString(), expected.SerializeAsString())
        << e.ShortDebugString().substr(0, 400) << "\n"
        << expected.ShortDebugString().substr(0, 400);
    v1::Envelope wrong = original;
    ASSERT_TRUE(SealPersonalFields(wrong, SealWith(kKey)).ok());
    bool sealed_something = wrong.SerializeAsString() != original.SerializeAsString();
    if (sealed_something) {
      EXPECT_FALSE(OpenPersonalFields(wrong, OpenWith(kOtherKey)).ok()) << original.payload_case();
    }
  }
}

v1::Envelope Discharge() {
  v1::Envelope e;
  e.set_event_id("event-1");
  e.set_subject_key("abc123");
  auto* step = e.mutable_pathway_step_recorded();
  step->set_instance_id("instance-1");
  step->set_step("discharged");
  auto* f = step->add_facts();
  f->set_key("discharge_reason");
  f->set_value("moved in with her aunt Grace Okafor at 4 Elm Close");
  f = step->add_facts();
  f->set_key("discharged_on");
  f->set_value("2025-04-01");
  return e;
}

TEST(PersonalFields, AStepFactIsSealedInPlaceUnderItsPathAndItsKeyStaysClear) {
  v1::Envelope e = Discharge();
  std::vector<std::string> paths;
  ASSERT_TRUE(SealPersonalFields(e, [&](std::string_view plain, std::string_view field) {
                paths.emplace_back(field);
                return AeadSealSynthetic(kKey, plain, field, "event-1");
              }).ok());
  EXPECT_EQ(paths, (std::vector<std::string>{"pathway_step_recorded.facts[0].value",
                                             "pathway_step_recorded.facts[1].value"}));
  const auto& step = e.pathway_step_recorded();
  EXPECT_EQ(step.instance_id(), "instance-1");
  EXPECT_EQ(step.facts(0).key(), "discharge_reason");
  ASSERT_TRUE(step.facts(0).value().starts_with(kSealedTextPrefix));
  std::string sealed;
  ASSERT_TRUE(Base64Decode(step.facts(0).value().substr(kSealedTextPrefix.size()), &sealed));
  EXPECT_EQ(*AeadOpen(kKey, sealed, "pathway_step_recorded.facts[0].value"),
            "moved in with her aunt Grace Okafor at 4 Elm Close");
  // Deterministic: the same event sealed again is the same bytes (decision 61).
  v1::Envelope again = Discharge();
  ASSERT_TRUE(SealPersonalFields(again, SealWith(kKey)).ok());
  EXPECT_EQ(again.SerializeAsString(), e.SerializeAsString());
}

TEST(PersonalFields, ASealedValueMovedToAnotherFieldDoesNotOpen) {
  v1::Envelope e = Discharge();
  ASSERT_TRUE(SealPersonalFields(e, SealWith(kKey)).ok());
  auto* facts = e.mutable_pathway_step_recorded()->mutable_facts();
  std::string first = facts->Get(0).value();
  facts->Mutable(0)->set_value(facts->Get(1).value());
  facts->Mutable(1)->set_value(first);
  EXPECT_FALSE(OpenPersonalFields(e, OpenWith(kKey)).ok());
}

TEST(PersonalFields, TextThatLooksSealedIsSealedAgain) {
  v1::Envelope e = Discharge();
  std::string forged = std::string(kSealedTextPrefix) + Base64Encode("Grace Okafor");
  e.mutable_pathway_step_recorded()->mutable_facts(0)->set_value(forged);
  ASSERT_TRUE(SealPersonalFields(e, SealWith(kKey)).ok());
  EXPECT_NE(e.pathway_step_recorded().facts(0).value(), forged);
  ASSERT_TRUE(OpenPersonalFields(e, OpenWith(kKey)).ok());
  EXPECT_EQ(e.pathway_step_recorded().facts(0).value(), forged);
}

TEST(PersonalFields, ACompanionFieldsTextIsNeverTakenForASealedForm) {
  v1::FactRecorded kept;
  std::string forged = std::string(kSealedTextPrefix) + Base64Encode("not sealed");
  kept.set_content(forged);
  ASSERT_TRUE(OpenPersonalFields(kept, OpenWith(kKey), "fact_recorded.").ok());
  EXPECT_EQ(kept.content(), forged);
}

TEST(PersonalFields, TheTwoOriginalFieldsKeepTheirSealedFormsAndNames) {
  v1::Envelope e;
  e.mutable_fact_recorded()->set_content("Amara loves trains");
  ASSERT_TRUE(SealPersonalFields(e, SealWith(kKey)).ok());
  EXPECT_TRUE(e.fact_recorded().content().empty());
  EXPECT_EQ(*AeadOpen(kKey, e.fact_recorded().sealed_content(), "fact_recorded.content"),
            "Amara loves trains");

  v1::Envelope r;
  auto* received = r.mutable_referral_received();
  received->mutable_date_of_birth()->set_year(2019);
  received->mutable_date_of_birth()->set_month(6);
  received->mutable_date_of_birth()->set_day(14);
  received->mutable_received_on()->set_year(2025);
  received->mutable_received_on()->set_month(3);
  received->mutable_received_on()->set_day(1);
  v1::Date dob = received->date_of_birth();
  ASSERT_TRUE(SealPersonalFields(r, SealWith(kKey)).ok());
  EXPECT_FALSE(r.referral_received().has_date_of_birth());
  EXPECT_EQ(r.referral_received().age_years(), 5u);
  EXPECT_EQ(*AeadOpen(kKey, r.referral_received().sealed_date_of_birth(),
                      "referral_received.date_of_birth"),
            dob.SerializeAsString());
  // A FactRecorded kept in a case state opens under its envelope path.
  v1::FactRecorded kept = e.fact_recorded();
  ASSERT_TRUE(OpenPersonalFields(kept, OpenWith(kKey), "fact_recorded.").ok());
  EXPECT_EQ(kept.content(), "Amara loves trains");
  EXPECT_TRUE(kept.sealed_content().empty());
}

TEST(PersonalFields, AnErasureRefusalDoesNotGiveAwayTheBirthday) {
  v1::Envelope e;
  auto* refused = e.mutable_erasure_refused();
  refused->set_rule("health-records-children");
  refused->set_reason("records must be kept under health-records-children until 2044-06-14");
  refused->mutable_retained_until()->set_year(2044);
  ASSERT_TRUE(SealPersonalFields(e, SealWith(kKey)).ok());
  EXPECT_EQ(e.erasure_refused().rule(), "health-records-children");
  EXPECT_EQ(e.SerializeAsString().find("2044"), std::string::npos);
  EXPECT_FALSE(e.erasure_refused().has_retained_until());
  ASSERT_TRUE(OpenPersonalFields(e, OpenWith(kKey)).ok());
  EXPECT_EQ(e.erasure_refused().retained_until().year(), 2044);
  EXPECT_NE(e.erasure_refused().reason().find("2044-06-14"), std::string::npos);
}

TEST(PersonalFields, MaskingMakesCopiesUnderDifferentKeysEqual) {
  v1::Envelope a = Discharge(), b = Discharge();
  ASSERT_TRUE(SealPersonalFields(a, SealWith(kKey)).ok());
  ASSERT_TRUE(SealPersonalFields(b, SealWith(kOtherKey)).ok());
  EXPECT_NE(a.SerializeAsString(), b.SerializeAsString());
  MaskSealedFields(a);
  MaskSealedFields(b);
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  EXPECT_EQ(a.pathway_step_recorded().facts(0).key(), "discharge_reason");
}

TEST(PersonalFields, Base64RoundTripsAndRefusesWhatIsNotBase64) {
  for (std::string s : {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
                        std::string("foob"), std::string("\0\xff\x10", 3)}) {
    std::string back;
    ASSERT_TRUE(Base64Decode(Base64Encode(s), &back)) << s;
    EXPECT_EQ(back, s);
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  std::string out;
  EXPECT_FALSE(Base64Decode("Zm8", &out));
  EXPECT_FALSE(Base64Decode("Zm=8", &out));
  EXPECT_FALSE(Base64Decode("Z!8=", &out));
}

}  // namespace
}  // namespace pathway::workflow
