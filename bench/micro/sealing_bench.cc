// Sealing a case's personal data as the engine does (docs/tell-it-once.md section 6):
//  - BM_SealEvents: the outputs of a referral (ReferralReceived, PathwayStepRecorded)
//    sealed field by field with workflow::SealPersonalFields through
//    CaseStore::SealField (the child's data key read from RocksDB and unwrapped by the
//    KEK, then AES-256-GCM with a synthetic nonce), as the engine's CarryOut does;
//  - BM_OpenEvents: the inverse, OpenPersonalFields through CaseStore::OpenField, as
//    pathwayctl export and record views read them;
//  - BM_AeadSealSynthetic / BM_AeadOpen: one field's AES-256-GCM alone (common/crypto.h).
// The case state and history are sealed whole inside CaseStore::Commit (store_bench.cc).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/micro/micro_fixtures.h"
#include "common/crypto.h"
#include "workflow/personal_fields.h"

namespace pathway::bench {
namespace {
namespace v1 = pathway::v1;

// The referral step's outputs that the engine seals, and their subject.
struct Referral {
  std::string subject;
  std::vector<v1::Envelope> events;
  int fields = 0;  // personal fields sealed across `events`
};
const Referral& ReferralOutputs() {
  static const Referral r = [] {
    const Prepared& p = Before("ehc_assessment.jsonl", 0);
    workflow::CaseStep step = Decide(p);
    Referral out;
    out.subject = p.command.subject_key();
    for (auto& o : step.outputs) {
      if (o.seal_fields) out.events.push_back(o.envelope);
    }
    if (out.events.empty()) Die("the referral step seals nothing");
    return out;
  }();
  return r;
}

void BM_SealEvents(benchmark::State& bm) {
  TempStore t;
  const Referral& r = ReferralOutputs();
  int fields = 0;
  auto seal = [&](std::string_view subject, const std::string& id) {
    return [&t, subject, id, &fields](std::string_view plaintext, std::string_view field) {
      ++fields;
      return t.store->SealField(subject, plaintext, field, id);
    };
  };
  for (auto _ : bm) {
    for (const auto& e : r.events) {
      v1::Envelope copy = e;
      if (auto s = workflow::SealPersonalFields(copy, seal(r.subject, e.event_id())); !s) {
        bm.SkipWithError(s.error().ToString().c_str());
        return;
      }
      benchmark::DoNotOptimize(copy);
    }
  }
  bm.SetItemsProcessed(bm.iterations() * static_cast<int64_t>(r.events.size()));
  if (bm.iterations() > 0) {
    bm.counters["fields_per_event"] =
        static_cast<double>(fields) / static_cast<double>(bm.iterations() * r.events.size());
  }
}
BENCHMARK(BM_SealEvents);

void BM_OpenEvents(benchmark::State& bm) {
  TempStore t;
  const Referral& r = ReferralOutputs();
  std::vector<v1::Envelope> sealed = r.events;
  for (auto& e : sealed) {
    const std::string id = e.event_id();
    auto s = workflow::SealPersonalFields(e, [&](std::string_view plaintext, std::string_view f) {
      return t.store->SealField(r.subject, plaintext, f, id);
    });
    if (!s) Die("seal: " + s.error().ToString());
  }
  auto open = [&](std::string_view bytes, std::string_view field) {
    return t.store->OpenField(r.subject, bytes, field);
  };
  for (auto _ : bm) {
    for (const auto& e : sealed) {
      v1::Envelope copy = e;
      if (auto s = workflow::OpenPersonalFields(copy, open); !s) {
        bm.SkipWithError(s.error().ToString().c_str());
        return;
      }
      benchmark::DoNotOptimize(copy);
    }
  }
  bm.SetItemsProcessed(bm.iterations() * static_cast<int64_t>(sealed.size()));
}
BENCHMARK(BM_OpenEvents);

// One personal field (an "all about me" answer) under a data key.
const std::string kDataKey(32, 'd');
const std::string kField =
    "Maya loves drawing and animals; noisy corridors and last-minute changes are hard.";
const std::string kAad = "pathway.field.v1|fact_recorded.content|0123456789abcdef0123456789abcdef";

void BM_AeadSealSynthetic(benchmark::State& bm) {
  for (auto _ : bm) {
    auto sealed = AeadSealSynthetic(kDataKey, kField, kAad, "0123456789abcdef0123456789abcdef");
    benchmark::DoNotOptimize(sealed);
  }
  bm.SetItemsProcessed(bm.iterations());
  bm.SetBytesProcessed(bm.iterations() * static_cast<int64_t>(kField.size()));
}
BENCHMARK(BM_AeadSealSynthetic);

void BM_AeadOpen(benchmark::State& bm) {
  const std::string sealed = *AeadSeal(kDataKey, kField, kAad);
  for (auto _ : bm) {
    auto clear = AeadOpen(kDataKey, sealed, kAad);
    benchmark::DoNotOptimize(clear);
  }
  bm.SetItemsProcessed(bm.iterations());
  bm.SetBytesProcessed(bm.iterations() * static_cast<int64_t>(kField.size()));
}
BENCHMARK(BM_AeadOpen);

}  // namespace
}  // namespace pathway::bench
