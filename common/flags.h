// Command-line helpers shared by the executables' main() functions. Pure; thread-safe.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string>

namespace pathway {

// The whole number `v` spells (decimal, optional sign, nothing else), if it lies in
// [min, max]; nullopt otherwise (empty, trailing characters, out of range, overflow).
inline std::optional<long long> WholeNumber(const std::string& v, long long min, long long max) {
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || errno == ERANGE || n < min || n > max) {
    return std::nullopt;
  }
  return n;
}

}  // namespace pathway
