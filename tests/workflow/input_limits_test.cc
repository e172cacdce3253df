// Input limits (workflow/input_limits.h): every hostile value is rejected at intake,
// naming its field and rule, before it can reach a case.
#include "workflow/input_limits.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>

#include "common/crypto.h"
#include "tests/common/fixtures.h"
#include "workflow/calendar.h"
#include "workflow/identity.h"
#include "workflow/simulator.h"

namespace pathway::workflow {
namespace {
namespace pb = google::protobuf;
using pathway::testing::kValidNhsNumber;
using pathway::testing::ValidReferral;
using pathway::v1::Envelope;

std::string Key(std::string_view id) { return HexEncode(HmacSha256("input limits test", id)); }

// The rejection Intake gives `e`, or {"", ""} if it routes it.
std::pair<std::string, std::string> IntakeRejection(const Envelope& e) {
  IntakeOutput out = Intake(e, Key);
  if (!out.rejection) return {"", ""};
  return {out.rejection->field, out.rejection->rule};
}

Envelope Referral(const std::function<void(Envelope&)>& change) {
  Envelope e = ValidReferral("evt-1");
  change(e);
  return e;
}

void CollectStringFields(const pb::Descriptor* d, std::set<const pb::Descriptor*>& seen,
                         std::vector<const pb::FieldDescriptor*>& out) {
  if (!seen.insert(d).second) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->type() == pb::FieldDescriptor::TYPE_STRING) out.push_back(f);
    if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
      CollectStringFields(f->message_type(), seen, out);
    }
  }
}

TEST(InputLimits, EveryStringFieldOfTheCatalogueHasALimit) {
  std::set<const pb::Descriptor*> seen;
  std::vector<const pb::FieldDescriptor*> fields;
  CollectStringFields(Envelope::descriptor(), seen, fields);
  ASSERT_GT(fields.size(), 50u);
  for (const auto* f : fields) {
    auto limit = StringLimitFor(*f);
    ASSERT_TRUE(limit) << f->full_name() << " has no entry in the input limits table";
    EXPECT_GT(limit->max_bytes, 0u);
    EXPECT_LE(limit->max_bytes, 4000u);
  }
  // The kinds the guarantees document.
  auto limit = [](const pb::Descriptor* d, const char* name) {
    return StringLimitFor(*d->FindFieldByName(name))->max_bytes;
  };
  EXPECT_EQ(limit(Envelope::descriptor(), "event_id"), 128u);
  EXPECT_EQ(limit(v1::ChildIdentity::descriptor(), "given_name"), 200u);
  EXPECT_EQ(limit(v1::ChildIdentity::descriptor(), "postcode"), 16u);
  EXPECT_EQ(limit(v1::ReferralSubmitted::descriptor(), "concerns"), 4000u);
  EXPECT_TRUE(
      StringLimitFor(*v1::ReferralSubmitted::descriptor()->FindFieldByName("concerns"))->multiline);
  EXPECT_FALSE(
      StringLimitFor(*v1::ChildIdentity::descriptor()->FindFieldByName("given_name"))->multiline);
}

TEST(InputLimits, AValidReferralPasses) {
  EXPECT_EQ(IntakeRejection(ValidReferral("evt-1")), std::make_pair(std::string(), std::string()));
}

TEST(InputLimits, UnknownEnumNumbersAreRejectedWherever) {
  EXPECT_EQ(
      IntakeRejection(Referral([](Envelope& e) {
        e.mutable_referral_submitted()->set_reason(static_cast<v1::ReferralReason>(99));
      })),
      std::make_pair(std::string("referral_submitted.reason"), std::string("enum.unknown_value")));
  Envelope link;
  link.set_event_id("link-1");
  link.mutable_subject()->set_nhs_number(kValidNhsNumber);
  link.mutable_occurred_at()->set_seconds(1741598000);  // else named first (schema order)
  link.mutable_identifier_linked()->set_kind(static_cast<v1::IdentifierKind>(-7));
  EXPECT_EQ(IntakeRejection(link), std::make_pair(std::string("identifier_linked.kind"),
                                                  std::string("enum.unknown_value")));
  // Repeated enums, at any depth (an event payload: walked like any other).
  Envelope viewed;
  viewed.mutable_record_viewed()->add_withheld(v1::FACT_TYPE_NEEDS);
  viewed.mutable_record_viewed()->add_withheld(static_cast<v1::FactType>(12345));
  auto r = CheckInputLimits(viewed);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->field, "record_viewed.withheld[1]");
  EXPECT_EQ(r->rule, "enum.unknown_value");
}

