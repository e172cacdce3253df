#include "services/engine/delivery_router.h"

#include <string>
#include <utility>

namespace pathway::engine {

DeliveryRouter::Registration& DeliveryRouter::Registration::operator=(
    Registration&& other) noexcept {
  if (this != &other) {
    Release();
    router_ = std::exchange(other.router_, nullptr);
    channel_ = other.channel_;
  }
  return *this;
}

void DeliveryRouter::Registration::Release() {
  if (router_ == nullptr) return;
  router_->handlers_[static_cast<size_t>(channel_)] = nullptr;
  router_ = nullptr;
}

Result<DeliveryRouter::Registration> DeliveryRouter::Register(Channel channel, Handler handler) {
  Handler& slot = handlers_[static_cast<size_t>(channel)];
  if (slot) {
    // Two engines on one producer would each see the other's reports as their own.
    return Error{
        make_error_code(bus::errc::kState),
        "delivery channel " + std::to_string(static_cast<int>(channel)) + " already has a handler"};
  }
  slot = std::move(handler);
  return Registration(this, channel);
}

void DeliveryRouter::Route(const bus::Delivery& delivery) {
  const Handler& handler = handlers_[delivery.opaque >> kChannelShift];
  if (!handler) {
    ++unrouted_;
    return;
  }
  handler(delivery.opaque & kLocalMask, delivery);
}

}  // namespace pathway::engine
