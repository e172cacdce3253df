#include "services/bus/event_bus.h"

namespace pathway::bus {
namespace {
class BusCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "pathway.bus"; }
  std::string message(int code) const override {
    switch (static_cast<errc>(code)) {
      case errc::kOk:
        return "ok";
      case errc::kConfig:
        return "invalid Kafka configuration";
      case errc::kTimeout:
        return "timed out";
      case errc::kTransport:
        return "broker or network failure";
      case errc::kDelivery:
        return "message not delivered";
      case errc::kQueueFull:
        return "producer queue full";
      case errc::kState:
        return "called in the wrong state";
      case errc::kTxnAbortable:
        return "transaction failed and must be aborted";
      case errc::kFenced:
        return "producer fenced or failed fatally";
      case errc::kRejected:
        return "message refused for good (too large or invalid)";
    }
    return "unknown bus error";
  }
};
}  // namespace

const std::error_category& bus_category() {
  static const BusCategory category;
  return category;
}

}  // namespace pathway::bus
