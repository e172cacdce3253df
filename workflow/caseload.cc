#include "workflow/caseload.h"

#include <chrono>
#include <set>

#include "workflow/pathway.h"

namespace pathway::workflow {
namespace {

namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

constexpr char ListByte(v1::CaseloadList list) {
  return list == v1::CASELOAD_LIST_CASELOAD ? 'c' : list == v1::CASELOAD_LIST_WAITING ? 'w' : 0;
}
constexpr char SortByte(v1::CaseloadSort sort) {
  return sort == v1::CASELOAD_SORT_NEXT_DEADLINE ? 'd' : sort == v1::CASELOAD_SORT_WAITED ? 'a' : 0;
}

bool ValidCode(std::string_view code) {
  return code.size() <= kMaxServiceCode && code.find('\0') == std::string_view::npos;
}

void AppendU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

// Days since 1970-01-01, biased so that bytewise order is date order; an unset or
// impossible date sorts last.
uint32_t DayKey(const v1::Date& d) {
  auto civil = ToCivil(d);
  if (!civil) return ~uint32_t{0};
  const auto days = std::chrono::sys_days{*civil}.time_since_epoch().count();
  return static_cast<uint32_t>(days) + 0x80000000u;
}

// The earliest deadline still to be met: pending, or breached and not met yet (overdue,
// so it sorts first); the first recorded among equal dates.
const store::Deadline* NextDeadline(const store::PathwayInstance& instance) {
  const store::Deadline* next = nullptr;
  for (const auto& d : instance.deadlines()) {
    const bool open = d.status() == v1::DEADLINE_STATUS_PENDING ||
                      (d.status() == v1::DEADLINE_STATUS_BREACHED && !d.has_met_on());
    if (!open) continue;
    if (!next || DayKey(d.due()) < DayKey(next->due())) next = &d;
  }
  return next;
}

}  // namespace

std::optional<std::string> CaseloadPrefix(const CaseloadScope& scope) {
  const char list = ListByte(scope.list);
  const char sort = SortByte(scope.sort);
  const auto kind = static_cast<uint32_t>(scope.pathway);
  if (!list || !sort || kind == 0 || kind > 0xff || scope.agency.empty() ||
      !ValidCode(scope.agency) || !ValidCode(scope.team)) {
    return std::nullopt;
  }
  std::string prefix(1, list);
  prefix += scope.agency;
  prefix.push_back('\0');
  prefix += scope.team;
  prefix.push_back('\0');
  prefix.push_back(static_cast<char>(kind));
  prefix.push_back(sort);
  return prefix;
}

std::vector<std::pair<std::string, std::string>> CaseloadIndex(std::string_view child_id,
                                                               const store::CaseState& state) {
  std::vector<std::pair<std::string, std::string>> out;
  if (state.erased() || state.alias_kind() != v1::IDENTIFIER_KIND_UNSPECIFIED) return out;
  for (const auto& instance : state.pathways()) {
    const Definition* def = FindDefinition(instance.pathway(), instance.version());
    if (!def || def->IsTerminal(instance.state()) || instance.services().empty()) continue;
    v1::CaseloadEntry entry;
    entry.set_child_id(std::string(child_id));
    entry.set_instance_id(instance.instance_id());
    entry.set_pathway(instance.pathway());
    entry.set_state(instance.state());
    entry.set_reference(instance.reference());
    if (instance.has_started_on()) *entry.mutable_started_on() = instance.started_on();
    const store::Deadline* next = NextDeadline(instance);
    if (next) {
      v1::DeadlineView* d = entry.mutable_next_deadline();
      d->set_name(next->name());
      *d->mutable_due() = next->due();
      d->set_status(next->status());
      d->set_rule(next->rule());
      *d->mutable_set_on() = next->set_on();
    }
    uint32_t breaches = 0;
    for (const auto& d : instance.deadlines()) {
      breaches += d.status() == v1::DEADLINE_STATUS_BREACHED ? 1 : 0;
    }
    entry.set_breaches(breaches);
    entry.set_risk(FactValue(instance, "risk"));
    entry.set_waiting(def->IsWaiting(instance.state()));
    const std::string value = entry.SerializeAsString();

    // The whole service's list, and its team's when a step named one.
    std::set<std::pair<std::string, std::string>> services;
    for (const auto& service : instance.services()) {
      services.emplace(service.agency(), "");
      if (!service.team().empty()) services.emplace(service.agency(), service.team());
    }
    for (const auto& [agency, team] : services) {
      CaseloadScope scope;
      scope.agency = agency;
      scope.team = team;
      scope.pathway = instance.pathway();
      for (auto list : {v1::CASELOAD_LIST_CASELOAD, v1::CASELOAD_LIST_WAITING}) {
        if (list == v1::CASELOAD_LIST_WAITING && !entry.waiting()) continue;
        for (auto sort : {v1::CASELOAD_SORT_NEXT_DEADLINE, v1::CASELOAD_SORT_WAITED}) {
          scope.list = list;
          scope.sort = sort;
          auto key = CaseloadPrefix(scope);
          if (!key) continue;
          *key += CaseloadPlace(entry, sort);
          out.emplace_back(std::move(*key), value);
        }
      }
    }
  }
  return out;
}

std::string CaseloadPlace(const v1::CaseloadEntry& entry, v1::CaseloadSort sort) {
  std::string place;
  AppendU32(place, sort == v1::CASELOAD_SORT_WAITED ? DayKey(entry.started_on())
                   : entry.has_next_deadline()      ? DayKey(entry.next_deadline().due())
                                                    : ~uint32_t{0});
  place += entry.child_id();
  place += entry.instance_id();
  return place;
}

void CompleteEntry(v1::CaseloadEntry& entry, CivilDate today) {
  auto started = ToCivil(entry.started_on());
  if (!started) return;
  const auto days = (std::chrono::sys_days{today} - std::chrono::sys_days{*started}).count();
  entry.set_weeks_waited(days > 0 ? static_cast<uint32_t>(days / 7) : 0);
}

}  // namespace pathway::workflow
