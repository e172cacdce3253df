// Which commands are "the same event": the identity a command is processed once under,
// and the digest that tells a repeat from a different message reusing an id.
//
// Event ids are chosen by partners, so they are one namespace only within one source
// system: two partners (or one partner writing about two children) may use the same
// id. A command's identity is therefore its source (agency and system), its event id
// and its subject; the ids of everything it causes derive from that identity, so they
// never collide either. Pure and thread-safe; the engine and the simulator both use it.
#pragma once

#include <string>

#include "common/time_source.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/rejection.h"

namespace pathway::workflow {

// Length-prefixed source agency, source system, event id and subject key: the key of
// the dedupe entry and the cause that output ids derive from.
std::string CommandIdentity(const pathway::v1::Envelope& command);

// 16 bytes: SHA-256 of the command as the engine received it, with recorded_at
// cleared (a partner's retry may restamp its transport time) and inbound_place (where
// the intake read it). The same message sent
// again has the same digest; another message under the same identity does not.
std::string ContentDigest(const pathway::v1::Envelope& command);

// Rule event_id.reused_with_different_content.
Rejection ReusedIdRejection();

// The rejection of `command`, whose identity was first used by a message with other
// content. Its id derives from the identity and `digest` (the reused message's), so
// it differs from every id the first message caused and repeats only with the same
// reused message.
pathway::v1::Envelope MakeReusedIdRejection(const pathway::v1::Envelope& command,
                                            const std::string& digest, TimePoint now);

}  // namespace pathway::workflow
