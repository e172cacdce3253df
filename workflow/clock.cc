#include "workflow/clock.h"

#include <algorithm>
#include <cstddef>
#include <iterator>

namespace pathway::workflow {
namespace {
using std::chrono::sys_days;

// One row of the bank-holiday table; the rows are generated from
// workflow/data/bank_holidays_england_wales.txt by workflow/CMakeLists.txt.
struct BankHolidayRow {
  int year;
  unsigned month;
  unsigned day;
  std::string_view name;

  constexpr CivilDate date() const {
    return CivilDate{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  }
};

#include "workflow/bank_holidays_england_wales.inc"

constexpr std::size_t kRowCount = std::size(kBankHolidayRows);
constexpr int kFirstYear = kBankHolidayRows[0].year;
constexpr int kLastYear = kBankHolidayRows[kRowCount - 1].year;

constexpr bool IsWeekend(CivilDate d) {
  const std::chrono::weekday wd{sys_days{d}};
  return wd == std::chrono::Saturday || wd == std::chrono::Sunday;
}

// The data file's rules, checked when this file compiles: a bad edit to the data fails the
// build rather than a deadline.
constexpr bool AllRealWeekdays() {
  for (const BankHolidayRow& row : kBankHolidayRows) {
    if (!row.date().ok() || IsWeekend(row.date()) || row.name.empty()) return false;
  }
  return true;
}
constexpr bool StrictlyAscending() {
  for (std::size_t i = 1; i < kRowCount; ++i) {
    if (!(kBankHolidayRows[i - 1].date() < kBankHolidayRows[i].date())) return false;
  }
  return true;
}
// England and Wales have at least 8 bank holidays every year, so a covered year with fewer
// rows has been left incomplete (the table's coverage is every year from first to last).
constexpr bool EveryYearComplete() {
  for (int y = kFirstYear; y <= kLastYear; ++y) {
    int count = 0;
    for (const BankHolidayRow& row : kBankHolidayRows) count += row.year == y ? 1 : 0;
    if (count < 8) return false;
  }
  return true;
}
static_assert(AllRealWeekdays(), "bank_holidays_england_wales.txt: a date is not a real weekday");
static_assert(StrictlyAscending(), "bank_holidays_england_wales.txt: dates must be ascending");
static_assert(EveryYearComplete(), "bank_holidays_england_wales.txt: a covered year has < 8 days");
static_assert(kFirstYear <= 2020 && kLastYear >= 2032, "the table must cover 2020..2032");

const BankHolidayRow* FindBankHoliday(CivilDate d) {
  const auto* it = std::lower_bound(
      std::begin(kBankHolidayRows), std::end(kBankHolidayRows), d,
      [](const BankHolidayRow& row, const CivilDate& key) { return row.date() < key; });
  if (it == std::end(kBankHolidayRows) || it->date() != d) return nullptr;
  return it;
}

void AppendZeroPadded(std::string& out, unsigned value, std::size_t width) {
  std::string digits = std::to_string(value);
  if (digits.size() < width) out.append(width - digits.size(), '0');
  out += digits;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The decimal value of text[pos, pos+len), all of which are digits.
unsigned Digits(std::string_view text, std::size_t pos, std::size_t len) {
  unsigned value = 0;
  for (std::size_t i = pos; i < pos + len; ++i) {
    value = value * 10 + static_cast<unsigned>(text[i] - '0');
  }
  return value;
}
}  // namespace

// ---- Calendar arithmetic ----------------------------------------------------------------

CivilDate AddDays(CivilDate d, int n) { return CivilDate{sys_days{d} + std::chrono::days{n}}; }

CivilDate AddWeeks(CivilDate d, int n) { return CivilDate{sys_days{d} + std::chrono::weeks{n}}; }

CivilDate AddMonths(CivilDate d, int n) {
  const CivilDate moved = d + std::chrono::months{n};
  if (moved.ok()) return moved;
  return CivilDate{moved.year() / moved.month() / std::chrono::last};
}

CivilDate AddYears(CivilDate d, int n) {
  const CivilDate moved = d + std::chrono::years{n};
  if (moved.ok()) return moved;
  return CivilDate{moved.year() / moved.month() / std::chrono::last};
}

int DaysBetween(CivilDate from, CivilDate to) {
  return static_cast<int>((sys_days{to} - sys_days{from}).count());
}

std::string FormatDate(CivilDate d) {
  std::string out;
  out.reserve(10);
  int y = static_cast<int>(d.year());
  if (y < 0) {
    out += '-';
    y = -y;
  }
  AppendZeroPadded(out, static_cast<unsigned>(y), 4);
  out += '-';
  AppendZeroPadded(out, static_cast<unsigned>(d.month()), 2);
  out += '-';
  AppendZeroPadded(out, static_cast<unsigned>(d.day()), 2);
  return out;
}

std::optional<CivilDate> ParseDate(std::string_view text) {
  if (text.size() != 10) return std::nullopt;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool ok = (i == 4 || i == 7) ? text[i] == '-' : IsDigit(text[i]);
    if (!ok) return std::nullopt;
  }
  const CivilDate d{std::chrono::year{static_cast<int>(Digits(text, 0, 4))},
                    std::chrono::month{Digits(text, 5, 2)}, std::chrono::day{Digits(text, 8, 2)}};
  if (!d.ok()) return std::nullopt;
  return d;
}

// ---- Bank holidays and working days -----------------------------------------------------

bool IsBankHoliday(CivilDate d) { return FindBankHoliday(d) != nullptr; }

std::optional<std::string_view> BankHolidayName(CivilDate d) {
  const BankHolidayRow* row = FindBankHoliday(d);
  if (row == nullptr) return std::nullopt;
  return row->name;
}

bool IsWorkingDay(CivilDate d) { return !IsWeekend(d) && !IsBankHoliday(d); }

bool InBankHolidayTable(CivilDate d) {
  const int y = static_cast<int>(d.year());
  return y >= kFirstYear && y <= kLastYear;
}

CivilDate AddWorkingDays(CivilDate d, int n) {
  const std::chrono::days step{n >= 0 ? 1 : -1};
  sys_days day{d};
  // Counts toward zero without negating n, so INT_MIN cannot overflow.
  for (int remaining = n; remaining != 0;) {
    day += step;
    if (IsWorkingDay(CivilDate{day})) remaining += n > 0 ? -1 : 1;
  }
  return CivilDate{day};
}

CivilDate NextWorkingDayOnOrAfter(CivilDate d) {
  sys_days day{d};
  while (!IsWorkingDay(CivilDate{day})) day += std::chrono::days{1};
  return CivilDate{day};
}

// ---- SEND Tribunal --------------------------------------------------------------------

CivilDate ApplyAugustRule(CivilDate due) {
  if (due.month() != std::chrono::August) return due;
  return NextWorkingDayOnOrAfter(due.year() / std::chrono::September / 1);
}

// ---- School years -----------------------------------------------------------------------

int AcademicYearStartYear(CivilDate d) {
  const int y = static_cast<int>(d.year());
  return d.month() >= std::chrono::September ? y : y - 1;
}

CivilDate AcademicYearStart(int start_year) {
  return std::chrono::year{start_year} / std::chrono::September / 1;
}

CivilDate AcademicYearEnd(int start_year) {
  return std::chrono::year{start_year + 1} / std::chrono::July / 31;
}

// The child turns k in academic year AcademicYearStartYear(dob) + k: a birthday from
// September to December falls in the academic year starting that calendar year, one from
// January to August in the academic year that started the calendar year before, the same
// as the date of birth itself. Year N is the year they turn N + 5.
int YearGroup(CivilDate date_of_birth, CivilDate on) {
  return AcademicYearStartYear(on) - AcademicYearStartYear(date_of_birth) - 5;
}

CivilDate StartOfYearGroup(CivilDate date_of_birth, int year_group) {
  return AcademicYearStart(AcademicYearStartYear(date_of_birth) + year_group + 5);
}

// ---- Ages -------------------------------------------------------------------------------

CivilDate Birthday(CivilDate date_of_birth, int age) {
  const std::chrono::year y = date_of_birth.year() + std::chrono::years{age};
  if (date_of_birth.month() == std::chrono::February &&
      date_of_birth.day() == std::chrono::day{29} && !y.is_leap()) {
    return y / std::chrono::March / 1;
  }
  return y / date_of_birth.month() / date_of_birth.day();
}

int AgeOn(CivilDate date_of_birth, CivilDate on) {
  int age = static_cast<int>(on.year()) - static_cast<int>(date_of_birth.year());
  if (sys_days{Birthday(date_of_birth, age)} > sys_days{on}) --age;
  return age;
}

}  // namespace pathway::workflow
