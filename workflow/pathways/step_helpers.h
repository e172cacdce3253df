// Small helpers shared by the pathway definitions (internal to workflow/).
#pragma once

#include <cctype>
#include <string>
#include <string_view>

#include "workflow/pathway.h"

namespace pathway::workflow::pathways {

inline Rejection Required(std::string field) {
  return {std::move(field), "required", "this field is required"};
}

// "ADVICE_SOURCE_HEALTH", "ADVICE_SOURCE_" -> "health": enum values as stable snake_case.
inline std::string EnumSuffix(std::string_view name, std::string_view prefix) {
  if (name.starts_with(prefix)) name.remove_prefix(prefix.size());
  std::string out(name);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace pathway::workflow::pathways
