// Tell it once (issues 5 and 12; docs/tell-it-once.md): the family is asked for a fact
// at most once per validity period, one answer serves every pathway and agency that
// needs it, consent decides who may reuse it and a withdrawal applies at once, and two
// sources that disagree open a reconciliation instead of overwriting each other. The
// TellItOnce tests drive real pathway commands; the SharedRecord tests exercise the
// record's decisions directly.
#include "workflow/shared_record.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <map>
#include <random>
#include <set>

#include "tests/common/histories.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/command_check.h"
#include "workflow/sharing.h"
#include "workflow/simulator.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using std::chrono::day;
using std::chrono::month;
using std::chrono::year;

constexpr const char* kCouncil = "209";    // local authority (EHC, annual review)
constexpr const char* kTrust = "RQM";      // NHS trust (autism assessment)
constexpr const char* kSchool = "100001";  // the child's school
constexpr const char* kIcb = "QKK";        // integrated care board
constexpr const char* kEhc = "ehc_needs_assessment";
constexpr const char* kAutism = "neurodevelopmental";
constexpr const char* kReview = "annual_review";

// Statutory sharing rules for the tests (a deployment's come from
// config/statutory_sharing.json): the council may use advice and diagnoses for an EHC
// needs assessment, and the school the existing advice and family views for an annual
// review, without consent.
constexpr const char* kRegSix = "SEND Regulations 2014 reg 6(1)";
constexpr const char* kRegTwenty = "SEND Regulations 2014 reg 20";
constexpr const char* kRegEight = "SEND Regulations 2014 reg 8";
pathway::config::v1::StatutorySharing TestSharing() {
  pathway::config::v1::StatutorySharing sharing;
  auto add = [&](const char* id, const char* agency, const char* purpose,
                 std::initializer_list<v1::FactType> types, const char* basis) {
    pathway::config::v1::SharingRule* rule = sharing.add_rules();
    rule->set_id(id);
    rule->set_agency(agency);
    rule->set_purpose(purpose);
    for (auto t : types) rule->add_fact_types(t);
    rule->set_legal_basis(basis);
  };
  add("la-ehc", kCouncil, kEhc, {v1::FACT_TYPE_DIAGNOSES, v1::FACT_TYPE_EXISTING_ADVICE}, kRegSix);
  add("la-ehc-setting", kCouncil, kEhc, {v1::FACT_TYPE_CURRENT_SETTING}, kRegEight);
  add("school-review", kSchool, kReview,
      {v1::FACT_TYPE_EXISTING_ADVICE, v1::FACT_TYPE_FAMILY_VIEWS}, kRegTwenty);
  // As a deployment's file would be: checked by the same parser.
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(sharing, &json).ok());
  auto parsed = ParseStatutorySharing(json);
  EXPECT_TRUE(parsed.ok()) << parsed.error().ToString();
  return sharing;
}

// One child's record driven directly through the shared-record decisions.
class Family {
 public:
  explicit Family(CivilDate start, const pathway::config::v1::StatutorySharing* sharing = nullptr)
      : today_(start) {
    options_.sharing = sharing;
  }

  void Need(v1::FactType type, const std::string& instance, const std::string& agency,
            const std::string& purpose) {
    std::vector<v1::Envelope> out;
    DecideNeed(state_, type, v1::RESPONDENT_FAMILY, instance, agency, purpose, today_, options_,
               [&]() -> v1::Envelope& {
                 out.emplace_back().set_event_id("need-" + std::to_string(++ids_));
                 return out.back();
               });
    Record(std::move(out));
  }

  void Provide(v1::FactType type, const std::string& content, const std::string& agency) {
    v1::Envelope c = Command(agency);
    c.mutable_fact_provided()->set_type(type);
    c.mutable_fact_provided()->set_content(content);
    Run(c);
  }

  void Consent(const std::string& agency, const std::string& purpose, v1::ConsentDecision d) {
    v1::Envelope c = Command("family-portal");
    auto* r = c.mutable_consent_recorded();
    r->set_agency(agency);
    r->set_purpose(purpose);
    r->set_decision(d);
    Run(c);
  }

  // A person in `role` at `agency` asks to see the record for `purpose`.
  void View(const std::string& agency, const std::string& purpose, const std::string& role) {
    v1::Envelope c = Command(agency);
    if (!role.empty()) c.mutable_actor()->set_id("staff-" + std::to_string(ids_));
    c.mutable_actor()->set_role(role);
    c.mutable_record_view_requested()->set_agency(agency);
    c.mutable_record_view_requested()->set_purpose(purpose);
    Run(c);
  }

  void Advance(int days) { today_ = AddDays(today_, days); }

