// Neurodevelopmental (autism, ADHD, dual) assessment: NICE QS51 statement 1 (13 weeks from
// referral to first appointment, as NHS England measures it) and the partnership's local
// pathway (one-day route for under-5s, monthly contact for children waiting at high risk,
// needs-led support while waiting). One test per rule, real dates, through the Simulator.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/common/commands.h"
#include "tests/common/histories.h"
#include "tests/common/pathway_fixture.h"
#include "workflow/pathway.h"
#include "workflow/simulator.h"

namespace pathway::workflow {
namespace {
using pathway::testing::ReadHistory;
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathway::testing::Command;
using pathway::testing::Day;

constexpr const char* kReferral = "RV5-ND-25-0042";

class Nd : public pathway::testing::PathwayFixture {
 protected:
  Nd()
      : PathwayFixture(v1::PATHWAY_KIND_NEURODEVELOPMENTAL, "no neurodevelopmental instance",
                       kReferral) {}

  // An NdReferralAccepted for a standard autism assessment, adjusted by chained setters.
  struct Acceptance {
    Acceptance(std::string referred, std::string accepted)
        : referred_on(std::move(referred)), accepted_on(std::move(accepted)) {}
    Acceptance& Assessment(v1::NdAssessmentType a) {
      assessment = a;
      return *this;
    }
    Acceptance& Route(v1::NdRoute r) {
      route = r;
      return *this;
    }
    Acceptance& Born(std::string dob) {
      date_of_birth = std::move(dob);
      return *this;
    }
    Acceptance& StrongEvidence(bool e) {
      strong_evidence = e;
      return *this;
    }
    Acceptance& Reference(std::string r) {
      reference = std::move(r);
      return *this;
    }
    // The one-day route for a child born on `dob`, with strong evidence.
    Acceptance& OneDay(std::string dob) {
      return Route(v1::ND_ROUTE_ONE_DAY_UNDER_5).Born(std::move(dob)).StrongEvidence(true);
    }

    std::string referred_on;
    std::string accepted_on;
    v1::NdAssessmentType assessment = v1::ND_ASSESSMENT_TYPE_AUTISM;
    v1::NdRoute route = v1::ND_ROUTE_STANDARD;
    std::string date_of_birth;  // empty: not sent
    bool strong_evidence = false;
    std::string reference = kReferral;
  };
  void Accept(const std::string& id, const Acceptance& a) {
    Run(Command(id, a.accepted_on, [&](v1::Envelope& e) {
      auto* c = e.mutable_nd_referral_accepted();
      c->set_referral_id(a.reference);
      if (!a.referred_on.empty()) *c->mutable_referred_on() = Day(a.referred_on);
      *c->mutable_accepted_on() = Day(a.accepted_on);
      c->set_assessment(a.assessment);
      c->set_route(a.route);
      if (!a.date_of_birth.empty()) *c->mutable_date_of_birth() = Day(a.date_of_birth);
      c->set_strong_evidence(a.strong_evidence);
    }));
  }
  // A standard autism referral, referred and accepted on `date`.
  void Accept(const std::string& date) { Accept("acc-" + date, Acceptance(date, date)); }
  void Risk(const std::string& id, const std::string& date, v1::RiskLevel risk) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_nd_risk_assessed();
      c->set_referral_id(kReferral);
      c->set_risk(risk);
      *c->mutable_assessed_on() = Day(date);
    }));
  }
  void Contact(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_nd_waiting_contact_made();
      c->set_referral_id(kReferral);
      *c->mutable_contacted_on() = Day(date);
    }));
  }
  void Support(const std::string& id, const std::string& date, const std::string& support) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_nd_support_offered();
      c->set_referral_id(kReferral);
      *c->mutable_offered_on() = Day(date);
      c->set_support(support);
    }));
  }
  void Commission(const std::string& id, const std::string& date, const std::string& provider) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_nd_assessment_commissioned();
      c->set_referral_id(kReferral);
      *c->mutable_commissioned_on() = Day(date);
      c->set_provider(provider);
    }));
  }
  void Attended(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_nd_first_appointment_attended();
      c->set_referral_id(kReferral);
      *c->mutable_attended_on() = Day(date);
    }));
  }
  void RecordOutcome(const std::string& id, const std::string& date, v1::NdOutcome outcome) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_nd_outcome_recorded();
      c->set_referral_id(kReferral);
      c->set_outcome(outcome);
      *c->mutable_decided_on() = Day(date);
    }));
  }
  void PostDiagnostic(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_nd_post_diagnostic_support_offered();
      c->set_referral_id(kReferral);
      *c->mutable_offered_on() = Day(date);
    }));
  }
  void Discharge(const std::string& id, const std::string& date, const std::string& reason) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_nd_discharged();
      c->set_referral_id(kReferral);
      *c->mutable_discharged_on() = Day(date);
      c->set_reason(reason);
    }));
  }
  bool HasInstance(const std::string& reference) { return Find(reference) != nullptr; }
  // Every deadline with `name`, oldest first.
  std::vector<store::Deadline> All(const std::string& name) {
    std::vector<store::Deadline> out;
    for (const auto& d : Instance().deadlines()) {
      if (d.name() == name) out.push_back(d);
    }
    return out;
  }
};

// ---- The 13-week clock (NICE QS51 statement 1; NHS England ASD03) ------------------------

TEST_F(Nd, FirstAppointmentIsDueThirteenWeeksFromReferralAcrossAYearEnd) {
  // NICE QS51 statement 1, measured by NHS England as 13 weeks from referral.
  Accept("2024-11-04");
  EXPECT_EQ(Instance().state(), "waiting");
  EXPECT_EQ(Due("first_appointment"), "2025-02-03");
  EXPECT_EQ(Deadline("first_appointment").rule(),
            "NICE QS51 statement 1 (NHS England: 13 weeks from referral to first appointment)");
  EXPECT_FALSE(Deadline("first_appointment").exceptable()) << "QS51 has no exceptions";
}

