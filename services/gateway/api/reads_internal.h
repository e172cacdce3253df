// Helpers the read routes share (reads.cc, caseload_reads.cc). Not a public header.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/result.h"
#include "pathway/v1/views.pb.h"
#include "services/gateway/api/reads.h"
#include "services/gateway/http/http_server.h"

namespace pathway::gateway::reads_internal {

// 503 with the rule and Retry-After: 1.
HttpResponse Unavailable(std::string rule, std::string detail);
// 400 naming the query parameter `field` (rule "query.<field>").
HttpResponse BadQuery(const std::string& field, std::string detail);
// 503 audit.unavailable: a read whose audit record the broker did not confirm.
HttpResponse NotAudited();
// `value` percent-encoded for a query string (unreserved characters kept).
std::string PercentEncode(std::string_view value);
// The engine's answer as the gateway's: its views and its problems (which name the
// engine's rules) pass through; anything else is the gateway's own problem.
HttpResponse Passed(const HttpResponse& engine);
// The first value of `name` in a query string, as sent ("" if absent).
std::string RawQueryValue(std::string_view query, std::string_view name);
// The same, telling absent (nullopt) from present and empty ("name=" or "name").
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);

// Asks the instance that owns `key`'s partition (from `directory`) for `request`,
// asking again with the directory's newer answer when an instance says it is not the
// owner (421), at most `max_attempts` times; then 503 engine.rebalancing.
void AskOwner(EngineDirectory& directory, EngineCaller& engines, int max_attempts,
              const std::string& key, EngineRequest request,
              std::function<void(Result<HttpResponse>)> done, int attempt = 0);

// The child an NHS number or UPN names (exactly one in `search`): its child id, or the
// answer to give instead (404 child.not_found, the engine's 400/422 naming the field,
// 503). A UPN names an alias, which its owner resolves to the linked child. Nothing is
// audited here: the caller audits what it then does with the child.
using FoundChild = std::variant<std::string, HttpResponse>;
void FindChild(EngineDirectory& directory, EngineCaller& engines, int max_attempts,
               const pathway::v1::ChildSearch& search, std::function<void(FoundChild)> done);

// 404 child.not_found (the same words whether unknown or not visible to the caller).
HttpResponse ChildNotFound();
// 503 engine.unavailable: the engine could not be asked (the cause stays in the server).
HttpResponse EngineError(const Error& e);

}  // namespace pathway::gateway::reads_internal
