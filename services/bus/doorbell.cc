#include "services/bus/doorbell.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <thread>

namespace pathway::bus {

// Non-blocking: librdkafka writes from its own threads while holding a queue lock, so
// a write must never block (an eventfd's counter cannot fill in practice).
Doorbell::Doorbell() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Doorbell::~Doorbell() {
  if (fd_ >= 0) close(fd_);
}

void Doorbell::Ring() {
  if (fd_ < 0) return;
  const uint64_t one = 1;
  (void)!write(fd_, &one, sizeof one);
}

void Doorbell::Clear() {
  if (fd_ < 0) return;
  uint64_t count = 0;
  (void)!read(fd_, &count, sizeof count);  // resets the counter; EAGAIN when unrung
}

bool Doorbell::Wait(std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) return false;
  if (fd_ < 0) {
    std::this_thread::sleep_for(timeout);
    return false;
  }
  pollfd p{fd_, POLLIN, 0};
  return poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

}  // namespace pathway::bus