TEST_F(Nd, ThirteenWeeksAcrossAYearEndAndALeapDay) {
  // 1 Dec 2023 + 91 days, over 31 Dec and 29 Feb 2024.
  Accept("2023-12-01");
  EXPECT_EQ(Due("first_appointment"), "2024-03-01");
}

TEST_F(Nd, TheClockRunsFromTheReferralNotTheAcceptance) {
  // QS51: "within 3 months of their referral"; triage time counts against the wait.
  Accept("a", Acceptance("2025-01-06", "2025-02-03"));
  EXPECT_EQ(Due("first_appointment"), "2025-04-07");
  EXPECT_EQ(Date(Deadline("first_appointment").set_on()), "2025-02-03");
  EXPECT_TRUE(HasFact(Instance(), "referred_on", "2025-01-06"));
  EXPECT_EQ(Date(Instance().started_on()), "2025-02-03");
}

TEST_F(Nd, Version1AppliesQs51ThirteenWeeksToAdhdAndDual) {
  // Version 1's local decision: NICE sets no ADHD waiting standard, so QS51's 13 weeks is
  // applied to ADHD; a dual assessment includes the autism assessment, so QS51 applies as
  // it stands. Instances started under version 1 keep it (decision 128).
  const std::map<v1::PathwayKind, uint32_t> start{{v1::PATHWAY_KIND_NEURODEVELOPMENTAL, 1}};
  DecideOptions options;
  options.start_versions = &start;
  sim = Simulator(pathway::testing::SubjectKey, kDefaultWarningLeadDays, options);
  Accept("a", Acceptance("2025-03-03", "2025-03-03").Assessment(v1::ND_ASSESSMENT_TYPE_ADHD));
  EXPECT_EQ(Instance().version(), 1u);
  EXPECT_EQ(Due("first_appointment"), "2025-06-02");
  EXPECT_EQ(Deadline("first_appointment").rule(),
            "Local standard: NICE QS51 13 weeks from referral to first appointment, applied to "
            "ADHD");
  EXPECT_TRUE(HasFact(Instance(), "assessment", "adhd"));
  Accept("b", Acceptance("2025-03-03", "2025-03-04")
                  .Assessment(v1::ND_ASSESSMENT_TYPE_DUAL)
                  .Reference("RV5-ND-25-0043"));
  const store::Deadline* dual = FindDeadline(Instance("RV5-ND-25-0043"), "first_appointment");
  ASSERT_NE(dual, nullptr);
  EXPECT_EQ(Date(dual->due()), "2025-06-02");
  EXPECT_NE(dual->rule().find("NICE QS51 statement 1"), std::string::npos);
}

TEST_F(Nd, Version2AppliesTheEighteenWeekStandardToAdhdOnly) {
  // Version 2: an ADHD-only assessment's first appointment is due under the NHS
  // Constitution's 18 weeks referral to treatment; autism and dual keep QS51's 13 weeks.
  // New instances start on the latest version.
  Accept("a", Acceptance("2025-03-03", "2025-03-03").Assessment(v1::ND_ASSESSMENT_TYPE_ADHD));
  EXPECT_EQ(Instance().version(), 2u);
  EXPECT_EQ(Due("first_appointment"), "2025-07-07");
  EXPECT_NE(Deadline("first_appointment").rule().find("NHS Constitution: 18 weeks"),
            std::string::npos);
  Accept("b", Acceptance("2025-03-03", "2025-03-04")
                  .Assessment(v1::ND_ASSESSMENT_TYPE_DUAL)
                  .Reference("RV5-ND-25-0043"));
  const store::Deadline* dual = FindDeadline(Instance("RV5-ND-25-0043"), "first_appointment");
  ASSERT_NE(dual, nullptr);
  EXPECT_EQ(Date(dual->due()), "2025-06-02");
  EXPECT_NE(dual->rule().find("NICE QS51 statement 1"), std::string::npos);
  EXPECT_EQ(Instance("RV5-ND-25-0043").version(), 2u);
}

TEST_F(Nd, ALateCommandReDecidesAVersion1InstanceAsVersion1) {
  // The latent bug decision 128 fixes: a late command re-decides the case from its kept
  // commands, which started every instance again on the latest version.
  const std::map<v1::PathwayKind, uint32_t> start{{v1::PATHWAY_KIND_NEURODEVELOPMENTAL, 1}};
  DecideOptions options;
  options.start_versions = &start;
  sim = Simulator(pathway::testing::SubjectKey, kDefaultWarningLeadDays, options);
  Accept("a", Acceptance("2025-03-03", "2025-03-03").Assessment(v1::ND_ASSESSMENT_TYPE_ADHD));
  Support("s2", "2025-03-20", "parent workshop");
  ASSERT_EQ(Instance().version(), 1u);

  // The engine's settings (new instances on version 2) and a command dated before the
  // last one.
  const auto& child = Child();
  v1::Envelope late = Command("s1", "2025-03-25", [&](v1::Envelope& e) {
    auto* c = e.mutable_nd_support_offered();
    c->set_referral_id(kReferral);
    *c->mutable_offered_on() = Day("2025-03-10");
    c->set_support("sleep clinic");
  });
  const std::string subject = pathway::testing::SubjectKey(pathway::testing::kValidNhsNumber);
  late.set_subject_key(subject);
  const std::vector<v1::Envelope> log = CommandsOf(child.events);
  const CaseStep step =
      DecideCommand(child.state, late, pathway::testing::At("2025-03-25"), StepSettings{}, &log);
  ASSERT_TRUE(step.new_state.has_value());
  ASSERT_EQ(step.new_state->pathways_size(), 1);
  EXPECT_EQ(step.new_state->pathways(0).version(), 1u);
  EXPECT_EQ(Date(FindDeadline(step.new_state->pathways(0), "first_appointment")->due()),
            "2025-06-02");
  // And so does an operator's re-decision.
  const store::CaseState redecided = RedecideFromLog(
      subject, child.state, log, pathway::testing::At("2025-03-25"), StepSettings{});
  EXPECT_EQ(redecided.pathways(0).version(), 1u);
}

