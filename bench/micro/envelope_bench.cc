// pathway.v1.Envelope in protobuf binary, as it crosses Kafka: the engine parses every
// command it consumes (ParseFromString) and serialises every event, rejection and
// changelog record it produces (SerializeToString).
#include <benchmark/benchmark.h>

#include <string>

#include "bench/micro/micro_fixtures.h"
#include "tests/common/fixtures.h"

namespace pathway::bench {
namespace {

// The envelopes measured: a GP's referral (the fixture of the tests, routed), a
// caseworker's EHC decision (routed), and the PathwayStepRecorded event the engine
// emits for that decision.
pathway::v1::Envelope Sample(int which) {
  switch (which) {
    case 0: {
      pathway::v1::Envelope e = testing::ValidReferral("micro-0001");
      e.set_subject_key(SubjectKey(testing::kValidNhsNumber));
      return e;
    }
    case 1:
      return Before("ehc_assessment.jsonl", 2).command;
    default: {
      const Prepared& p = Before("ehc_assessment.jsonl", 2);
      workflow::CaseStep step = Decide(p);
      for (auto& out : step.outputs) {
        if (out.envelope.has_pathway_step_recorded()) return out.envelope;
      }
      Die("the EHC decision emits no PathwayStepRecorded");
    }
  }
}
const char* SampleName(int which) {
  static constexpr const char* kNames[] = {"referral_submitted", "ehc_assessment_decided",
                                           "pathway_step_recorded"};
  return kNames[which];
}

void BM_EnvelopeSerialize(benchmark::State& bm) {
  const pathway::v1::Envelope e = Sample(static_cast<int>(bm.range(0)));
  bm.SetLabel(SampleName(static_cast<int>(bm.range(0))));
  std::string out;
  for (auto _ : bm) {
    e.SerializeToString(&out);
    benchmark::DoNotOptimize(out);
  }
  bm.SetItemsProcessed(bm.iterations());
  bm.SetBytesProcessed(bm.iterations() * static_cast<int64_t>(out.size()));
  bm.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_EnvelopeSerialize)->DenseRange(0, 2);

void BM_EnvelopeParse(benchmark::State& bm) {
  const std::string bytes = Sample(static_cast<int>(bm.range(0))).SerializeAsString();
  bm.SetLabel(SampleName(static_cast<int>(bm.range(0))));
  for (auto _ : bm) {
    pathway::v1::Envelope e;
    if (!e.ParseFromString(bytes)) {
      bm.SkipWithError("does not parse");
      break;
    }
    benchmark::DoNotOptimize(e);
  }
  bm.SetItemsProcessed(bm.iterations());
  bm.SetBytesProcessed(bm.iterations() * static_cast<int64_t>(bytes.size()));
  bm.counters["bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_EnvelopeParse)->DenseRange(0, 2);

}  // namespace
}  // namespace pathway::bench
