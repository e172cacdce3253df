// The engine's internal read endpoint (docs/gateway.md, "Reads"): the gateway asks the
// instance that owns a child's partition for views built from its committed state.
//
// ReadGate is the one place the engine thread and the query threads meet. The engine
// calls Serve once a partition's store is restored and Stop before it closes, wipes
// or hands the store over; Stop waits for reads of that store to finish, so a query
// never touches a closed store and never sees a half-restored partition. Everything
// else the query threads read is RocksDB, which is thread-safe (state/case_store.h).
//
// QueryService answers the requests (HTTP-agnostic: it takes an HttpRequest and
// returns the response, so the server's threads run it and tests call it directly).
// Thread-safe. It authenticates the caller by a shared service token, compared in
// constant time, and logs nothing a request carried.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/time_source.h"
#include "pathway/config/v1/config.pb.h"
#include "services/engine/subject_keyer.h"
#include "services/gateway/http/http_server.h"
#include "state/case_store.h"
#include "workflow/views.h"

namespace pathway::engine {

class OperationsService;

// The answers every request about one child shares (the reads here, the operations in
// operations_service.h): 421 engine.not_owner when this instance does not serve the
// child's partition, 404 child.not_found when no child is known by the id.
gateway::HttpResponse NotOwner(int32_t partition);
gateway::HttpResponse NotFound();

class ReadGate {
 public:
  // Engine thread. `store` (not null) must stay open until Stop(partition).
  void Serve(int32_t partition, state::CaseStore* store);
  // Engine thread: reads of `partition` end (waits for those running) and new ones
  // are told "not mine". No-op for a partition not served.
  void Stop(int32_t partition);
  void StopAll();
  // Partitions of pathway.commands.v1 (0: not known yet; reads answer 503).
  void SetPartitionCount(int32_t count) { partition_count_.store(count); }
  int32_t partition_count() const { return partition_count_.load(); }

  // Any thread: the partitions served now, and a counter that changes whenever they
  // do (the engine's owner announces membership when it moves).
  std::vector<int32_t> Serving() const;
  uint64_t version() const { return version_.load(); }

  // Any thread: runs `read` with the partition's store under a shared lock, so Stop
  // waits for it. False (and `read` not run) when the partition is not served.
  bool Read(int32_t partition, const std::function<void(state::CaseStore&)>& read) const;

 private:
  mutable std::shared_mutex mu_;
  std::map<int32_t, state::CaseStore*> stores_;
  std::atomic<int32_t> partition_count_{0};
  std::atomic<uint64_t> version_{0};
};

struct QueryServiceOptions {
  std::string token;           // the shared service token; empty: every request 401
  size_t default_events = 50;  // timeline entries when the request names none
  size_t max_events = 200;     // and at most
  // The statutory sharing the engine decides with (EngineOptions::statutory_sharing);
  // null: none. Not owned.
  const pathway::config::v1::StatutorySharing* sharing = nullptr;
  // The operations the gateway's operations role asks for (operations_service.h), under
  // /internal/v1/operations/; null: those answer 503 operations.unavailable. Not owned.
  const OperationsService* operations = nullptr;
};

class QueryService {
 public:
  // `keyer`, `gate` and `time` must outlive the service. `ready` says whether the
  // engine is ready (engine.h); called from query threads, so it must be thread-safe.
  // `time` gives "today" for the shared record (which facts are current).
  QueryService(QueryServiceOptions options, const SubjectKeyer& keyer, const ReadGate& gate,
               const TimeSource& time, std::function<bool()> ready);

  // POST /internal/v1/subjects, GET /internal/v1/aliases/<key>,
  // GET /internal/v1/children/<child id>/timeline?agency=A&events=N,
  // GET /internal/v1/children/<child id>/record?agency=A&purpose=P,
  // GET /internal/v1/caseload?agency=A&team=T&list=caseload|waiting&pathway=NAME&
  //     sort=next_deadline|waited&after=CURSOR&limit=N: one page of the list over every
  //     partition this instance serves, named in the response's Pathway-Partitions
  //     header (docs/gateway.md).
  gateway::HttpResponse Handle(const gateway::HttpRequest& request) const;

 private:
  gateway::HttpResponse Subjects(const gateway::HttpRequest& request) const;
  gateway::HttpResponse Alias(const std::string& key) const;
  gateway::HttpResponse Timeline(const std::string& child_id, const std::string& query) const;
  gateway::HttpResponse Record(const std::string& child_id, const std::string& query) const;
  gateway::HttpResponse Caseload(const std::string& query) const;
  // Runs `view` on the child's state and history, after the checks every read of a
  // child shares: a well-formed id, a served partition, a child (not an alias, not
  // erased) and an agency that may see it (workflow::TimelineAccess).
  gateway::HttpResponse ReadChild(
      const std::string& child_id, const std::string& agency,
      const std::function<gateway::HttpResponse(const pathway::store::v1::CaseState&,
                                                const workflow::CaseHistory&,
                                                const std::string& basis)>& view) const;

  const QueryServiceOptions options_;
  const SubjectKeyer& keyer_;
  const ReadGate& gate_;
  const TimeSource& time_;
  const std::function<bool()> ready_;
};

}  // namespace pathway::engine