TEST_F(Nd, FirstAppointmentOnTheDueDateIsMet) {
  Accept("2025-01-06");
  Attended("f", "2025-04-07");
  EXPECT_EQ(Instance().state(), "assessing");
  EXPECT_EQ(Deadline("first_appointment").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(Date(Deadline("first_appointment").met_on()), "2025-04-07");
}

TEST_F(Nd, LateFirstAppointmentIsBreachedAndKeepsTheDateItHappened) {
  // ASD03 counts first appointments within 13 weeks: a late one stays breached, with the
  // date it happened for the referral-to-first-appointment measure.
  Accept("2025-01-06");
  AdvanceTo("2025-03-23");
  EXPECT_FALSE(Deadline("first_appointment").warned());
  AdvanceTo("2025-03-24");  // 14 days before 7 April
  EXPECT_TRUE(Deadline("first_appointment").warned());
  AdvanceTo("2025-04-07");
  EXPECT_EQ(Deadline("first_appointment").status(), v1::DEADLINE_STATUS_PENDING);
  AdvanceTo("2025-04-08");
  EXPECT_EQ(Deadline("first_appointment").status(), v1::DEADLINE_STATUS_BREACHED);
  Attended("f", "2025-05-12");
  EXPECT_EQ(Instance().state(), "assessing");
  EXPECT_EQ(Deadline("first_appointment").status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(Date(Deadline("first_appointment").met_on()), "2025-05-12");
}

TEST_F(Nd, ReferralDatedAfterItsAcceptanceIsRejected) {
  // The 13-week clock starts at the referral, which cannot follow its own acceptance.
  Accept("a", Acceptance("2025-02-04", "2025-02-03"));
  EXPECT_EQ(LastRejectionRule(), "referral.referred_after_accepted");
  EXPECT_EQ(LastRejection().field(), "nd_referral_accepted.referred_on");
  EXPECT_FALSE(HasInstance(kReferral));
  Accept("b", Acceptance("2025-02-03", "2025-02-03"));  // the same day is fine
  EXPECT_EQ(Instance().state(), "waiting");
}

TEST_F(Nd, ReferralDateIsRequiredAndMustBeARealDate) {
  Accept("a", Acceptance("", "2025-02-03"));
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "nd_referral_accepted.referred_on");
  Run(Command("b", "2025-02-03", [](v1::Envelope& e) {
    *e.mutable_nd_referral_accepted()->mutable_accepted_on() = Day("2025-02-03");
    auto* c = e.mutable_nd_referral_accepted();
    c->set_referral_id(kReferral);
    c->mutable_referred_on()->set_year(2025);
    c->mutable_referred_on()->set_month(2);
    c->mutable_referred_on()->set_day(29);  // 2025 is not a leap year
    c->set_assessment(v1::ND_ASSESSMENT_TYPE_AUTISM);
    c->set_route(v1::ND_ROUTE_STANDARD);
  }));
  EXPECT_EQ(LastRejectionRule(), "date.calendar");
  EXPECT_EQ(LastRejection().field(), "nd_referral_accepted.referred_on");
}

TEST_F(Nd, AssessmentTypeIsRequired) {
  Accept("a",
         Acceptance("2025-02-03", "2025-02-03").Assessment(v1::ND_ASSESSMENT_TYPE_UNSPECIFIED));
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "nd_referral_accepted.assessment");
}

TEST_F(Nd, RouteIsRequired) {
  Accept("a", Acceptance("2025-02-03", "2025-02-03").Route(v1::ND_ROUTE_UNSPECIFIED));
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "nd_referral_accepted.route");
}

// ---- The one-day diagnostic pathway (local: under-5s with strong evidence) ----------------

TEST_F(Nd, OneDayRouteAcceptsAChildAgedFourYearsAnd364Days) {
  // Under 5 on the day of acceptance: the 5th birthday is 15 June 2025.
  Accept("a", Acceptance("2025-06-02", "2025-06-14").OneDay("2020-06-15"));
  EXPECT_EQ(Instance().state(), "waiting");
  EXPECT_TRUE(HasFact(Instance(), "route", "one_day_under_5"));
  EXPECT_TRUE(HasFact(Instance(), "age_band_at_referral", "under_5"));
  // Data minimisation: no date of birth, nor a birthday that reveals it, is stored.
  for (const auto& f : Instance().facts()) {
    EXPECT_EQ(f.value().find("2020"), std::string::npos) << f.key();
    EXPECT_EQ(f.value().find("06-15"), std::string::npos) << f.key();
  }
}

TEST_F(Nd, OneDayRouteRejectsAChildOnTheirFifthBirthday) {
  // Family Law Reform Act 1969 s9: the age is attained at the start of the birthday.
  Accept("a", Acceptance("2025-06-02", "2025-06-15").OneDay("2020-06-15"));
  EXPECT_EQ(LastRejectionRule(), "route.one_day_age");
  EXPECT_EQ(LastRejection().field(), "nd_referral_accepted.route");
  EXPECT_EQ(LastRejection().reason().find("2020"), std::string::npos)
      << "a rejection never repeats the date of birth";
  EXPECT_FALSE(HasInstance(kReferral));
  // The standard route takes a child of any age.
  Accept("b", Acceptance("2025-06-02", "2025-06-15").Born("2020-06-15"));
  EXPECT_EQ(Instance().state(), "waiting");
  EXPECT_TRUE(HasFact(Instance(), "age_band_at_referral", "under_5"))
      << "the band is the age on the referral date (2 June)";
}

