#include "services/gateway/api/reads.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <utility>

#include "common/crypto.h"
#include "pathway/v1/views.pb.h"
#include "services/bus/key_partition.h"
#include "services/gateway/api/reads_internal.h"
#include "services/gateway/http/problem.h"
#include "workflow/calendar.h"
#include "workflow/identifiers.h"

namespace pathway::gateway {
namespace {

namespace v1 = pathway::v1;
using Respond = std::function<void(HttpResponse)>;
using namespace reads_internal;

constexpr std::string_view kSearch = "/v1/children/search";
constexpr std::string_view kChildren = "/v1/children/";
constexpr std::string_view kTimeline = "/timeline";
constexpr std::string_view kRecord = "/record";
constexpr std::string_view kCaseload = "/v1/caseload";

bool MayRead(Role role) {
  return role == Role::kClinician || role == Role::kCaseworker || role == Role::kTeamManager ||
         role == Role::kPartnerSystem;
}

std::optional<google::protobuf::Struct> JsonObject(const std::string& body) {
  google::protobuf::Struct out;
  if (!google::protobuf::util::JsonStringToMessage(body, &out).ok()) return std::nullopt;
  return out;
}

std::string StringField(const google::protobuf::Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? std::string() : it->second.string_value();
}

}  // namespace

namespace reads_internal {

HttpResponse ChildNotFound() {
  return ProblemResponse(
      MakeProblem(404, "Not found", "child.not_found", "no child known to your service matches"));
}

HttpResponse EngineError(const Error& e) {
  (void)e;  // the address and cause stay in the server; the caller may retry
  return Unavailable("engine.unavailable", "the engine that holds this child did not answer");
}

HttpResponse Unavailable(std::string rule, std::string detail) {
  HttpResponse r =
      ProblemResponse(MakeProblem(503, "Service unavailable", std::move(rule), std::move(detail)));
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

std::string PercentEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// The engine's answer as the gateway's: its views and its problems (which name the
// engine's rules) pass through; anything else is the gateway's own problem.
HttpResponse Passed(const HttpResponse& engine) {
  HttpResponse r;
  r.status = engine.status;
  r.body = engine.body;
  for (const auto& [name, value] : engine.headers) {
    if (name == "Content-Type" || name == "content-type" || name == "Retry-After" ||
        name == "retry-after") {
      r.headers.emplace_back(name, value);
    }
  }
  return r;
}

HttpResponse BadQuery(const std::string& field, std::string detail) {
  Problem p = MakeProblem(400, "Invalid query", "query." + field, std::move(detail));
  p.field = field;
  return ProblemResponse(p);
}

HttpResponse NotAudited() {
  return Unavailable("audit.unavailable", "the read could not be audited, so it is not shown");
}

// A query parameter as sent: nullopt when absent, "" when given empty.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair == name) return std::string();
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return std::string(pair.substr(name.size() + 1));
    }
  }
  return std::nullopt;
}

std::string RawQueryValue(std::string_view query, std::string_view name) {
  return QueryParam(query, name).value_or("");
}

void AskOwner(EngineDirectory& directory, EngineCaller& engines, int max_attempts,
              const std::string& key, EngineRequest request,
              std::function<void(Result<HttpResponse>)> done, int attempt) {
  const int32_t count = directory.partition_count();
  std::optional<std::string> url;
  if (count > 0) url = directory.UrlFor(bus::KeyPartition(key, count));
  if (!url) {
    return done(Unavailable("engine.rebalancing",
                            "no engine instance serves this child's partition just now"));
  }
  auto again = request;
  engines.Call(*url, std::move(request),
               [&directory, &engines, max_attempts, key, again = std::move(again), attempt,
                done = std::move(done)](Result<HttpResponse> answer) mutable {
                 // "Not mine": the partition moved; the directory learns the new owner
                 // from its announcement.
                 if (answer && answer->status == 421) {
                   if (attempt + 1 < max_attempts) {
                     return AskOwner(directory, engines, max_attempts, key, std::move(again),
                                     std::move(done), attempt + 1);
                   }
                   return done(Unavailable("engine.rebalancing",
                                           "this child's partition is moving between engine "
                                           "instances; try again shortly"));
                 }
                 done(std::move(answer));
               });
}

