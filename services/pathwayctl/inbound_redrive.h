// Re-drive from pathway.inbound.v1 (docs/operations.md, "redrive from the inbound
// topic"): what became of each partner message in a window of the landing topic, judged
// as the engine running this version would judge it now, against the engine's stores.
// A message that never reached a case (lost with a commands topic, refused or
// dead-lettered by an intake bug since fixed) is "new": sent again, the engine decides
// it; one the engine already decided is recognised as it would be (dedupe entry, or
// the case's kept copy), so sending everything again would change nothing else.
//
// Pure over its inputs (the stores are only read); not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "services/bus/event_bus.h"
#include "state/case_store.h"
#include "workflow/identity.h"

namespace pathway::ctl {

enum class InboundFate {
  kProcessed,     // every command it routes to was decided (seen, same content)
  kNew,           // a command it routes to never reached its case: sending it again decides it
  kReusedId,      // its id was decided with other content: sent again, it is refused
  kRefused,       // intake refuses it (input limits, no child): sent again, refused again
  kDeadLettered,  // not an Envelope, a newer schema, too large: dead-lettered again
};
std::string_view FateName(InboundFate fate);

struct InboundVerdict {
  InboundFate fate = InboundFate::kProcessed;
  std::vector<std::string> subjects;  // the cases its commands go to (hex subject keys)
  std::string payload;                // the payload's field name ("" when undecodable)
  std::string reason;                 // why refused or dead-lettered (no personal data)
};

// The verdict on inbound message `m`. `key`: the deployment's subject key function;
// `stores`: every partition store of the engine (read-only), searched for each command;
// `max_message_bytes`: the engine's inbound limit.
Result<InboundVerdict> JudgeInbound(const bus::Message& m, const workflow::KeyFunction& key,
                                    const std::vector<state::CaseStore*>& stores,
                                    size_t max_message_bytes);

}  // namespace pathway::ctl
