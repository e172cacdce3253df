// PLACEHOLDER: being written; replaced before commit.
#include "workflow/pathways/definitions.h"
#include "workflow/pathways/step_helpers.h"

namespace pathway::workflow::pathways {
namespace {
Definition Make() {
  Definition d;
  d.kind = pathway::v1::PATHWAY_KIND_PREPARING_FOR_ADULTHOOD;
  d.version = 1;
  d.name = "preparing_for_adulthood";
  d.title = "preparing_for_adulthood";
  d.states = {"started"};
  d.transitions = {
      {"started",
       {},
       {"started"},
       "started",
       [](const StepInput&) -> StepResult {
         Outcome out;
         out.to_state = "started";
         return out;
       }},
  };
  return d;
}
}  // namespace

const Definition& PreparingForAdulthoodV1() {
  static const Definition d = Make();
  return d;
}

}  // namespace pathway::workflow::pathways