TEST(InputLimits, DatesOutsideTheRangeOrTheCalendarAreRejected) {
  struct Case {
    int year, month, day;
    const char* rule;  // empty: accepted
  };
  const Case cases[] = {
      {67561, 6, 14, "date.out_of_range"},  // would wrap to 2025 in std::chrono::year
      {0, 6, 14, "date.out_of_range"},
      {-5, 6, 14, "date.out_of_range"},
      {1899, 12, 31, "date.out_of_range"},
      {2201, 1, 1, "date.out_of_range"},
      {2019, 13, 1, "date.calendar"},
      {2019, 6, 0, "date.calendar"},
      {2019, 6, 32, "date.calendar"},
      {2023, 2, 29, "date.calendar"},
      {1900, 1, 1, ""},
      {2024, 2, 29, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::to_string(c.year) + "-" + std::to_string(c.month) + "-" +
                 std::to_string(c.day));
    Envelope e = Referral([&](Envelope& r) {
      auto* dob = r.mutable_referral_submitted()->mutable_child()->mutable_date_of_birth();
      dob->set_year(c.year);
      dob->set_month(c.month);
      dob->set_day(c.day);
    });
    auto r = CheckInputLimits(e);
    if (*c.rule == '\0') {
      EXPECT_FALSE(r) << r->rule;
    } else {
      ASSERT_TRUE(r);
      EXPECT_EQ(r->field, "referral_submitted.child.date_of_birth");
      EXPECT_EQ(r->rule, c.rule);
      EXPECT_EQ(IntakeRejection(e).second, c.rule);
    }
  }
  // The top of the range (a date of birth cannot be in the future, so checked alone).
  v1::Date last;
  last.set_year(2200);
  last.set_month(12);
  last.set_day(31);
  EXPECT_FALSE(CheckDate(last, "d"));
}

TEST(InputLimits, TimestampsOutsideTheRangeAreRejected) {
  struct Case {
    int64_t seconds;
    int32_t nanos;
    bool ok;
  };
  const Case cases[] = {
      {-2208988800, 0, true},             // 1900-01-01T00:00:00Z
      {-2208988801, 0, false},            // a second before
      {7289654399, 999'999'999, true},    // 2200-12-31T23:59:59.999999999Z
      {7289654400, 0, false},             // 2201-01-01T00:00:00Z
      {253402300800, 0, false},           // 10000-01-01: JSON cannot print it
      {-62135596801, 0, false},           // before 0001-01-01
      {INT64_MAX, 0, false},              //
      {1741598000, -1, false},            // negative nanos
      {1741598000, 1'000'000'000, false}  // a whole second of nanos
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::to_string(c.seconds) + "." + std::to_string(c.nanos));
    Envelope e = ValidReferral("evt-1");
    e.mutable_occurred_at()->set_seconds(c.seconds);
    e.mutable_occurred_at()->set_nanos(c.nanos);
    if (c.ok) {
      // In range (a referral dated after its message is refused, but for its date).
      EXPECT_NE(IntakeRejection(e).first, "occurred_at");
    } else {
      EXPECT_EQ(IntakeRejection(e),
                std::make_pair(std::string("occurred_at"), std::string("timestamp.out_of_range")));
    }
  }
}

