// HttpEngineCaller: the gateway's client of the engines' query endpoints (reads.h),
// over HTTP/1.1 with the shared service token. One I/O thread of its own; a
// connection per call (loopback or a data-centre network: cheap next to the read),
// each bounded by `timeout` from resolving to the last byte of the answer, and by
// `max_response_bytes`.
//
// Thread safety: Call may be called from any thread; `done` runs on the client's
// thread. The destructor stops the thread; calls still in flight then end with
// an error (their `done` runs, on the destroying thread, before it returns).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "services/gateway/api/reads.h"

namespace pathway::gateway {

struct EngineCallerOptions {
  std::string token;  // sent as "Authorization: Bearer <token>"
  std::chrono::milliseconds timeout{5000};
  std::size_t max_response_bytes = 4 << 20;
};

class HttpEngineCaller final : public EngineCaller {
 public:
  explicit HttpEngineCaller(EngineCallerOptions options);
  ~HttpEngineCaller() override;
  HttpEngineCaller(const HttpEngineCaller&) = delete;
  HttpEngineCaller& operator=(const HttpEngineCaller&) = delete;

  // `base_url` is "http://HOST:PORT" (an IPv6 host in brackets); anything else ends
  // the call with kInvalidArgument.
  void Call(const std::string& base_url, EngineRequest request,
            std::function<void(Result<HttpResponse>)> done) override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathway::gateway
