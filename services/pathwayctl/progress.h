// Progress and interruption for long operations (docs/operations.md, "Long operations").
//
// Progress draws one line on stderr: a bar with the count, the rate and the time left
// when stderr is a terminal (redrawn at most ten times a second), or a plain line
// every `plain_every` of the total otherwise (logs, CI). Interrupt turns Ctrl-C
// (SIGINT) and SIGTERM into a flag the operation polls between units of work, so it
// stops at a safe point, records INTERRUPTED and says how to resume.
//
// Not thread-safe, except Interrupt's flag (set from a signal handler).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace pathway::ctl {

class Progress {
 public:
  // `unit`: what is counted ("cases"); `total` 0: not known (no bar, no time left).
  // `out`: where to draw (stderr); `terminal`: whether it is a terminal.
  Progress(std::string unit, uint64_t total, std::FILE* out, bool terminal);
  // For the tool: stderr, a terminal if isatty says so.
  static Progress OnStderr(std::string unit, uint64_t total);

  void Add(uint64_t n = 1);
  // The last line, ended (a terminal's bar is replaced by the final counts).
  void Finish();
  uint64_t done() const { return done_; }

  // The line as drawn now (tests).
  std::string Line(std::chrono::steady_clock::time_point now) const;

 private:
  void Draw(std::chrono::steady_clock::time_point now, bool force);

  std::string unit_;
  uint64_t total_;
  std::FILE* out_;
  bool terminal_;
  uint64_t done_ = 0;
  uint64_t next_plain_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
};

// SIGINT and SIGTERM set a flag instead of ending the process, while an Interrupt
// lives (the previous handlers come back after). One at a time.
class Interrupt {
 public:
  Interrupt();
  ~Interrupt();
  Interrupt(const Interrupt&) = delete;
  Interrupt& operator=(const Interrupt&) = delete;
  bool requested() const;
  // Tests: as if the signal had come.
  static void RaiseForTest();
};

}  // namespace pathway::ctl
