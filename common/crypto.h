// Hashing and keyed hashing (OpenSSL). Thread-safe; no state.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace pathway {

std::string Sha256(std::string_view data);                            // 32 raw bytes
std::string HmacSha256(std::string_view key, std::string_view data);  // 32 raw bytes
std::string HexEncode(std::string_view bytes);
// Returns false if `hex` is not an even-length string of hex digits.
bool HexDecode(std::string_view hex, std::string* out);
// `n` bytes from the operating system's CSPRNG (OpenSSL RAND_bytes).
Result<std::string> RandomBytes(size_t n);

// The id of the `index`-th event emitted because of inbound event `cause_id`: the same
// inputs always give the same id, so a re-send after a crash repeats ids that
// consumers can dedupe. 32 lowercase hex characters.
std::string DerivedEventId(std::string_view cause_id, uint32_t index);

}  // namespace pathway