void FindChild(EngineDirectory& directory, EngineCaller& engines, int max_attempts,
               const v1::ChildSearch& search, std::function<void(FoundChild)> done) {
  auto any = directory.AnyUrl();
  if (!any) return done(Unavailable("engine.unavailable", "no engine instance is known"));
  std::string body;
  (void)google::protobuf::util::MessageToJsonString(search, &body);
  engines.Call(
      *any, EngineRequest{"POST", "/internal/v1/subjects", std::move(body)},
      [&directory, &engines, max_attempts, done = std::move(done)](Result<HttpResponse> found) {
        if (!found) return done(EngineError(found.error()));
        if (found->status != 200) {
          // The engine's 400/422 name the field and its rule.
          if (found->status == 400 || found->status == 422 || found->status == 503) {
            return done(Passed(*found));
          }
          return done(Unavailable("engine.unavailable", "the engine could not look the child up"));
        }
        auto subject = JsonObject(found->body);
        const std::string key = subject ? StringField(*subject, "key") : "";
        if (!workflow::IsSubjectKey(key)) {
          return done(Unavailable("engine.unavailable", "the engine's answer was not understood"));
        }
        if (StringField(*subject, "kind") != "alias") return done(key);
        // A UPN names an alias; its owner knows the child it is linked to.
        AskOwner(directory, engines, max_attempts, key,
                 EngineRequest{"GET", "/internal/v1/aliases/" + key, {}},
                 [done](Result<HttpResponse> alias) {
                   if (!alias) return done(EngineError(alias.error()));
                   if (alias->status == 404) return done(ChildNotFound());
                   if (alias->status != 200) return done(Passed(*alias));
                   auto linked = JsonObject(alias->body);
                   std::string child = linked ? StringField(*linked, "child_id") : "";
                   if (!workflow::IsSubjectKey(child)) return done(ChildNotFound());
                   done(std::move(child));
                 });
      });
}

}  // namespace reads_internal

// ---------------------------------------------------------------- MembersDirectory

void MembersDirectory::Apply(const std::string& instance,
                             const std::optional<pathway::store::v1::EngineMember>& member) {
  std::lock_guard lock(mu_);
  if (member) {
    members_[instance] = *member;
  } else {
    members_.erase(instance);
  }
}

int32_t MembersDirectory::partition_count() const {
  std::lock_guard lock(mu_);
  int32_t count = 0;
  int64_t newest = -1;
  for (const auto& [id, m] : members_) {
    if (m.generation() > newest && m.partition_count() > 0) {
      newest = m.generation();
      count = m.partition_count();
    }
  }
  return count;
}

std::optional<std::string> MembersDirectory::UrlFor(int32_t partition) const {
  std::lock_guard lock(mu_);
  const pathway::store::v1::EngineMember* best = nullptr;
  for (const auto& [id, m] : members_) {
    const bool claims =
        std::find(m.partitions().begin(), m.partitions().end(), partition) != m.partitions().end();
    // A crashed instance's last record stays on the topic: the newest claim wins.
    if (claims && (!best || m.generation() > best->generation())) best = &m;
  }
  if (!best) return std::nullopt;
  return best->query_url();
}

std::optional<std::string> MembersDirectory::AnyUrl() const {
  std::lock_guard lock(mu_);
  if (members_.empty()) return std::nullopt;
  auto it = members_.begin();
  std::advance(it, static_cast<long>(next_++ % members_.size()));
  return it->second.query_url();
}

std::map<std::string, std::vector<int32_t>> MembersDirectory::Owners() const {
  std::map<std::string, std::vector<int32_t>> out;
  const int32_t count = partition_count();
  for (int32_t p = 0; p < count; ++p) {
    if (auto url = UrlFor(p)) out[*url].push_back(p);
  }
  return out;
}

// ---------------------------------------------------------------- ReadApi

ReadApi::ReadApi(ReadApiOptions options, EngineDirectory& directory, EngineCaller& engines,
                 CommandSink& audit, const TimeSource& time)
    : options_(options), directory_(directory), engines_(engines), audit_(audit), time_(time) {}

bool ReadApi::Serves(std::string_view path) {
  return path == kSearch || path.starts_with(kChildren) || path == kCaseload;
}

