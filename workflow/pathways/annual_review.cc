// PLACEHOLDER: being written; replaced before commit.
#include "workflow/pathways/definitions.h"
#include "workflow/pathways/step_helpers.h"

namespace pathway::workflow::pathways {
namespace {
Definition Make() {
  Definition d;
  d.kind = pathway::v1::PATHWAY_KIND_ANNUAL_REVIEW;
  d.version = 1;
  d.name = "annual_review";
  d.title = "annual_review";
  d.states = {"review_due"};
  d.transitions = {
      {"review_due",
       {},
       {"review_due"},
       "review_due",
       [](const StepInput&) -> StepResult {
         Outcome out;
         out.to_state = "review_due";
         return out;
       }},
  };
  return d;
}
}  // namespace

const Definition& AnnualReviewV1() {
  static const Definition d = Make();
  return d;
}

}  // namespace pathway::workflow::pathways