  int Count(v1::Envelope::PayloadCase kind, v1::FactType type = v1::FACT_TYPE_UNSPECIFIED) const {
    int n = 0;
    for (const auto& e : events_) {
      if (e.payload_case() != kind) continue;
      if (type != v1::FACT_TYPE_UNSPECIFIED && TypeOf(e) != type) continue;
      ++n;
    }
    return n;
  }
  std::set<std::string> ReusedBy(v1::FactType type) const {
    std::set<std::string> out;
    for (const auto& e : events_) {
      if (e.has_fact_reused() && e.fact_reused().type() == type) {
        out.insert(e.fact_reused().agency() + "/" + e.fact_reused().purpose());
      }
    }
    return out;
  }

  static v1::FactType TypeOf(const v1::Envelope& e) {
    if (e.has_information_requested()) {
      return FactTypeFromName(e.information_requested().fact()).value_or(v1::FACT_TYPE_UNSPECIFIED);
    }
    if (e.has_fact_reused()) return e.fact_reused().type();
    if (e.has_fact_needed()) return e.fact_needed().type();
    if (e.has_fact_recorded()) return e.fact_recorded().type();
    if (e.has_reconciliation_opened()) return e.reconciliation_opened().type();
    return v1::FACT_TYPE_UNSPECIFIED;
  }

  const store::CaseState& state() const { return state_; }
  const std::vector<v1::Envelope>& events() const { return events_; }
  CivilDate today() const { return today_; }
  const std::vector<std::string>& rejections() const { return rejections_; }

 private:
  v1::Envelope Command(const std::string& agency) {
    v1::Envelope c;
    c.set_event_id("cmd-" + std::to_string(++ids_));
    c.mutable_source()->set_agency(agency);
    return c;
  }
  void Run(const v1::Envelope& command) {
    // Noon UTC is the same London date all year.
    TimePoint now{std::chrono::sys_days{today_} + std::chrono::hours(12)};
    // As Decide does first: the fields the schema marks required (command_check.h), of
    // the payload (these commands carry no occurred_at: "today" is the fixture's).
    std::vector<Rejection> missing = MissingRequired(command);
    std::erase_if(missing, [](const Rejection& r) { return r.field.find('.') == r.field.npos; });
    if (!missing.empty()) {
      rejections_.push_back(missing.front().field + ":" + missing.front().rule);
      return;
    }
    Decision d = DecideRecordCommand(state_, command, now, options_);
    if (d.rejection) rejections_.push_back(d.rejection->field + ":" + d.rejection->rule);
    Record(std::move(d.events));
  }
  void Record(std::vector<v1::Envelope> events) {
    for (auto& e : events) {
      ASSERT_TRUE(e.payload_case() == v1::Envelope::kInformationRequested ||
                  ApplyRecordEvent(state_, e))
          << e.DebugString();
      if (e.has_information_requested()) {
        auto* r = state_.add_information_requests();  // as workflow::Apply does
        r->set_instance_id(e.information_requested().instance_id());
        r->set_fact(e.information_requested().fact());
        *r->mutable_requested_on() = e.information_requested().on();
      }
      e.set_subject_key(ToString(today_));  // the event's day, for the checks below
      events_.push_back(std::move(e));
    }
  }
  static std::string ToString(CivilDate d) {
    return std::to_string(static_cast<int>(d.year())) + "-" +
           std::to_string(static_cast<unsigned>(d.month())) + "-" +
           std::to_string(static_cast<unsigned>(d.day()));
  }

  DecideOptions options_;
  store::CaseState state_;
  std::vector<v1::Envelope> events_;
  std::vector<std::string> rejections_;
  CivilDate today_;
  int ids_ = 0;
};

const CivilDate kStart = year{2026} / month{1} / day{5};

// Tell it once through real pathway commands (issue 12): one young person in three
// pathways across four agencies, replayed from tests/workflow/histories/
// tell_it_once_three_pathways.jsonl through the Simulator (the engine's code). The
// record is never called directly: what is asked and reused follows from the needs
// each pathway's definition declares.
class TellItOnce : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& e : pathway::testing::ReadHistory("tell_it_once_three_pathways.jsonl")) {
      sim_.Process(e, pathway::testing::OccurredAt(e));
    }
    ASSERT_EQ(sim_.subjects().size(), 1u);
    child_ = &sim_.subjects().begin()->second;
    ASSERT_TRUE(child_->rejections.empty()) << child_->rejections[0].DebugString();
  }

  // "fact -> who on date" for the requests made in [from, to).
  std::map<std::string, std::string> Asked(const char* from, const char* to) const {
    std::map<std::string, std::string> out;
    for (const auto& e : child_->events) {
      if (!e.has_information_requested()) continue;
      const auto& r = e.information_requested();
      const std::string on = FormatDate(*ToCivil(r.on()));
      if (on < from || on >= to) continue;
      EXPECT_TRUE(out.emplace(r.fact(), RespondentName(r.asked()) + " on " + on).second)
          << r.fact() << " asked twice between " << from << " and " << to;
    }
    return out;
  }
  // "agency/purpose" of each reuse of the fact the command `source` gave; with
  // `caused_by`, only the reuses that command `caused_by` caused.
  std::multiset<std::string> ReusesOf(const std::string& source,
                                      const std::string& caused_by = "") const {
    std::multiset<std::string> out;
    for (const auto& e : child_->events) {
      if (!e.has_fact_reused() || e.fact_reused().source_event_id() != source) continue;
      if (!caused_by.empty() && e.causation_id() != caused_by) continue;
      out.insert(e.fact_reused().agency() + "/" + e.fact_reused().purpose());
    }
    return out;
  }
  int CausedBy(const std::string& command, v1::Envelope::PayloadCase kind) const {
    int n = 0;
    for (const auto& e : child_->events)
      n += e.causation_id() == command && e.payload_case() == kind;
    return n;
  }

  Simulator sim_{[](std::string_view nhs) { return "subject-" + std::string(nhs); }};
  const Simulator::Subject* child_ = nullptr;
};

