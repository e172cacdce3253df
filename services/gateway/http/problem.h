// RFC 9457 problem documents (`application/problem+json`) and the few JSON helpers the
// gateway writes by hand. Every problem the gateway answers names a stable `rule`
// (the same rule names the engine uses, docs/gateway.md lists the gateway's own) and,
// where one field is at fault, `field` (its path in protobuf names). A detail never
// repeats what the client sent. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/gateway/http/http_server.h"

namespace pathway::gateway {

struct Violation {
  std::string field;
  std::string rule;
  std::string reason;
};

struct Problem {
  int status = 400;
  std::string title;                  // short, the same for every problem of this rule
  std::string rule;                   // stable id, e.g. "body.invalid_json", "nhs_number.modulus11"
  std::string detail;                 // for people; no client input
  std::string field;                  // optional
  std::string event_id;               // optional: the command it is about
  std::vector<Violation> violations;  // optional
};

inline Problem MakeProblem(int status, std::string title, std::string rule, std::string detail) {
  Problem p;
  p.status = status;
  p.title = std::move(title);
  p.rule = std::move(rule);
  p.detail = std::move(detail);
  return p;
}

// The response: status, `Content-Type: application/problem+json`, and the document
// {"type": "https://pathway.invalid/problems/<rule>", "title", "status", "detail",
//  "rule", "field", "eventId", "violations": [...]} (empty members left out).
HttpResponse ProblemResponse(const Problem& problem);

// `violations` as the JSON array both problems and outcomes carry:
// [{"field", "rule", "reason"}, ...].
std::string ViolationsJson(const std::vector<Violation>& violations);

// A JSON string literal (quotes included) with every control character, quote,
// backslash and non-ASCII byte sequence escaped safely (invalid UTF-8 becomes U+FFFD).
std::string JsonString(std::string_view value);

// The name of a field for a problem document: `name` if it is a plausible protobuf or
// JSON field name (a letter, then letters, digits, '_', '.', '[', ']', no run of more
// than 3 digits, at most 128 bytes), else "(unprintable)": a hostile body cannot make
// the gateway echo arbitrary text or an identifier.
std::string SafeFieldName(std::string_view name);

}  // namespace pathway::gateway
