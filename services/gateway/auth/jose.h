// Private helpers of the authenticator (not part of its contract): strict base64url
// and a small strict JSON reader for JWKS files and JWT headers and claims.
//
// Strict means: base64url without padding and with zero trailing bits (one encoding
// per byte string); JSON per RFC 8259 with no duplicate object keys, valid UTF-8, no
// U+0000, bounded nesting, nothing after the value. What is refused here cannot be
// read differently by another parser (libjwt's jansson keeps the last duplicate key).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pathway::gateway::jose {

std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);
// True if every character is in the base64url alphabet [A-Za-z0-9_-].
bool IsBase64UrlText(std::string_view text);

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;                                 // kString: the decoded UTF-8 text
  std::vector<JsonValue> items;                       // kArray; kObject: the member values
  std::vector<std::string> keys;                      // kObject: the member names, same order
  const JsonValue* Find(std::string_view key) const;  // kObject only; null if absent
  bool is_string() const { return kind == Kind::kString; }
  bool is_number() const { return kind == Kind::kNumber; }
  bool is_object() const { return kind == Kind::kObject; }
  bool is_array() const { return kind == Kind::kArray; }
};

inline constexpr int kMaxJsonDepth = 16;
std::optional<JsonValue> ParseJson(std::string_view text, int max_depth = kMaxJsonDepth);

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

}  // namespace pathway::gateway::jose
