// Errors of the state module.
#pragma once

#include <system_error>

namespace pathway::state {

enum class errc {
  kOk = 0,
  kIo = 1,            // RocksDB reported an I/O or internal error
  kCorruption = 2,    // stored bytes do not parse
  kIncompatible = 3,  // the data directory was written by an incompatible version
  kInvalidArgument = 4,
  kErased = 5,       // the subject's data key was destroyed (erasure): nothing sealed opens
  kKeyMismatch = 6,  // a data key does not unwrap: the store was written under another KEK
};
const std::error_category& state_category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), state_category()}; }

}  // namespace pathway::state

template <>
struct std::is_error_code_enum<pathway::state::errc> : std::true_type {};
