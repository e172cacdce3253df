// pathwayctl's dead letters: services/operations/deadletters.h.
#pragma once

#include "services/operations/deadletters.h"

namespace pathway::ctl {
using operations::Closer;
using operations::DeadLetterErrorText;
using operations::DeadLetterKey;
using operations::DeadLetterPlace;
using operations::DeadLetterRecord;
using operations::Deadline;
using operations::DeliveryWaiter;
using operations::Discard;
using operations::FindDeadLetter;
using operations::HexDump;
using operations::ListDeadLetters;
using operations::NoSuchDeadLetter;
using operations::OpenOriginal;
using operations::OriginalContent;
using operations::ParseDeadLetterPlace;
using operations::ParseDeadLetterRecord;
using operations::ReadAt;
using operations::ReadDispositions;
using operations::ReadFrom;
using operations::ReadFullOriginal;
using operations::ReadToEnd;
using operations::RefusalToClose;
using operations::Refused;
using operations::Resubmit;
using operations::ResubmitResult;
using operations::SealedUnder;
using operations::ShownReason;
using operations::UnknownFieldNumbers;
using operations::UtcText;
}  // namespace pathway::ctl
