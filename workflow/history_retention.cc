#include "workflow/history_retention.h"

#include <chrono>

#include "common/crypto.h"
#include "workflow/pathway.h"

namespace pathway::workflow {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

std::optional<CivilDate> ClosedOn(const store::CaseState& state) {
  if (state.erased() || state.alias_kind() != v1::IDENTIFIER_KIND_UNSPECIFIED ||
      state.pathways().empty() || !state.held().empty()) {
    return std::nullopt;
  }
  // A fact still awaited keeps the case open, unless the pathway that asked for it has
  // ended (below: every one has, if the case is closed): nobody waits for it then.
  auto of_an_instance = [&](const std::string& instance_id) {
    for (const auto& p : state.pathways()) {
      if (p.instance_id() == instance_id) return true;
    }
    return false;
  };
  for (const auto& need : state.open_needs()) {
    if (!of_an_instance(need.instance_id())) return std::nullopt;
  }
  for (const auto& request : state.information_requests()) {
    if (!of_an_instance(request.instance_id())) return std::nullopt;
  }
  std::optional<CivilDate> closed;
  for (const auto& instance : state.pathways()) {
    const Definition* definition = FindDefinition(instance.pathway(), instance.version());
    // A definition this binary does not know: not known to be closed.
    if (!definition || !definition->IsTerminal(instance.state())) return std::nullopt;
    for (const auto& d : instance.deadlines()) {
      if (d.status() == v1::DEADLINE_STATUS_PENDING) return std::nullopt;
    }
    for (const auto& step : instance.steps()) {
      const auto on = ToCivil(step.on());
      if (on && (!closed || std::chrono::sys_days{*on} > std::chrono::sys_days{*closed})) {
        closed = on;
      }
    }
  }
  return closed;
}

std::optional<v1::Envelope> TrimHistory(const std::string& subject_key,
                                        const store::CaseState& state,
                                        const std::vector<v1::Envelope>& history, CivilDate today,
                                        int days, TimePoint now) {
  if (days <= 0 || history.empty()) return std::nullopt;
  // Nothing before a trim entry of its own to remove.
  if (history.size() == 1 && history.front().has_history_trimmed()) return std::nullopt;
  const auto closed = ClosedOn(state);
  if (!closed) return std::nullopt;
  const auto latest = std::chrono::sys_days{today} - std::chrono::days{days};
  if (std::chrono::sys_days{*closed} > latest) return std::nullopt;
  // A message processed lately (a late correction, an audit) keeps the window open,
  // whatever its business date.
  const auto& last = history.back().recorded_at();
  const TimePoint recorded{std::chrono::seconds(last.seconds())};
  if (std::chrono::sys_days{LondonDate(recorded)} > latest) return std::nullopt;

  v1::Envelope e;
  e.set_subject_key(subject_key);
  std::string cause = "trimmed|";
  cause += subject_key;
  cause += '|';
  cause += std::to_string(state.history_length());
  e.set_event_id(DerivedEventId(cause, 0));
  const auto since_epoch = now.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  e.mutable_recorded_at()->set_seconds(seconds.count());
  e.mutable_recorded_at()->set_nanos(static_cast<int32_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds).count()));
  e.mutable_source()->set_agency("pathway");
  e.mutable_source()->set_system("pathway-engine");
  v1::HistoryTrimmed* trimmed = e.mutable_history_trimmed();
  trimmed->set_state(state.SerializeAsString());
  trimmed->set_entries_removed(history.size());
  *trimmed->mutable_closed_on() = ToProto(*closed);
  trimmed->set_through_order(state.decided_through());
  trimmed->set_sequence(state.history_length());
  return e;
}

}  // namespace pathway::workflow
