#include "bench/loadgen/population.h"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <fstream>
#include <queue>
#include <random>
#include <system_error>
#include <tuple>
#include <utility>

#include "bench/loadgen/history_edit.h"
#include "services/pathwayctl/inbound_key.h"
#include "workflow/clock.h"
#include "workflow/identifiers.h"

namespace pathway::loadgen {
namespace {

namespace v1 = pathway::v1;

constexpr int kMaxChildren = 500'000;

Error Invalid(std::string detail) {
  return Error{std::make_error_code(std::errc::invalid_argument), std::move(detail)};
}

int64_t OccurredSeconds(const v1::Envelope& e) { return e.occurred_at().seconds(); }

workflow::CivilDate OccurredDay(const v1::Envelope& e) {
  return workflow::LondonDate(TimePoint(std::chrono::seconds(OccurredSeconds(e))));
}

struct Template {
  std::string name;
  std::vector<v1::Envelope> commands;
  workflow::CivilDate last_day;  // the London day of the latest occurred_at
};

Result<std::vector<Template>> LoadTemplates(const PopulationOptions& options) {
  std::vector<std::string_view> names;
  if (options.scenario == Scenario::kEhc) {
    names.push_back("ehc_assessment.jsonl");
  } else {
    names.assign(kHistoryFiles.begin(), kHistoryFiles.end());
  }
  std::vector<Template> out;
  for (std::string_view name : names) {
    auto commands = ReadHistoryFile(options.histories_dir + "/" + std::string(name));
    if (!commands) return commands.error();
    if (commands->empty()) return Invalid(std::string(name) + " holds no command");
    Template t{std::string(name), std::move(*commands), {}};
    int64_t last = OccurredSeconds(t.commands.front());
    for (const auto& c : t.commands) last = std::max(last, OccurredSeconds(c));
    t.last_day = workflow::LondonDate(TimePoint(std::chrono::seconds(last)));
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

Result<std::vector<v1::Envelope>> ReadHistoryFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Invalid("cannot read history " + path);
  std::vector<v1::Envelope> out;
  std::string line;
  // Bounded by the file: one Envelope per line.
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    v1::Envelope e;
    if (!google::protobuf::util::JsonStringToMessage(line, &e).ok()) {
      return Invalid(path + ":" + std::to_string(number) + " does not parse as an Envelope");
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<Population> BuildPopulation(const PopulationOptions& options) {
  if (options.children < 1 || options.children > kMaxChildren) {
    return Invalid("children must be between 1 and " + std::to_string(kMaxChildren));
  }
  if (options.spread_days < 1) return Invalid("spread_days must be at least 1");
  auto templates = LoadTemplates(options);
  if (!templates) return templates.error();

  std::mt19937_64 rng(options.seed);
  // 9-digit synthetic numbers from 900,000,000 on, a block per seed: a child's number
  // is the same on every run with the same seed, and never anyone's (a test range).
  uint64_t next_nhs = 900'000'000 + (options.seed % 50) * 1'000'000;

  // Per child, its commands (history order) and the next one to send.
  std::vector<std::vector<Command>> per_child(options.children);
  std::vector<std::vector<int64_t>> occurred(options.children);
  Population population;
  for (int child = 0; child < options.children; ++child) {
    const size_t pick = static_cast<size_t>(child) < templates->size()
                            ? static_cast<size_t>(child)
                            : static_cast<size_t>(rng() % templates->size());
    const Template& t = (*templates)[pick];
    ++population.children_per_history[t.name];
    const std::string nhs = NextNhsNumber(&next_nhs);
    if (!workflow::IsValidNhsNumber(nhs)) return Invalid("NHS number generator broke");
    const auto end = workflow::AddDays(
        options.today, -1 - static_cast<int>(rng() % static_cast<uint64_t>(options.spread_days)));
    const int shift = workflow::DaysBetween(t.last_day, end);
    for (size_t n = 0; n < t.commands.size(); ++n) {
      v1::Envelope e = t.commands[n];
      e.set_event_id("lg-" + options.run_tag + "-" + std::to_string(child) + "-" +
                     std::to_string(n + 1));
      RewriteNhs(e, [&](const std::string&) { return nhs; });
      // The whole history moves: the child is as old at each step as in the original,
      // so age rules (preparing for adulthood) decide as they did there.
      ShiftDates(e, shift, BirthDates::kShift);
      e.mutable_occurred_at()->set_seconds(OccurredSeconds(e) + int64_t{shift} * 86400);
      if (OccurredDay(e) >= options.today) {
        return Invalid(t.name +
                       ": a command would occur today or later; histories' times "
                       "must be daytime in London");
      }
      occurred[child].push_back(OccurredSeconds(e));
      Command c{e.event_id(), ctl::InboundKey(e), e.SerializeAsString()};
      population.bytes += c.key.size() + c.value.size();
      per_child[child].push_back(std::move(c));
    }
  }

  int64_t earliest = occurred[0][0];
  for (const auto& times : occurred) {
    for (int64_t t : times) earliest = std::min(earliest, t);
  }
  population.first_day = workflow::LondonDate(TimePoint(std::chrono::seconds(earliest)));

  // Interleave: always the child whose next command occurred first (ties: the lower
  // child), so each child's commands keep their order and the stream runs forward in
  // time as partners' systems would send it.
  using Next = std::tuple<int64_t, int, size_t>;  // occurred_at, child, index
  std::priority_queue<Next, std::vector<Next>, std::greater<>> queue;
  for (int child = 0; child < options.children; ++child)
    queue.emplace(occurred[child][0], child, 0);
  // Bounded: one pop per command.
  while (!queue.empty()) {
    auto [at, child, index] = queue.top();
    queue.pop();
    population.commands.push_back(std::move(per_child[child][index]));
    if (index + 1 < per_child[child].size()) {
      queue.emplace(std::max(at, occurred[child][index + 1]), child, index + 1);
    }
  }
  return population;
}

}  // namespace pathway::loadgen
