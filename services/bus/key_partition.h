// Which partition a keyed record goes to: Kafka's murmur2 partitioner (the Java
// client's default and librdkafka's murmur2_random, which the producer uses), so a
// reader can find the partition that holds a key without asking the broker. The
// in-memory bus partitions by it too. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace pathway::bus {

// Kafka's murmur2 hash of `key` (org.apache.kafka.common.utils.Utils.murmur2).
uint32_t Murmur2(std::string_view key);

// The partition of `key` among `partitions` (> 0): (murmur2 & 0x7fffffff) mod count.
int32_t KeyPartition(std::string_view key, int32_t partitions);

}  // namespace pathway::bus
