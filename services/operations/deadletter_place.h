// A dead letter's own place on pathway.deadletter.v1, written "PARTITION/OFFSET": how
// operations name one (deadletters.h), on the command line and over HTTP. Header-only,
// so that the gateway checks a place without linking the operations library.
#pragma once

#include <charconv>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace pathway::operations {

struct DeadLetterPlace {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string Text() const { return std::to_string(partition) + "/" + std::to_string(offset); }
  auto operator<=>(const DeadLetterPlace&) const = default;
};

// Two numbers of decimal digits, not negative, with one slash between; nullopt if not.
inline std::optional<DeadLetterPlace> ParseDeadLetterPlace(std::string_view text) {
  auto number = [](std::string_view digits, auto& value) {
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return ec == std::errc() && ptr == digits.data() + digits.size() && value >= 0;
  };
  const size_t slash = text.find('/');
  DeadLetterPlace place;
  if (slash == std::string_view::npos || !number(text.substr(0, slash), place.partition) ||
      !number(text.substr(slash + 1), place.offset)) {
    return std::nullopt;
  }
  return place;
}

}  // namespace pathway::operations
