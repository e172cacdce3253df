// timer_storm_bench: issue 4 "Timers at scale" measured. A real Engine over the
// in-memory bus and real RocksDB (tests/common/engine_harness.h, in a temp dir) files
// D statutory deadlines (EHC needs assessment requests received on 2025-03-10, each
// with a 6-week decision_to_assess deadline: a warning timer and a breach timer), then
// jumps simulated time to 2025-05-01 so that all 2*D timers are due at once, and keeps
// publishing B referrals for new children before every Step while they fire.
//
// It prints: how long filing took, how long firing took (committed in RocksDB, and
// emitted on pathway.events.v1), timers fired per second, and the latency of the
// referrals sent during the storm, in Steps and in milliseconds (max, p50, p99), to
// be decided and committed and to be emitted. Not a test: it asserts nothing but
// reports any warning or breach missing or emitted twice.
//
//   timer_storm_bench [--deadlines D] [--per-step B] [--max-batch M] [--outbox-batch O]
//                     [--log-info]
// Defaults: D = 100000, B = 8, M and O from EngineOptions. docs/performance.md has
// the command and the numbers.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "common/log.h"
#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"
#include "tests/common/topic_tail.h"

namespace {
using pathway::Status;
using pathway::testing::At;
using pathway::testing::EngineHarness;
using pathway::v1::Envelope;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kRequestDay = "2025-03-10";
constexpr const char* kStormDay = "2025-05-01";  // after every 6-week deadline
constexpr long kMaxSteps = 10'000'000;           // a loop bound, far above any run

struct Args {
  long deadlines = 100000;
  int per_step = 8;
  size_t max_batch = 0;     // 0: the EngineOptions default
  size_t outbox_batch = 0;  // 0: the EngineOptions default
  bool log_info = false;
};

[[noreturn]] void Usage(const char* why) {
  std::cerr << "timer_storm_bench: " << why
            << "\nusage: timer_storm_bench [--deadlines D] [--per-step B] [--max-batch M] "
               "[--outbox-batch O] [--log-info]\n";
  std::exit(2);
}

long Number(int argc, char** argv, int& i) {
  if (i + 1 >= argc) Usage("missing value");
  char* end = nullptr;
  long v = std::strtol(argv[++i], &end, 10);
  if (!end || *end != '\0' || v <= 0) Usage("values are positive integers");
  return v;
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--deadlines") {
      a.deadlines = Number(argc, argv, i);
    } else if (flag == "--per-step") {
      a.per_step = static_cast<int>(Number(argc, argv, i));
    } else if (flag == "--max-batch") {
      a.max_batch = static_cast<size_t>(Number(argc, argv, i));
    } else if (flag == "--outbox-batch") {
      a.outbox_batch = static_cast<size_t>(Number(argc, argv, i));
    } else if (flag == "--log-info") {
      a.log_info = true;
    } else {
      Usage(("unknown argument " + flag).c_str());
    }
  }
  return a;
}

std::string NhsNumber(long i) { return pathway::testing::TestNhsNumber(i, 100000000); }

Envelope Request(long child) {
  return pathway::testing::Command(
      "ehc-request-" + std::to_string(child), kRequestDay,
      [&](Envelope& e) {
        auto* r = e.mutable_ehc_assessment_requested();
        r->set_request_id("EHC-" + std::to_string(child));
        r->set_requested_by(pathway::v1::EHC_REQUESTER_PARENT);
        *r->mutable_received_on() = pathway::testing::Day(kRequestDay);
      },
      NhsNumber(child));
}

// CPU seconds (user + system) this process has used: the machine may be shared.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

