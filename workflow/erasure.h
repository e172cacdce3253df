// Erasure requests (docs/tell-it-once.md section 6): checked against the retention
// rules, then either refused (ErasureRefused: the rule, why and the day erasure becomes
// possible) or granted (ErasureCompleted). The engine carries a granted erasure out by
// destroying the subject's data key and removing their case; folding ErasureCompleted
// leaves a case that holds nothing but the fact of the erasure, and refuses every later
// command. A child's erasure also erases the aliases (UPN, local ids) linked to them.
// Pure functions, like the rest of workflow/; thread-safe.
#pragma once

#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/workflow.h"

namespace pathway::workflow {

bool IsErasureCommand(const pathway::v1::Envelope& command);
Decision DecideErasureCommand(const pathway::store::v1::CaseState& state,
                              const pathway::v1::Envelope& command, TimePoint now,
                              const DecideOptions& options);

// The rejection every command gets once its subject is erased; nullopt otherwise.
std::optional<Rejection> ErasedRejection(const pathway::store::v1::CaseState& state);

// Folds ErasureCompleted (clears the case, keeps history_length and the mark); false
// for any other event.
bool ApplyErasureEvent(pathway::store::v1::CaseState& state, const pathway::v1::Envelope& event);

}  // namespace pathway::workflow