TEST_F(TellItOnce, EachFactIsAskedForOnceAcrossThreePathwaysAndFourAgencies) {
  // The trust's acceptance, the council's decision to assess and the school's start of
  // planning for adulthood each declare what they need; what another pathway has
  // already asked for is not asked again, whoever needs it. (The ICB's commissioning
  // asks nothing: everything it needs was asked for already.)
  EXPECT_EQ(
      Asked("2026-01-01", "2027-01-01"),
      (std::map<std::string, std::string>{{"developmental_history", "family on 2026-01-19"},
                                          {"school_observations", "current_setting on 2026-01-19"},
                                          {"all_about_me", "family on 2026-01-19"},
                                          {"family_views", "family on 2026-02-16"},
                                          {"diagnoses", "family on 2026-02-16"},
                                          {"current_setting", "family on 2026-02-16"},
                                          {"existing_advice", "family on 2026-02-16"},
                                          {"aspirations", "young_person on 2026-03-16"}}));
  EXPECT_EQ(CausedBy("tio3-07", v1::Envelope::kFactNeeded), 5) << "the council's five needs";
  EXPECT_EQ(CausedBy("tio3-07", v1::Envelope::kInformationRequested), 4)
      << "all_about_me joins the trust's open request";
}

TEST_F(TellItOnce, OneFamilyAnswerServesEveryOpenNeedAndThreePathways) {
  // The family tells its story once, through the council's portal (tio3-08): the
  // council's assessment (its own record) and the trust's (consented) are served at
  // once; the school's planning for adulthood reuses it a month later; nobody asks
  // again.
  EXPECT_EQ(ReusesOf("tio3-08", "tio3-08"),
            (std::multiset<std::string>{"209/ehc_needs_assessment", "RQM/neurodevelopmental"}));
  EXPECT_EQ(ReusesOf("tio3-08"),
            (std::multiset<std::string>{"209/ehc_needs_assessment", "RQM/neurodevelopmental",
                                        "100001/preparing_for_adulthood"}));
  EXPECT_EQ(CausedBy("tio3-14", v1::Envelope::kInformationRequested), 1) << "aspirations only";
  // What the trust gave and what the school gave serve the trust's assessment.
  EXPECT_EQ(ReusesOf("tio3-09"), (std::multiset<std::string>{"RQM/neurodevelopmental"}));
  EXPECT_EQ(ReusesOf("tio3-10"), (std::multiset<std::string>{"RQM/neurodevelopmental"}));
  for (const auto& e : child_->events) {
    if (e.has_fact_reused()) {
      EXPECT_EQ(e.fact_reused().legal_basis(), "") << "own or consented";
    }
  }
}

TEST_F(TellItOnce, AWithdrawalHidesTheRecordFromThatAgencysNextStepOnly) {
  // The family withdraws the ICB's consent (tio3-12); the ICB then commissions the
  // assessment (tio3-13): none of the three facts it needs is reused for it, and since
  // the record holds them the family is not asked again: the needs wait for consent.
  // A week later the school (consented) still reuses the family's story.
  EXPECT_EQ(CausedBy("tio3-13", v1::Envelope::kFactReused), 0);
  EXPECT_EQ(CausedBy("tio3-13", v1::Envelope::kInformationRequested), 0);
  EXPECT_EQ(CausedBy("tio3-13", v1::Envelope::kFactNeeded), 3);
  for (const auto& e : child_->events) {
    if (e.has_fact_reused()) {
      EXPECT_NE(e.fact_reused().agency(), "QKK") << e.DebugString();
    }
  }
  std::multiset<std::string> waiting;
  for (const auto& n : child_->state.open_needs()) {
    if (n.agency() == "QKK") waiting.insert(FactTypeName(n.type()));
  }
  EXPECT_EQ(waiting, (std::multiset<std::string>{"developmental_history", "school_observations",
                                                 "all_about_me"}));
  EXPECT_EQ(ReusesOf("tio3-08", "tio3-14"),
            (std::multiset<std::string>{"100001/preparing_for_adulthood"}));
}