TEST_F(Nd, OneDayRouteForAChildBornOnALeapDay) {
  // Born 29 Feb 2020: in 2025 the 5th birthday is attained on 1 March.
  Accept("a", Acceptance("2025-02-17", "2025-02-28").OneDay("2020-02-29"));
  EXPECT_EQ(Instance().state(), "waiting");
  Accept("b",
         Acceptance("2025-02-17", "2025-03-01").OneDay("2020-02-29").Reference("RV5-ND-25-0043"));
  EXPECT_EQ(LastRejectionRule(), "route.one_day_age");
  EXPECT_FALSE(HasInstance("RV5-ND-25-0043"));
}

TEST_F(Nd, OneDayRouteNeedsStrongEvidence) {
  Accept("a", Acceptance("2025-06-02", "2025-06-03")
                  .Route(v1::ND_ROUTE_ONE_DAY_UNDER_5)
                  .Born("2022-01-10")
                  .StrongEvidence(false));
  EXPECT_EQ(LastRejectionRule(), "route.one_day_evidence");
  EXPECT_EQ(LastRejection().field(), "nd_referral_accepted.strong_evidence");
}

TEST_F(Nd, OneDayRouteNeedsADateOfBirth) {
  Accept("a", Acceptance("2025-06-02", "2025-06-03")
                  .Route(v1::ND_ROUTE_ONE_DAY_UNDER_5)
                  .StrongEvidence(true));
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "nd_referral_accepted.date_of_birth");
}

TEST_F(Nd, OneDayRouteTakesTheDateOfBirthFromTheReferralOnRecord) {
  // Tell it once: the referral already gave the date of birth (a child of 6).
  Run(Command("ref", "2025-06-02", [](v1::Envelope& e) {
    auto* r = e.mutable_referral_submitted();
    r->set_referral_id("GP-2025-0100");
    r->mutable_child()->set_nhs_number(pathway::testing::kValidNhsNumber);
    r->mutable_child()->set_given_name("Sam");
    r->mutable_child()->set_family_name("Jones");
    *r->mutable_child()->mutable_date_of_birth() = Day("2019-04-01");
    r->mutable_referrer()->set_agency("Y00001");
    r->set_reason(v1::REFERRAL_REASON_SOCIAL_COMMUNICATION);
    *r->mutable_received_on() = Day("2025-06-02");
  }));
  Accept("a", Acceptance("2025-06-02", "2025-06-03")
                  .Route(v1::ND_ROUTE_ONE_DAY_UNDER_5)
                  .StrongEvidence(true));
  EXPECT_EQ(LastRejectionRule(), "route.one_day_age");
  Accept("b", Acceptance("2025-06-02", "2025-06-03"));
  EXPECT_TRUE(HasFact(Instance(), "age_band_at_referral", "5_and_over"));
}

TEST_F(Nd, DateOfBirthMustBeRealAndBeforeTheReferral) {
  Accept("a", Acceptance("2025-06-02", "2025-06-03").OneDay("2025-06-03"));
  EXPECT_EQ(LastRejectionRule(), "date_of_birth.after_referral");
  EXPECT_EQ(LastRejection().field(), "nd_referral_accepted.date_of_birth");
  Run(Command("b", "2025-06-03", [](v1::Envelope& e) {
    *e.mutable_nd_referral_accepted()->mutable_accepted_on() = Day("2025-06-03");
    auto* c = e.mutable_nd_referral_accepted();
    c->set_referral_id(kReferral);
    *c->mutable_referred_on() = Day("2025-06-02");
    c->set_assessment(v1::ND_ASSESSMENT_TYPE_AUTISM);
    c->set_route(v1::ND_ROUTE_STANDARD);
    c->mutable_date_of_birth()->set_year(2021);
    c->mutable_date_of_birth()->set_month(2);
    c->mutable_date_of_birth()->set_day(29);
  }));
  EXPECT_EQ(LastRejectionRule(), "date.calendar");
  EXPECT_EQ(LastRejection().field(), "nd_referral_accepted.date_of_birth");
}

// ---- Children waiting at high risk: contact at least monthly (local) ------------------

