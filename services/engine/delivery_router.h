// DeliveryRouter: hands each of the producer's delivery reports to the engine stage
// that produced the record, by the channel in the top two bits of its opaque value.
//
// Wiring (main.cc, the test harnesses): make the router first, give the producer
// factory `router.callback()`, and pass the router to the Engine beside the producer.
// The router must outlive the producer: declare it before the producer, so that it is
// destroyed after it. The Engine registers its stages in Start and releases them when
// it is destroyed; a report that arrives while no stage is registered (a producer
// flushed after its engine is gone) is counted in `unrouted()` and dropped, never
// handed to a destroyed object.
//
// Ownership: holds the handlers (copies of the callables) until their Registration is
// destroyed; owns nothing else. Not thread-safe: reports arrive on the thread that
// calls Producer::Poll or Producer::Flush, which must be the thread that registers
// (for the engine, the engine thread). A handler must not register or release a
// registration while it runs. Errors: Register fails with bus::errc::kState when the
// channel already has a handler.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "common/result.h"
#include "services/bus/event_bus.h"

namespace pathway::engine {

class DeliveryRouter {
 public:
  // Who produced a record. The values are the opaque's top two bits, so an outbox
  // entry's opaque is exactly its partition and sequence (decision 99).
  enum class Channel : uint8_t { kOutbox = 0, kFence = 1, kIntake = 2 };
  static constexpr int kChannelShift = 62;
  static constexpr uint64_t kLocalMask = (uint64_t{1} << kChannelShift) - 1;
  // Called with the channel's own part of the opaque (`local`) and the report.
  using Handler = std::function<void(uint64_t local, const bus::Delivery& delivery)>;

  // Keeps a handler registered while it lives. Move-only.
  class Registration {
   public:
    Registration() = default;
    Registration(Registration&& other) noexcept { *this = std::move(other); }
    Registration& operator=(Registration&& other) noexcept;
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration() { Release(); }
    void Release();

   private:
    friend class DeliveryRouter;
    Registration(DeliveryRouter* router, Channel channel) : router_(router), channel_(channel) {}
    DeliveryRouter* router_ = nullptr;
    Channel channel_ = Channel::kOutbox;
  };

  DeliveryRouter() = default;
  DeliveryRouter(const DeliveryRouter&) = delete;
  DeliveryRouter& operator=(const DeliveryRouter&) = delete;

  // The producer's DeliveryCallback: routes to this router.
  bus::DeliveryCallback callback() {
    return [this](const bus::Delivery& d) { Route(d); };
  }
  // The opaque to give Producer::Send for a record of `channel`; `local` must be below
  // 2^62 (higher bits are dropped).
  static constexpr uint64_t Opaque(Channel channel, uint64_t local) {
    return (static_cast<uint64_t>(channel) << kChannelShift) | (local & kLocalMask);
  }
  // Sends `channel`'s reports to `handler` until the registration is destroyed.
  Result<Registration> Register(Channel channel, Handler handler);
  // Hands `delivery` to its channel's handler, or counts it as unrouted.
  void Route(const bus::Delivery& delivery);
  // Reports that arrived with no handler registered for their channel.
  uint64_t unrouted() const { return unrouted_; }

 private:
  std::array<Handler, 4> handlers_;
  uint64_t unrouted_ = 0;
};

}  // namespace pathway::engine
