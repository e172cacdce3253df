#include "services/engine/delivery_router.h"

#include <gtest/gtest.h>

#include <vector>

namespace pathway::engine {
namespace {
using Channel = DeliveryRouter::Channel;

bus::Delivery Report(uint64_t opaque) {
  bus::Delivery d;
  d.opaque = opaque;
  return d;
}

TEST(DeliveryRouter, HandsEachReportToItsChannelWithTheChannelsOwnPart) {
  DeliveryRouter router;
  std::vector<uint64_t> outbox, intake, fence;
  auto a = router.Register(Channel::kOutbox,
                           [&](uint64_t local, const bus::Delivery&) { outbox.push_back(local); });
  auto b = router.Register(Channel::kIntake,
                           [&](uint64_t local, const bus::Delivery&) { intake.push_back(local); });
  auto c = router.Register(Channel::kFence,
                           [&](uint64_t local, const bus::Delivery&) { fence.push_back(local); });
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());

  bus::DeliveryCallback callback = router.callback();
  callback(Report(DeliveryRouter::Opaque(Channel::kOutbox, (uint64_t{2} << 40) | 9)));
  callback(Report(DeliveryRouter::Opaque(Channel::kIntake, 3)));
  callback(Report(DeliveryRouter::Opaque(Channel::kFence, 0)));
  EXPECT_EQ(outbox, std::vector<uint64_t>{(uint64_t{2} << 40) | 9});
  EXPECT_EQ(intake, std::vector<uint64_t>{3});
  EXPECT_EQ(fence, std::vector<uint64_t>{0});
  EXPECT_EQ(router.unrouted(), 0u);
}

TEST(DeliveryRouter, OpaquesAreTheValuesTheEngineUsedBeforeTheRouter) {
  // Outbox: partition and sequence alone; intake: bit 63 and the batch index; fence:
  // bit 62.
  EXPECT_EQ(DeliveryRouter::Opaque(Channel::kOutbox, 42), 42u);
  EXPECT_EQ(DeliveryRouter::Opaque(Channel::kIntake, 5), (uint64_t{1} << 63) | 5);
  EXPECT_EQ(DeliveryRouter::Opaque(Channel::kFence, 0), uint64_t{1} << 62);
}

TEST(DeliveryRouter, AReportWithNoHandlerIsCountedAndDropped) {
  DeliveryRouter router;
  int calls = 0;
  {
    auto registration =
        router.Register(Channel::kOutbox, [&](uint64_t, const bus::Delivery&) { ++calls; });
    ASSERT_TRUE(registration.ok());
    router.Route(Report(1));
    EXPECT_EQ(calls, 1);
  }
  // The registration is gone (its engine destroyed): the producer may still report.
  router.Route(Report(1));
  router.Route(Report(DeliveryRouter::Opaque(Channel::kIntake, 1)));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(router.unrouted(), 2u);
}

TEST(DeliveryRouter, OneHandlerPerChannelUntilReleased) {
  DeliveryRouter router;
  auto first = router.Register(Channel::kIntake, [](uint64_t, const bus::Delivery&) {});
  ASSERT_TRUE(first.ok());
  auto second = router.Register(Channel::kIntake, [](uint64_t, const bus::Delivery&) {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, make_error_code(bus::errc::kState));

  // Moving keeps the channel registered; releasing frees it.
  DeliveryRouter::Registration moved = std::move(*first);
  EXPECT_FALSE(router.Register(Channel::kIntake, [](uint64_t, const bus::Delivery&) {}).ok());
  moved.Release();
  EXPECT_TRUE(router.Register(Channel::kIntake, [](uint64_t, const bus::Delivery&) {}).ok());
}

}  // namespace
}  // namespace pathway::engine