TEST_F(Nd, HighRiskContactIsMonthlyFrom31JanuaryTo28February) {
  // Calendar months: 31 Jan + 1 month is the last day of February.
  Accept("2025-01-06");
  Risk("r", "2025-01-31", v1::RISK_LEVEL_HIGH);
  EXPECT_EQ(Due("waiting_contact"), "2025-02-28");
  EXPECT_EQ(Deadline("waiting_contact").rule(),
            "Local partnership standard: children waiting at high risk are contacted at least "
            "monthly");
  Contact("c1", "2025-02-28");
  auto contacts = All("waiting_contact");
  ASSERT_EQ(contacts.size(), 2u) << "each contact sets the next month's under the same name";
  EXPECT_EQ(contacts[0].status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(Date(contacts[0].met_on()), "2025-02-28");
  EXPECT_EQ(Date(contacts[1].due()), "2025-03-28");
  EXPECT_EQ(contacts[1].status(), v1::DEADLINE_STATUS_PENDING);
  EXPECT_TRUE(HasFact(Instance(), "risk", "high"));
}

TEST_F(Nd, HighRiskContactFrom31JanuaryInALeapYear) {
  Accept("2024-01-08");
  Risk("r", "2024-01-31", v1::RISK_LEVEL_HIGH);
  EXPECT_EQ(Due("waiting_contact"), "2024-02-29");
}

TEST_F(Nd, MissedMonthlyContactIsBreachedAndALateContactStartsTheNextMonth) {
  Accept("2025-02-17");
  Risk("r", "2025-03-03", v1::RISK_LEVEL_HIGH);
  EXPECT_EQ(Due("waiting_contact"), "2025-04-03");
  AdvanceTo("2025-03-20");  // 14 days before 3 April
  EXPECT_TRUE(Deadline("waiting_contact").warned());
  AdvanceTo("2025-04-03");
  EXPECT_EQ(Deadline("waiting_contact").status(), v1::DEADLINE_STATUS_PENDING);
  AdvanceTo("2025-04-04");
  EXPECT_EQ(Deadline("waiting_contact").status(), v1::DEADLINE_STATUS_BREACHED);
  Contact("late", "2025-04-10");
  auto contacts = All("waiting_contact");
  ASSERT_EQ(contacts.size(), 2u);
  EXPECT_EQ(contacts[0].status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(Date(contacts[0].met_on()), "2025-04-10");
  EXPECT_EQ(Date(contacts[1].due()), "2025-05-10");
  EXPECT_EQ(contacts[1].status(), v1::DEADLINE_STATUS_PENDING);
  // The re-set deadline has timers of its own.
  AdvanceTo("2025-05-11");
  contacts = All("waiting_contact");
  EXPECT_EQ(contacts[0].status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(contacts[1].status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_TRUE(contacts[1].warned());
}

TEST_F(Nd, ContactOnTheDayTheClockStartedRestartsTheSameMonth) {
  // The new deadline has the same due date as the one it meets: its timers must survive.
  Accept("2025-02-17");
  Risk("r", "2025-03-03", v1::RISK_LEVEL_HIGH);
  Contact("c", "2025-03-03");
  auto contacts = All("waiting_contact");
  ASSERT_EQ(contacts.size(), 2u);
  EXPECT_EQ(contacts[0].status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(Date(contacts[1].due()), "2025-04-03");
  AdvanceTo("2025-04-04");
  EXPECT_EQ(All("waiting_contact")[1].status(), v1::DEADLINE_STATUS_BREACHED);
}

TEST_F(Nd, LoweringTheRiskCancelsThePendingContact) {
  Accept("2025-02-17");
  Risk("r1", "2025-03-03", v1::RISK_LEVEL_HIGH);
  Risk("r2", "2025-03-20", v1::RISK_LEVEL_MEDIUM);
  EXPECT_EQ(Deadline("waiting_contact").status(), v1::DEADLINE_STATUS_CANCELLED);
  AdvanceTo("2025-04-30");
  EXPECT_EQ(Deadline("waiting_contact").status(), v1::DEADLINE_STATUS_CANCELLED)
      << "a cancelled deadline's timers never fire";
  Contact("c", "2025-05-01");
  EXPECT_EQ(All("waiting_contact").size(), 1u) << "no monthly clock below high risk";
  EXPECT_TRUE(HasFact(Instance(), "contacted_on", "2025-05-01"));
  Risk("r3", "2025-05-14", v1::RISK_LEVEL_HIGH);
  EXPECT_EQ(Due("waiting_contact"), "2025-06-14") << "high again: a new month from today";
}

TEST_F(Nd, ReassessingAsHighKeepsThePendingContactDate) {
  // A reassessment is not a contact with the family.
  Accept("2025-02-17");
  Risk("r1", "2025-03-03", v1::RISK_LEVEL_HIGH);
  Risk("r2", "2025-03-20", v1::RISK_LEVEL_HIGH);
  EXPECT_EQ(All("waiting_contact").size(), 1u);
  EXPECT_EQ(Due("waiting_contact"), "2025-04-03");
}

TEST_F(Nd, FirstAppointmentEndsTheWaitAndCancelsThePendingContact) {
  Accept("2025-02-17");
  Risk("r", "2025-03-03", v1::RISK_LEVEL_HIGH);
  Attended("f", "2025-03-17");
  EXPECT_EQ(Instance().state(), "assessing");
  EXPECT_EQ(Deadline("first_appointment").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(Deadline("waiting_contact").status(), v1::DEADLINE_STATUS_CANCELLED);
  Contact("c", "2025-03-20");
  EXPECT_EQ(LastRejectionRule(), "transition.not_allowed");
  Risk("r2", "2025-03-20", v1::RISK_LEVEL_LOW);
  EXPECT_EQ(LastRejectionRule(), "transition.not_allowed");
}

TEST_F(Nd, RiskLevelIsRequired) {
  Accept("2025-02-17");
  Risk("r", "2025-03-03", v1::RISK_LEVEL_UNSPECIFIED);
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "nd_risk_assessed.risk");
}

TEST_F(Nd, AnOlderRiskAssessmentArrivingLateDoesNotReplaceTheNewerOne) {
  // The assessment of 3 March (low) arrives after the one of 10 March (high): in
  // business-date order it comes first, so the current level stays the newer one's and
  // the monthly contact clock still runs from 10 March.
  Accept("2025-02-17");
  Risk("r1", "2025-03-10", v1::RISK_LEVEL_HIGH);
  Risk("r2", "2025-03-03", v1::RISK_LEVEL_LOW);
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(RefusalOf("r2"), nullptr);
  ASSERT_NE(CorrectionBy("r2"), nullptr);
  EXPECT_EQ(Fact("risk"), "high");
  EXPECT_EQ(Fact("risk_assessed_on"), "2025-03-10");
  ASSERT_EQ(All("waiting_contact").size(), 1u);
  EXPECT_EQ(Deadline("waiting_contact").status(), v1::DEADLINE_STATUS_PENDING);
  EXPECT_EQ(Due("waiting_contact"), "2025-04-10");
  EXPECT_TRUE(SameAsInDateOrder());
}

TEST_F(Nd, AContactBeforeTheMonthlyClockStartedDoesNotCount) {
  // A contact of 5 March arriving after the high-risk assessment of 10 March: in
  // business-date order it comes before the monthly clock started, so it is recorded
  // but meets nothing, and the first monthly contact is still due on 10 April.
  Accept("2025-02-17");
  Risk("r", "2025-03-10", v1::RISK_LEVEL_HIGH);
  Contact("c", "2025-03-05");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(RefusalOf("c"), nullptr);
  ASSERT_NE(CorrectionBy("c"), nullptr);
  EXPECT_EQ(Fact("contacted_on"), "2025-03-05");
  ASSERT_EQ(All("waiting_contact").size(), 1u);
  EXPECT_EQ(Deadline("waiting_contact").status(), v1::DEADLINE_STATUS_PENDING);
  EXPECT_EQ(Due("waiting_contact"), "2025-04-10");
  EXPECT_TRUE(SameAsInDateOrder());
}

// ---- Support while waiting, external providers -------------------------------------------

TEST_F(Nd, SupportIsOfferedWhileWaitingOrAssessingWithoutADiagnosis) {
  // Support is needs-led, not diagnosis-led: it must not wait for the outcome.
  Accept("2025-02-17");
  Support("s1", "2025-02-24", "parent workshop");
  EXPECT_EQ(Instance().state(), "waiting");
  EXPECT_TRUE(HasFact(Instance(), "support_offered", "parent workshop"));
  EXPECT_TRUE(HasFact(Instance(), "support_offered_on", "2025-02-24"));
  EXPECT_EQ(Instance().deadlines_size(), 1) << "no deadline for support";
  Attended("f", "2025-03-17");
  Support("s2", "2025-03-18", "sensory strategies for school");
  EXPECT_EQ(Instance().state(), "assessing");
  EXPECT_TRUE(HasFact(Instance(), "support_offered", "sensory strategies for school"));
  EXPECT_EQ(Rejections(), 0u);
}

TEST_F(Nd, SupportMustSayWhatWasOffered) {
  Accept("2025-02-17");
  Support("s", "2025-02-24", "");
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "nd_support_offered.support");
}

TEST_F(Nd, AssessmentCommissionedFromAnExternalProviderWhileWaiting) {
  Accept("2025-02-17");
  Commission("c", "2025-03-03", "NXX01");
  EXPECT_EQ(Instance().state(), "waiting");
  EXPECT_TRUE(HasFact(Instance(), "provider", "NXX01"));
  EXPECT_EQ(Deadline("first_appointment").status(), v1::DEADLINE_STATUS_PENDING)
      << "commissioning does not stop the 13-week clock";
  Attended("f", "2025-03-17");
  Commission("c2", "2025-03-18", "NXX02");
  EXPECT_EQ(LastRejectionRule(), "transition.not_allowed");
}

TEST_F(Nd, CommissioningNeedsAProvider) {
  Accept("2025-02-17");
  Commission("c", "2025-03-03", "");
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "nd_assessment_commissioned.provider");
}

// ---- Outcomes, post-diagnostic support, discharge -------------------------------------------

TEST_F(Nd, DiagnosisLeadsToPostDiagnosticSupport) {
  // NICE CG128: post-diagnostic support is offered after a diagnosis.
  Accept("2025-02-17");
  Attended("f", "2025-03-17");
  RecordOutcome("o", "2025-05-19", v1::ND_OUTCOME_DIAGNOSED);
  EXPECT_EQ(Instance().state(), "diagnosed");
  EXPECT_TRUE(HasFact(Instance(), "outcome", "diagnosed"));
  PostDiagnostic("p", "2025-06-02");
  EXPECT_EQ(Instance().state(), "post_diagnostic_support");
  Support("s", "2025-06-03", "late offer");
  EXPECT_EQ(LastRejectionRule(), "transition.after_end");
}

TEST_F(Nd, NotDiagnosedClosesThePathway) {
  Accept("2025-02-17");
  Attended("f", "2025-03-17");
  RecordOutcome("o", "2025-05-19", v1::ND_OUTCOME_NOT_DIAGNOSED);
  EXPECT_EQ(Instance().state(), "closed");
  EXPECT_TRUE(HasFact(Instance(), "outcome", "not_diagnosed"));
  PostDiagnostic("p", "2025-06-02");
  EXPECT_EQ(LastRejectionRule(), "transition.after_end");
}

TEST_F(Nd, InconclusiveClosesThePathway) {
  Accept("2025-02-17");
  Attended("f", "2025-03-17");
  RecordOutcome("o", "2025-05-19", v1::ND_OUTCOME_INCONCLUSIVE);
  EXPECT_EQ(Instance().state(), "closed");
  EXPECT_TRUE(HasFact(Instance(), "outcome", "inconclusive"));
}

TEST_F(Nd, AnOutcomeWithNoFirstAppointmentRecordedImpliesTheAppointment) {
  // An outcome is reached in an assessment, which began with an attended appointment: the
  // appointment is implied on the outcome's date, meeting the 13-week clock (QS51) then.
  Accept("2025-02-17");
  EXPECT_EQ(Due("first_appointment"), "2025-05-19");
  RecordOutcome("o", "2025-05-12", v1::ND_OUTCOME_DIAGNOSED);
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "diagnosed");
  ASSERT_EQ(Instance().implied_steps_size(), 1);
  EXPECT_EQ(Instance().implied_steps(0), "first_appointment_attended");
  EXPECT_EQ(Instance().data_quality(0).missing(), "nd_first_appointment_attended");
  EXPECT_EQ(Deadline("first_appointment").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(MetOn("first_appointment"), "2025-05-12");
  AdvanceTo("2025-12-31");
  EXPECT_EQ(Deadline("first_appointment").status(), v1::DEADLINE_STATUS_MET) << "never breached";
}

TEST_F(Nd, SupportAfterADiagnosisNobodyReportedImpliesTheAppointmentAndTheDiagnosis) {
  Accept("2025-02-17");
  PostDiagnostic("p", "2025-04-01");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "post_diagnostic_support");
  std::vector<std::string> implied(Instance().implied_steps().begin(),
                                   Instance().implied_steps().end());
  EXPECT_EQ(implied, (std::vector<std::string>{"first_appointment_attended", "outcome_recorded"}));
  EXPECT_TRUE(HasFact(Instance(), "outcome", "diagnosed"));
  EXPECT_EQ(Deadline("first_appointment").status(), v1::DEADLINE_STATUS_MET);
}

TEST_F(Nd, AnOutcomeWithNoReferralAcceptedIsImpossible) {
  RecordOutcome("o", "2025-05-12", v1::ND_OUTCOME_DIAGNOSED);
  EXPECT_EQ(LastRejectionRule(), "pathway.unknown_reference");
  EXPECT_EQ(LastRejection().field(), "nd_outcome_recorded.referral_id");
}

TEST_F(Nd, OutcomeIsRequired) {
  Accept("2025-02-17");
  Attended("f", "2025-03-17");
  RecordOutcome("o1", "2025-05-19", v1::ND_OUTCOME_UNSPECIFIED);
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "nd_outcome_recorded.outcome");
  EXPECT_EQ(Instance().state(), "assessing");
}

TEST_F(Nd, AnOutcomeDatedBeforeTheReportedFirstAppointmentIsRefused) {
  // The outcome of 10 March arrives after the first appointment of 17 March. In
  // business-date order the outcome comes first, but an outcome follows the first
  // appointment, reported for the 17th: the dates conflict, the known date wins over an
  // implied one (decision 83), and the outcome is refused naming its date. The NICE
  // QS51 clock keeps the appointment's real date.
  Accept("2025-02-17");
  Attended("f", "2025-03-17");
  EXPECT_EQ(MetOn("first_appointment"), "2025-03-17");
  RecordOutcome("o2", "2025-03-10", v1::ND_OUTCOME_DIAGNOSED);
  ASSERT_NE(RefusalOf("o2"), nullptr);
  EXPECT_EQ(RefusalOf("o2")->rule(), "date.before_reported_step");
  EXPECT_EQ(RefusalOf("o2")->field(), "nd_outcome_recorded.decided_on");
  EXPECT_EQ(RefusalOf("f"), nullptr);
  EXPECT_EQ(MetOn("first_appointment"), "2025-03-17");
  EXPECT_EQ(Instance().implied_steps_size(), 0);
  EXPECT_TRUE(SameAsInDateOrder());
}

TEST_F(Nd, PostDiagnosticSupportDatedBeforeTheReportedDiagnosisIsRefused) {
  // Support of 12 May arrives after the diagnosis of 19 May. In business-date order the
  // support comes first, but it follows the diagnosis reported for the 19th: refused,
  // naming its date; the diagnosis stands with its own date.
  Accept("2025-02-17");
  Attended("f", "2025-03-17");
  RecordOutcome("o", "2025-05-19", v1::ND_OUTCOME_DIAGNOSED);
  PostDiagnostic("p1", "2025-05-12");
  ASSERT_NE(RefusalOf("p1"), nullptr);
  EXPECT_EQ(RefusalOf("p1")->rule(), "date.before_reported_step");
  EXPECT_EQ(RefusalOf("o"), nullptr);
  EXPECT_EQ(Instance().state(), "diagnosed");
  EXPECT_EQ(Fact("outcome_on"), "2025-05-19");
  EXPECT_TRUE(SameAsInDateOrder());
}

TEST_F(Nd, DischargeNeedsAReasonAndEndsEveryClock) {
  Accept("2025-02-17");
  Risk("r", "2025-03-03", v1::RISK_LEVEL_HIGH);
  Discharge("d0", "2025-03-10", "");
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "nd_discharged.reason");
  Discharge("d1", "2025-03-10", "moved out of area");
  EXPECT_EQ(Instance().state(), "discharged");
  EXPECT_TRUE(HasFact(Instance(), "discharge_reason", "moved out of area"));
  EXPECT_EQ(Deadline("first_appointment").status(), v1::DEADLINE_STATUS_CANCELLED);
  EXPECT_EQ(Deadline("waiting_contact").status(), v1::DEADLINE_STATUS_CANCELLED);
  AdvanceTo("2025-12-31");
  EXPECT_EQ(Deadline("first_appointment").status(), v1::DEADLINE_STATUS_CANCELLED);
  Contact("c", "2026-01-05");
  EXPECT_EQ(LastRejectionRule(), "transition.after_end");
}

