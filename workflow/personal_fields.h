// Which fields of an emitted event are personal data, and their sealing for topics
// (docs/tell-it-once.md section 6, docs/decisions.md 62). Driven by the classification
// in the catalogue (`pathway.v1.data_class` on every field, proto/pathway/v1/common.proto):
// an event leaves the engine with every PERSONAL and FREE_TEXT field, at any depth,
// sealed under the subject's data key (which erasure destroys) and, where reporting
// needs it, a non-identifying stand-in (age in years instead of the date of birth).
// Pure given the `seal` and `open` functions; thread-safe.
#pragma once

#include <google/protobuf/message.h>

#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "pathway/v1/envelope.pb.h"

namespace pathway::workflow {

// seal(plaintext, field path) -> sealed bytes.
using SealFunction = std::function<Result<std::string>(std::string_view, std::string_view)>;
// open(sealed bytes, field path) -> plaintext: SealFunction's inverse for the same path.
using OpenFunction = std::function<Result<std::string>(std::string_view, std::string_view)>;

// A string field sealed in place: this prefix, then the sealed bytes in standard base64
// (RFC 4648 with padding), so the field stays valid UTF-8 as proto3 requires.
inline constexpr std::string_view kSealedTextPrefix = "sealed:v1:";

// Seals every set PERSONAL or FREE_TEXT field of `event` (nested and repeated included),
// each under its path as the authenticated field name: field names from the envelope
// down, joined by '.', with "[i]" after a repeated field's name, e.g.
// "pathway_step_recorded.facts[1].value", "fact_recorded.content",
// "referral_received.date_of_birth".
//  - a field with a `sealed_in` companion: its value (a string's bytes, or a message
//    serialised) is sealed into the companion and the field cleared
//    (FactRecorded.content -> sealed_content, ReferralReceived.date_of_birth ->
//    sealed_date_of_birth with age_years set, ErasureRefused.retained_until ->
//    sealed_retained_until);
//  - a string or bytes field: replaced in place by kSealedTextPrefix + base64(sealed);
//  - any other (a message such as a command's date of birth): cleared.
// A value that already looks sealed is sealed again (it came from outside). Fails if
// sealing does; `event` is then partly sealed and must not be published.
Status SealPersonalFields(pathway::v1::Envelope& event, const SealFunction& seal);

// The inverse, for readers who hold the key (pathwayctl export, record views): opens
// every sealed form SealPersonalFields made in `message`, whose own path in the
// envelope is `path` (empty for an Envelope; "fact_recorded." for a FactRecorded kept
// in a case state). Clear fields are left alone. Fails if a sealed form does not open
// (an erased subject, the wrong key, or a value moved to another field). Only values
// that came off a topic: a history kept in clear may hold text that looks sealed.
Status OpenPersonalFields(google::protobuf::Message& message, const OpenFunction& open,
                          std::string_view path = "");

// Replaces every sealed form in `message` by the same placeholder ("sealed"), so that
// two copies sealed under different keys compare equal (tests across engine runs).
void MaskSealedFields(google::protobuf::Message& message);

// Standard base64 with padding; Base64Decode fails on anything else.
std::string Base64Encode(std::string_view bytes);
bool Base64Decode(std::string_view text, std::string* out);

}  // namespace pathway::workflow