void ReadApi::Handle(const HttpRequest& request, const Principal& principal, Respond respond) {
  if (!MayRead(principal.role)) {
    return respond(ProblemResponse(MakeProblem(403, "Forbidden", "authorisation.role",
                                               "your role does not read children's cases")));
  }
  const std::string_view path = request.path;
  if (path == kSearch) {
    if (request.method != "POST") {
      HttpResponse r = ProblemResponse(
          MakeProblem(405, "Method not allowed", "http.method_not_allowed", "use POST"));
      r.headers.emplace_back("Allow", "POST");
      return respond(std::move(r));
    }
    return Search(request, principal, std::move(respond));
  }
  if (path == kCaseload) {
    if (request.method != "GET") {
      HttpResponse r = ProblemResponse(
          MakeProblem(405, "Method not allowed", "http.method_not_allowed", "use GET"));
      r.headers.emplace_back("Allow", "GET");
      return respond(std::move(r));
    }
    return Caseload(request, principal, std::move(respond));
  }
  // /v1/children/<id>/timeline and /v1/children/<id>/record: GET only.
  for (std::string_view view : {kTimeline, kRecord}) {
    if (path.size() <= kChildren.size() + view.size() || !path.ends_with(view)) continue;
    if (request.method != "GET") {
      HttpResponse r = ProblemResponse(
          MakeProblem(405, "Method not allowed", "http.method_not_allowed", "use GET"));
      r.headers.emplace_back("Allow", "GET");
      return respond(std::move(r));
    }
    std::string id(path.substr(kChildren.size(), path.size() - kChildren.size() - view.size()));
    if (view == kTimeline) return Timeline(id, request.query, principal, std::move(respond));
    return Record(id, request.query, principal, std::move(respond));
  }
  respond(ProblemResponse(MakeProblem(404, "Not found", "http.not_found", "no such resource")));
}

void ReadApi::AskOwner(const std::string& key, EngineRequest request, int attempt,
                       std::function<void(Result<HttpResponse>)> done) {
  reads_internal::AskOwner(directory_, engines_, options_.max_attempts, key, std::move(request),
                           std::move(done), attempt);
}

void ReadApi::PublishAudit(const Principal& principal, const std::string& child_id,
                           v1::AuditAction action, const std::string& purpose,
                           const v1::ChildRecord* shown, std::function<void(bool)> done) {
  const TimePoint now = time_.Now();
  v1::Envelope e;
  auto id = RandomBytes(16);
  if (!id) return done(false);
  e.set_event_id(HexEncode(*id));
  e.set_subject_key(child_id);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  e.mutable_recorded_at()->set_seconds(micros / 1'000'000);
  e.mutable_recorded_at()->set_nanos(static_cast<int32_t>(micros % 1'000'000) * 1000);
  e.mutable_source()->set_agency("pathway");
  e.mutable_source()->set_system("pathway-gateway");
  e.mutable_actor()->set_id(principal.id);
  e.mutable_actor()->set_role(std::string(RoleName(principal.role)));
  e.set_correlation_id(e.event_id());
  v1::AuditRecorded* a = e.mutable_audit_recorded();
  a->set_action(action);
  a->set_actor_id(principal.id);
  a->set_actor_role(std::string(RoleName(principal.role)));
  a->set_agency(principal.agency);
  a->set_purpose(purpose);
  *a->mutable_on() = workflow::ToProto(workflow::LondonDate(now));
  if (shown) {
    for (const auto& f : shown->facts()) {
      if (f.disclosed()) a->add_facts(f.type());
    }
    *a->mutable_legal_bases() = shown->legal_bases();
  }
  audit_.Publish(e, [done = std::move(done)](Status published) { done(published.ok()); });
}

void ReadApi::AuditThen(const Principal& principal, const std::string& child_id,
                        v1::AuditAction action, const std::string& purpose, HttpResponse response,
                        Respond respond, const v1::ChildRecord* shown) {
  PublishAudit(principal, child_id, action, purpose, shown,
               [response = std::move(response), respond = std::move(respond)](bool ok) mutable {
                 if (!ok) return respond(NotAudited());
                 respond(std::move(response));
               });
}

