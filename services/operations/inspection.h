// One child's case as the engine holds it, and why it is in its state: what
// `pathwayctl inspect` prints and what the engine answers the gateway's operations role
// (docs/operations.md, "inspect"). Pathways with their definition versions, the step and
// the command that put each where it is, deadlines with their rules, refusals, the
// shared record's provenance (never its content), consents, pending timers, the outbox
// and the whole history held, with business and processing dates.
//
// Reading and rendering only: the caller records the operation and the child shown on
// pathway.audit.v1 before it shows the result. Thread-compatible; LoadInspection reads
// the store with its thread-safe reads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "state/case_store.h"

namespace pathway::operations {

struct CaseInspection {
  struct Outboxed {
    uint64_t sequence = 0;
    std::string topic;
    std::string type;  // the payload's name; "" when it does not decode
  };
  int32_t partition = 0;
  std::string subject;
  pathway::store::v1::CaseState state;
  std::vector<pathway::v1::Envelope> history;  // from state.history_kept_from()
  std::vector<pathway::store::v1::Timer> timers;
  std::vector<Outboxed> outbox;  // this child's outputs not yet confirmed by Kafka
};

// Reads the history, pending timers and outbox of `subject`, whose stored state is
// `state`, from `cases`. The store's errors are returned as they are.
Result<CaseInspection> LoadInspection(state::CaseStore& cases, int32_t partition,
                                      std::string subject, pathway::store::v1::CaseState state);

// One JSON document: the operation's id and the case (the layout docs/operations.md
// describes for `inspect --json`).
std::string InspectionJson(const CaseInspection& c, std::string_view operation_id);
// The human form, lines ending in '\n'.
std::string InspectionText(const CaseInspection& c);

}  // namespace pathway::operations