TEST_F(TellItOnce, AfterTheValidityPeriodTheFamilyIsAskedAgainOnce) {
  // The annual review meeting (tio3-19, March 2027) needs the family's views and story,
  // the setting and the school's observations: each answer has gone stale (a year; the
  // observations after about two terms), or was never given, so each is asked for
  // again, once. The meeting rearranged a week later (tio3-20) asks nothing and opens
  // no second need; the family's new story serves the review.
  EXPECT_EQ(Asked("2027-01-01", "2028-01-01"),
            (std::map<std::string, std::string>{
                {"family_views", "family on 2027-03-01"},
                {"all_about_me", "family on 2027-03-01"},
                {"current_setting", "family on 2027-03-01"},
                {"school_observations", "current_setting on 2027-03-01"}}));
  EXPECT_EQ(CausedBy("tio3-20", v1::Envelope::kInformationRequested), 0);
  EXPECT_EQ(CausedBy("tio3-20", v1::Envelope::kFactNeeded), 0);
  EXPECT_EQ(ReusesOf("tio3-21"), (std::multiset<std::string>{"209/annual_review"}));
  EXPECT_EQ(ReusesOf("tio3-08", "tio3-19").size(), 0u) << "the old story is stale";
}

TEST(SharedRecord, AStaleFactIsAskedForOncePerValidityPeriod) {
  Family f(kStart);
  f.Need(v1::FACT_TYPE_EXISTING_ADVICE, "EHC-1", kCouncil, kEhc);
  f.Provide(v1::FACT_TYPE_EXISTING_ADVICE, "EP report 2026-01", kCouncil);
  f.Advance(ValidityDays(v1::FACT_TYPE_EXISTING_ADVICE) - 1);
  f.Need(v1::FACT_TYPE_EXISTING_ADVICE, "AR-1", kCouncil, kReview);
  EXPECT_EQ(f.Count(v1::Envelope::kInformationRequested, v1::FACT_TYPE_EXISTING_ADVICE), 1)
      << "still valid on its last day";
  f.Advance(1);
  f.Need(v1::FACT_TYPE_EXISTING_ADVICE, "AR-2", kCouncil, kReview);
  f.Need(v1::FACT_TYPE_EXISTING_ADVICE, "EHC-2", kCouncil, kEhc);
  EXPECT_EQ(f.Count(v1::Envelope::kInformationRequested, v1::FACT_TYPE_EXISTING_ADVICE), 2)
      << "stale: asked again, once for both needs";
}

TEST(SharedRecord, DisagreeingSourcesOpenAReconciliationAndNothingIsOverwritten) {
  Family f(kStart);
  f.Consent(kTrust, kAutism, v1::CONSENT_DECISION_GRANTED);
  f.Provide(v1::FACT_TYPE_CURRENT_SETTING, "Oak Primary", kCouncil);
  f.Provide(v1::FACT_TYPE_CURRENT_SETTING, "Elm Academy", kSchool);
  EXPECT_EQ(f.Count(v1::Envelope::kReconciliationOpened), 1);
  ASSERT_EQ(f.state().record_facts_size(), 2) << "both kept";
  EXPECT_EQ(f.state().record_facts(0).content(), "Oak Primary");
  EXPECT_TRUE(f.state().record_facts(1).disputed());
  f.Need(v1::FACT_TYPE_CURRENT_SETTING, "ND-1", kTrust, kAutism);
  EXPECT_EQ(f.Count(v1::Envelope::kFactReused), 0) << "reuse waits for the caseworker";
  EXPECT_EQ(f.Count(v1::Envelope::kInformationRequested), 0) << "and the family is not asked";
}