TEST_F(Nd, DischargeFromAssessingAndFromDiagnosed) {
  Accept("2025-02-17");
  Attended("f", "2025-03-17");
  Discharge("d", "2025-04-01", "family withdrew consent");
  EXPECT_EQ(Instance().state(), "discharged");
  Accept("b", Acceptance("2025-04-01", "2025-04-02").Reference("RV5-ND-25-0043"));
  Run(Command("f2", "2025-05-12", [](v1::Envelope& e) {
    *e.mutable_nd_first_appointment_attended()->mutable_attended_on() = Day("2025-05-12");
    e.mutable_nd_first_appointment_attended()->set_referral_id("RV5-ND-25-0043");
  }));
  Run(Command("o2", "2025-06-16", [](v1::Envelope& e) {
    *e.mutable_nd_outcome_recorded()->mutable_decided_on() = Day("2025-06-16");
    e.mutable_nd_outcome_recorded()->set_referral_id("RV5-ND-25-0043");
    e.mutable_nd_outcome_recorded()->set_outcome(v1::ND_OUTCOME_DIAGNOSED);
  }));
  Run(Command("d2", "2025-06-30", [](v1::Envelope& e) {
    *e.mutable_nd_discharged()->mutable_discharged_on() = Day("2025-06-30");
    e.mutable_nd_discharged()->set_referral_id("RV5-ND-25-0043");
    e.mutable_nd_discharged()->set_reason("family declined post-diagnostic support");
  }));
  EXPECT_EQ(Instance("RV5-ND-25-0043").state(), "discharged");
  EXPECT_EQ(Rejections(), 0u);
}

