// The commands a caller may send through the gateway, one route each:
//
//   POST /v1/commands/<payload field name>      e.g. /v1/commands/nd_first_appointment_attended
//
// and who may send which. The body is the protobuf JSON mapping of pathway.v1.Envelope
// (docs/gateway.md): the payload named by the route, `subject`, and optionally
// `occurredAt` and `correlationId`; the gateway sets the rest from the caller.
//
// Authorisation (docs/gateway.md, "Who may do what"): a partner system may send every
// partner command; a clinician the referral, every neurodevelopmental step and EHC
// health advice; a caseworker every referral, EHC, annual review, phase transfer,
// preparing-for-adulthood, grant and disagreement step; a team manager what either
// may; operations only an erasure request; an auditor nothing. Every role that may
// write may also record facts, consent and identifier links. Never through the
// gateway: record views (the read routes make them) and the engine's own commands
// and events. Pure; thread-safe.
#pragma once

#include <google/protobuf/descriptor.h>

#include <string_view>
#include <vector>

#include "services/gateway/auth/auth.h"

namespace pathway::gateway {

struct CommandRoute {
  std::string_view name;                             // the payload field name
  const google::protobuf::FieldDescriptor* payload;  // in pathway.v1.Envelope
  std::vector<Role> roles;                           // who may send it
};

// Every route, in payload field-number order.
const std::vector<CommandRoute>& CommandRoutes();
// The route for a payload name, or null.
const CommandRoute* FindCommandRoute(std::string_view name);
bool MaySend(const CommandRoute& route, Role role);

}  // namespace pathway::gateway
