// Identifier checks from ../shared/domain.md. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace pathway::workflow {

// NHS number: exactly 10 digits; weights 10..2 on digits 1-9, check = 11 - (sum mod 11),
// 11 means 0, 10 means the number is never issued. Spaces are NOT accepted: partner
// systems send the canonical form.
bool IsValidNhsNumber(std::string_view nhs_number);

// UPN (unique pupil number): 13 characters, a check letter then 12 characters of which
// the first 11 are digits and the last a digit or, for a temporary UPN, a letter of
// the check alphabet. Check: sum of characters 2-13 times their position (2..13), a
// letter counting as its index in the alphabet, mod 23, mapped to
// ABCDEFGHJKLMNPQRTUVWXYZ (no I, O, S). Upper case only (the canonical form).
bool IsValidUpn(std::string_view upn);

// A subject key (a child id) as the engine's keyer writes it: 64 lower-case hex digits.
// Anything else in a URL or a query is refused before it reaches RocksDB or a log.
bool IsSubjectKey(std::string_view key);

// `text` with every run of ten or more digits (spaces or hyphens between them allowed,
// as NHS numbers are written) replaced by "[number]": for text that is shown or logged
// and may quote what someone sent (a dead letter's reason), so that no NHS number
// passes through it.
std::string MaskLongNumbers(std::string_view text);

}  // namespace pathway::workflow