TEST(SharedRecord, AViewShowsWhatConsentAllowsAndEveryViewAndReuseIsAudited) {
  Family f(kStart);
  f.Provide(v1::FACT_TYPE_ALL_ABOUT_ME, "Loves trains", kCouncil);
  f.Provide(v1::FACT_TYPE_DIAGNOSES, "Autism (2025)", kTrust);
  f.Consent(kSchool, kReview, v1::CONSENT_DECISION_GRANTED);
  f.View(kSchool, kReview, "SENCO");
  f.Consent(kSchool, kReview, v1::CONSENT_DECISION_WITHDRAWN);
  f.View(kSchool, kReview, "SENCO");
  std::vector<const v1::Envelope*> views;
  for (const auto& e : f.events()) {
    if (e.has_record_viewed()) views.push_back(&e);
  }
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[0]->record_viewed().disclosed_size(), 2) << "consented: both facts";
  EXPECT_EQ(views[1]->record_viewed().disclosed_size(), 0) << "withdrawn: hidden at once";
  EXPECT_EQ(views[1]->record_viewed().withheld_size(), 2);

  auto audit = AuditFor(*views[0]);
  ASSERT_TRUE(audit.has_value());
  const v1::AuditRecorded& a = audit->audit_recorded();
  EXPECT_EQ(a.action(), v1::AUDIT_ACTION_VIEW);
  EXPECT_EQ(a.actor_role(), "SENCO");
  EXPECT_FALSE(a.actor_id().empty());
  EXPECT_EQ(a.agency(), kSchool);
  EXPECT_EQ(a.purpose(), kReview);
  EXPECT_EQ(a.facts_size(), 2);
  EXPECT_EQ(a.cause_event_id(), views[0]->event_id());
  EXPECT_EQ(audit->SerializeAsString().find("Loves trains"), std::string::npos)
      << "the audit trail holds no fact content";
  EXPECT_EQ(AuditFor(*views[0])->event_id(), audit->event_id()) << "deterministic id";

  // A reuse is audited too; other events are not.
  f.Need(v1::FACT_TYPE_DIAGNOSES, "ND-1", kTrust, kAutism);
  const v1::Envelope& reuse = f.events().back();
  ASSERT_TRUE(reuse.has_fact_reused());
  auto reuse_audit = AuditFor(reuse);
  ASSERT_TRUE(reuse_audit.has_value());
  EXPECT_EQ(reuse_audit->audit_recorded().action(), v1::AUDIT_ACTION_REUSE);
  EXPECT_FALSE(AuditFor(f.events().front()).has_value()) << "a FactRecorded is not a read";

  f.View(kSchool, kReview, "");  // no actor id
  ASSERT_FALSE(f.rejections().empty());
  EXPECT_EQ(f.rejections().back(), "actor.id:required") << "every view is audited to a person";
}

// The FactReused events for `instance`, in order.
std::vector<v1::FactReused> ReusesFor(const Family& f, const std::string& instance) {
  std::vector<v1::FactReused> out;
  for (const auto& e : f.events()) {
    if (e.has_fact_reused() && e.fact_reused().instance_id() == instance) {
      out.push_back(e.fact_reused());
    }
  }
  return out;
}

const v1::Envelope& LastView(const Family& f) {
  for (auto it = f.events().rbegin(); it != f.events().rend(); ++it) {
    if (it->has_record_viewed()) return *it;
  }
  static const v1::Envelope kNone;
  ADD_FAILURE() << "no RecordViewed";
  return kNone;
}

std::vector<std::string> Bases(const google::protobuf::RepeatedPtrField<std::string>& bases) {
  return {bases.begin(), bases.end()};
}

TEST(SharedRecord, AStatutoryRuleServesTheCouncilsEhcNeedWithoutConsentAndNamesItsLegalBasis) {
  const pathway::config::v1::StatutorySharing sharing = TestSharing();
  Family f(kStart, &sharing);
  // The trust's diagnosis is in the record; the family has consented to nothing.
  f.Provide(v1::FACT_TYPE_DIAGNOSES, "Autism (2025)", kTrust);
  f.Need(v1::FACT_TYPE_DIAGNOSES, "EHC-1", kCouncil, kEhc);
  auto reused = ReusesFor(f, "EHC-1");
  ASSERT_EQ(reused.size(), 1u) << "served under reg 6, without consent";
  EXPECT_EQ(reused[0].legal_basis(), kRegSix);
  EXPECT_EQ(reused[0].agency(), kCouncil);
  const v1::Envelope& event = f.events().back();
  ASSERT_TRUE(event.has_fact_reused());
  auto audit = AuditFor(event);
  ASSERT_TRUE(audit.has_value());
  EXPECT_EQ(Bases(audit->audit_recorded().legal_bases()), std::vector<std::string>{kRegSix})
      << "the audit names the law relied on";

  // A need that waits for its fact is served, with its basis, when the fact arrives.
  f.Need(v1::FACT_TYPE_EXISTING_ADVICE, "EHC-1", kCouncil, kEhc);
  EXPECT_EQ(f.Count(v1::Envelope::kInformationRequested, v1::FACT_TYPE_EXISTING_ADVICE), 1);
  f.Provide(v1::FACT_TYPE_EXISTING_ADVICE, "EP report", kSchool);
  reused = ReusesFor(f, "EHC-1");
  ASSERT_EQ(reused.size(), 2u);
  EXPECT_EQ(reused[1].type(), v1::FACT_TYPE_EXISTING_ADVICE);
  EXPECT_EQ(reused[1].legal_basis(), kRegSix);
  EXPECT_EQ(Bases(AuditFor(f.events().back())->audit_recorded().legal_bases()),
            std::vector<std::string>{kRegSix});
  EXPECT_TRUE(f.state().open_needs().empty());

  // Own data and consent need no legal basis: none is named.
  f.Provide(v1::FACT_TYPE_NEEDS, "Speech and language", kCouncil);
  f.Need(v1::FACT_TYPE_NEEDS, "EHC-1", kCouncil, kEhc);
  f.Consent(kIcb, kEhc, v1::CONSENT_DECISION_GRANTED);
  f.Need(v1::FACT_TYPE_DIAGNOSES, "EHC-ICB", kIcb, kEhc);
  reused = ReusesFor(f, "EHC-1");
  ASSERT_EQ(reused.size(), 3u);
  EXPECT_EQ(reused[2].legal_basis(), "") << "the council's own fact";
  ASSERT_EQ(ReusesFor(f, "EHC-ICB").size(), 1u);
  EXPECT_EQ(ReusesFor(f, "EHC-ICB")[0].legal_basis(), "") << "consented";
  EXPECT_EQ(AuditFor(f.events().back())->audit_recorded().legal_bases_size(), 0);

  // Without the configuration, the same record shares nothing without consent.
  Family none(kStart);
  none.Provide(v1::FACT_TYPE_DIAGNOSES, "Autism (2025)", kTrust);
  none.Need(v1::FACT_TYPE_DIAGNOSES, "EHC-1", kCouncil, kEhc);
  EXPECT_EQ(none.Count(v1::Envelope::kFactReused), 0);
  EXPECT_EQ(none.state().open_needs_size(), 1);
  EXPECT_TRUE(f.rejections().empty());
}

