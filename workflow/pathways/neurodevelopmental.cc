// PLACEHOLDER: being written; replaced before commit.
#include "workflow/pathways/definitions.h"
#include "workflow/pathways/step_helpers.h"

namespace pathway::workflow::pathways {
namespace {
Definition Make() {
  Definition d;
  d.kind = pathway::v1::PATHWAY_KIND_NEURODEVELOPMENTAL;
  d.version = 1;
  d.name = "neurodevelopmental";
  d.title = "neurodevelopmental";
  d.states = {"referral_accepted"};
  d.transitions = {
      {"referral_accepted",
       {},
       {"referral_accepted"},
       "referral_accepted",
       [](const StepInput&) -> StepResult {
         Outcome out;
         out.to_state = "referral_accepted";
         return out;
       }},
  };
  return d;
}
}  // namespace

const Definition& NeurodevelopmentalV1() {
  static const Definition d = Make();
  return d;
}

}  // namespace pathway::workflow::pathways
