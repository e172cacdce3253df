#include "services/engine/dedupe_window.h"

#include <charconv>
#include <cstdint>

namespace pathway::engine {

std::optional<std::string> DedupeWindowShortfall(
    int dedupe_days, std::string_view topic, const std::map<std::string, std::string>& configs) {
  if (dedupe_days <= 0) return std::nullopt;  // kept for ever covers any retention
  std::string why(topic);
  const auto it = configs.find("retention.ms");
  int64_t retention_ms = 0;
  if (it == configs.end()) {
    why += ": the brokers did not state its retention.ms";
    return why;
  }
  const std::string& text = it->second;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), retention_ms);
  if (ec != std::errc() || end != text.data() + text.size() || retention_ms < -1) {
    why += ": retention.ms '";
    why += text.substr(0, 40);
    why += "' is not a number of milliseconds";
    return why;
  }
  const int64_t window_ms = int64_t{dedupe_days} * 24 * 60 * 60 * 1000;
  if (retention_ms == -1) {
    why += " keeps messages for ever (retention.ms -1): set --dedupe-retention-days 0";
    return why;
  }
  if (retention_ms <= window_ms) return std::nullopt;
  // Whole days, rounded up: the smallest window that covers the topic.
  const int64_t day_ms = int64_t{24} * 60 * 60 * 1000;
  const int64_t days = (retention_ms + day_ms - 1) / day_ms;
  why += " keeps messages for ";
  why += std::to_string(retention_ms);
  why += " ms (";
  why += std::to_string(days);
  why += " days), longer than --dedupe-retention-days ";
  why += std::to_string(dedupe_days);
  why += ": set it to at least ";
  why += std::to_string(days);
  why += " (0 keeps entries for ever)";
  return why;
}

}  // namespace pathway::engine
