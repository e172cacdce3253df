// The base gtest fixture of the pathway tests: one child's commands run through the
// Simulator on event time, and accessors for what it recorded.
//
//   sim, Run(e)           a Simulator keyed by SubjectKey; Run decides `e` at its occurred_at
//   AdvanceTo(date)       fires the timers due on or before `date` ("YYYY-MM-DD")
//   Child(nhs)            the subject of `nhs` (the valid test child by default); throws if none
//   Find(), Instance()    the instance of the pathway under test; Find gives null, Instance
//                         throws `missing` (followed by the reference, if one is sought)
//   Deadline(name), Due(name), MetOn(name), Fact(key)   of that instance; Deadline throws
//                         "no deadline <name>"
//   LastRejection(), LastRejectionRule(), Rejections()  of the child, counting the
//                         commands Run that intake rejected (workflow/input_limits.h)
//   RefusalOf(id)         the child's case's refusal of command `id` as re-decided (a
//                         refusal can be made, or withdrawn, by a later-arriving command)
//   CorrectionBy(id)      the CaseCorrected command `id` caused, or null
//   SameAsInDateOrder()   the child's pathways equal those the commands Run give when
//                         they arrive in business-date order (issue 12: arrival order
//                         never matters)
//
// A derived fixture names its pathway, the error for a missing instance and, for pathways
// a child may have more than one of, the reference Instance() means when given none.
// Targets that include this define PATHWAY_HISTORIES (see histories.h).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "tests/common/fixtures.h"
#include "tests/common/histories.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/pathway.h"
#include "workflow/simulator.h"

namespace pathway::testing {

// The subject key the pathway tests use in place of the engine's keyed hash.
inline std::string SubjectKey(std::string_view nhs) { return "subject-" + std::string(nhs); }

class PathwayFixture : public ::testing::Test {
 protected:
  using Reference = std::optional<std::string>;  // unset: any instance of the kind

  PathwayFixture(pathway::v1::PathwayKind kind, std::string missing, Reference reference = {})
      : kind_(kind), missing_(std::move(missing)), reference_(std::move(reference)) {}

  workflow::Simulator sim{SubjectKey};

  void Run(const pathway::v1::Envelope& e) {
    const std::size_t unrouted = sim.unrouted_rejections().size();
    arrived_.push_back(e);
    Reach(workflow::LondonDate(OccurredAt(e)));
    sim.Process(e, OccurredAt(e));
    if (sim.unrouted_rejections().size() > unrouted) {
      last_intake_rejection_ = sim.unrouted_rejections().back().command_rejected();
      ++intake_rejections_;
      child_rejections_then_ = ChildRejections();
    }
  }
  void AdvanceTo(const std::string& date) {
    Reach(*workflow::ParseDate(date));
    sim.AdvanceTo(*workflow::ParseDate(date));
  }

  const workflow::Simulator::Subject& Child(std::string_view nhs = kValidNhsNumber) const {
    return sim.subjects().at(SubjectKey(nhs));
  }

  // The first instance of the pathway under test with `reference`; null if none.
  const pathway::store::v1::PathwayInstance* Find(const Reference& reference) const {
    auto it = sim.subjects().find(SubjectKey(kValidNhsNumber));
    if (it == sim.subjects().end()) return nullptr;
    for (const auto& p : it->second.state.pathways()) {
      if (p.pathway() == kind_ && (!reference || p.reference() == *reference)) return &p;
    }
    return nullptr;
  }
  const pathway::store::v1::PathwayInstance* Find() const { return Find(reference_); }
  const pathway::store::v1::PathwayInstance& Instance(const Reference& reference) const {
    if (const auto* p = Find(reference)) return *p;
    throw std::runtime_error(reference ? missing_ + " " + *reference : missing_);
  }
  const pathway::store::v1::PathwayInstance& Instance() const { return Instance(reference_); }

  // The latest deadline with `name` (a re-set name supersedes the earlier one).
  const pathway::store::v1::Deadline& Deadline(const std::string& name,
                                               const Reference& reference) const {
    const pathway::store::v1::Deadline* d = workflow::FindDeadline(Instance(reference), name);
    if (!d) throw std::runtime_error("no deadline " + name);
    return *d;
  }
  const pathway::store::v1::Deadline& Deadline(const std::string& name) const {
    return Deadline(name, reference_);
  }
  // "YYYY-MM-DD", or "" for a date that is not set.
  static std::string Date(const pathway::v1::Date& d) {
    auto c = workflow::ToCivil(d);
    return c ? workflow::FormatDate(*c) : "";
  }
  std::string Due(const std::string& name, const Reference& reference) const {
    return Date(Deadline(name, reference).due());
  }
  std::string Due(const std::string& name) const { return Due(name, reference_); }
  std::string MetOn(const std::string& name) const { return Date(Deadline(name).met_on()); }
  std::string Fact(const std::string& key) const { return workflow::FactValue(Instance(), key); }

