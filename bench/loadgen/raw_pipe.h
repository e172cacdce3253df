// The raw pipe: what the machine's Kafka allows for pathway's topology with no engine
// logic. The same two hops as the engine (docs/architecture.md, "The flow of one
// event"), through the same bus layer (services/bus/kafka_bus.h: idempotent producer,
// acks=all, murmur2, linger 5 ms; consumers with manual commits, read_committed):
//
//   pathway.inbound.v1  --group <prefix>.intake-->    pathway.commands.v1 keyed by a
//                                                      64-hex-digit key derived from the
//                                                      inbound key (the repartition)
//   pathway.commands.v1 --group <prefix>.commands-->  pathway.events.v1, same key
//
// Each hop, as the engine's intake does: poll a batch of up to 256 messages, produce
// one message per message read (the bytes unchanged, never parsed), flush, then
// commit the batch's offsets to the group. One thread runs both hops in turn, as the
// engine's Step does. No RocksDB, no changelog, no protobuf.
#pragma once

#include <atomic>
#include <string>

#include "services/bus/kafka_bus.h"

namespace pathway::loadgen {

inline constexpr size_t kRawPipeBatch = 256;  // the engine's max_batch

// Runs until `stop` is set (or a Kafka error). Prints "ready" on stdout once both
// consumers have their partitions. Returns the process exit code.
int RunRawPipe(const bus::KafkaConfig& config, const std::string& group_prefix,
               const std::atomic<bool>& stop);

}  // namespace pathway::loadgen
