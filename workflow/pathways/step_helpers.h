// Small helpers shared by the pathway definitions (internal to workflow/).
#pragma once

#include <cctype>
#include <string>
#include <string_view>

#include "workflow/pathway.h"

namespace pathway::workflow::pathways {

// For a field required only in some states or with another field's value; a field
// required whatever the case holds is marked (pathway.v1.required) in the schema instead,
// and MissingRequired decides it before any step runs (docs/decisions.md 142).
inline Rejection Required(std::string field) {
  return {std::move(field), "required", "this field is required"};
}

// An enum value the schema does not know, in a switch over a required enum: zero is
// rejected before the step runs (MissingRequired) and unknown values at intake (input
// limits); this answers a caller of Decide that skipped intake the same way.
inline Rejection UnknownValue(std::string field) {
  return {std::move(field), "enum.unknown_value", "this value is not one the schema defines"};
}

// "ADVICE_SOURCE_HEALTH", "ADVICE_SOURCE_" -> "health": enum values as stable snake_case.
inline std::string EnumSuffix(std::string_view name, std::string_view prefix) {
  if (name.starts_with(prefix)) name.remove_prefix(prefix.size());
  std::string out(name);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace pathway::workflow::pathways
