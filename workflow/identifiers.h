// Identifier checks from ../shared/domain.md. Pure functions, thread-safe.
#pragma once

#include <string_view>

namespace pathway::workflow {

// NHS number: exactly 10 digits; weights 10..2 on digits 1-9, check = 11 - (sum mod 11),
// 11 means 0, 10 means the number is never issued. Spaces are NOT accepted: partner
// systems send the canonical form.
bool IsValidNhsNumber(std::string_view nhs_number);

}  // namespace pathway::workflow
