// engine_bench: the engine's own cost per command, without a broker. A real Engine
// over the in-memory bus and real RocksDB (tests/common/engine_harness.h, 4
// partitions, in a temp dir) processes C children each sending the 13 commands of
// the realistic EHC needs-assessment history (tests/workflow/histories), published
// first; the bench steps the engine until every command is decided and every output
// delivered, then prints one JSON line: commands, events, seconds, commands/s, the
// CPU seconds of the processing (commands per CPU second: the figure to compare on a
// shared machine) and the process's peak RSS. Not a test: it asserts nothing but exits
// non-zero if a command was rejected or the engine stopped.
//
// The figure is an upper bound for the engine over Kafka (pathway-loadgen measures
// that): what the engine itself costs, for `perf record -g` to explain.
//
//   engine_bench [--children C] [--max-batch M] [--outbox-batch O]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "common/log.h"
#include "tests/common/engine_harness.h"
#include "tests/common/histories.h"
#include "workflow/identifiers.h"

namespace {
using pathway::testing::EngineHarness;
using pathway::v1::Envelope;

constexpr long kMaxSteps = 10'000'000;  // a loop bound, far above any run

// The i-th valid NHS number of a synthetic range (never issued to a real child: 999
// prefix numbers are the NHS's test range).
std::string NhsNumber(long i) {
  for (long n = i;; ++n) {
    char digits[16];
    std::snprintf(digits, sizeof digits, "999%06ld", n % 1000000);
    int sum = 0;
    for (int k = 0; k < 9; ++k) sum += (digits[k] - '0') * (10 - k);
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    if (check == 10) continue;
    std::string out = std::string(digits) + static_cast<char>('0' + check);
    if (pathway::workflow::IsValidNhsNumber(out)) return out;
  }
}

}  // namespace

int main(int argc, char** argv) {
  long children = 2000;
  pathway::engine::EngineOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> long {
      if (i + 1 >= argc) std::exit(2);
      return std::atol(argv[++i]);
    };
    if (a == "--children") {
      children = next();
    } else if (a == "--max-batch") {
      options.max_batch = static_cast<size_t>(next());
    } else if (a == "--outbox-batch") {
      options.outbox_batch = static_cast<size_t>(next());
    } else {
      std::cerr << "usage: engine_bench [--children C] [--max-batch M] [--outbox-batch O]\n";
      return 2;
    }
  }
  pathway::log::SetLevel(pathway::log::Level::kWarn);
  const std::vector<Envelope> history = pathway::testing::ReadHistory("ehc_assessment.jsonl");
  if (history.empty()) return 1;
  EngineHarness h(options);
  h.time().Set(pathway::testing::OccurredAt(history.back()) + std::chrono::hours(1));
  // Child by child, as the reference run publishes them.
  long published = 0;
  std::vector<std::string> nhs;
  for (long c = 0; c < children; ++c) nhs.push_back(NhsNumber(c * 7 + 1));
  for (long c = 0; c < children; ++c) {
    for (Envelope e : history) {
      if (e.has_referral_submitted()) {
        e.mutable_referral_submitted()->mutable_child()->set_nhs_number(nhs[c]);
      }
      if (e.has_subject()) e.mutable_subject()->set_nhs_number(nhs[c]);
      e.set_event_id(e.event_id() + "-" + std::to_string(c));
      h.Publish(e, static_cast<int32_t>(c % 4));
      ++published;
    }
  }
  auto cpu_seconds = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  const double cpu_before = cpu_seconds();
  const auto started = std::chrono::steady_clock::now();
  long steps = 0;
  for (; steps < kMaxSteps; ++steps) {
    const auto before = h.engine().stats();
    auto s = h.engine().Step(std::chrono::milliseconds(0));
    if (!s.ok()) {
      std::cerr << "engine stopped: " << s.error().ToString() << "\n";
      return 1;
    }
    const auto& after = h.engine().stats();
    if (before.inbound == after.inbound && before.commands == after.commands &&
        before.delivered == after.delivered && before.timers_fired == after.timers_fired) {
      break;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double cpu = cpu_seconds() - cpu_before;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto& st = h.engine().stats();
  std::printf(
      "{\"children\":%ld,\"commands_in\":%ld,\"commands\":%lu,\"events\":%lu,"
      "\"rejections\":%lu,\"delivered\":%lu,\"steps\":%ld,\"seconds\":%.3f,"
      "\"commands_per_s\":%.0f,\"cpu_s\":%.2f,\"commands_per_cpu_s\":%.0f,"
      "\"peak_rss_mb\":%ld}\n",
      children, published, static_cast<unsigned long>(st.commands),
      static_cast<unsigned long>(st.events), static_cast<unsigned long>(st.rejections),
      static_cast<unsigned long>(st.delivered), steps, seconds,
      static_cast<double>(st.commands) / seconds, cpu, static_cast<double>(st.commands) / cpu,
      usage.ru_maxrss / 1024);
  return st.rejections == 0 && static_cast<long>(st.commands) >= published ? 0 : 1;
}
