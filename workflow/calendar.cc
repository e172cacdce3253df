#include "workflow/calendar.h"

namespace pathway::workflow {
namespace {
using std::chrono::days;
using std::chrono::sys_days;

// 01:00 UTC on the last Sunday of `month` in `year`: when UK clocks change.
std::chrono::sys_seconds ClockChange(std::chrono::year year, std::chrono::month month) {
  sys_days last_sunday{year / month / std::chrono::Sunday[std::chrono::last]};
  return std::chrono::sys_seconds{last_sunday} + std::chrono::hours(1);
}
}  // namespace

CivilDate LondonDate(TimePoint t) {
  auto secs = std::chrono::floor<std::chrono::seconds>(t);
  CivilDate utc{std::chrono::floor<days>(secs)};
  bool bst = secs >= ClockChange(utc.year(), std::chrono::March) &&
             secs < ClockChange(utc.year(), std::chrono::October);
  auto local = bst ? secs + std::chrono::hours(1) : secs;
  return CivilDate{std::chrono::floor<days>(local)};
}

std::optional<CivilDate> ToCivil(const pathway::v1::Date& d) {
  // Checked as int32 before std::chrono::year narrows it to a short (67561 would
  // otherwise wrap to 2025).
  if (d.year() < kMinCivilYear || d.year() > kMaxCivilYear) return std::nullopt;
  if (d.month() < 1 || d.month() > 12 || d.day() < 1 || d.day() > 31) return std::nullopt;
  CivilDate c{std::chrono::year{d.year()}, std::chrono::month{static_cast<unsigned>(d.month())},
              std::chrono::day{static_cast<unsigned>(d.day())}};
  if (!c.ok()) return std::nullopt;
  return c;
}

CivilDate StoredDate(const pathway::v1::Date& d) {
  return ToCivil(d).value_or(CivilDate{sys_days{}});
}

pathway::v1::Date ToProto(CivilDate d) {
  pathway::v1::Date out;
  out.set_year(static_cast<int>(d.year()));
  out.set_month(static_cast<int>(static_cast<unsigned>(d.month())));
  out.set_day(static_cast<int>(static_cast<unsigned>(d.day())));
  return out;
}

}  // namespace pathway::workflow
