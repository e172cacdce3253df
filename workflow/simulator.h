// The simulator: the engine's decisions without Kafka or RocksDB. It feeds inbound
// Envelopes through the same Intake and case steps (workflow/case_step.h) as the engine,
// in order, with event time as "now", and fires deadline timers as the calendar
// passes. `pathwayctl simulate` and the tests use it; the engine must agree with it.
//
// Not thread-safe. Deterministic: the same inputs give the same outputs.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_source.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/calendar.h"
#include "workflow/case_step.h"
#include "workflow/timers.h"
#include "workflow/workflow.h"

namespace pathway::workflow {

class Simulator {
 public:
  // Maps an NHS number to its subject key (the engine's keyed hash).
  using Keyer = std::function<std::string(std::string_view nhs_number)>;

  explicit Simulator(Keyer keyer, int warning_lead_days = kDefaultWarningLeadDays,
                     DecideOptions options = {});
  // The settings the engine runs with (workflow/case_step.h).
  Simulator(Keyer keyer, StepSettings settings);

  // Fires the timers due on or before the London date of `now`, then decides
  // `inbound` at `now`, and any command that decision sends on (a released hold, an
  // identity link) at once. A repeated command (same identity and content,
  // workflow/event_identity.h) is ignored and a reused identity with other content is
  // rejected, as the engine does.
  void Process(pathway::v1::Envelope inbound, TimePoint now);

  // Fires every timer due on or before `as_of`.
  void AdvanceTo(CivilDate as_of);

  struct Subject {
    pathway::store::v1::CaseState state;
    std::vector<pathway::v1::Envelope> events;      // recorded events, in order
    std::vector<pathway::v1::Envelope> rejections;  // CommandRejected envelopes
    // What the engine would send on pathway.events.v1 and pathway.rejections.v1, in
    // order (personal fields not sealed).
    std::vector<pathway::v1::Envelope> outputs;
  };
  const std::map<std::string, Subject>& subjects() const { return subjects_; }
  // Rejections of commands that name no valid child (no subject to file them under);
  // a command rejected at intake that names a valid child is filed under the child.
  const std::vector<pathway::v1::Envelope>& unrouted_rejections() const { return unrouted_; }

 private:
  struct TimerOrder {
    bool operator()(const pathway::store::v1::Timer& a, const pathway::store::v1::Timer& b) const {
      return TimerBefore(a, b);
    }
  };
  // Carries out `step` on `key`'s case; commands it sends on are appended to `sent`.
  void Record(const std::string& key, CaseStep step, std::vector<pathway::v1::Envelope>& sent);
  // Decides routed commands, and those they send on, in order (bounded).
  void Run(std::vector<pathway::v1::Envelope> commands, TimePoint now);

  Keyer keyer_;
  StepSettings settings_;
  std::map<std::string, Subject> subjects_;
  std::vector<pathway::v1::Envelope> unrouted_;
  std::set<pathway::store::v1::Timer, TimerOrder> timers_;
  std::map<std::string, std::string> seen_;  // CommandIdentity -> ContentDigest
};

}  // namespace pathway::workflow
