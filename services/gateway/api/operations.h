// The gateway's operations routes (docs/operations.md, "Over HTTP"), for the operations
// role only (others: 403 authorisation.role):
//
//   POST /v1/operations/inspect   body OperationsChild: one child (by child id, NHS
//                                 number or UPN, in the body) and the reason the
//                                 operator types; 200 the case inspection, the document
//                                 `pathwayctl inspect --json` prints.
//   POST /v1/operations/check     body OperationsChild; 200 the case checked against its
//                                 history (`pathwayctl rebuild`'s check, one child).
//   POST /v1/operations/redrive   body OperationsRedrive: the child, the reason and the
//                                 scope (commands of a system and window to leave out,
//                                 one pathway, apply or not); 200 what would change and
//                                 whether the re-drive was sent to the engine.
//   POST /v1/operations/deadletters/show      body OperationsDeadLetter: one dead letter
//                                 ("PARTITION/OFFSET", as GET /v1/deadletters gives it)
//                                 and the reason; 200 its original opened, the document
//                                 `pathwayctl deadletters show --json` prints.
//   POST /v1/operations/deadletters/resubmit  the same body; 200 the dead letter as
//                                 resubmitted (its original produced again to
//                                 pathway.inbound.v1); 409 deadletter.closed.
//   POST /v1/operations/deadletters/discard   the same body; 200 the dead letter as
//                                 discarded; 409 deadletter.closed.
//
// The engine instance that owns the child's partition runs the action and records it
// (operations_service.h): it holds the child's store and the key that seals the reason.
// A dead letter is no child's: any engine instance runs the action on it.
// The gateway passes the signed-in operator's id and the reason, checked first (400
// operation.reason), and relays the answer. Nothing here is logged.
//
// Thread safety: Handle may be called from any thread, concurrently; `respond` runs
// exactly once, on any thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "services/gateway/api/reads.h"
#include "services/gateway/auth/auth.h"
#include "services/gateway/http/http_server.h"

namespace pathway::gateway {

class OperationsApi {
 public:
  // `directory` and `engines` must outlive the OperationsApi.
  OperationsApi(ReadApiOptions options, EngineDirectory& directory, EngineCaller& engines);

  static bool Serves(std::string_view path);
  void Handle(const HttpRequest& request, const Principal& principal,
              std::function<void(HttpResponse)> respond);

 private:
  void HandleDeadLetter(const HttpRequest& request, const Principal& principal,
                        const std::string& action, std::function<void(HttpResponse)> respond);

  const ReadApiOptions options_;
  EngineDirectory& directory_;
  EngineCaller& engines_;
};

}  // namespace pathway::gateway
