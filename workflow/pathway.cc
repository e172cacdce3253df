#include "workflow/pathway.h"

#include <algorithm>
#include <array>
#include <charconv>

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
  return std::find(terminal.begin(), terminal.end(), state) != terminal.end();
}

bool Definition::IsWaiting(std::string_view state) const {
  return std::find(waiting.begin(), waiting.end(), state) != waiting.end();
}

std::span<const Definition* const> AllDefinitions() {
  static const std::array<const Definition*, 8> all = {
      &pathways::ReferralIntakeV1(),        &pathways::EhcNeedsAssessmentV1(),
      &pathways::AnnualReviewV1(),          &pathways::NeurodevelopmentalV1(),
      &pathways::NeurodevelopmentalV2(),    &pathways::PreparingForAdulthoodV1(),
      &pathways::ExceptionalNeedsGrantV1(), &pathways::DisagreementV1()};
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

std::optional<std::string> AddStartVersion(std::string_view spec,
                                           std::map<pathway::v1::PathwayKind, uint32_t>& versions) {
  const size_t eq = spec.find('=');
  if (eq == std::string_view::npos) return "expected PATHWAY=VERSION, e.g. neurodevelopmental=1";
  const Definition* named = FindDefinitionByName(spec.substr(0, eq));
  if (!named) return "no pathway is named '" + std::string(spec.substr(0, eq)) + "'";
  const std::string_view text = spec.substr(eq + 1);
  uint32_t version = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !FindDefinition(named->kind, version)) {
    std::string known;
    for (const Definition* d : AllDefinitions()) {
      if (d->kind != named->kind) continue;
      if (!known.empty()) known += ", ";
      known += std::to_string(d->version);
    }
    std::string message = "pathway ";
    message += named->name;
    message += " has no version '";
    message += text;
    message += "' (it has ";
    message += known;
    message += ")";
    return message;
  }
  if (!versions.emplace(named->kind, version).second) {
    std::string message = "pathway ";
    message += named->name;
    message += " is given a start version twice";
    return message;
  }
  return std::nullopt;
}

namespace {
// The routes of every definition's commands, resolved against the descriptors once.
// A transition whose names do not resolve, or whose payload another (pathway, step)
// already claimed, is left out: the command mapping test names it.
std::vector<CommandRoute> BuildCommandRoutes() {
  const google::protobuf::Descriptor* envelope = pathway::v1::Envelope::descriptor();
  std::vector<CommandRoute> routes;
  for (const Definition* d : AllDefinitions()) {
    for (const auto& t : d->transitions) {
      CommandRoute r{d->kind, t.step, 0, t.command.payload, t.command.reference, t.command.date};
      r.payload_descriptor = envelope->FindFieldByName(std::string(t.command.payload));
      if (!r.payload_descriptor || !r.payload_descriptor->message_type()) continue;
      const google::protobuf::Descriptor* payload = r.payload_descriptor->message_type();
      r.reference_descriptor = payload->FindFieldByName(std::string(t.command.reference));
      r.date_descriptor = payload->FindFieldByName(std::string(t.command.date));
      if (!r.reference_descriptor || !r.date_descriptor ||
          r.reference_descriptor->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
          r.date_descriptor->message_type() != pathway::v1::Date::descriptor()) {
        continue;
      }
      r.payload_number = r.payload_descriptor->number();
      // Later versions of a definition map the same command to the same step.
      auto same = std::find_if(routes.begin(), routes.end(), [&](const CommandRoute& o) {
        return o.payload_number == r.payload_number;
      });
      if (same == routes.end()) routes.push_back(r);
    }
  }
  std::sort(routes.begin(), routes.end(), [](const CommandRoute& a, const CommandRoute& b) {
    return a.payload_number < b.payload_number;
  });
  return routes;
}

const std::vector<CommandRoute>& Routes() {
  static const std::vector<CommandRoute> routes = BuildCommandRoutes();
  return routes;
}
}  // namespace

std::span<const CommandRoute> AllCommandRoutes() { return Routes(); }

const CommandRoute* FindCommandRoute(const pathway::v1::Envelope& command) {
  const int number = static_cast<int>(command.payload_case());
  const auto& routes = Routes();
  auto it = std::lower_bound(routes.begin(), routes.end(), number,
                             [](const CommandRoute& r, int n) { return r.payload_number < n; });
  return it != routes.end() && it->payload_number == number ? &*it : nullptr;
}

std::string CommandReference(const CommandRoute& route, const pathway::v1::Envelope& command) {
  const auto& payload = command.GetReflection()->GetMessage(command, route.payload_descriptor);
  return payload.GetReflection()->GetString(payload, route.reference_descriptor);
}

const pathway::v1::Date* CommandDate(const CommandRoute& route,
                                     const pathway::v1::Envelope& command) {
  const auto& payload = command.GetReflection()->GetMessage(command, route.payload_descriptor);
  const auto* reflection = payload.GetReflection();
  if (!reflection->HasField(payload, route.date_descriptor)) return nullptr;
  return &static_cast<const pathway::v1::Date&>(
      reflection->GetMessage(payload, route.date_descriptor));
}

std::string CommandDateField(const pathway::v1::Envelope& command) {
  const CommandRoute* route = FindCommandRoute(command);
  if (!route) return "payload";
  return std::string(route->payload) + "." + std::string(route->date_field);
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
