#include "services/engine/member_announcer.h"

#include <algorithm>
#include <utility>

#include "pathway/store/v1/store.pb.h"
#include "services/topics.h"

namespace pathway::engine {

MemberAnnouncer::MemberAnnouncer(bus::Producer& producer, std::string instance,
                                 std::string query_url, std::chrono::milliseconds every)
    : producer_(producer),
      instance_(std::move(instance)),
      query_url_(std::move(query_url)),
      every_(every) {}

Status MemberAnnouncer::Poll(const ReadGate& gate, int64_t now_ms) {
  const uint64_t version = gate.version();
  const int32_t count = gate.partition_count();
  const bool changed = !sent_ || version != sent_version_ || count != sent_count_;
  if (!changed && now_ms - last_sent_ms_ < every_.count()) {
    producer_.Poll(std::chrono::milliseconds(0));
    return {};
  }
  pathway::store::v1::EngineMember member;
  member.set_instance(instance_);
  member.set_query_url(query_url_);
  for (int32_t p : gate.Serving()) member.add_partitions(p);
  member.set_partition_count(count);
  // Increasing per instance, so a reader ordering two of its announcements by
  // generation agrees with the order they were sent in.
  last_generation_ = std::max(now_ms, last_generation_ + 1);
  member.set_generation(last_generation_);
  const std::string value = member.SerializeAsString();
  bus::Outgoing out{topics::kEngineMembers, instance_, value};
  out.partition = bus::kPartitionByKey;
  if (auto s = producer_.Send(out, 0); !s) return s;
  producer_.Poll(std::chrono::milliseconds(0));
  sent_ = true;
  sent_version_ = version;
  sent_count_ = count;
  last_sent_ms_ = now_ms;
  return {};
}

Status MemberAnnouncer::Leave(std::chrono::milliseconds timeout) {
  bus::Outgoing out{topics::kEngineMembers, instance_, {}};
  out.tombstone = true;
  out.partition = bus::kPartitionByKey;
  if (auto s = producer_.Send(out, 0); !s) return s;
  return producer_.Flush(timeout);
}

}  // namespace pathway::engine
