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

}  // namespace pathway::workflow
