// Doorbell: lets one thread that serves several bus clients sleep until any of them
// has something to serve (a message, a delivery report, a rebalance), instead of
// blocking on one client while another has work.
//
// Clients ring it from their own threads (librdkafka writes to the doorbell's file
// descriptor when a queue it was given gains an event); Wait returns once it has rung.
// Use: Clear, then serve every client without waiting, then Wait only if none had
// work. A ring that comes after Clear is never lost: it makes the next Wait return at
// once. Spurious wake-ups are harmless (a Step that finds nothing).
//
// Ownership: owns an eventfd, closed on destruction; clients given the doorbell must
// stop ringing it first (Producer/Consumer::RingOn(nullptr)). Thread safety: Ring
// from any thread; Clear and Wait from the serving thread only.
#pragma once

#include <chrono>

namespace pathway::bus {

class Doorbell {
 public:
  Doorbell();
  ~Doorbell();
  Doorbell(const Doorbell&) = delete;
  Doorbell& operator=(const Doorbell&) = delete;

  // The eventfd a client writes an 8-byte count to (-1 if none could be made: then
  // Wait sleeps its whole timeout, as polling with a timeout would).
  int fd() const { return fd_; }
  void Ring();
  // Forgets rings so far.
  void Clear();
  // Waits until rung since the last Clear, at most `timeout`; true if it rang.
  bool Wait(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

}  // namespace pathway::bus