void ReadApi::Search(const HttpRequest& request, const Principal& principal, Respond respond) {
  v1::ChildSearch search;
  if (!google::protobuf::util::JsonStringToMessage(request.body, &search).ok()) {
    return respond(ProblemResponse(MakeProblem(400, "Invalid body", "body.invalid_json",
                                               "expected a ChildSearch: {\"nhsNumber\": ...} or "
                                               "{\"upn\": ...}")));
  }
  FindChild(directory_, engines_, options_.max_attempts, search,
            [this, principal, respond = std::move(respond)](FoundChild found) {
              if (auto* answer = std::get_if<HttpResponse>(&found))
                return respond(std::move(*answer));
              const std::string child_id = std::get<std::string>(std::move(found));
              // Whether this agency may see the child: the timeline's own rule, asked
              // without its events.
              EngineRequest access{
                  "GET",
                  "/internal/v1/children/" + child_id +
                      "/timeline?events=0&agency=" + PercentEncode(principal.agency),
                  {}};
              AskOwner(child_id, std::move(access), 0,
                       [this, principal, respond, child_id](Result<HttpResponse> seen) {
                         if (!seen) return respond(EngineError(seen.error()));
                         if (seen->status == 404) return respond(ChildNotFound());
                         if (seen->status == 403) {
                           // Audited, and told as "not found": a search does not reveal
                           // that a child is known to SEND services.
                           return AuditThen(principal, child_id, v1::AUDIT_ACTION_VIEW_REFUSED,
                                            "search", ChildNotFound(), respond);
                         }
                         if (seen->status != 200) return respond(Passed(*seen));
                         v1::ChildFound out;
                         out.set_child_id(child_id);
                         out.set_timeline("/v1/children/" + child_id + "/timeline");
                         HttpResponse r;
                         r.headers.emplace_back("Content-Type", "application/json");
                         (void)google::protobuf::util::MessageToJsonString(out, &r.body);
                         AuditThen(principal, child_id, v1::AUDIT_ACTION_SEARCH, "search",
                                   std::move(r), respond);
                       });
            });
}

void ReadApi::Record(const std::string& child_id, const std::string& query,
                     const Principal& principal, Respond respond) {
  if (!workflow::IsSubjectKey(child_id)) return respond(ChildNotFound());
  const std::string purpose = RawQueryValue(query, "purpose");
  if (purpose.empty() || purpose.size() > 64 ||
      purpose.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
    return respond(BadQuery("purpose",
                            "purpose is a lower-case name such as ehc_needs_assessment: "
                            "consent is given per agency and purpose"));
  }
  ReadChild(child_id,
            "/internal/v1/children/" + child_id +
                "/record?agency=" + PercentEncode(principal.agency) + "&purpose=" + purpose,
            principal, purpose, v1::AUDIT_ACTION_VIEW, std::move(respond));
}

void ReadApi::Timeline(const std::string& child_id, const std::string& query,
                       const Principal& principal, Respond respond) {
  if (!workflow::IsSubjectKey(child_id)) return respond(ChildNotFound());
  // Only `events` is read from the query; the agency is the caller's, never the URL's.
  const std::string events = RawQueryValue(query, "events");
  if (!events.empty() &&
      (events.size() > 4 || events.find_first_not_of("0123456789") != std::string::npos)) {
    return respond(BadQuery("events", "events is a whole number of entries (at most 200)"));
  }
  std::string target =
      "/internal/v1/children/" + child_id + "/timeline?agency=" + PercentEncode(principal.agency);
  if (!events.empty()) target += "&events=" + events;
  ReadChild(child_id, std::move(target), principal, "timeline", v1::AUDIT_ACTION_TIMELINE_VIEW,
            std::move(respond));
}

void ReadApi::ReadChild(const std::string& child_id, std::string target, const Principal& principal,
                        const std::string& purpose, v1::AuditAction shown, Respond respond) {
  AskOwner(
      child_id, EngineRequest{"GET", std::move(target), {}}, 0,
      [this, principal, child_id, purpose, shown, respond](Result<HttpResponse> seen) {
        if (!seen) return respond(EngineError(seen.error()));
        if (seen->status == 403) {
          return AuditThen(principal, child_id, v1::AUDIT_ACTION_VIEW_REFUSED, purpose,
                           Passed(*seen), respond);
        }
        if (seen->status == 404 || seen->status == 400 || seen->status == 503) {
          return respond(Passed(*seen));
        }
        if (seen->status != 200) {
          return respond(Unavailable("engine.unavailable", "the engine could not read the child"));
        }
        if (shown != v1::AUDIT_ACTION_VIEW) {
          return AuditThen(principal, child_id, shown, purpose, Passed(*seen), respond);
        }
        // A record view's audit lists the facts it disclosed and the legal bases.
        v1::ChildRecord record;
        google::protobuf::util::JsonParseOptions lenient;
        lenient.ignore_unknown_fields = true;
        if (!google::protobuf::util::JsonStringToMessage(seen->body, &record, lenient).ok()) {
          return respond(
              Unavailable("engine.unavailable", "the engine's answer was not understood"));
        }
        AuditThen(principal, child_id, shown, purpose, Passed(*seen), respond, &record);
      });
}

}  // namespace pathway::gateway
