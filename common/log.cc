#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace pathway::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_mu;

constexpr std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

// Partner bytes are the reason for this escaping: one value is one token on one line,
// and nothing in it reaches a terminal as a control sequence.
bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// The length of the valid, printable UTF-8 sequence at v[i] (a code point of U+00A0 or
// above), or 0 if the bytes there must be escaped.
size_t PrintableUtf8(std::string_view v, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(v[k]); };
  size_t n = (b(i) & 0xE0) == 0xC0 ? 2 : (b(i) & 0xF0) == 0xE0 ? 3 : (b(i) & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || i + n > v.size()) return 0;
  uint32_t cp = b(i) & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    if (!IsContinuation(b(i + k))) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return cp < 0xA0 ? 0 : n;  // C1 controls are escaped byte by byte
}

void AppendValue(std::string& line, std::string_view v) { line += EscapeValue(v); }
}  // namespace

std::string EscapeValue(std::string_view v) {
  size_t total = v.size();
  bool cut = total > kMaxValueBytes;
  if (cut) {
    size_t keep = kMaxValueBytes;
    while (keep > 0 && IsContinuation(static_cast<unsigned char>(v[keep]))) --keep;
    v = v.substr(0, keep);
  }
  std::string body;
  bool quote = v.empty() || cut;
  for (size_t i = 0; i < v.size();) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    if (c >= 0x80) {
      if (size_t n = PrintableUtf8(v, i)) {
        body.append(v.substr(i, n));
        i += n;
        continue;
      }
    }
    ++i;
    if (c == '"' || c == '\\') {
      body += '\\';
      body += static_cast<char>(c);
      quote = true;
    } else if (c == ' ' || c == '=') {
      body += static_cast<char>(c);
      quote = true;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      body += c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
      quote = true;
    } else if (c < 0x20 || c >= 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      body += "\\x";
      body += kHex[c >> 4];
      body += kHex[c & 0xF];
      quote = true;
    } else {
      body += static_cast<char>(c);
    }
  }
  if (cut) body += "...(" + std::to_string(total) + " bytes)";
  return quote ? '"' + body + '"' : body;
}

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }

void Write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  // Log timestamps are wall-clock by nature; they never feed decisions.
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  std::string line = "ts=";
  line += ts;
  line += " level=";
  line += LevelName(level);
  line += " event=";
  AppendValue(line, event);
  for (const auto& [k, v] : fields) {
    line.push_back(' ');
    line.append(k);
    line.push_back('=');
    AppendValue(line, v);
  }
  line.push_back('\n');
  std::lock_guard lock(g_mu);
  std::fputs(line.c_str(), stderr);
}

}  // namespace pathway::log
