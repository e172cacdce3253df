#include "workflow/redrive.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "workflow/clock.h"
#include "workflow/pathway.h"
#include "workflow/rebuild.h"

namespace pathway::workflow {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

std::optional<RedriveFilter::Fault> RedriveFilter::SetWindow(std::string source,
                                                             std::string_view from_text,
                                                             std::string_view to_text) {
  if ((!from_text.empty() || !to_text.empty()) && source.empty()) {
    return Fault::kDatesWithoutSource;
  }
  source_system = std::move(source);
  from.reset();
  to.reset();
  if (!from_text.empty()) {
    from = ParseDate(from_text);
    if (!from) return Fault::kFrom;
  }
  if (!to_text.empty()) {
    to = ParseDate(to_text);
    if (!to) return Fault::kTo;
  }
  if (from && to && std::chrono::sys_days{*to} < std::chrono::sys_days{*from}) {
    return Fault::kToBeforeFrom;
  }
  return std::nullopt;
}

std::string RedriveFilter::Describe() const {
  if (source_system.empty()) return "";
  std::string text = "without ";
  text += source_system;
  text += " from ";
  text += from ? FormatDate(*from) : "the start";
  text += " to ";
  text += to ? FormatDate(*to) : "now";
  return text;
}

bool RedriveFilter::Excludes(const v1::Envelope& recorded, const v1::Envelope& command) const {
  if (source_system.empty() || command.source().system() != source_system) return false;
  // The engine's own time of recording: when the partner's message arrived.
  const TimePoint at{std::chrono::seconds(recorded.recorded_at().seconds()) +
                     std::chrono::microseconds(recorded.recorded_at().nanos() / 1000)};
  const auto day = std::chrono::sys_days{LondonDate(at)};
  if (from && day < std::chrono::sys_days{*from}) return false;
  if (to && day > std::chrono::sys_days{*to}) return false;
  return true;
}

RedrivePlan PlanRedrive(const std::string& subject_key, const store::CaseState& stored,
                        const std::vector<v1::Envelope>& history, const RedriveFilter& filter,
                        TimePoint now, const StepSettings& settings) {
  RedrivePlan plan;
  if (stored.erased()) {
    plan.erased = true;
    plan.after = stored;
    return plan;
  }
  // Commands an earlier re-drive withdrew are gone already (CommandsOf's rule).
  std::vector<const v1::CommandsWithdrawn*> markers;
  for (const auto& e : history) {
    if (e.has_commands_withdrawn()) markers.push_back(&e.commands_withdrawn());
  }
  // The pathway and reference of the instance named, whose commands alone may go.
  const store::PathwayInstance* instance = nullptr;
  for (const auto& p : stored.pathways()) {
    if (!filter.instance_id.empty() && p.instance_id() == filter.instance_id) instance = &p;
  }
  auto of_scope = [&](const v1::Envelope& command) {
    if (filter.instance_id.empty()) return true;
    const CommandRoute* route = instance ? FindCommandRoute(command) : nullptr;
    return route && route->kind == instance->pathway() &&
           CommandReference(*route, command) == instance->reference();
  };
  std::vector<v1::Envelope> log;
  for (const auto& e : history) {
    if (e.has_history_trimmed()) {
      // Retention removed what came before: re-decided from the case it carries.
      log.clear();
      plan.excluded.clear();
      log.push_back(e);
      continue;
    }
    if (!e.has_command_recorded()) continue;
    v1::Envelope c;
    if (!c.ParseFromString(e.command_recorded().command())) continue;
    if (std::any_of(markers.begin(), markers.end(),
                    [&](const v1::CommandsWithdrawn* m) { return Withdraws(*m, c); })) {
      continue;
    }
    if (filter.Excludes(e, c) && of_scope(c)) {
      plan.excluded.push_back(c.event_id());
      continue;
    }
    log.push_back(std::move(c));
  }
  const store::CaseState before = FiredThrough(subject_key, stored, now, settings);
  plan.after = RedecideFromLog(subject_key, stored, log, now, settings);
  if (CanonicalCase(before) != CanonicalCase(plan.after)) {
    plan.changes = true;
    DiffCases(before, plan.after, plan.diff);
    plan.fields = FieldDifferences(before, plan.after);
  }
  return plan;
}

MigratePlan PlanMigrate(const std::string& subject_key, const store::CaseState& stored,
                        const std::vector<v1::Envelope>& history, const MigrationRequest& request,
                        TimePoint now, const StepSettings& settings) {
  MigratePlan plan;
  if (stored.erased()) {
    plan.erased = true;
    plan.after = stored;
    return plan;
  }
  Migration m = PlanMigration(subject_key, stored, CommandsOf(history), request, now, settings);
  plan.instances = std::move(m.instances);
  plan.moved = m.moved.size();
  plan.changes = m.changes;
  if (m.changes) {
    DiffCases(m.before, m.after, plan.diff);
    plan.fields = FieldDifferences(m.before, m.after);
  }
  plan.after = std::move(m.after);
  return plan;
}

}  // namespace pathway::workflow