TEST(SharedRecord, AStatutoryRuleSharesOnlyItsAgencyPurposeAndFactTypes) {
  const pathway::config::v1::StatutorySharing sharing = TestSharing();
  Family f(kStart, &sharing);
  f.Provide(v1::FACT_TYPE_DIAGNOSES, "Autism (2025)", kTrust);
  f.Provide(v1::FACT_TYPE_ALL_ABOUT_ME, "Loves trains", kTrust);
  f.Provide(v1::FACT_TYPE_EXISTING_ADVICE, "EP report", kSchool);
  f.Provide(v1::FACT_TYPE_CURRENT_SETTING, "Oak Primary", kSchool);
  f.Need(v1::FACT_TYPE_ALL_ABOUT_ME, "EHC-1", kCouncil, kEhc);  // a fact type outside
  f.Need(v1::FACT_TYPE_DIAGNOSES, "AR-1", kCouncil, kReview);   // a purpose outside
  f.Need(v1::FACT_TYPE_DIAGNOSES, "EHC-2", kIcb, kEhc);         // an agency outside
  f.Need(v1::FACT_TYPE_DIAGNOSES, "AR-2", kSchool, kReview);    // the school's rule: not this type
  EXPECT_EQ(f.Count(v1::Envelope::kFactReused), 0);
  EXPECT_EQ(f.state().open_needs_size(), 4);
  EXPECT_EQ(f.Count(v1::Envelope::kInformationRequested), 0) << "the record holds them all";

  // A view shows what the rules cover for that agency and purpose, naming each basis
  // relied on once; the rest is withheld.
  f.View(kCouncil, kEhc, "SEN caseworker");
  const v1::RecordViewed& ehc = LastView(f).record_viewed();
  EXPECT_EQ(ehc.disclosed_size(), 3) << "diagnoses, current setting, existing advice";
  ASSERT_EQ(ehc.withheld_size(), 1) << "all about me";
  EXPECT_EQ(ehc.withheld(0), v1::FACT_TYPE_ALL_ABOUT_ME);
  EXPECT_EQ(Bases(ehc.legal_bases()), (std::vector<std::string>{kRegSix, kRegEight}));
  auto audit = AuditFor(LastView(f));
  ASSERT_TRUE(audit.has_value());
  EXPECT_EQ(Bases(audit->audit_recorded().legal_bases()),
            (std::vector<std::string>{kRegSix, kRegEight}));
  f.View(kCouncil, kReview, "SEN caseworker");
  EXPECT_EQ(LastView(f).record_viewed().disclosed_size(), 0) << "another purpose";
  EXPECT_EQ(LastView(f).record_viewed().legal_bases_size(), 0);
  EXPECT_EQ(AuditFor(LastView(f))->audit_recorded().legal_bases_size(), 0);
  f.View(kIcb, kEhc, "commissioner");
  EXPECT_EQ(LastView(f).record_viewed().disclosed_size(), 0) << "another agency";
  // A view the agency's own data and consent cover names no basis.
  f.Consent(kTrust, kEhc, v1::CONSENT_DECISION_GRANTED);
  f.View(kTrust, kEhc, "paediatrician");
  EXPECT_EQ(LastView(f).record_viewed().disclosed_size(), 4);
  EXPECT_EQ(LastView(f).record_viewed().legal_bases_size(), 0);
  EXPECT_TRUE(f.rejections().empty());
}

