// Rule: statutory days are days in England (Europe/London), not UTC days.
#include "workflow/calendar.h"

#include <gtest/gtest.h>

namespace pathway::workflow {
namespace {
using namespace std::chrono;

TimePoint Utc(int y, unsigned m, unsigned d, int h, int min) {
  return time_point_cast<microseconds>(sys_days{year{y} / month{m} / day{d}} + hours(h) +
                                       minutes(min));
}
CivilDate D(int y, unsigned m, unsigned d) { return year{y} / month{m} / day{d}; }

TEST(LondonDate, GmtInWinterBstInSummer) {
  // Winter: London is UTC.
  EXPECT_EQ(LondonDate(Utc(2025, 1, 15, 23, 30)), D(2025, 1, 15));
  // Summer: 23:30 UTC is 00:30 the next day in London.
  EXPECT_EQ(LondonDate(Utc(2025, 7, 15, 23, 30)), D(2025, 7, 16));
}

TEST(LondonDate, ClockChangesAtOneUtcOnLastSundays) {
  // 2025: BST from Sunday 30 March 01:00 UTC to Sunday 26 October 01:00 UTC.
  EXPECT_EQ(LondonDate(Utc(2025, 3, 30, 0, 59)), D(2025, 3, 30));     // still GMT
  EXPECT_EQ(LondonDate(Utc(2025, 3, 29, 23, 30)), D(2025, 3, 29));    // GMT the night before
  EXPECT_EQ(LondonDate(Utc(2025, 10, 25, 23, 30)), D(2025, 10, 26));  // BST, next day
  EXPECT_EQ(LondonDate(Utc(2025, 10, 26, 23, 30)), D(2025, 10, 26));  // GMT again
  // 2024 (leap year): BST from 31 March.
  EXPECT_EQ(LondonDate(Utc(2024, 3, 31, 23, 30)), D(2024, 4, 1));
  EXPECT_EQ(LondonDate(Utc(2024, 3, 30, 23, 30)), D(2024, 3, 30));
}

TEST(CivilDates, RejectsImpossibleDates) {
  pathway::v1::Date d;
  d.set_year(2024);
  d.set_month(2);
  d.set_day(29);
  EXPECT_TRUE(ToCivil(d).has_value()) << "2024 is a leap year";
  d.set_year(2023);
  EXPECT_FALSE(ToCivil(d).has_value()) << "2023 is not";
  d.set_month(13);
  d.set_day(1);
  EXPECT_FALSE(ToCivil(d).has_value());
  d.set_month(4);
  d.set_day(31);
  EXPECT_FALSE(ToCivil(d).has_value());
  d.set_day(0);
  EXPECT_FALSE(ToCivil(d).has_value());
}

TEST(CivilDates, RoundTrip) {
  auto c = D(2032, 12, 31);
  EXPECT_EQ(ToCivil(ToProto(c)), c);
}

}  // namespace
}  // namespace pathway::workflow
