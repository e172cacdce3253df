// Rules: calendar arithmetic for statutory clocks, England and Wales bank holidays and
// working days, the SEND Tribunal August rule, school years and ages. Every case names the
// rule it checks; all dates are real.
#include "workflow/clock.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace pathway::workflow {
namespace {
using namespace std::chrono;

CivilDate D(int y, unsigned m, unsigned d) { return year{y} / month{m} / day{d}; }

// "2025-01-31": readable case tables, and a second check that ParseDate accepts them.
CivilDate P(const char* text) {
  std::optional<CivilDate> d = ParseDate(text);
  EXPECT_TRUE(d.has_value()) << text;
  return d.value_or(CivilDate{});
}

weekday WeekdayOf(CivilDate d) { return weekday{sys_days{d}}; }

// ---- Calendar arithmetic ----------------------------------------------------------------

struct ShiftCase {
  const char* rule;
  const char* from;
  int n;
  const char* expected;
};

TEST(AddMonths, SameDayOfMonthOrLastDayOfAShorterMonth) {
  const ShiftCase cases[] = {
      {"31 Jan + 1 month is the last day of February (non-leap)", "2025-01-31", 1, "2025-02-28"},
      {"31 Jan + 1 month in a leap year is 29 Feb", "2024-01-31", 1, "2024-02-29"},
      {"30 Jan + 1 month clamps too", "2023-01-30", 1, "2023-02-28"},
      {"31 Mar + 1 month is 30 Apr", "2025-03-31", 1, "2025-04-30"},
      {"31 Aug + 6 months crosses the year end and clamps", "2025-08-31", 6, "2026-02-28"},
      {"the same day of the month when it exists", "2025-03-15", 2, "2025-05-15"},
      {"30 Nov + 3 months: February 2026 has 28 days", "2025-11-30", 3, "2026-02-28"},
      {"28 Feb + 1 month is 28 Mar, not the last day of March", "2025-02-28", 1, "2025-03-28"},
      {"12 months is a calendar year", "2025-01-15", 12, "2026-01-15"},
      {"zero months is the same date", "2025-06-15", 0, "2025-06-15"},
      {"negative: 31 Mar - 1 month is the last day of February", "2025-03-31", -1, "2025-02-28"},
      {"negative, leap year: 31 Mar 2024 - 1 month is 29 Feb", "2024-03-31", -1, "2024-02-29"},
      {"negative across the year start", "2025-01-15", -13, "2023-12-15"},
      {"Tribunal appeal: 2 months from a decision on 30 Jun", "2025-06-30", 2, "2025-08-30"},
      {"Mediation advice: 2 months from a letter of 31 Dec", "2025-12-31", 2, "2026-02-28"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FormatDate(AddMonths(P(c.from), c.n)), c.expected) << c.rule;
  }
}

TEST(AddYears, TwentyNinthOfFebruaryBecomesTwentyEighth) {
  const ShiftCase cases[] = {
      {"29 Feb 2024 + 1 year is 28 Feb 2025", "2024-02-29", 1, "2025-02-28"},
      {"29 Feb 2024 + 4 years is 29 Feb 2028 (leap)", "2024-02-29", 4, "2028-02-29"},
      {"29 Feb 2024 - 1 year is 28 Feb 2023", "2024-02-29", -1, "2023-02-28"},
      {"1 Mar stays 1 Mar", "2023-03-01", 1, "2024-03-01"},
      {"28 Feb 2023 + 1 year is 28 Feb 2024, not 29 Feb", "2023-02-28", 1, "2024-02-28"},
      {"annual review: 12 months from the plan", "2025-10-14", 1, "2026-10-14"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FormatDate(AddYears(P(c.from), c.n)), c.expected) << c.rule;
  }
}

TEST(AddDaysAndWeeks, CrossMonthYearAndLeapDay) {
  const ShiftCase days_cases[] = {
      {"2024 is a leap year: 28 Feb + 1 day is 29 Feb", "2024-02-28", 1, "2024-02-29"},
      {"2023 is not: 28 Feb + 1 day is 1 Mar", "2023-02-28", 1, "2023-03-01"},
      {"back across the year start", "2025-01-01", -1, "2024-12-31"},
      {"draft plan comments: 15 days from service", "2025-12-20", 15, "2026-01-04"},
      {"mediation within 30 days of the request", "2026-02-10", 30, "2026-03-12"},
  };
  for (const auto& c : days_cases) {
    EXPECT_EQ(FormatDate(AddDays(P(c.from), c.n)), c.expected) << c.rule;
  }
  const ShiftCase weeks_cases[] = {
      {"1 week across the year end (Mon to Mon)", "2025-12-29", 1, "2026-01-05"},
      {"6 weeks to decide whether to assess, across the year end", "2025-12-01", 6, "2026-01-12"},
      {"20 weeks to the final plan (reg 13(2))", "2025-09-10", 20, "2026-01-28"},
      {"20 weeks over 29 Feb 2028", "2027-12-20", 20, "2028-05-08"},
      {"13 weeks referral to first contact (NICE QS51 as reported)", "2025-11-17", 13,
       "2026-02-16"},
      {"negative weeks", "2026-01-05", -1, "2025-12-29"},
  };
  for (const auto& c : weeks_cases) {
    EXPECT_EQ(FormatDate(AddWeeks(P(c.from), c.n)), c.expected) << c.rule;
  }
}

TEST(DaysBetween, IsToMinusFrom) {
  EXPECT_EQ(DaysBetween(D(2024, 1, 1), D(2025, 1, 1)), 366) << "2024 is a leap year";
  EXPECT_EQ(DaysBetween(D(2023, 1, 1), D(2024, 1, 1)), 365) << "2023 is not";
  EXPECT_EQ(DaysBetween(D(2023, 2, 1), D(2023, 3, 1)), 28) << "February 2023 has 28 days";
  EXPECT_EQ(DaysBetween(D(2024, 2, 1), D(2024, 3, 1)), 29) << "February 2024 has 29 days";
  EXPECT_EQ(DaysBetween(D(2025, 3, 1), D(2025, 2, 1)), -28) << "earlier `to` is negative";
  EXPECT_EQ(DaysBetween(D(2025, 6, 1), D(2025, 6, 1)), 0);
  EXPECT_EQ(DaysBetween(D(2025, 9, 10), AddWeeks(D(2025, 9, 10), 20)), 140);
}

// ---- Formatting and parsing -------------------------------------------------------------

TEST(FormatDate, IsIsoYearMonthDay) {
  EXPECT_EQ(FormatDate(D(2025, 1, 5)), "2025-01-05");
  EXPECT_EQ(FormatDate(D(2024, 12, 31)), "2024-12-31");
  EXPECT_EQ(FormatDate(D(987, 6, 7)), "0987-06-07") << "four-digit year, zero-padded";
}

TEST(ParseDate, RoundTripsWithFormatDate) {
  for (const char* text : {"2024-02-29", "2025-01-01", "2025-12-31", "2000-02-29", "1999-09-09",
                           "0001-01-01", "9999-12-31"}) {
    std::optional<CivilDate> d = ParseDate(text);
    ASSERT_TRUE(d.has_value()) << text;
    EXPECT_EQ(FormatDate(*d), text);
  }
  // And the other way, for every day of a leap year and a common year.
  for (sys_days day{D(2023, 1, 1)}; day <= sys_days{D(2024, 12, 31)}; day += days{1}) {
    EXPECT_EQ(ParseDate(FormatDate(CivilDate{day})), CivilDate{day});
  }
}

TEST(ParseDate, RejectsAnythingButAStrictRealDate) {
  struct Case {
    const char* rule;
    const char* text;
  };
  const Case cases[] = {
      {"2023 is not a leap year", "2023-02-29"},
      {"1900 is not a leap year (century rule)", "1900-02-29"},
      {"April has 30 days", "2024-04-31"},
      {"month 13", "2024-13-01"},
      {"month 0", "2024-00-10"},
      {"day 0", "2024-01-00"},
      {"day 32", "2024-01-32"},
      {"one-digit month", "2024-4-01"},
      {"one-digit day", "2024-04-1"},
      {"two-digit year", "24-04-01"},
      {"five-digit year", "12024-04-01"},
      {"slashes", "2024/04/01"},
      {"no separators", "20240401"},
      {"leading space", " 2024-04-01"},
      {"trailing space", "2024-04-01 "},
      {"a time is not a date", "2024-04-01T00:00"},
      {"a sign", "+024-04-01"},
      {"a letter", "2024-04-0a"},
      {"UK order", "01-04-2024"},
      {"empty", ""},
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(ParseDate(c.text).has_value()) << c.rule << ": '" << c.text << "'";
  }
  EXPECT_FALSE(ParseDate(std::string_view("2024-04-01\0", 11)).has_value()) << "embedded NUL";
}

// ---- Bank holidays ----------------------------------------------------------------------

// Easter Sunday by the anonymous Gregorian algorithm (Meeus/Jones/Butcher), independent of
// the data table.
CivilDate EasterSunday(int y) {
  const int a = y % 19;
  const int b = y / 100;
  const int c = y % 100;
  const int d = b / 4;
  const int e = b % 4;
  const int f = (b + 8) / 25;
  const int g = (b - f + 1) / 3;
  const int h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4;
  const int k = c % 4;
  const int l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month_number = (h + l - 7 * m + 114) / 31;
  const int day_number = (h + l - 7 * m + 114) % 31 + 1;
  return D(y, static_cast<unsigned>(month_number), static_cast<unsigned>(day_number));
}

TEST(EasterAlgorithm, MatchesKnownEasterSundays) {
  // The test's own algorithm, checked before it is used to check the table.
  EXPECT_EQ(EasterSunday(2019), D(2019, 4, 21));
  EXPECT_EQ(EasterSunday(2024), D(2024, 3, 31));
  EXPECT_EQ(EasterSunday(2025), D(2025, 4, 20));
  EXPECT_EQ(EasterSunday(2026), D(2026, 4, 5));
  EXPECT_EQ(EasterSunday(2008), D(2008, 3, 23));
  EXPECT_EQ(EasterSunday(2038), D(2038, 4, 25)) << "latest possible date";
  EXPECT_EQ(EasterSunday(2285), D(2285, 3, 22)) << "earliest possible date";
  for (int y = 2018; y <= 2035; ++y) EXPECT_EQ(WeekdayOf(EasterSunday(y)), Sunday) << y;
}

CivilDate FirstMonday(int y, unsigned m) { return CivilDate{year{y} / month{m} / Monday[1]}; }
CivilDate LastMonday(int y, unsigned m) { return CivilDate{year{y} / month{m} / Monday[last]}; }
bool Weekend(CivilDate d) { return WeekdayOf(d) == Saturday || WeekdayOf(d) == Sunday; }

// Bank holidays in England and Wales in year `y` by the regular rules: New Year's Day,
// Good Friday, Easter Monday, first Monday of May, last Monday of May, last Monday of
// August, Christmas Day and Boxing Day; a fixed day at a weekend moves to the next weekday
// not already a holiday. Then the special cases made by proclamation.
std::set<CivilDate> ExpectedBankHolidays(int y) {
  std::set<CivilDate> out;
  // Fixed-date holidays, in order, each on its date or the next free weekday.
  auto add_fixed = [&out](CivilDate d) {
    sys_days day{d};
    while (Weekend(CivilDate{day}) || out.count(CivilDate{day}) != 0) day += days{1};
    out.insert(CivilDate{day});
  };
  add_fixed(D(y, 1, 1));
  const CivilDate easter = EasterSunday(y);
  out.insert(AddDays(easter, -2));
  out.insert(AddDays(easter, 1));
  out.insert(FirstMonday(y, 5));
  out.insert(LastMonday(y, 5));
  out.insert(LastMonday(y, 8));
  add_fixed(D(y, 12, 25));
  add_fixed(D(y, 12, 26));
  switch (y) {
    case 2020:  // Early May bank holiday moved to Friday 8 May for the 75th VE Day.
      out.erase(D(2020, 5, 4));
      out.insert(D(2020, 5, 8));
      break;
    case 2022:  // Platinum Jubilee: spring bank holiday moved to Thu 2 June, plus Fri 3
                // June; the State Funeral of Queen Elizabeth II on Mon 19 September.
      out.erase(D(2022, 5, 30));
      out.insert(D(2022, 6, 2));
      out.insert(D(2022, 6, 3));
      out.insert(D(2022, 9, 19));
      break;
    case 2023:  // Coronation of King Charles III, Mon 8 May.
      out.insert(D(2023, 5, 8));
      break;
    default:
      break;
  }
  return out;
}

TEST(BankHolidays, TableCoversAtLeast2018To2035) {
  for (sys_days day{D(2018, 1, 1)}; day <= sys_days{D(2035, 12, 31)}; day += days{1}) {
    ASSERT_TRUE(InBankHolidayTable(CivilDate{day})) << FormatDate(CivilDate{day});
  }
  EXPECT_FALSE(InBankHolidayTable(D(1970, 1, 1)));
  EXPECT_FALSE(InBankHolidayTable(D(2200, 12, 25)));
  EXPECT_FALSE(IsBankHoliday(D(2200, 12, 25))) << "outside the table nothing is a bank holiday";
}

TEST(BankHolidays, TableEqualsRegularRulesPlusProclamationsEveryDay2018To2035) {
  // Every day, both ways: no expected day missing and no extra day in the table.
  for (int y = 2018; y <= 2035; ++y) {
    const std::set<CivilDate> expected = ExpectedBankHolidays(y);
    std::set<CivilDate> actual;
    for (sys_days day{D(y, 1, 1)}; day <= sys_days{D(y, 12, 31)}; day += days{1}) {
      if (IsBankHoliday(CivilDate{day})) actual.insert(CivilDate{day});
    }
    std::vector<std::string> missing, extra;
    for (CivilDate d : expected) {
      if (actual.count(d) == 0) missing.push_back(FormatDate(d));
    }
    for (CivilDate d : actual) {
      if (expected.count(d) == 0) extra.push_back(FormatDate(d));
    }
    EXPECT_TRUE(missing.empty() && extra.empty())
        << y << ": missing " << ::testing::PrintToString(missing) << ", extra "
        << ::testing::PrintToString(extra);
  }
}

TEST(BankHolidays, RegularMondayRulesHoldInEveryYearWithoutASpecialCase) {
  for (int y = 2018; y <= 2035; ++y) {
    const bool special_may = y == 2020 || y == 2022;
    if (y != 2020) {
      EXPECT_TRUE(IsBankHoliday(FirstMonday(y, 5))) << y << ": first Monday of May";
    }
    if (y != 2022) {
      EXPECT_TRUE(IsBankHoliday(LastMonday(y, 5))) << y << ": last Monday of May";
    }
    EXPECT_TRUE(IsBankHoliday(LastMonday(y, 8))) << y << ": last Monday of August";
    const CivilDate easter = EasterSunday(y);
    EXPECT_EQ(BankHolidayName(AddDays(easter, -2)), "Good Friday") << y;
    EXPECT_EQ(BankHolidayName(AddDays(easter, 1)), "Easter Monday") << y;
    if (!special_may && y != 2023) {
      // Exactly two bank holidays in May, on the first and last Mondays.
      int in_may = 0;
      for (unsigned d = 1; d <= 31; ++d) in_may += IsBankHoliday(D(y, 5, d)) ? 1 : 0;
      EXPECT_EQ(in_may, 2) << y;
    }
  }
}

TEST(BankHolidays, SpecialCasesAndSubstituteDays) {
  struct Case {
    const char* rule;
    const char* date;
    bool holiday;
  };
  const Case cases[] = {
      {"2020 early May bank holiday moved to Fri 8 May (VE Day)", "2020-05-08", true},
      {"2020: Mon 4 May was not a bank holiday", "2020-05-04", false},
      {"2022 spring bank holiday moved to Thu 2 June", "2022-06-02", true},
      {"2022 Platinum Jubilee bank holiday, Fri 3 June", "2022-06-03", true},
      {"2022: Mon 30 May (last Monday) was not a bank holiday", "2022-05-30", false},
      {"2022 State Funeral of Queen Elizabeth II, Mon 19 Sep", "2022-09-19", true},
      {"2023 Coronation of King Charles III, Mon 8 May", "2023-05-08", true},
      {"2023 early May bank holiday still Mon 1 May", "2023-05-01", true},
      {"2020: Boxing Day Sat 26 Dec, substitute Mon 28 Dec", "2020-12-28", true},
      {"2020: Sat 26 Dec itself is a weekend, not in the table", "2020-12-26", false},
      {"2021: Christmas Sat 25 Dec, substitute Mon 27 Dec", "2021-12-27", true},
      {"2021: Boxing Day Sun 26 Dec, substitute Tue 28 Dec", "2021-12-28", true},
      {"2022: New Year's Day Sat 1 Jan, substitute Mon 3 Jan", "2022-01-03", true},
      {"2022: Boxing Day Mon 26 Dec is Boxing Day itself", "2022-12-26", true},
      {"2022: Christmas Sun 25 Dec, substitute Tue 27 Dec", "2022-12-27", true},
      {"2023: New Year's Day Sun 1 Jan, substitute Mon 2 Jan", "2023-01-02", true},
      {"2026: Boxing Day Sat 26 Dec, substitute Mon 28 Dec", "2026-12-28", true},
      {"2027: Christmas Sat, substitute Mon 27 Dec", "2027-12-27", true},
      {"2027: Boxing Day Sun, substitute Tue 28 Dec", "2027-12-28", true},
      {"2032: Christmas Sat, substitute Mon 27 Dec", "2032-12-27", true},
      {"2032: Boxing Day Sun, substitute Tue 28 Dec", "2032-12-28", true},
      {"Christmas Eve is not a bank holiday", "2025-12-24", false},
      {"31 December is not a bank holiday", "2025-12-31", false},
  };
  for (const auto& c : cases) {
    const CivilDate d = P(c.date);
    EXPECT_EQ(IsBankHoliday(d), c.holiday) << c.rule;
    EXPECT_EQ(BankHolidayName(d).has_value(), c.holiday) << c.rule;
    if (c.holiday) {
      EXPECT_FALSE(IsWorkingDay(d)) << c.rule;
    }
  }
  EXPECT_EQ(BankHolidayName(D(2022, 12, 26)), "Boxing Day");
  EXPECT_EQ(BankHolidayName(D(2022, 12, 27)), "Christmas Day (substitute day)");
  EXPECT_EQ(BankHolidayName(D(2026, 12, 28)), "Boxing Day (substitute day)");
  EXPECT_EQ(BankHolidayName(D(2022, 6, 3)), "Platinum Jubilee bank holiday");
}

TEST(IsWorkingDay, MondayToFridayExceptBankHolidays) {
  EXPECT_TRUE(IsWorkingDay(D(2025, 4, 17))) << "Maundy Thursday is a working day";
  EXPECT_FALSE(IsWorkingDay(D(2025, 4, 18))) << "Good Friday";
  EXPECT_FALSE(IsWorkingDay(D(2025, 4, 19))) << "Saturday";
  EXPECT_FALSE(IsWorkingDay(D(2025, 4, 20))) << "Sunday";
  EXPECT_FALSE(IsWorkingDay(D(2025, 4, 21))) << "Easter Monday";
  EXPECT_TRUE(IsWorkingDay(D(2025, 4, 22)));
}

// ---- Working days -----------------------------------------------------------------------

TEST(AddWorkingDays, SkipsWeekendsAndBankHolidays) {
  const ShiftCase cases[] = {
      {"Easter 2025: Thu 17 Apr + 1 skips Good Friday 18 and Easter Monday 21", "2025-04-17", 1,
       "2025-04-22"},
      {"Easter 2025: Wed 16 Apr + 2", "2025-04-16", 2, "2025-04-22"},
      {"Easter 2025: from Good Friday itself, the start day never counts", "2025-04-18", 1,
       "2025-04-22"},
      {"Easter 2025: Thu 17 Apr + 5 working days", "2025-04-17", 5, "2025-04-28"},
      {"Christmas 2026: Thu 24 Dec + 1 skips Fri 25 and the substitute Mon 28", "2026-12-24", 1,
       "2026-12-29"},
      {"Christmas 2026: Thu 24 Dec + 4 also skips New Year's Day, Fri 1 Jan 2027", "2026-12-24", 4,
       "2027-01-04"},
      {"3 working days (mediation certificate) from Fri 23 May 2025 before spring bank holiday "
       "Mon 26 May",
       "2025-05-23", 3, "2025-05-29"},
      {"3 working days from Fri 22 Aug 2025 before summer bank holiday Mon 25 Aug", "2025-08-22", 3,
       "2025-08-28"},
      {"Christmas 2025 (Thu, Fri): Mon 15 Dec + 10", "2025-12-15", 10, "2025-12-31"},
      {"Christmas 2027 (Sat, Sun; substitutes Mon 27, Tue 28): Fri 24 Dec + 1", "2027-12-24", 1,
       "2027-12-29"},
      {"2020 VE Day Fri 8 May: Thu 7 May + 1", "2020-05-07", 1, "2020-05-11"},
      {"2022 Jubilee Thu 2, Fri 3 June: Wed 1 June + 1", "2022-06-01", 1, "2022-06-06"},
      {"2022 State Funeral Mon 19 Sep: Fri 16 Sep + 1", "2022-09-16", 1, "2022-09-20"},
      {"2023 Coronation Mon 8 May: Fri 5 May + 1", "2023-05-05", 1, "2023-05-09"},
      {"from a Saturday, the Monday is the first working day", "2025-06-07", 1, "2025-06-09"},
      {"n == 0 returns the date itself, even a Saturday", "2025-04-19", 0, "2025-04-19"},
      {"n == 0 returns the date itself, even a bank holiday", "2025-12-25", 0, "2025-12-25"},
      {"negative n counts back: Tue 22 Apr 2025 - 1 is Thu 17 Apr", "2025-04-22", -1, "2025-04-17"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FormatDate(AddWorkingDays(P(c.from), c.n)), c.expected) << c.rule;
  }
}

TEST(AddWorkingDays, IsRepeatedSingleSteps) {
  // n steps of one working day each land on the same date as one step of n.
  CivilDate step = D(2025, 12, 19);
  for (int n = 1; n <= 300; ++n) {
    step = AddWorkingDays(step, 1);
    ASSERT_EQ(AddWorkingDays(D(2025, 12, 19), n), step) << n;
    ASSERT_TRUE(IsWorkingDay(step)) << FormatDate(step);
    ASSERT_EQ(AddWorkingDays(step, -n), D(2025, 12, 19)) << "back from a working day";
  }
}

TEST(NextWorkingDayOnOrAfter, IsTheDateOrTheNextWorkingDay) {
  const ShiftCase cases[] = {
      {"a working day is itself", "2025-06-10", 0, "2025-06-10"},
      {"Saturday after Christmas 2025 (Thu 25, Fri 26) to Mon 29", "2025-12-27", 0, "2025-12-29"},
      {"Easter Sunday 2026 to Tue 7 Apr, over Easter Monday", "2026-04-05", 0, "2026-04-07"},
      {"Christmas Day 2026 (Fri) to Tue 29 Dec", "2026-12-25", 0, "2026-12-29"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FormatDate(NextWorkingDayOnOrAfter(P(c.from))), c.expected) << c.rule;
  }
}

// ---- SEND Tribunal August rule ----------------------------------------------------------

TEST(ApplyAugustRule, AugustDeadlinesMoveToFirstWorkingDayOfSeptember) {
  struct Case {
    const char* rule;
    const char* due;
    const char* expected;
  };
  const Case cases[] = {
      {"mid-August 2025 moves to Mon 1 Sep 2025", "2025-08-15", "2025-09-01"},
      {"1 Aug 2025 moves", "2025-08-01", "2025-09-01"},
      {"31 Aug 2025 (a Sunday) moves", "2025-08-31", "2025-09-01"},
      {"summer bank holiday Mon 25 Aug 2025 moves", "2025-08-25", "2025-09-01"},
      {"August 2026 moves to Tue 1 Sep 2026", "2026-08-20", "2026-09-01"},
      {"August 2029: 1 Sep is a Saturday, so Mon 3 Sep", "2029-08-10", "2029-09-03"},
      {"31 July is unchanged", "2025-07-31", "2025-07-31"},
      {"a July weekend is unchanged (the rule is only about August)", "2025-07-27", "2025-07-27"},
      {"1 September is unchanged", "2025-09-01", "2025-09-01"},
      {"mid-September is unchanged", "2025-09-15", "2025-09-15"},
      {"December is unchanged", "2025-12-25", "2025-12-25"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FormatDate(ApplyAugustRule(P(c.due))), c.expected) << c.rule;
  }
  // Appeal 2 months from a decision of Mon 30 June 2025: 30 Aug, so Mon 1 Sep 2025.
  EXPECT_EQ(ApplyAugustRule(AddMonths(D(2025, 6, 30), 2)), D(2025, 9, 1));
}

// ---- School years -----------------------------------------------------------------------

TEST(AcademicYear, RunsFirstSeptemberToThirtyFirstAugust) {
  struct Case {
    const char* rule;
    const char* date;
    int start_year;
  };
  const Case cases[] = {
      {"1 September starts the year", "2025-09-01", 2025},
      {"31 August ends the previous year", "2025-08-31", 2024},
      {"31 December", "2025-12-31", 2025},
      {"1 January is in the year that started the September before", "2026-01-01", 2025},
      {"31 August 2026 is the last day of 2025/26", "2026-08-31", 2025},
      {"29 February 2024 is in 2023/24", "2024-02-29", 2023},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(AcademicYearStartYear(P(c.date)), c.start_year) << c.rule;
  }
  EXPECT_EQ(AcademicYearStart(2025), D(2025, 9, 1));
  EXPECT_EQ(AcademicYearEnd(2025), D(2026, 7, 31))
      << "Code of Practice: the end of the academic year is 31 July, not 31 August";
  EXPECT_EQ(AcademicYearEnd(2023), D(2024, 7, 31));
}

TEST(YearGroup, ReceptionInTheAcademicYearTheChildTurnsFive) {
  struct Case {
    const char* rule;
    const char* dob;
    const char* on;
    int year_group;
  };
  const Case cases[] = {
      {"born 31 Aug 2011 turns 5 on 31 Aug 2016: Reception 2015/16", "2011-08-31", "2015-09-01", 0},
      {"born 1 Sep 2011 turns 5 on 1 Sep 2016: still nursery in 2015/16", "2011-09-01",
       "2015-09-01", -1},
      {"born 1 Sep 2011: Reception from 1 Sep 2016", "2011-09-01", "2016-09-01", 0},
      {"born 31 Aug 2011: Year 9 in 2024/25", "2011-08-31", "2024-09-01", 9},
      {"born 1 Sep 2011: Year 8 in 2024/25", "2011-09-01", "2024-09-01", 8},
      {"born 31 Aug 2011: still Year 9 on 31 Aug 2025", "2011-08-31", "2025-08-31", 9},
      {"born 31 Aug 2011: Year 10 from 1 Sep 2025", "2011-08-31", "2025-09-01", 10},
      {"born 29 Feb 2012: turns 5 on 1 Mar 2017, Reception 2016/17", "2012-02-29", "2016-09-01", 0},
      {"born 15 Sep 2007 turns 18 in Sep 2025: Year 13 in 2025/26", "2007-09-15", "2025-10-01", 13},
      {"born 15 Jun 2007: left Year 13 in 2024/25, 14 in 2025/26", "2007-06-15", "2025-10-01", 14},
      {"born 25 Dec 2013 turns 12 in Dec 2025: Year 7 in 2025/26", "2013-12-25", "2026-03-01", 7},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(YearGroup(P(c.dob), P(c.on)), c.year_group) << c.rule;
  }
}

TEST(StartOfYearGroup, IsFirstSeptemberOfThatYearGroup) {
  struct Case {
    const char* rule;
    const char* dob;
    int year_group;
    const char* expected;
  };
  const Case cases[] = {
      {"born 31 Aug 2011: Year 9 from 1 Sep 2024", "2011-08-31", 9, "2024-09-01"},
      {"born 1 Sep 2011: Year 9 from 1 Sep 2025 (next cohort)", "2011-09-01", 9, "2025-09-01"},
      {"born 10 Mar 2020: Reception from 1 Sep 2024", "2020-03-10", 0, "2024-09-01"},
      {"born 25 Dec 2013: Year 7 (secondary transfer) from 1 Sep 2025", "2013-12-25", 7,
       "2025-09-01"},
      {"born 29 Feb 2012: Year 9 from 1 Sep 2025", "2012-02-29", 9, "2025-09-01"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FormatDate(StartOfYearGroup(P(c.dob), c.year_group)), c.expected) << c.rule;
  }
  // Consistency: on the start day the child is in that year group, the day before not.
  for (const char* dob : {"2011-08-31", "2011-09-01", "2012-02-29", "2013-12-25"}) {
    for (int g = -1; g <= 14; ++g) {
      const CivilDate start = StartOfYearGroup(P(dob), g);
      EXPECT_EQ(YearGroup(P(dob), start), g) << dob << " year " << g;
      EXPECT_EQ(YearGroup(P(dob), AddDays(start, -1)), g - 1) << dob << " year " << g;
    }
  }
}

// ---- Ages -------------------------------------------------------------------------------

TEST(Birthday, LeapDayBirthsAttainAgesOnFirstMarchInCommonYears) {
  struct Case {
    const char* rule;
    const char* dob;
    int age;
    const char* expected;
  };
  const Case cases[] = {
      {"born 29 Feb 2008 attains 18 on 1 Mar 2026 (2026 is not a leap year)", "2008-02-29", 18,
       "2026-03-01"},
      {"born 29 Feb 2008 attains 16 on 29 Feb 2024 (leap year)", "2008-02-29", 16, "2024-02-29"},
      {"born 29 Feb 2008 attains 1 on 1 Mar 2009", "2008-02-29", 1, "2009-03-01"},
      {"25th birthday", "2001-06-15", 25, "2026-06-15"},
      {"born 29 Feb 2000: 25th birthday 1 Mar 2025", "2000-02-29", 25, "2025-03-01"},
      {"born 28 Feb: always 28 Feb", "2008-02-28", 18, "2026-02-28"},
      {"26th birthday: the latest a plan can run to", "2001-06-15", 26, "2027-06-15"},
      {"age 0 is the date of birth", "2020-07-04", 0, "2020-07-04"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FormatDate(Birthday(P(c.dob), c.age)), c.expected) << c.rule;
  }
}

TEST(AgeOn, CompletedYears) {
  EXPECT_EQ(AgeOn(D(2008, 2, 29), D(2026, 2, 28)), 17) << "not yet 18 on 28 Feb";
  EXPECT_EQ(AgeOn(D(2008, 2, 29), D(2026, 3, 1)), 18) << "18 on 1 Mar in a common year";
  EXPECT_EQ(AgeOn(D(2008, 2, 29), D(2024, 2, 28)), 15);
  EXPECT_EQ(AgeOn(D(2008, 2, 29), D(2024, 2, 29)), 16) << "16 on 29 Feb in a leap year";
  EXPECT_EQ(AgeOn(D(2001, 6, 15), D(2026, 6, 14)), 24);
  EXPECT_EQ(AgeOn(D(2001, 6, 15), D(2026, 6, 15)), 25);
  EXPECT_EQ(AgeOn(D(2020, 7, 4), D(2020, 7, 4)), 0);
}

TEST(AgesAndSchoolYears, PlanCanRunToEndOfAcademicYearOfTwentyFifthBirthday) {
  // Rule: an EHC plan may run to the end of the academic year in which the young person
  // turns 25 (31 July, Code of Practice), never past the 26th birthday.
  auto plan_limit = [](CivilDate dob) {
    return AcademicYearEnd(AcademicYearStartYear(Birthday(dob, 25)));
  };
  EXPECT_EQ(plan_limit(D(2001, 6, 15)), D(2026, 7, 31)) << "turns 25 in June 2026";
  EXPECT_EQ(plan_limit(D(2001, 9, 15)), D(2027, 7, 31)) << "turns 25 in Sep 2026";
  EXPECT_EQ(plan_limit(D(2001, 8, 15)), D(2026, 7, 31))
      << "turns 25 on 15 Aug 2026, in 2025/26, whose end (31 July) precedes the birthday";
  EXPECT_LT(sys_days{plan_limit(D(2001, 8, 15))}, sys_days{Birthday(D(2001, 8, 15), 26)});
}

}  // namespace
}  // namespace pathway::workflow
