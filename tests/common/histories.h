// Realistic histories (tests/workflow/histories/*.jsonl): one inbound Envelope per line
// in protobuf JSON mapping. Targets that include this define PATHWAY_HISTORIES.
#pragma once

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "common/time_source.h"
#include "pathway/v1/envelope.pb.h"

namespace pathway::testing {

inline std::vector<pathway::v1::Envelope> ReadHistory(const std::string& name) {
  std::ifstream in(std::string(PATHWAY_HISTORIES) + "/" + name);
  EXPECT_TRUE(in.good()) << "cannot read history " << name;
  std::vector<pathway::v1::Envelope> out;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    pathway::v1::Envelope e;
    if (!google::protobuf::util::JsonStringToMessage(line, &e).ok()) {
      ADD_FAILURE() << name << ":" << number << " does not parse";
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

// The instant an Envelope says it happened: simulations run on event time.
inline TimePoint OccurredAt(const pathway::v1::Envelope& e) {
  return TimePoint(std::chrono::seconds(e.occurred_at().seconds()) +
                   std::chrono::microseconds(e.occurred_at().nanos() / 1000));
}

}  // namespace pathway::testing
