// An engine directory and an engine caller for the gateway's tests against a real
// engine's query endpoint: every partition is served by one URL, and each request is
// handed to a QueryService in this process (scripted answers may come first).
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "services/engine/query_service.h"
#include "services/gateway/api/reads.h"

namespace pathway::gateway::testing {

inline const std::string kEngineToken = "fedcba9876543210fedcba9876543210";
inline const std::string kEngineUrl = "http://127.0.0.1:1";

class FakeDirectory final : public EngineDirectory {
 public:
  int32_t count = 4;
  bool known = true;
  int32_t partition_count() const override { return count; }
  std::optional<std::string> UrlFor(int32_t) const override {
    return known ? std::optional<std::string>(kEngineUrl) : std::nullopt;
  }
  std::optional<std::string> AnyUrl() const override { return UrlFor(0); }
  std::map<std::string, std::vector<int32_t>> Owners() const override {
    if (!known) return {};
    return {{kEngineUrl, {0, 1, 2, 3}}};
  }
};

// Hands each request to the engine's QueryService, unless a scripted answer comes first.
class LocalEngines final : public EngineCaller {
 public:
  explicit LocalEngines(const engine::QueryService& service) : service_(service) {}
  std::deque<std::function<std::optional<Result<HttpResponse>>(const EngineRequest&)>> script;
  std::vector<EngineRequest> calls;

  void Call(const std::string& base_url, EngineRequest request,
            std::function<void(Result<HttpResponse>)> done) override {
    EXPECT_EQ(base_url, kEngineUrl);
    calls.push_back(request);
    if (!script.empty()) {
      auto step = std::move(script.front());
      script.pop_front();
      if (auto answer = step(request)) return done(std::move(*answer));
    }
    HttpRequest r;
    r.method = request.method;
    const size_t q = request.target.find('?');
    r.path = request.target.substr(0, q);
    if (q != std::string::npos) r.query = request.target.substr(q + 1);
    r.body = request.body;
    r.headers.emplace_back("authorization", "Bearer " + kEngineToken);
    done(service_.Handle(r));
  }

 private:
  const engine::QueryService& service_;
};

}  // namespace pathway::gateway::testing
