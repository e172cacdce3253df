// Structured logs: one line per event, `ts=... level=... event=... key=value ...`,
// on stderr. Callers pass only non-personal values (subject keys, event ids,
// offsets, counts): never a name, NHS number or address. Thread-safe.
//
// Values are escaped (EscapeValue), because some come from partners (an event id, a
// topic coordinate): a value is quoted if it holds a space, '=', a quote or anything
// escaped; `"` and `\` get a backslash; LF, CR and tab become \n, \r and \t; every other
// control character (C0, DEL, C1) and every byte that is not valid UTF-8 becomes \xHH.
// So one call writes exactly one line, and no partner byte reaches a terminal as a
// control sequence. A value longer than kMaxValueBytes is cut there (at a character
// boundary) and ends `...(N bytes)`, N its full length.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace pathway::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

using Field = std::pair<std::string_view, std::string>;

inline constexpr size_t kMaxValueBytes = 256;

// `v` as it appears in a log line.
std::string EscapeValue(std::string_view v);

void SetLevel(Level level);
void Write(Level level, std::string_view event, std::initializer_list<Field> fields = {});

inline void Info(std::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kInfo, event, fields);
}
inline void Warn(std::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kWarn, event, fields);
}
inline void Error(std::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kError, event, fields);
}
inline void Debug(std::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kDebug, event, fields);
}

}  // namespace pathway::log