TEST_F(Nd, GenericRulesApplyToThisPathway) {
  Accept("2025-02-17");
  Accept("dup", Acceptance("2025-02-17", "2025-02-18"));
  EXPECT_EQ(LastRejectionRule(), "pathway.duplicate");
  Run(Command("u", "2025-02-18", [](v1::Envelope& e) {
    *e.mutable_nd_waiting_contact_made()->mutable_contacted_on() = Day("2025-02-18");
    e.mutable_nd_waiting_contact_made()->set_referral_id("RV5-ND-UNKNOWN");
  }));
  EXPECT_EQ(LastRejectionRule(), "pathway.unknown_reference");
  // Dated before the referral was accepted: in business-date order there was no referral
  // with this reference yet.
  Run(Command("b", "2025-02-18", [](v1::Envelope& e) {
    e.mutable_nd_waiting_contact_made()->set_referral_id(kReferral);
    *e.mutable_nd_waiting_contact_made()->mutable_contacted_on() = Day("2025-02-10");
  }));
  EXPECT_EQ(LastRejectionRule(), "pathway.unknown_reference");
  EXPECT_EQ(LastRejection().field(), "nd_waiting_contact_made.referral_id");
  ASSERT_NE(CorrectionBy("b"), nullptr);
  EXPECT_EQ(Fact("contacted_on"), "") << "nothing of a refused command is kept";
  EXPECT_TRUE(SameAsInDateOrder());
}

