// Announces which partitions this engine instance serves reads for, and where, on
// pathway.engine.members.v1 (pathway.store.v1.EngineMember keyed by the instance id;
// docs/gateway.md, "Reads"). Readers (the gateway) route a child's read to the
// instance whose latest announcement claims the child's partition.
//
// Not thread-safe: the engine's thread calls Poll after each Step and Leave when it
// stops. The producer must outlive the announcer; its delivery reports are not needed
// (an announcement lost with a crash is repeated by the next one, and a reader that
// meets a stale one is told "not mine" by the instance it asks).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.h"
#include "services/bus/event_bus.h"
#include "services/engine/query_service.h"

namespace pathway::engine {

class MemberAnnouncer {
 public:
  // `every`: also announce this often when nothing changed, so a reader that joins
  // late or missed a record catches up without reading the whole topic.
  MemberAnnouncer(bus::Producer& producer, std::string instance, std::string query_url,
                  std::chrono::milliseconds every = std::chrono::seconds(30));

  // Sends an announcement when the served partitions or their count changed, or when
  // `every` has passed; `now_ms` is the wall clock (milliseconds since the epoch),
  // which makes the generation (kept increasing even if the clock steps back).
  Status Poll(const ReadGate& gate, int64_t now_ms);
  // A tombstone for this instance, flushed within `timeout`.
  Status Leave(std::chrono::milliseconds timeout);

  const std::string& instance() const { return instance_; }

 private:
  bus::Producer& producer_;
  const std::string instance_;
  const std::string query_url_;
  const std::chrono::milliseconds every_;
  uint64_t sent_version_ = 0;
  int32_t sent_count_ = -1;
  int64_t last_generation_ = 0;
  int64_t last_sent_ms_ = 0;
  bool sent_ = false;
};

}  // namespace pathway::engine
