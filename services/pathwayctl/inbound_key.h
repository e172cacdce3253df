// The Kafka key `pathwayctl publish` gives each Envelope it sends to
// pathway.inbound.v1 (docs/decisions.md, decision 96).
//
// One child's messages must stay on one inbound partition, so that they reach the
// engine in the order they were published; yet the key of a landing topic must not be
// personal data (design.md: personal data out of keys). The key is a coarse bucket of
// the child's identifier:
//
//   "subject-bucket:" + three letters 'a'..'p'
//
// the letters spelling, 4 bits each (most significant first), the top 12 bits of
// SHA-256(kInboundKeyDomain + kind + ":" + identifier). About 250,000 valid NHS numbers
// share each of the 4,096 buckets, so a key names nobody; it has no digits at all, so
// no run of an identifier's digits can appear in it by chance. It is the same on every
// run and every machine (no secret): the default partitioner sends one child's messages
// to one partition. The engine re-keys by its own keyed subject hash at intake.
//
// The identifier, first present of: subject.nhs_number,
// referral_submitted.child.nhs_number, subject.upn, subject.local_id; else the event id
// (a message that names no child is spread like any other). Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "pathway/v1/envelope.pb.h"

namespace pathway::ctl {

inline constexpr std::string_view kInboundKeyDomain = "pathway inbound subject bucket v1\n";
inline constexpr std::string_view kInboundKeyPrefix = "subject-bucket:";
inline constexpr int kInboundKeyBits = 12;

std::string InboundKey(const pathway::v1::Envelope& envelope);

}  // namespace pathway::ctl