// ---- A realistic history ---------------------------------------------------------------------

class NdHistory : public Nd {};

TEST_F(NdHistory, SevenYearOldDualAssessmentAtHighRiskThroughToPostDiagnosticSupport) {
  // A GP refers a 7-year-old on 13 Jan 2025; the trust accepts a dual ASD+ADHD
  // assessment on 20 Jan (first appointment due 14 Apr, QS51). High risk on 31 Jan:
  // contacts on 28 Feb and 27 Mar; the council's early help offers a parent workshop
  // while waiting; the assessment is commissioned from an external provider; first
  // appointment 8 Apr (in time, cancelling the next contact); a contact logged after the
  // assessment started is refused; diagnosed 16 Jun; post-diagnostic support 7 Jul.
  auto history = ReadHistory("neurodevelopmental.jsonl");
  ASSERT_EQ(history.size(), 11u);
  for (const auto& e : history) Run(e);
  AdvanceTo("2025-12-31");

  const auto& child = Child(pathway::testing::kOtherValidNhsNumber);
  const store::PathwayInstance* nd = nullptr;
  for (const auto& p : child.state.pathways()) {
    if (p.pathway() == v1::PATHWAY_KIND_NEURODEVELOPMENTAL) nd = &p;
  }
  ASSERT_NE(nd, nullptr);
  EXPECT_EQ(nd->reference(), "RV5-ND-25-0147");
  EXPECT_EQ(nd->state(), "post_diagnostic_support");
  EXPECT_TRUE(HasFact(*nd, "assessment", "dual"));
  EXPECT_TRUE(HasFact(*nd, "route", "standard"));
  EXPECT_TRUE(HasFact(*nd, "referred_on", "2025-01-13"));
  EXPECT_TRUE(HasFact(*nd, "age_band_at_referral", "5_and_over"))
      << "from the date of birth on the GP referral: told once";
  EXPECT_TRUE(HasFact(*nd, "support_offered", "parent workshop: sleep and routines"));
  EXPECT_TRUE(HasFact(*nd, "provider", "NXX01"));
  EXPECT_TRUE(HasFact(*nd, "outcome", "diagnosed"));
  for (const auto& f : nd->facts()) {
    EXPECT_EQ(f.value().find("2017"), std::string::npos) << f.key() << ": no date of birth";
    EXPECT_EQ(f.value().find("09-12"), std::string::npos) << f.key() << ": no birthday";
  }

  struct Expected {
    const char* name;
    const char* due;
    v1::DeadlineStatus status;
    const char* met_on;
    bool warned;
  };
  const Expected expected[] = {
      {"first_appointment", "2025-04-14", v1::DEADLINE_STATUS_MET, "2025-04-08", true},
      {"waiting_contact", "2025-02-28", v1::DEADLINE_STATUS_MET, "2025-02-28", true},
      {"waiting_contact", "2025-03-28", v1::DEADLINE_STATUS_MET, "2025-03-27", true},
      {"waiting_contact", "2025-04-27", v1::DEADLINE_STATUS_CANCELLED, "", false},
  };
  ASSERT_EQ(nd->deadlines_size(), 4);
  for (int i = 0; i < 4; ++i) {
    const auto& d = nd->deadlines(i);
    const auto& x = expected[i];
    EXPECT_EQ(d.name(), x.name) << i;
    EXPECT_EQ(FormatDate(*ToCivil(d.due())), x.due) << i;
    EXPECT_EQ(d.status(), x.status) << i;
    auto met = ToCivil(d.met_on());
    EXPECT_EQ(met ? FormatDate(*met) : "", x.met_on) << i;
    EXPECT_EQ(d.warned(), x.warned) << i;
  }

  ASSERT_EQ(child.rejections.size(), 1u);
  EXPECT_EQ(child.rejections[0].command_rejected().rule(), "transition.not_allowed");
  EXPECT_EQ(child.rejections[0].command_rejected().rejected_event_id(), "nd-09");
  int warnings = 0, breaches = 0;
  for (const auto& e : child.events) {
    warnings += e.has_deadline_warning();
    breaches += e.has_deadline_breached();
  }
  // Contacts warned on 14 Feb and 14 Mar, the first appointment on 31 Mar.
  EXPECT_EQ(warnings, 3);
  EXPECT_EQ(breaches, 0);
}

}  // namespace
}  // namespace pathway::workflow