template <typename T>
T Percentile(std::vector<T> v, double p) {
  if (v.empty()) return T{};
  std::sort(v.begin(), v.end());
  auto i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void Fail(const std::string& what, const Status& s) {
  std::cerr << "timer_storm_bench: " << what << ": " << s.error().ToString() << "\n";
  std::exit(1);
}

// Due timers left over every partition (up to `max` each).
size_t DueTimers(EngineHarness& h, size_t max) {
  const pathway::v1::Date today = pathway::testing::Day(kStormDay);
  size_t n = 0;
  for (int32_t partition : h.stores().OpenPartitions()) {
    auto due = h.stores().Find(partition)->DueTimers(partition, today, max);
    if (!due.ok()) Fail("due timers", due.error());
    n += due->size();
  }
  return n;
}

struct Pending {
  long step = 0;
  SteadyClock::time_point at;
  std::string subject;
};

struct Latency {
  std::vector<long> steps;
  std::vector<double> ms;
  void Add(long s, double m) {
    steps.push_back(s);
    ms.push_back(m);
  }
};

void Row(const char* what, const std::string& value) {
  std::printf("| %-52s | %24s |\n", what, value.c_str());
}
std::string Fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
void LatencyRows(const char* what, const Latency& l) {
  std::string steps =
      std::to_string(Percentile(l.steps, 0.5)) + " / " + std::to_string(Percentile(l.steps, 0.99)) +
      " / " +
      std::to_string(l.steps.empty() ? 0 : *std::max_element(l.steps.begin(), l.steps.end()));
  std::string ms = Fixed(Percentile(l.ms, 0.5)) + " / " + Fixed(Percentile(l.ms, 0.99)) + " / " +
                   Fixed(l.ms.empty() ? 0 : *std::max_element(l.ms.begin(), l.ms.end()));
  Row((std::string(what) + ", Steps (p50 / p99 / max)").c_str(), steps);
  Row((std::string(what) + ", ms (p50 / p99 / max)").c_str(), ms);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  if (!args.log_info) pathway::log::SetLevel(pathway::log::Level::kWarn);

  EngineHarness h;
  if (args.max_batch) h.options().max_batch = args.max_batch;
  if (args.outbox_batch) h.options().outbox_batch = args.outbox_batch;
  h.Restart();
  const auto options = h.options();
  const auto timers = static_cast<size_t>(2 * args.deadlines);

  // 1. File the deadlines: every request is decided and committed with its 2 timers.
  h.time().Set(At(kRequestDay));
  for (long i = 0; i < args.deadlines; ++i) h.Publish(Request(i));
  auto file_start = SteadyClock::now();
  const double file_cpu_start = CpuSeconds();
  long file_steps = 0;
  // Bounded by kMaxSteps; ends when a Step changes nothing.
  for (; file_steps < kMaxSteps; ++file_steps) {
    auto before = h.engine().stats();
    Status s = h.engine().Step(std::chrono::milliseconds(0));
    if (!s.ok()) Fail("filing", s);
    const auto& after = h.engine().stats();
    if (after.inbound == before.inbound && after.commands == before.commands &&
        after.delivered == before.delivered && after.timers_fired == before.timers_fired) {
      break;
    }
  }
  const auto file_time = SteadyClock::now() - file_start;
  const double file_cpu = CpuSeconds() - file_cpu_start;
  if (h.engine().stats().rejections != 0) {
    std::cerr << "timer_storm_bench: " << h.engine().stats().rejections << " requests rejected\n";
    return 1;
  }
  const size_t filed = DueTimers(h, timers + 1);
  if (filed != timers) {
    std::cerr << "timer_storm_bench: " << filed << " timers due on " << kStormDay << ", expected "
              << timers << "\n";
    return 1;
  }

  // 2. The storm: every timer due at once, B referrals before every Step.
  pathway::testing::TopicTail events(h.broker(), std::string(pathway::topics::kEvents));
  events.ForEachNew([](const Envelope&) {});
  h.time().Set(At(kStormDay));
  std::map<std::string, Pending> uncommitted, unemitted;
  std::map<std::string, int> timer_copies;
  Latency commit, emit;
  std::vector<double> step_ms;  // each storm Step
  std::vector<double> scan_ms;  // finding the first due timer of each partition
  long referrals = 0;
  long step = 0;
  long fired_step = -1, emitted_step = -1;
  SteadyClock::duration fire_time{}, emit_time{};
  double fire_cpu = 0;
  auto storm_start = SteadyClock::now();
  const double storm_cpu_start = CpuSeconds();
  // Bounded by kMaxSteps: referrals flow until no timer is due; the loop then runs
  // until every timer event and every referral has been emitted.
  for (; step < kMaxSteps; ++step) {
    auto scan_start = SteadyClock::now();
    const bool due = DueTimers(h, 1) > 0;
    scan_ms.push_back(Ms(SteadyClock::now() - scan_start));
    if (!due && fired_step < 0) {
      fired_step = step;
      fire_time = SteadyClock::now() - storm_start;
      fire_cpu = CpuSeconds() - storm_cpu_start;
    }
    if (!due && timer_copies.size() >= timers && unemitted.empty()) break;
    auto now = SteadyClock::now();
    if (due) {
      for (int i = 0; i < args.per_step; ++i, ++referrals) {
        Envelope r = pathway::testing::ValidReferral("storm-referral-" + std::to_string(referrals),
                                                     NhsNumber(args.deadlines + referrals));
        Pending p{step, now, h.SubjectOf(r.referral_submitted().child().nhs_number())};
        uncommitted[r.event_id()] = p;
        unemitted[r.event_id()] = p;
        h.Publish(r);
      }
    }
    auto step_start = SteadyClock::now();
    Status s = h.engine().Step(std::chrono::milliseconds(0));
    if (!s.ok()) Fail("storm step", s);
    auto done = SteadyClock::now();
    step_ms.push_back(Ms(done - step_start));
    for (auto it = uncommitted.begin(); it != uncommitted.end();) {
      auto seen = h.StoreFor(it->second.subject).SeenEvent(it->first);
      if (!seen.ok()) Fail("dedupe read", seen.error());
      if (*seen) {
        commit.Add(step - it->second.step + 1, Ms(done - it->second.at));
        it = uncommitted.erase(it);
      } else {
        ++it;
      }
    }
    events.ForEachNew([&](const Envelope& e) {
      if (e.has_deadline_warning() || e.has_deadline_breached()) {
        ++timer_copies[e.event_id()];
      } else if (e.has_referral_received()) {
        auto it = unemitted.find(e.referral_received().inbound_event_id());
        if (it != unemitted.end()) {
          emit.Add(step - it->second.step + 1, Ms(done - it->second.at));
          unemitted.erase(it);
        }
      }
    });
    if (emitted_step < 0 && timer_copies.size() >= timers) {
      emitted_step = step + 1;
      emit_time = SteadyClock::now() - storm_start;
    }
  }
  if (step >= kMaxSteps) {
    std::cerr << "timer_storm_bench: the storm did not end\n";
    return 1;
  }
  // 3. After the storm: Steps with nothing to do (no command, no due timer, empty outbox).
  std::vector<double> idle_ms;
  for (int i = 0; i < 10; ++i) {
    auto idle_start = SteadyClock::now();
    Status s = h.engine().Step(std::chrono::milliseconds(0));
    if (!s.ok()) Fail("idle step", s);
    idle_ms.push_back(Ms(SteadyClock::now() - idle_start));
  }
  size_t twice = 0;
  for (const auto& [id, n] : timer_copies) twice += n > 1 ? 1 : 0;

  // Means over the first and the last 10 Steps that fired timers.
  const size_t firing = fired_step > 0 ? static_cast<size_t>(fired_step) : step_ms.size();
  auto mean = [](const std::vector<double>& v, size_t from, size_t to) {
    double sum = 0;
    for (size_t i = from; i < to; ++i) sum += v[i];
    return to > from ? sum / static_cast<double>(to - from) : 0.0;
  };
  const size_t n = std::min<size_t>(10, firing);
  const std::string step_trend =
      Fixed(mean(step_ms, 0, n)) + " / " + Fixed(mean(step_ms, firing - n, firing));
  const std::string scan_trend =
      Fixed(mean(scan_ms, 0, n), 2) + " / " + Fixed(mean(scan_ms, firing - n, firing), 2);
  const double firing_step_seconds = mean(step_ms, 0, firing) * static_cast<double>(firing) / 1000;

  std::printf(
      "\ntimer storm: %ld deadlines (%zu timers: a warning and a breach each) due at once\n",
      args.deadlines, timers);
  std::printf(
      "engine: 4 partitions, max_batch %zu, outbox_batch %zu; %d referrals before each Step\n\n",
      options.max_batch, options.outbox_batch, args.per_step);
  Row("what", "value");
  std::printf(
      "|------------------------------------------------------|--------------------------|\n");
  Row("file: requests decided and committed (s)", Fixed(Ms(file_time) / 1000, 2));
  Row("file: CPU used (s)", Fixed(file_cpu, 2));
  Row("file: Steps", std::to_string(file_steps));
  Row("file: timers filed per second",
      Fixed(static_cast<double>(timers) / (Ms(file_time) / 1000), 0));
  Row("fire: all timers committed (s)", Fixed(Ms(fire_time) / 1000, 2));
  Row("fire: CPU used (s)", Fixed(fire_cpu, 2));
  Row("fire: Steps", std::to_string(fired_step));
  Row("fire: timers fired per second",
      Fixed(static_cast<double>(timers) / (Ms(fire_time) / 1000), 0));
  Row("fire: time inside Engine::Step (s)", Fixed(firing_step_seconds, 2));
  Row("fire: timers fired per second of Step",
      Fixed(static_cast<double>(timers) / firing_step_seconds, 0));
  Row("fire: all timer events on pathway.events.v1 (s)", Fixed(Ms(emit_time) / 1000, 2));
  Row("fire: Steps until all emitted", std::to_string(emitted_step));
  Row("fire: distinct timer event ids emitted", std::to_string(timer_copies.size()));
  Row("fire: ids emitted more than once", std::to_string(twice));
  Row("Step time, first / last 10 firing Steps (ms)", step_trend);
  Row("first-due-timer seek, first / last 10 (ms)", scan_trend);
  Row("idle Step after the storm, mean of 10 (ms)",
      Fixed(std::accumulate(idle_ms.begin(), idle_ms.end(), 0.0) / 10, 2));
  Row("referrals sent during the storm", std::to_string(referrals));
  LatencyRows("referral committed", commit);
  LatencyRows("referral emitted", emit);
  std::printf("\n");
  if (timer_copies.size() != timers || twice != 0) {
    std::cerr << "timer_storm_bench: expected " << timers << " distinct timer events, each once\n";
    return 1;
  }
  return 0;
}