TEST(SharedRecord, WithdrawingConsentStopsConsentBasedSharingButNotStatutorySharing) {
  const pathway::config::v1::StatutorySharing sharing = TestSharing();
  Family f(kStart, &sharing);
  f.Provide(v1::FACT_TYPE_DIAGNOSES, "Autism (2025)", kTrust);
  f.Consent(kCouncil, kEhc, v1::CONSENT_DECISION_GRANTED);
  f.Consent(kCouncil, kReview, v1::CONSENT_DECISION_GRANTED);
  f.Need(v1::FACT_TYPE_DIAGNOSES, "EHC-1", kCouncil, kEhc);
  f.Need(v1::FACT_TYPE_DIAGNOSES, "AR-1", kCouncil, kReview);
  ASSERT_EQ(ReusesFor(f, "EHC-1").size(), 1u);
  EXPECT_EQ(ReusesFor(f, "EHC-1")[0].legal_basis(), "") << "consent, while given, is the footing";
  ASSERT_EQ(ReusesFor(f, "AR-1").size(), 1u);

  f.Consent(kCouncil, kEhc, v1::CONSENT_DECISION_WITHDRAWN);
  f.Consent(kCouncil, kReview, v1::CONSENT_DECISION_WITHDRAWN);
  f.Need(v1::FACT_TYPE_DIAGNOSES, "EHC-2", kCouncil, kEhc);
  f.Need(v1::FACT_TYPE_DIAGNOSES, "AR-2", kCouncil, kReview);
  ASSERT_EQ(ReusesFor(f, "EHC-2").size(), 1u) << "statutory: a withdrawal does not stop it";
  EXPECT_EQ(ReusesFor(f, "EHC-2")[0].legal_basis(), kRegSix) << "and now the law is named";
  EXPECT_EQ(ReusesFor(f, "AR-2").size(), 0u) << "consent-based: stopped at once";

  // A refusal is no different.
  f.Consent(kCouncil, kEhc, v1::CONSENT_DECISION_REFUSED);
  f.Need(v1::FACT_TYPE_DIAGNOSES, "EHC-3", kCouncil, kEhc);
  ASSERT_EQ(ReusesFor(f, "EHC-3").size(), 1u);
  EXPECT_EQ(ReusesFor(f, "EHC-3")[0].legal_basis(), kRegSix);
  f.View(kCouncil, kEhc, "SEN caseworker");
  EXPECT_EQ(LastView(f).record_viewed().disclosed_size(), 1);
  EXPECT_EQ(Bases(LastView(f).record_viewed().legal_bases()), std::vector<std::string>{kRegSix});
  f.View(kCouncil, kReview, "SEN caseworker");
  EXPECT_EQ(LastView(f).record_viewed().disclosed_size(), 0);
  EXPECT_EQ(LastView(f).record_viewed().withheld_size(), 1);
  EXPECT_TRUE(f.rejections().empty());
}

TEST(SharedRecord, RecordCommandsNameTheFieldAndRuleTheyBreak) {
  Family f(kStart);
  f.Provide(v1::FACT_TYPE_UNSPECIFIED, "x", kCouncil);
  f.Provide(v1::FACT_TYPE_NEEDS, "", kCouncil);
  f.Consent("", kEhc, v1::CONSENT_DECISION_GRANTED);
  f.Consent(kCouncil, "", v1::CONSENT_DECISION_GRANTED);
  f.Consent(kCouncil, kEhc, v1::CONSENT_DECISION_UNSPECIFIED);
  EXPECT_EQ(f.rejections(),
            (std::vector<std::string>{
                "fact_provided.type:required", "fact_provided.content:required",
                "consent_recorded.agency:required", "consent_recorded.purpose:required",
                "consent_recorded.decision:required"}));
  EXPECT_TRUE(f.events().empty());
  EXPECT_EQ(FactTypeFromName("family_views"), v1::FACT_TYPE_FAMILY_VIEWS);
  EXPECT_EQ(FactTypeName(v1::FACT_TYPE_ALL_ABOUT_ME), "all_about_me");
  EXPECT_FALSE(FactTypeFromName("unspecified").has_value());
}

