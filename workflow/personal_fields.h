// Which fields of an emitted event are personal data, and their sealing for topics
// (docs/tell-it-once.md section 6). An event leaves the engine with each personal
// field replaced by its sealed form (under the subject's data key, which erasure
// destroys) and, where reporting needs it, a non-identifying stand-in (age in years
// instead of the date of birth). Pure given the `seal` function; thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "pathway/v1/envelope.pb.h"

namespace pathway::workflow {

// seal(plaintext, field name) -> sealed bytes.
using SealFunction = std::function<Result<std::string>(std::string_view, std::string_view)>;

// Replaces `event`'s personal fields with their sealed forms; fails if sealing does.
// Field names (the associated data): "fact_recorded.content",
// "referral_received.date_of_birth".
Status SealPersonalFields(pathway::v1::Envelope& event, const SealFunction& seal);

}  // namespace pathway::workflow
