// Helpers the read routes share (reads.cc, caseload_reads.cc). Not a public header.
#pragma once

#include <optional>
#include <string>
#include <string_view>

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

}  // namespace pathway::gateway::reads_internal
