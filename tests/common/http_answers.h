// What tests read back from an HTTP answer (services/gateway/http): the rule of an
// RFC 9457 problem, and a header by its case-insensitive name.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "services/gateway/http/http_server.h"

namespace pathway::testing {

// The problem's "rule" ("" when the body names none).
inline std::string RuleOf(const gateway::HttpResponse& r) {
  auto at = r.body.find("\"rule\":\"");
  if (at == std::string::npos) return {};
  at += 8;
  return r.body.substr(at, r.body.find('"', at) - at);
}

// The first value of header `name` ("" when absent).
inline std::string HeaderOf(const gateway::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return "";
}

}  // namespace pathway::testing