// The ask-once invariant over random interleavings of needs, facts, consent changes
// and the passing of time; odd seeds run with statutory sharing rules, even ones
// without.
TEST(SharedRecord, NoInterleavingMakesTheFamilyAnswerTwiceWithinAValidityPeriod) {
  const pathway::config::v1::StatutorySharing sharing = TestSharing();
  const v1::FactType types[] = {v1::FACT_TYPE_FAMILY_VIEWS, v1::FACT_TYPE_ALL_ABOUT_ME,
                                v1::FACT_TYPE_EXISTING_ADVICE};
  const char* agencies[] = {kCouncil, kTrust, kSchool, kIcb};
  const char* purposes[] = {kEhc, kAutism, kReview};
  const v1::ConsentDecision decisions[] = {
      v1::CONSENT_DECISION_GRANTED, v1::CONSENT_DECISION_REFUSED, v1::CONSENT_DECISION_WITHDRAWN};
  int requests = 0, reuses = 0, reconciliations = 0, statutory_reuses = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
    const pathway::config::v1::StatutorySharing* rules = seed % 2 ? &sharing : nullptr;
    Family f(kStart, rules);
    // The rule that lets `agency` use `type` for `purpose` without consent, if any.
    auto statutory = [&](const std::string& agency, const std::string& purpose,
                         v1::FactType type) -> const pathway::config::v1::SharingRule* {
      return rules ? StatutoryBasis(*rules, agency, purpose, type) : nullptr;
    };
    // The model: per type, the days the family was asked; per (agency, purpose), consent.
    std::map<v1::FactType, std::vector<CivilDate>> asked;
    std::map<std::string, v1::ConsentDecision> consent;
    size_t seen = 0;
    for (int op = 0; op < 80; ++op) {
      switch (pick(4)) {
        case 0:
          f.Need(types[pick(3)], "I-" + std::to_string(pick(4)), agencies[pick(4)],
                 purposes[pick(3)]);
          break;
        case 1:
          f.Provide(types[pick(3)], pick(2) ? "answer A" : "answer B", agencies[pick(4)]);
          break;
        case 2:
          f.Consent(agencies[pick(4)], purposes[pick(3)], decisions[pick(3)]);
          break;
        default:
          f.Advance(pick(3) == 0 ? pick(400) : pick(20));
      }
      for (; seen < f.events().size(); ++seen) {
        const v1::Envelope& e = f.events()[seen];
        const CivilDate today = f.today();
        if (e.has_consent_changed()) {
          consent[e.consent_changed().agency() + "/" + e.consent_changed().purpose()] =
              e.consent_changed().decision();
        }
        if (e.has_information_requested()) {
          ++requests;
          const v1::FactType type = Family::TypeOf(e);
          for (CivilDate before : asked[type]) {
            ASSERT_GE((std::chrono::sys_days{today} - std::chrono::sys_days{before}).count(),
                      ValidityDays(type))
                << "seed " << seed << ": asked twice within the validity period";
          }
          asked[type].push_back(today);
          for (const auto& fact : f.state().record_facts()) {
            if (fact.type() != type) continue;
            auto until = ToCivil(fact.valid_until());
            ASSERT_TRUE(until && std::chrono::sys_days{today} >= std::chrono::sys_days{*until})
                << "seed " << seed << ": asked for a fact the record holds";
          }
        }
        if (e.has_fact_reused()) {
          ++reuses;
          const auto& r = e.fact_reused();
          const v1::FactRecorded* source = nullptr;
          for (const auto& fact : f.state().record_facts()) {
            if (fact.source_event_id() == r.source_event_id()) source = &fact;
          }
          ASSERT_NE(source, nullptr);
          EXPECT_FALSE(source->disputed()) << "seed " << seed;
          auto until = ToCivil(source->valid_until());
          EXPECT_TRUE(until && std::chrono::sys_days{today} < std::chrono::sys_days{*until})
              << "seed " << seed << ": reused a stale fact";
          const bool own_or_consented =
              source->source_agency() == r.agency() ||
              consent[r.agency() + "/" + r.purpose()] == v1::CONSENT_DECISION_GRANTED;
          const pathway::config::v1::SharingRule* rule =
              statutory(r.agency(), r.purpose(), r.type());
          EXPECT_TRUE(own_or_consented || rule)
              << "seed " << seed << ": reused without consent or a rule by " << r.agency();
          // The law is named exactly when it, and nothing else, allowed the reuse.
          EXPECT_EQ(r.legal_basis(), own_or_consented || !rule ? "" : rule->legal_basis())
              << "seed " << seed << ": " << r.agency() << "/" << r.purpose();
          if (!r.legal_basis().empty()) ++statutory_reuses;
        }
        if (e.has_reconciliation_opened()) ++reconciliations;
      }
      // Nothing servable is left waiting: a need stays open only while the current
      // fact (the latest still valid) is missing, disputed or not consented for it.
      for (const auto& need : f.state().open_needs()) {
        const v1::FactRecorded* current = nullptr;
        for (const auto& fact : f.state().record_facts()) {
          auto recorded = ToCivil(fact.recorded_on());
          auto until = ToCivil(fact.valid_until());
          if (fact.type() == need.type() && recorded && until &&
              std::chrono::sys_days{*recorded} <= std::chrono::sys_days{f.today()} &&
              std::chrono::sys_days{f.today()} < std::chrono::sys_days{*until}) {
            current = &fact;
          }
        }
        if (current == nullptr || current->disputed()) continue;
        // A fact's arrival and a consent's grant serve every need they make servable.
        const bool usable =
            current->source_agency() == need.agency() ||
            consent[need.agency() + "/" + need.purpose()] == v1::CONSENT_DECISION_GRANTED ||
            statutory(need.agency(), need.purpose(), need.type());
        EXPECT_FALSE(usable) << "seed " << seed << ": a need for " << FactTypeName(need.type())
                             << " of " << need.agency()
                             << " is open while a usable fact is current";
        if (HasFailure()) return;
      }
    }
  }
  // The histories exercised every path.
  EXPECT_GT(requests, 300);
  EXPECT_GT(reuses, 300);
  EXPECT_GT(reconciliations, 30);
  EXPECT_GT(statutory_reuses, 100);
}

}  // namespace
}  // namespace pathway::workflow
