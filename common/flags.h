// Command-line helpers shared by the executables' main() functions. Pure; thread-safe.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>

#include "common/result.h"

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

// "HOST:PORT" (an IPv6 host in brackets, which are removed) for a listening address;
// false if there is no host or the port is not a whole number from 0 to 65535.
inline bool SplitHostPort(const std::string& v, std::string* host, uint16_t* port) {
  const size_t colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  const auto p = WholeNumber(v.substr(colon + 1), 0, 65535);
  if (!p) return false;
  *host = v.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  *port = static_cast<uint16_t>(*p);
  return true;
}

// The service token in file `path` (the engines' query endpoint and the gateways share
// it): the file's content without surrounding white space, one word of at least 32
// characters (e.g. 64 hex digits). Errors name the file, never its content.
inline Result<std::string> ReadServiceToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{std::make_error_code(std::errc::no_such_file_or_directory), path};
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  const auto first = token.find_first_not_of(" \t\r\n");
  const auto last = token.find_last_not_of(" \t\r\n");
  token = first == std::string::npos ? std::string() : token.substr(first, last - first + 1);
  if (token.size() < 32 || token.find_first_of(" \t\r\n") != std::string::npos) {
    return Error{std::make_error_code(std::errc::invalid_argument),
                 path + ": a service token is one word of at least 32 characters"};
  }
  return token;
}

}  // namespace pathway
