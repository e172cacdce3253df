#include "workflow/identifiers.h"

namespace pathway::workflow {

bool IsValidNhsNumber(std::string_view n) {
  if (n.size() != 10) return false;
  int sum = 0;
  for (size_t i = 0; i < 10; ++i) {
    if (n[i] < '0' || n[i] > '9') return false;
    if (i < 9) sum += (n[i] - '0') * static_cast<int>(10 - i);
  }
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  if (check == 10) return false;
  return check == n[9] - '0';
}

bool IsValidUpn(std::string_view upn) {
  constexpr std::string_view kAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";
  if (upn.size() != 13) return false;
  int sum = 0;
  for (size_t i = 1; i < 13; ++i) {
    const int position = static_cast<int>(i) + 1;
    const char c = upn[i];
    int value = 0;
    if (c >= '0' && c <= '9') {
      value = c - '0';
    } else if (i == 12 && kAlphabet.find(c) != std::string_view::npos) {
      value = static_cast<int>(kAlphabet.find(c));  // a temporary UPN
    } else {
      return false;
    }
    sum += value * position;
  }
  return upn[0] == kAlphabet[static_cast<size_t>(sum % 23)];
}

bool IsSubjectKey(std::string_view key) {
  return key.size() == 64 && key.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string MaskLongNumbers(std::string_view text) {
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!digit(text[i])) {
      out.push_back(text[i++]);
      continue;
    }
    size_t end = i, digits = 0, last_digit = i;
    while (end < text.size() && (digit(text[end]) || text[end] == ' ' || text[end] == '-')) {
      if (digit(text[end])) {
        ++digits;
        last_digit = end;
      }
      ++end;
    }
    // The run ends at its last digit: a space or hyphen after it is ordinary text.
    if (digits >= 10) {
      out += "[number]";
    } else {
      out.append(text.substr(i, last_digit + 1 - i));
    }
    i = last_digit + 1;
  }
  return out;
}

}  // namespace pathway::workflow
