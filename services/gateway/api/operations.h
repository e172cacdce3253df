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
//
// The engine instance that owns the child's partition runs the action and records it
// (operations_service.h): it holds the child's store and the key that seals the reason.
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
  const ReadApiOptions options_;
  EngineDirectory& directory_;
  EngineCaller& engines_;
};

}  // namespace pathway::gateway
