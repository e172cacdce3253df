// Progress lines and Ctrl-C for long operations (services/pathwayctl/progress.h).
#include "services/pathwayctl/progress.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace pathway::ctl {
namespace {

TEST(Progress, ALineHasTheBarCountRateAndTimeLeft) {
  Progress p("cases", 200, nullptr, true);
  const auto start = std::chrono::steady_clock::now();
  std::string line = p.Line(start + std::chrono::seconds(10));
  EXPECT_NE(line.find("0/200 cases"), std::string::npos) << line;
  EXPECT_EQ(line.find("left"), std::string::npos) << "no rate, no estimate: " << line;
}

TEST(Progress, PlainLinesComeAboutEveryTenthOfTheTotal) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buffer, &size);
  ASSERT_NE(out, nullptr);
  {
    Progress p("cases", 100, out, false);
    for (int i = 0; i < 100; ++i) p.Add();
    p.Finish();
  }
  std::fclose(out);
  const std::string text(buffer, size);
  std::free(buffer);
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_GE(lines, 10u) << text;
  EXPECT_LE(lines, 12u) << text;
  EXPECT_NE(text.find("100/100 cases"), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << "no terminal codes in plain lines";
}

TEST(Progress, ATerminalGetsOneRedrawnLineWithTimeLeft) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buffer, &size);
  ASSERT_NE(out, nullptr);
  Progress p("cases", 1000, out, true);
  p.Add(250);
  const std::string line = p.Line(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  EXPECT_NE(line.find("[######"), std::string::npos) << line;
  EXPECT_NE(line.find("250/1000 cases"), std::string::npos) << line;
  EXPECT_NE(line.find("left"), std::string::npos) << line;
  p.Finish();
  std::fclose(out);
  const std::string text(buffer, size);
  std::free(buffer);
  EXPECT_NE(text.find('\r'), std::string::npos);
}

TEST(Interrupt, CtrlCSetsTheFlagInsteadOfEndingTheProcess) {
  {
    Interrupt interrupt;
    EXPECT_FALSE(interrupt.requested());
    ASSERT_EQ(::raise(SIGINT), 0);  // would end the test binary without the handler
    EXPECT_TRUE(interrupt.requested());
  }
  // Afterwards a new Interrupt starts clear.
  Interrupt again;
  EXPECT_FALSE(again.requested());
}

}  // namespace
}  // namespace pathway::ctl
