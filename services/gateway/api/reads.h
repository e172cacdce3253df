// The gateway's reads of children's cases (docs/gateway.md, "Reads"):
//
//   POST /v1/children/search            find a child by NHS number or UPN (in the body)
//   GET  /v1/children/<id>/timeline     the child's timeline (?events=N)
//   GET  /v1/children/<id>/record       the shared record for the caller's agency and a
//                                       purpose (?purpose=P), with provenance and consent
//   GET  /v1/caseload                   a page of the caller's service's (or team's)
//                                       caseload or waiting list (caseload_reads.cc)
//
// Every answer comes from the engine instance that owns the child's partition
// (EngineDirectory says which, from pathway.engine.members.v1), asked over its query
// endpoint (EngineCaller). The engine decides whether the caller's agency may see the
// child; the gateway adds the role rule and the audit: every read of a child, answered
// or refused, is an AuditRecorded published to pathway.audit.v1 and confirmed by the
// broker before the answer is sent (no audit, no answer: 503).
//
// Thread safety: Handle may be called from any thread, concurrently; `respond` runs
// exactly once, on any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/views.pb.h"
#include "services/gateway/api/api.h"
#include "services/gateway/auth/auth.h"
#include "services/gateway/http/http_server.h"

namespace pathway::gateway {

// Which engine instance serves which partition of pathway.commands.v1.
class EngineDirectory {
 public:
  virtual ~EngineDirectory() = default;
  virtual int32_t partition_count() const = 0;  // 0: no engine announced yet
  // The query URL of the instance serving `partition`, if one claims it.
  virtual std::optional<std::string> UrlFor(int32_t partition) const = 0;
  // Some instance's query URL (any can compute a subject key), if any is known.
  virtual std::optional<std::string> AnyUrl() const = 0;
  // Every instance serving partitions now: its query URL -> the partitions it holds
  // the newest claim to. Partitions nobody claims are in no list.
  virtual std::map<std::string, std::vector<int32_t>> Owners() const = 0;
};

// The directory kept from pathway.engine.members.v1 (bus_io.h feeds it). Thread-safe.
class MembersDirectory final : public EngineDirectory {
 public:
  // The latest record of `instance`; nullopt: its tombstone (it stopped).
  void Apply(const std::string& instance,
             const std::optional<pathway::store::v1::EngineMember>& member);

  int32_t partition_count() const override;
  std::optional<std::string> UrlFor(int32_t partition) const override;
  std::optional<std::string> AnyUrl() const override;
  std::map<std::string, std::vector<int32_t>> Owners() const override;

 private:
  mutable std::mutex mu_;
  std::map<std::string, pathway::store::v1::EngineMember> members_;
  mutable size_t next_ = 0;  // round robin for AnyUrl
};

// A request to an engine's query endpoint (the service token is the caller's).
struct EngineRequest {
  std::string method;  // "GET" or "POST"
  std::string target;  // path and query, e.g. "/internal/v1/children/<id>/timeline?agency=X"
  std::string body;
};

class EngineCaller {
 public:
  virtual ~EngineCaller() = default;
  // `done` runs once, on any thread: the engine's answer, or an error when it could
  // not be asked (refused, timed out).
  virtual void Call(const std::string& base_url, EngineRequest request,
                    std::function<void(Result<HttpResponse>)> done) = 0;
};

struct ReadApiOptions {
  int max_attempts = 3;  // per read, when an instance answers "not mine"
};

class ReadApi {
 public:
  // `audit` publishes to pathway.audit.v1 keyed by the envelope's subject key. All
  // references must outlive the ReadApi.
  ReadApi(ReadApiOptions options, EngineDirectory& directory, EngineCaller& engines,
          CommandSink& audit, const TimeSource& time);

  static bool Serves(std::string_view path);
  void Handle(const HttpRequest& request, const Principal& principal,
              std::function<void(HttpResponse)> respond);

 private:
  void Search(const HttpRequest& request, const Principal& principal,
              std::function<void(HttpResponse)> respond);
  void Timeline(const std::string& child_id, const std::string& query, const Principal& principal,
                std::function<void(HttpResponse)> respond);
  void Record(const std::string& child_id, const std::string& query, const Principal& principal,
              std::function<void(HttpResponse)> respond);
  // Asks every instance for a page of the list and merges them (caseload_reads.cc).
  void Caseload(const HttpRequest& request, const Principal& principal,
                std::function<void(HttpResponse)> respond);
  // Asks the child's owner for `target` and answers with what it says: a view is
  // audited as `shown` (a record view with the facts it disclosed), a refusal as
  // AUDIT_ACTION_VIEW_REFUSED, both with `purpose`, before the answer is sent.
  void ReadChild(const std::string& child_id, std::string target, const Principal& principal,
                 const std::string& purpose, pathway::v1::AuditAction shown,
                 std::function<void(HttpResponse)> respond);
  // Asks the owner of `key`'s partition, retrying with the directory's newer answer
  // when an instance says it is not the owner.
  void AskOwner(const std::string& key, EngineRequest request, int attempt,
                std::function<void(Result<HttpResponse>)> done);
  // Publishes one AuditRecorded keyed by the child; `done` says whether the broker
  // confirmed it.
  void PublishAudit(const Principal& principal, const std::string& child_id,
                    pathway::v1::AuditAction action, const std::string& purpose,
                    const pathway::v1::ChildRecord* shown, std::function<void(bool)> done);
  // Publishes the audit record, then answers `response` (or 503 if it cannot).
  // `shown` (optional): the record facts the answer discloses and the legal bases
  // relied on, for AuditRecorded.facts and legal_bases.
  void AuditThen(const Principal& principal, const std::string& child_id,
                 pathway::v1::AuditAction action, const std::string& purpose, HttpResponse response,
                 std::function<void(HttpResponse)> respond,
                 const pathway::v1::ChildRecord* shown = nullptr);
  // AuditThen for several children: one record each, the answer once all are
  // confirmed (503 if any is not); answered at once when there are none.
  void AuditEachThen(const Principal& principal, std::vector<std::string> child_ids,
                     pathway::v1::AuditAction action, const std::string& purpose,
                     HttpResponse response, std::function<void(HttpResponse)> respond);

  const ReadApiOptions options_;
  EngineDirectory& directory_;
  EngineCaller& engines_;
  CommandSink& audit_;
  const TimeSource& time_;
};

}  // namespace pathway::gateway
