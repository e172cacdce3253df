// PLACEHOLDER: being written; replaced before commit.
#include "workflow/pathways/definitions.h"
#include "workflow/pathways/step_helpers.h"

namespace pathway::workflow::pathways {
namespace {
Definition Make() {
  Definition d;
  d.kind = pathway::v1::PATHWAY_KIND_DISAGREEMENT;
  d.version = 1;
  d.name = "disagreement";
  d.title = "disagreement";
  d.states = {"opened"};
  d.transitions = {
      {"opened",
       {},
       {"opened"},
       "opened",
       [](const StepInput&) -> StepResult {
         Outcome out;
         out.to_state = "opened";
         return out;
       }},
  };
  return d;
}
}  // namespace

const Definition& DisagreementV1() {
  static const Definition d = Make();
  return d;
}

}  // namespace pathway::workflow::pathways
