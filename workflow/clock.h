// Date arithmetic for statutory clocks: calendar days, weeks, months and years, working
// days in England and Wales, the SEND Tribunal's August rule, and school years.
//
// Pure functions over CivilDate (std::chrono::year_month_day): no I/O, no clock, no
// mutable state, so every function is deterministic and safe to call from any thread.
// Unless stated otherwise, a CivilDate argument must be a real date (`d.ok()`); the
// results for other values are unspecified.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "workflow/calendar.h"

namespace pathway::workflow {

// ---- Calendar arithmetic ----------------------------------------------------------------

CivilDate AddDays(CivilDate d, int days);
CivilDate AddWeeks(CivilDate d, int weeks);
// Calendar months: the same day of the month `months` months later (or earlier, if
// negative); if that month is shorter, its last day. 31 Jan + 1 month = 28 Feb (29 Feb in
// a leap year); 31 Mar - 1 month = 28/29 Feb.
CivilDate AddMonths(CivilDate d, int months);
// Calendar years, clamped like AddMonths: 29 Feb 2024 + 1 year = 28 Feb 2025.
CivilDate AddYears(CivilDate d, int years);
// `to - from` in days: positive when `to` is later.
int DaysBetween(CivilDate from, CivilDate to);

// "YYYY-MM-DD" (ISO 8601 calendar date). Years 0..9999 round-trip through ParseDate.
std::string FormatDate(CivilDate d);
// Strict "YYYY-MM-DD": exactly ten characters, four-digit year, two-digit month and day,
// and a real date. nullopt otherwise (e.g. "2023-02-29", "2024-2-01", " 2024-02-01").
std::optional<CivilDate> ParseDate(std::string_view yyyy_mm_dd);

// ---- Bank holidays and working days (England and Wales) -----------------------------------
//
// Bank holidays come from workflow/data/bank_holidays_england_wales.txt (GOV.UK), embedded
// at build time. The table covers whole calendar years (2018..2035); outside them
// IsBankHoliday is false for every date, so a caller computing a statutory deadline there
// must check InBankHolidayTable first.

bool IsBankHoliday(CivilDate d);
// The GOV.UK name of the bank holiday on `d` (e.g. "Easter Monday", "Boxing Day
// (substitute day)"), or nullopt if `d` is not a bank holiday.
std::optional<std::string_view> BankHolidayName(CivilDate d);
// Monday to Friday and not a bank holiday.
bool IsWorkingDay(CivilDate d);
// Whether `d` falls in a year the bank-holiday table covers.
bool InBankHolidayTable(CivilDate d);
// The n-th working day after `d`; `d` itself never counts, whether or not it is a working
// day. n == 0 returns `d` unchanged. (Extension: n < 0 gives the |n|-th working day before
// `d`.) AddWorkingDays(Fri 17 Apr 2025, 1) = Tue 22 Apr 2025, over Good Friday and Easter
// Monday.
CivilDate AddWorkingDays(CivilDate d, int n);
// `d` if it is a working day, else the first working day after it.
CivilDate NextWorkingDayOnOrAfter(CivilDate d);

// ---- SEND Tribunal --------------------------------------------------------------------

// A deadline that falls in August moves to the first working day of September of the same
// year; any other date is returned unchanged. (August 2025 -> Mon 1 Sep 2025; August 2029
// -> Mon 3 Sep 2029, because 1 Sep 2029 is a Saturday.)
CivilDate ApplyAugustRule(CivilDate due);

// ---- School years in England ----------------------------------------------------------
//
// An academic year runs 1 September to 31 August and is named by the calendar year it
// starts in. A child is in Reception (year group 0) in the academic year in which they turn
// 5, Year 1 when they turn 6, ..., Year N when they turn N+5.

// 2025 for any date from 2025-09-01 to 2026-08-31.
int AcademicYearStartYear(CivilDate d);
// 1 September `start_year`.
CivilDate AcademicYearStart(int start_year);
// "The end of the academic year" as the SEND Code of Practice uses it: 31 July of
// `start_year + 1` (not 31 August).
CivilDate AcademicYearEnd(int start_year);
// The year group of a child born on `date_of_birth` on date `on`: 0 = Reception, 1..13 =
// Years 1 to 13; negative before Reception (-1 = the nursery year) and above 13 after Year
// 13. Born 31 Aug 2011: Reception in 2015/16. Born 1 Sep 2011: Reception in 2016/17.
int YearGroup(CivilDate date_of_birth, CivilDate on);
// 1 September of the academic year in which the child is in `year_group`.
CivilDate StartOfYearGroup(CivilDate date_of_birth, int year_group);

// ---- Ages -------------------------------------------------------------------------------

// The date a person born on `date_of_birth` attains `age` years: the start of that
// anniversary of birth (Family Law Reform Act 1969 s9). A person born on 29 February
// attains an age on 1 March in a non-leap year.
CivilDate Birthday(CivilDate date_of_birth, int age);
// Completed years of age on `on` (the largest `age` with Birthday(dob, age) <= on); 0 if
// `on` is before the first birthday, negative if before the date of birth.
int AgeOn(CivilDate date_of_birth, CivilDate on);

}  // namespace pathway::workflow
