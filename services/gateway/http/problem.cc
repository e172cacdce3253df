#include "services/gateway/http/problem.h"

#include <cstdio>

namespace pathway::gateway {
namespace {

// Length of the valid UTF-8 sequence at s[i], 0 if invalid (overlongs, surrogates
// and code points above U+10FFFF included).
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n = 0;
  uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0)
    n = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0)
    n = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0)
    n = 4, cp = c & 0x07;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

std::string JsonString(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out += '"';
  for (size_t i = 0; i < value.size();) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (size_t n = Utf8Length(value, i); n > 0) {
      out.append(value.substr(i, n));
      i += n;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out += '"';
  return out;
}

std::string SafeFieldName(std::string_view name) {
  constexpr std::string_view kUnprintable = "(unprintable)";
  if (name.empty() || name.size() > 128) return std::string(kUnprintable);
  const bool letter = (name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z');
  if (!letter) return std::string(kUnprintable);
  int digits = 0;  // a run of digits long enough to be part of an identifier is not a name
  for (char c : name) {
    const bool digit = c >= '0' && c <= '9';
    digits = digit ? digits + 1 : 0;
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || digit || c == '_' ||
                    c == '.' || c == '[' || c == ']';
    if (!ok || digits > 3) return std::string(kUnprintable);
  }
  return std::string(name);
}

std::string ViolationsJson(const std::vector<Violation>& violations) {
  std::string out = "[";
  for (size_t i = 0; i < violations.size(); ++i) {
    const auto& v = violations[i];
    if (i) out += ',';
    out += "{\"field\":";
    out += JsonString(v.field);
    out += ",\"rule\":";
    out += JsonString(v.rule);
    out += ",\"reason\":";
    out += JsonString(v.reason);
    out += '}';
  }
  out += ']';
  return out;
}

HttpResponse ProblemResponse(const Problem& p) {
  std::string body = "{\"type\":" + JsonString("https://pathway.invalid/problems/" + p.rule) +
                     ",\"title\":" + JsonString(p.title) +
                     ",\"status\":" + std::to_string(p.status);
  if (!p.detail.empty()) body += ",\"detail\":" + JsonString(p.detail);
  body += ",\"rule\":" + JsonString(p.rule);
  if (!p.field.empty()) body += ",\"field\":" + JsonString(p.field);
  if (!p.event_id.empty()) body += ",\"eventId\":" + JsonString(p.event_id);
  if (!p.violations.empty()) {
    body += ",\"violations\":";
    body += ViolationsJson(p.violations);
  }
  body += '}';
  HttpResponse r;
  r.status = p.status;
  r.headers.emplace_back("Content-Type", "application/problem+json");
  r.body = std::move(body);
  return r;
}

}  // namespace pathway::gateway
