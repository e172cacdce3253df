// The engine's RocksDB work (state::CaseStore, real RocksDB in a temporary directory,
// opened as the engine opens a partition's store: changelog mirrors and sealed values):
//  - committing what N decided commands change (new case state, history, outputs,
//    timers, dedupe entry, consumed offset);
//  - the due-timer scan of a partition holding 100,000 timers.
#include <benchmark/benchmark.h>

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bench/micro/micro_fixtures.h"
#include "services/engine/outputs.h"
#include "tests/common/fixtures.h"
#include "workflow/clock.h"
#include "workflow/event_identity.h"
#include "workflow/personal_fields.h"

namespace pathway::bench {
namespace {
namespace store = pathway::store::v1;

constexpr size_t kChildren = 1024;  // distinct children committed in turn

// What the engine commits for one child's EHC decision to assess (command 3 of
// ehc_assessment.jsonl: the step that sets the 16- and 20-week clocks), built as the
// engine's CarryOut builds it: outputs sealed under the child's data key, for
// `children` distinct children.
std::vector<state::Batch> EhcDecisionBatches(state::CaseStore& s, size_t children) {
  const Prepared& p = Before("ehc_assessment.jsonl", 2);
  const workflow::CaseStep step = Decide(p);
  if (!step.new_state) Die("the EHC decision does not change the case");
  std::vector<state::Batch> batches;
  for (size_t i = 0; i < children; ++i) {
    pathway::v1::Envelope command = p.command;
    command.set_subject_key(SubjectKey(testing::TestNhsNumber(static_cast<long>(i))));
    command.set_event_id("micro-commit-" + std::to_string(i));
    const std::string& subject = command.subject_key();
    state::Batch& b = batches.emplace_back();
    b.consumed = state::ConsumedOffset{std::string(topics::kCommands), 0, static_cast<int64_t>(i)};
    b.dedupe_event_id = workflow::CommandIdentity(command);
    b.dedupe_digest = workflow::ContentDigest(command);
    b.subject_key = subject;
    b.new_state = *step.new_state;
    b.history = step.history;
    b.history_start = step.new_state->history_length() - step.history.size();
    for (auto t : step.timers.add) {
      t.set_subject_key(subject);
      b.timers_add.push_back(std::move(t));
    }
    for (auto t : step.timers.remove) {
      t.set_subject_key(subject);
      b.timers_remove.push_back(std::move(t));
    }
    for (auto out : step.outputs) {
      if (out.seal_fields) {
        const std::string id = out.envelope.event_id();
        auto sealed = workflow::SealPersonalFields(
            out.envelope, [&](std::string_view plaintext, std::string_view field) {
              return s.SealField(subject, plaintext, field, id);
            });
        if (!sealed) Die("seal: " + sealed.error().ToString());
      }
      auto& entry = b.outbox.emplace_back();
      entry.set_topic(std::string(engine::TopicOf(out.sink)));
      entry.set_key(out.sink == workflow::Sink::kCommands ? out.envelope.subject_key() : subject);
      entry.set_value(out.envelope.SerializeAsString());
    }
  }
  return batches;
}

size_t BatchBytes(const state::Batch& b) {
  size_t n = b.new_state ? b.new_state->ByteSizeLong() : 0;
  for (const auto& e : b.history) n += e.ByteSizeLong();
  for (const auto& o : b.outbox) n += o.value().size();
  return n;
}

// N commands committed back to back, one CaseStore::Commit (one atomic WriteBatch)
// each, as the engine commits the commands of one Step. Items are commands.
void BM_CommitCommands(benchmark::State& bm) {
  TempStore t;
  std::vector<state::Batch> batches = EhcDecisionBatches(*t.store, kChildren);
  const size_t n = static_cast<size_t>(bm.range(0));
  size_t next = 0;
  for (auto _ : bm) {
    for (size_t k = 0; k < n; ++k) {
      state::Batch& b = batches[next++ % batches.size()];
      b.consumed->next_offset += static_cast<int64_t>(batches.size());
      if (auto s = t.store->Commit(b); !s) {
        bm.SkipWithError(s.error().ToString().c_str());
        return;
      }
    }
  }
  bm.SetItemsProcessed(bm.iterations() * static_cast<int64_t>(n));
  bm.counters["bytes_per_command"] = static_cast<double>(BatchBytes(batches.front()));
}
BENCHMARK(BM_CommitCommands)->Arg(1)->Arg(16)->Arg(256)->Unit(benchmark::kMicrosecond);

// The same N commands in one group commit (CaseStore::Commit of N batches: one
// WriteBatch, one WAL record), as the engine commits a partition's commands in a Step.
// Items are commands.
void BM_GroupCommit(benchmark::State& bm) {
  TempStore t;
  std::vector<state::Batch> batches = EhcDecisionBatches(*t.store, kChildren);
  const size_t n = static_cast<size_t>(bm.range(0));
  std::vector<state::Batch> group(n);
  size_t next = 0;
  for (auto _ : bm) {
    for (size_t k = 0; k < n; ++k) {
      state::Batch& b = batches[next++ % batches.size()];
      b.consumed->next_offset += static_cast<int64_t>(batches.size());
      group[k] = b;
    }
    if (auto s = t.store->Commit(std::span<const state::Batch>(group)); !s) {
      bm.SkipWithError(s.error().ToString().c_str());
      return;
    }
  }
  bm.SetItemsProcessed(bm.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_GroupCommit)->Arg(1)->Arg(16)->Arg(256)->Unit(benchmark::kMicrosecond);

// A partition's store with 100,000 timers filed: 50,000 children, each with the two
// timers (warning and breach) of an EHC request's 6-week decision_to_assess deadline,
// the requests received over 100 days. Built once.
struct TimerStore {
  TempStore t;
  pathway::v1::Date first_due;  // the earliest fires_on
  size_t filed = 0;
  TimerStore() {
    const Prepared& p = Before("ehc_assessment.jsonl", 1);
    const workflow::CaseStep step = Decide(p);
    if (step.timers.add.empty()) Die("the EHC request files no timers");
    auto earliest = workflow::ToCivil(step.timers.add.front().fires_on());
    for (const auto& timer : step.timers.add) {
      auto d = workflow::ToCivil(timer.fires_on());
      if (std::chrono::sys_days{*d} < std::chrono::sys_days{*earliest}) earliest = d;
    }
    first_due = workflow::ToProto(*earliest);
    constexpr size_t kTimers = 100000;
    state::Batch b;
    for (long child = 0; filed < kTimers; ++child) {
      const std::string subject = SubjectKey(testing::TestNhsNumber(child));
      for (auto timer : step.timers.add) {
        timer.set_subject_key(subject);
        *timer.mutable_fires_on() = workflow::ToProto(
            workflow::AddDays(*workflow::ToCivil(timer.fires_on()), static_cast<int>(child % 100)));
        b.timers_add.push_back(std::move(timer));
        ++filed;
      }
      if (b.timers_add.size() >= 1000) {
        if (auto s = t.store->Commit(b); !s) Die("file timers: " + s.error().ToString());
        b = state::Batch();
      }
    }
    if (auto s = t.store->Commit(b); !s) Die("file timers: " + s.error().ToString());
  }
};

// DueTimers(partition, up_to, max): the first `max` timers due by a day on which about
// half of the 100,000 are due, as FireTimers asks for each Step (max_batch 256).
// Items are timers read.
void BM_DueTimers(benchmark::State& bm) {
  static TimerStore timers;
  const size_t max = static_cast<size_t>(bm.range(0));
  const pathway::v1::Date up_to =
      workflow::ToProto(workflow::AddDays(*workflow::ToCivil(timers.first_due), 50));
  size_t read = 0;
  for (auto _ : bm) {
    auto due = timers.t.store->DueTimers(0, up_to, max);
    if (!due || due->size() != max) {
      bm.SkipWithError("the scan does not find the first due batch");
      return;
    }
    read += due->size();
    benchmark::DoNotOptimize(due);
  }
  bm.SetItemsProcessed(static_cast<int64_t>(read));
  bm.counters["timers_filed"] = static_cast<double>(timers.filed);
}
BENCHMARK(BM_DueTimers)->Arg(1)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace pathway::bench
