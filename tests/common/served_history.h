// An engine on the memory bus that has decided a recorded history and serves reads of
// it through a ReadGate: what the tests of the query endpoint share (the engine's reads
// and operations, the gateway's routes over them). Inherit it in a fixture
// (`class XTest : public ::testing::Test, protected ServedHistory`) so that the gate and
// the engine are made before the fixture's own members, which use them.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "services/engine/query_service.h"
#include "tests/common/engine_harness.h"
#include "tests/common/histories.h"

namespace pathway::testing {

struct ServedHistory {
  static constexpr int32_t kPartitions = 4;  // EngineHarness's

  // Decides `file` (tests/workflow/histories), each message at its business time.
  explicit ServedHistory(const std::string& file = "neurodevelopmental.jsonl") : h(Options(gate)) {
    gate.SetPartitionCount(kPartitions);
    for (const auto& e : ReadHistory(file)) {
      h.time().Set(OccurredAt(e));
      h.Publish(e);
      EXPECT_TRUE(h.RunUntilIdle().ok());
      if (nhs.empty() && e.has_referral_submitted()) {
        nhs = e.referral_submitted().child().nhs_number();
        given = e.referral_submitted().child().given_name();
      }
    }
    child = h.SubjectOf(nhs);
  }
  static engine::EngineOptions Options(engine::ReadGate& gate) {
    engine::EngineOptions o;
    o.reads = &gate;
    return o;
  }

  engine::ReadGate gate;  // before the harness: the engine stops it when it goes
  EngineHarness h;
  std::string nhs;    // the first referral's child
  std::string given;  // and its given name (to check that no answer carries it)
  std::string child;  // its subject key
};

}  // namespace pathway::testing
