// Reads what is new on each partition of a topic of the in-memory broker since the
// last call, as a consumer following the topic would. For tests and benchmarks.
#pragma once

#include <string>
#include <vector>

#include "pathway/v1/envelope.pb.h"
#include "services/bus/memory_bus.h"

namespace pathway::testing {

class TopicTail {
 public:
  TopicTail(bus::MemoryBroker& broker, std::string topic)
      : broker_(broker), topic_(std::move(topic)) {}

  // Calls `fn` with each new Envelope (tombstones and undecodable values skipped).
  template <typename Fn>
  void ForEachNew(Fn&& fn) {
    int32_t partitions = broker_.PartitionCount(topic_);
    cursors_.resize(static_cast<size_t>(partitions), 0);
    for (int32_t p = 0; p < partitions; ++p) {
      const auto& log = broker_.Log(topic_, p);
      for (size_t& i = cursors_[static_cast<size_t>(p)]; i < log.size(); ++i) {
        pathway::v1::Envelope e;
        if (!log[i].tombstone && e.ParseFromString(log[i].value)) fn(e);
      }
    }
  }

 private:
  bus::MemoryBroker& broker_;
  std::string topic_;
  std::vector<size_t> cursors_;
};

}  // namespace pathway::testing
