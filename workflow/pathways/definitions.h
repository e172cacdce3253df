// The pathway definitions (internal to workflow/). Each returns a static Definition.
#pragma once

#include "workflow/pathway.h"

namespace pathway::workflow::pathways {

const Definition& ReferralIntakeV1();
const Definition& EhcNeedsAssessmentV1();

}  // namespace pathway::workflow::pathways
