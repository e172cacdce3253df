// PLACEHOLDER: being written; replaced before commit.
#include "workflow/pathways/definitions.h"
#include "workflow/pathways/step_helpers.h"

namespace pathway::workflow::pathways {
namespace {
Definition Make() {
  Definition d;
  d.kind = pathway::v1::PATHWAY_KIND_EXCEPTIONAL_NEEDS_GRANT;
  d.version = 1;
  d.name = "exceptional_needs_grant";
  d.title = "exceptional_needs_grant";
  d.states = {"applied"};
  d.transitions = {
      {"applied",
       {},
       {"applied"},
       "applied",
       [](const StepInput&) -> StepResult {
         Outcome out;
         out.to_state = "applied";
         return out;
       }},
  };
  return d;
}
}  // namespace

const Definition& ExceptionalNeedsGrantV1() {
  static const Definition d = Make();
  return d;
}

}  // namespace pathway::workflow::pathways
