#include "services/pathwayctl/progress.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

namespace pathway::ctl {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
struct sigaction g_old_int {};
struct sigaction g_old_term {};

void OnSignal(int) { g_interrupted = 1; }

std::string Duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return buf;
}

}  // namespace

Progress::Progress(std::string unit, uint64_t total, std::FILE* out, bool terminal)
    : unit_(std::move(unit)),
      total_(total),
      out_(out),
      terminal_(terminal),
      start_(std::chrono::steady_clock::now()) {}

Progress Progress::OnStderr(std::string unit, uint64_t total) {
  return Progress(std::move(unit), total, stderr, ::isatty(STDERR_FILENO) == 1);
}

std::string Progress::Line(std::chrono::steady_clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
  std::string line;
  if (total_ > 0) {
    constexpr int kWidth = 24;
    const uint64_t shown = std::min(done_, total_);
    const int filled = static_cast<int>(kWidth * shown / total_);
    line += '[' + std::string(filled, '#') + std::string(kWidth - filled, ' ') + "] ";
    line += std::to_string(done_) + "/" + std::to_string(total_) + " " + unit_;
  } else {
    line += std::to_string(done_) + " " + unit_;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, ", %.0f/s", rate);
  line += buf;
  line += ", " + Duration(elapsed) + " elapsed";
  if (total_ > 0 && rate > 0 && done_ < total_) {
    line += ", " + Duration(static_cast<double>(total_ - done_) / rate) + " left";
  }
  return line;
}

void Progress::Draw(std::chrono::steady_clock::time_point now, bool force) {
  if (terminal_) {
    if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    // Clear to the end of the line: the new line may be shorter than the last.
    std::fprintf(out_, "\r%s\x1b[K", Line(now).c_str());
    std::fflush(out_);
    return;
  }
  if (!force && done_ < next_plain_) return;
  // Plain lines: about every tenth of the total, or every 10,000 when it is unknown.
  next_plain_ = done_ + std::max<uint64_t>(1, total_ > 0 ? total_ / 10 : 10000);
  std::fprintf(out_, "%s\n", Line(now).c_str());
  std::fflush(out_);
}

void Progress::Add(uint64_t n) {
  done_ += n;
  Draw(std::chrono::steady_clock::now(), false);
}

void Progress::Finish() {
  Draw(std::chrono::steady_clock::now(), true);
  if (terminal_) std::fputc('\n', out_);
}

Interrupt::Interrupt() {
  g_interrupted = 0;
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, &g_old_int);
  ::sigaction(SIGTERM, &action, &g_old_term);
}

Interrupt::~Interrupt() {
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
}

bool Interrupt::requested() const { return g_interrupted != 0; }

void Interrupt::RaiseForTest() { g_interrupted = 1; }

}  // namespace pathway::ctl
