// The pathway definitions (internal to workflow/). Each returns a static Definition.
#pragma once

#include "workflow/pathway.h"

namespace pathway::workflow::pathways {

const Definition& ReferralIntakeV1();
const Definition& EhcNeedsAssessmentV1();
const Definition& AnnualReviewV1();
const Definition& NeurodevelopmentalV1();
const Definition& NeurodevelopmentalV2();
const Definition& PreparingForAdulthoodV1();
const Definition& ExceptionalNeedsGrantV1();
const Definition& DisagreementV1();

}  // namespace pathway::workflow::pathways
