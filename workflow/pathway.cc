#include "workflow/pathway.h"

#include <algorithm>
#include <array>

#include "workflow/pathways/definitions.h"
#include "workflow/shared_record.h"

namespace pathway::workflow {
namespace store = pathway::store::v1;

const Transition* Definition::Find(std::string_view step) const {
  for (const auto& t : transitions) {
    if (t.step == step) return &t;
  }
  return nullptr;
}

std::span<const Need> Definition::NeedsOf(std::string_view step) const {
  for (const auto& n : needs) {
    if (n.step == step) return n.needs;
  }
  return {};
}

bool Definition::IsTerminal(std::string_view state) const {
  for (auto t : terminal) {
    if (t == state) return true;
  }
  return false;
}

std::span<const Definition* const> AllDefinitions() {
  static const std::array<const Definition*, 7> all = {
      &pathways::ReferralIntakeV1(),        &pathways::EhcNeedsAssessmentV1(),
      &pathways::AnnualReviewV1(),          &pathways::NeurodevelopmentalV1(),
      &pathways::PreparingForAdulthoodV1(), &pathways::ExceptionalNeedsGrantV1(),
      &pathways::DisagreementV1()};
  return all;
}

const Definition* FindDefinition(pathway::v1::PathwayKind kind, uint32_t version) {
  for (const Definition* d : AllDefinitions()) {
    if (d->kind == kind && d->version == version) return d;
  }
  return nullptr;
}

const Definition* LatestDefinition(pathway::v1::PathwayKind kind) {
  const Definition* latest = nullptr;
  for (const Definition* d : AllDefinitions()) {
    if (d->kind == kind && (!latest || d->version > latest->version)) latest = d;
  }
  return latest;
}

const Definition* FindDefinitionByName(std::string_view name) {
  const Definition* latest = nullptr;
  for (const Definition* d : AllDefinitions()) {
    if (d->name == name && (!latest || d->version > latest->version)) latest = d;
  }
  return latest;
}

std::string DescribeMermaid(const Definition& d) {
  std::string out = "---\ntitle: " + std::string(d.title) + " (" + std::string(d.name) + " v" +
                    std::to_string(d.version) + ")\n---\nstateDiagram-v2\n";
  for (const auto& t : d.transitions) {
    if (t.to.empty()) {  // the step keeps the state: a self-loop on each source state
      for (auto from : t.from) {
        out += "    " + std::string(from) + " --> " + std::string(from) + " : " +
               std::string(t.label) + "\n";
      }
      continue;
    }
    for (auto to : t.to) {
      if (t.from.empty()) {
        out += "    [*] --> " + std::string(to) + " : " + std::string(t.label) + "\n";
        continue;
      }
      for (auto from : t.from) {
        out += "    " + std::string(from) + " --> " + std::string(to) + " : " +
               std::string(t.label) + "\n";
      }
    }
  }
  for (auto state : d.terminal) out += "    " + std::string(state) + " --> [*]\n";
  return out;
}

namespace {
std::string Words(std::string snake) {
  std::replace(snake.begin(), snake.end(), '_', ' ');
  return snake;
}
}  // namespace

std::string DescribeNeeds(const Definition& d) {
  if (d.needs.empty()) return "No step needs facts from the family or another agency.\n";
  std::string out =
      "| step | fact | asked of (if the record cannot give it) | an answer serves for |\n"
      "|---|---|---|---|\n";
  for (const auto& step : d.needs) {
    for (const Need& n : step.needs) {
      out += "| `" + std::string(step.step) + "` | `" + FactTypeName(n.fact) + "` | the " +
             Words(RespondentName(n.asked)) + " | " + std::to_string(ValidityDays(n.fact)) +
             " days |\n";
    }
  }
  return out;
}

std::string FactValue(const store::PathwayInstance& instance, std::string_view key) {
  std::string value;
  for (const auto& f : instance.facts()) {
    if (f.key() == key) value = f.value();  // the latest wins
  }
  return value;
}

bool HasFact(const store::PathwayInstance& instance, std::string_view key, std::string_view value) {
  for (const auto& f : instance.facts()) {
    if (f.key() == key && f.value() == value) return true;
  }
  return false;
}

const store::Deadline* FindDeadline(const store::PathwayInstance& instance, std::string_view name) {
  const store::Deadline* found = nullptr;
  for (const auto& d : instance.deadlines()) {
    if (d.name() == name) found = &d;  // a re-set deadline supersedes an earlier one
  }
  return found;
}

pathway::v1::Fact MakeFact(std::string key, std::string value) {
  pathway::v1::Fact f;
  f.set_key(std::move(key));
  f.set_value(std::move(value));
  return f;
}

}  // namespace pathway::workflow
