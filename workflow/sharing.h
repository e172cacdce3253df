// Statutory sharing: what the law lets an agency use from a child's record without the
// family's consent (docs/tell-it-once.md section 3). The rules are configuration
// (config/statutory_sharing.json, pathway.config.v1.StatutorySharing in protobuf's JSON
// mapping), never code: with no rules, nothing is shared without consent. Every reuse
// or view a rule allows names the rule's legal basis (FactReused.legal_basis,
// RecordViewed.legal_bases, AuditRecorded.legal_bases).
//
// Pure functions, no I/O (the caller reads the file). Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "pathway/config/v1/config.pb.h"
#include "pathway/v1/record.pb.h"

namespace pathway::workflow {

// Parses and checks a statutory sharing configuration. Errors (std::errc::
// invalid_argument) name the rule and field, e.g. `rules[2] ("la-ehc-advice").
// legal_basis: required: ...`. Every rule needs a unique non-empty `id`, an exact
// `agency` and `purpose` (non-empty, no surrounding spaces, no "*": explicit is the
// point), at least one fact type, none unspecified or unknown or listed twice, and a
// `legal_basis`; no two rules may cover the same (agency, purpose, fact type), so the
// basis cited is never ambiguous. Unknown JSON fields are errors.
Result<pathway::config::v1::StatutorySharing> ParseStatutorySharing(std::string_view json);

// The rule that lets `agency` use facts of `type` for `purpose` without consent
// (exact matches), or nullptr. Points into `sharing`.
const pathway::config::v1::SharingRule* StatutoryBasis(
    const pathway::config::v1::StatutorySharing& sharing, std::string_view agency,
    std::string_view purpose, pathway::v1::FactType type);

}  // namespace pathway::workflow