TEST(InputLimits, StringsHaveMaximumLengths) {
  struct Case {
    const char* what;
    std::function<void(Envelope&)> change;
    const char* field;  // empty: accepted
  };
  const Case cases[] = {
      {"400 KB event id", [](Envelope& e) { e.set_event_id(std::string(400 * 1024, 'a')); },
       "event_id"},
      {"129-byte event id", [](Envelope& e) { e.set_event_id(std::string(129, 'a')); }, "event_id"},
      {"128-byte event id", [](Envelope& e) { e.set_event_id(std::string(128, 'a')); }, ""},
      {"201-byte name",
       [](Envelope& e) {
         e.mutable_referral_submitted()->mutable_child()->set_given_name(std::string(201, 'x'));
       },
       "referral_submitted.child.given_name"},
      {"200-byte name",
       [](Envelope& e) {
         e.mutable_referral_submitted()->mutable_child()->set_given_name(std::string(200, 'x'));
       },
       ""},
      {"17-byte postcode",
       [](Envelope& e) {
         e.mutable_referral_submitted()->mutable_child()->set_postcode(std::string(17, 'A'));
       },
       "referral_submitted.child.postcode"},
      {"4001-byte concerns",
       [](Envelope& e) { e.mutable_referral_submitted()->set_concerns(std::string(4001, 'c')); },
       "referral_submitted.concerns"},
      {"4000-byte concerns",
       [](Envelope& e) { e.mutable_referral_submitted()->set_concerns(std::string(4000, 'c')); },
       ""},
      {"long actor role", [](Envelope& e) { e.mutable_actor()->set_role(std::string(201, 'r')); },
       "actor.role"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto [field, rule] = IntakeRejection(Referral(c.change));
    EXPECT_EQ(field, c.field);
    EXPECT_EQ(rule, *c.field ? "string.too_long" : "");
  }
}

TEST(InputLimits, ControlCharactersAndInvalidUtf8AreRejected) {
  struct Case {
    const char* what;
    std::string value;
    bool free_text;
    const char* rule;  // empty: accepted
  };
  using namespace std::string_literals;
  const Case cases[] = {
      {"NUL", "Am\0ara"s, false, "string.control_character"},
      {"CR", "Amara\r", false, "string.control_character"},
      {"LF in a name", "Amara\nOkafor", false, "string.control_character"},
      {"tab in a name", "Amara\tOkafor", false, "string.control_character"},
      {"ESC", "\x1b[2JAmara", false, "string.control_character"},
      {"DEL", "Amara\x7f", false, "string.control_character"},
      {"C1 (NEL)", "Amara\xc2\x85", false, "string.control_character"},
      {"accents and CJK", "Zo\xc3\xab \xe6\x9d\x8e", false, ""},
      {"0xFF", "Amara\xff", false, "string.invalid_utf8"},
      {"overlong /", "\xc0\xaf", false, "string.invalid_utf8"},
      {"surrogate", "\xed\xa0\x80", false, "string.invalid_utf8"},
      {"truncated", "Zo\xc3", false, "string.invalid_utf8"},
      {"above U+10FFFF", "\xf4\x90\x80\x80", false, "string.invalid_utf8"},
      {"LF and tab in free text", "line one\n\tline two", true, ""},
      {"CR in free text", "line one\r\nline two", true, "string.control_character"},
      {"ESC in free text", "\x1b]0;owned\x07", true, "string.control_character"},
      {"NUL in free text", "a\0b"s, true, "string.control_character"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Envelope e = Referral([&](Envelope& r) {
      if (c.free_text) {
        r.mutable_referral_submitted()->set_concerns(c.value);
      } else {
        r.mutable_referral_submitted()->mutable_child()->set_given_name(c.value);
      }
    });
    auto r = CheckInputLimits(e);
    if (*c.rule == '\0') {
      EXPECT_FALSE(r) << r->rule;
      continue;
    }
    ASSERT_TRUE(r);
    EXPECT_EQ(r->field,
              c.free_text ? "referral_submitted.concerns" : "referral_submitted.child.given_name");
    EXPECT_EQ(r->rule, c.rule);
    EXPECT_EQ(r->reason.find(c.value), std::string::npos);  // never repeats the value
  }
  // Identifiers too: a control character in an event id.
  Envelope e = ValidReferral("evt-1");
  e.set_event_id("evt\r\n-1");
  EXPECT_EQ(IntakeRejection(e),
            std::make_pair(std::string("event_id"), std::string("string.control_character")));
}

TEST(InputLimits, RejectionsOfHostileCommandsStaySmallAndPrintable) {
  Envelope e = ValidReferral(std::string(400 * 1024, 'e'));
  e.set_correlation_id("corr\x1b[2J");
  e.set_subject_key(std::string(300 * 1024, 'k'));
  e.set_pathway_instance_id(std::string(300 * 1024, 'p'));
  e.mutable_occurred_at()->set_seconds(INT64_MAX / 2);
  IntakeOutput out = Intake(e, Key);
  ASSERT_TRUE(out.rejection);
  EXPECT_EQ(out.rejection->field, "event_id");
  TimePoint now = pathway::testing::March10th2025();
  Envelope rejected = MakeRejection(e, *out.rejection, now);
  EXPECT_LT(rejected.ByteSizeLong(), 1024u);
  EXPECT_EQ(rejected.command_rejected().rejected_event_id().rfind("digest:", 0), 0u);
  EXPECT_EQ(rejected.command_rejected().rejected_event_id(),
            MakeRejection(e, *out.rejection, now).command_rejected().rejected_event_id());
  EXPECT_FALSE(rejected.has_occurred_at());
  EXPECT_FALSE(CheckInputLimits(rejected)) << CheckInputLimits(rejected)->field;
  std::string json;
  EXPECT_TRUE(pb::util::MessageToJsonString(rejected, &json).ok());
  // An ordinary command's rejection keeps its ids as they were.
  Envelope plain = ValidReferral("evt-2");
  Envelope plain_rejected = MakeRejection(plain, {"f", "r", "why"}, now);
  EXPECT_EQ(plain_rejected.command_rejected().rejected_event_id(), "evt-2");
  EXPECT_EQ(plain_rejected.causation_id(), "evt-2");
  EXPECT_TRUE(plain_rejected.has_occurred_at());
}

TEST(InputLimits, TheSimulatorRejectsAtIntakeAndGoesOn) {
  Simulator sim(Key);
  TimePoint now = pathway::testing::March10th2025();
  Envelope hostile = ValidReferral("evt-bad");
  hostile.mutable_referral_submitted()->mutable_child()->mutable_date_of_birth()->set_year(67561);
  sim.Process(hostile, now);
  ASSERT_EQ(sim.unrouted_rejections().size(), 1u);
  EXPECT_EQ(sim.unrouted_rejections()[0].command_rejected().rule(), "date.out_of_range");
  EXPECT_TRUE(sim.subjects().empty());
  sim.Process(ValidReferral("evt-good"), now);
  EXPECT_EQ(sim.unrouted_rejections().size(), 1u);
  ASSERT_EQ(sim.subjects().size(), 1u);
  EXPECT_TRUE(sim.subjects().begin()->second.rejections.empty());
}

TEST(CivilDates, YearsOutsideTheCivilRangeDoNotWrap) {
  for (int year : {67561, 0, -5, 10000, -32768 - 2025}) {
    v1::Date d;
    d.set_year(year);
    d.set_month(6);
    d.set_day(14);
    EXPECT_FALSE(ToCivil(d)) << year;
  }
}

}  // namespace
}  // namespace pathway::workflow
