#include "services/gateway/api/command_routes.h"

#include <algorithm>

#include "pathway/v1/envelope.pb.h"

namespace pathway::gateway {
namespace {

using google::protobuf::FieldDescriptor;

// Field-number ranges of the catalogue (proto/pathway/v1/envelope.proto), so that a
// command added to a range gets its range's rule without a change here.
bool In(int n, int lo, int hi) { return n >= lo && n <= hi; }

constexpr int kReferralSubmitted = 100;
constexpr int kEhcAdviceReceived = 143;
constexpr int kFactProvided = 400;
constexpr int kConsentRecorded = 401;
constexpr int kIdentifierLinked = 403;
constexpr int kErasureRequested = 405;

std::vector<Role> RolesFor(int n) {
  std::vector<Role> roles;
  const bool record = n == kFactProvided || n == kConsentRecorded || n == kIdentifierLinked;
  const bool clinical = n == kReferralSubmitted || n == kEhcAdviceReceived || In(n, 250, 299);
  const bool casework = In(n, 100, 249) || In(n, 300, 399);
  roles.push_back(Role::kPartnerSystem);
  if (clinical || record) roles.push_back(Role::kClinician);
  if (casework || record) roles.push_back(Role::kCaseworker);
  if (clinical || casework || record) roles.push_back(Role::kTeamManager);
  if (n == kErasureRequested) roles.push_back(Role::kOperations);
  return roles;
}

// Partner commands are 100..449 (events start at 450); of those, a record view is made
// by the read routes and an alias link only by the engine's intake.
bool Routable(int n) { return In(n, 100, 449) && n != 402 && n != 404; }

std::vector<CommandRoute> Build() {
  std::vector<CommandRoute> routes;
  const auto* envelope = pathway::v1::Envelope::descriptor();
  const auto* payload = envelope->FindOneofByName("payload");
  for (int i = 0; i < payload->field_count(); ++i) {
    const FieldDescriptor* field = payload->field(i);
    if (!Routable(field->number())) continue;
    routes.push_back(CommandRoute{field->name(), field, RolesFor(field->number())});
  }
  std::sort(routes.begin(), routes.end(),
            [](const auto& a, const auto& b) { return a.payload->number() < b.payload->number(); });
  return routes;
}

}  // namespace

const std::vector<CommandRoute>& CommandRoutes() {
  static const std::vector<CommandRoute> routes = Build();
  return routes;
}

const CommandRoute* FindCommandRoute(std::string_view name) {
  for (const auto& route : CommandRoutes()) {
    if (route.name == name) return &route;
  }
  return nullptr;
}

bool MaySend(const CommandRoute& route, Role role) {
  return std::find(route.roles.begin(), route.roles.end(), role) != route.roles.end();
}

}  // namespace pathway::gateway