  // The latest rejection: by the child's case, or of a command Run that intake rejected
  // (so never reached the case) if the case has rejected nothing since.
  const pathway::v1::CommandRejected& LastRejection() const {
    if (last_intake_rejection_ && ChildRejections() == child_rejections_then_) {
      return *last_intake_rejection_;
    }
    if (ChildRejections() == 0) throw std::runtime_error("no rejection");
    return Child().rejections.back().command_rejected();
  }
  std::string LastRejectionRule() const { return Rejections() == 0 ? "" : LastRejection().rule(); }
  std::size_t Rejections() const { return ChildRejections() + intake_rejections_; }

  // The case's refusal of the command with `event_id` as the case now stands (after any
  // re-decision), or null if the case accepts it (or never saw it).
  const pathway::store::v1::RejectedCommand* RefusalOf(const std::string& event_id) const {
    for (const auto& r : Child().state.rejected()) {
      if (r.event_id() == event_id) return &r;
    }
    return nullptr;
  }

  // The correction the command with `event_id` caused when it arrived dated before what
  // the case had decided (published on pathway.events.v1), or null.
  const pathway::v1::CaseCorrected* CorrectionBy(const std::string& event_id) const {
    for (const auto& o : Child().outputs) {
      if (o.has_case_corrected() && o.case_corrected().caused_by() == event_id) {
        return &o.case_corrected();
      }
    }
    return nullptr;
  }

  // The business date of a command as a partner dates it: its step's date field, else
  // the London date of its occurred_at.
  static workflow::CivilDate BusinessDate(const pathway::v1::Envelope& e) {
    if (const auto* route = workflow::FindCommandRoute(e)) {
      if (const auto* d = workflow::CommandDate(*route, e)) {
        if (auto c = workflow::ToCivil(*d)) return *c;
      }
    }
    return workflow::LondonDate(OccurredAt(e));
  }

  // Every command Run so far, re-sent in business-date order (stable: one day's commands
  // keep their arrival order) to a fresh simulator, each decided on its business date,
  // then advanced to the day `sim` has reached: the case as it would be had nothing
  // arrived late.
  workflow::Simulator InDateOrder() const {
    workflow::Simulator ordered{SubjectKey};
    std::vector<pathway::v1::Envelope> commands = arrived_;
    std::stable_sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) {
      return std::chrono::sys_days{BusinessDate(a)} < std::chrono::sys_days{BusinessDate(b)};
    });
    for (const auto& c : commands) {
      const auto day = BusinessDate(c);
      ordered.Process(c, std::chrono::time_point_cast<std::chrono::microseconds>(
                             std::chrono::sys_days{day} + std::chrono::hours(10)));
    }
    if (reached_) ordered.AdvanceTo(*reached_);
    return ordered;
  }

  // The child's pathways (states, deadlines with due, status and met_on, facts and every
  // step recorded) are exactly those of InDateOrder.
  ::testing::AssertionResult SameAsInDateOrder() const {
    const workflow::Simulator ordered = InDateOrder();
    const auto& subjects = ordered.subjects();
    auto it = subjects.find(SubjectKey(kValidNhsNumber));
    if (it == subjects.end()) return ::testing::AssertionFailure() << "no child in date order";
    const auto& got = Child().state.pathways();
    const auto& want = it->second.state.pathways();
    std::string got_text, want_text;
    for (const auto& p : got) got_text += p.DebugString() + "--\n";
    for (const auto& p : want) want_text += p.DebugString() + "--\n";
    if (got_text == want_text) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "as arrived:\n"
                                         << got_text << "in business-date order:\n"
                                         << want_text;
  }

 private:
  // 0 when the child has no subject yet.
  std::size_t ChildRejections() const {
    auto it = sim.subjects().find(SubjectKey(kValidNhsNumber));
    return it == sim.subjects().end() ? 0 : it->second.rejections.size();
  }

  void Reach(workflow::CivilDate day) {
    if (!reached_ || std::chrono::sys_days{day} > std::chrono::sys_days{*reached_}) {
      reached_ = day;
    }
  }

  std::vector<pathway::v1::Envelope> arrived_;  // every command Run, in arrival order
  std::optional<workflow::CivilDate> reached_;  // the latest day `sim` has reached
  std::optional<pathway::v1::CommandRejected> last_intake_rejection_;
  std::size_t intake_rejections_ = 0;
  std::size_t child_rejections_then_ = 0;
  pathway::v1::PathwayKind kind_;
  std::string missing_;
  Reference reference_;
};

}  // namespace pathway::testing
