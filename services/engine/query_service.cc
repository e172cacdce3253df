#include "services/engine/query_service.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <utility>

#include "common/crypto.h"
#include "pathway/v1/views.pb.h"
#include "services/bus/key_partition.h"
#include "services/engine/operations_service.h"
#include "services/gateway/http/problem.h"
#include "workflow/calendar.h"
#include "workflow/caseload.h"
#include "workflow/identifiers.h"
#include "workflow/identity.h"
#include "workflow/pathway.h"
#include "workflow/views.h"

namespace pathway::engine {
namespace {

using gateway::HttpRequest;
using gateway::HttpResponse;
using gateway::MakeProblem;
using gateway::ProblemResponse;

constexpr std::string_view kSubjects = "/internal/v1/subjects";
constexpr std::string_view kAliases = "/internal/v1/aliases/";
constexpr std::string_view kChildren = "/internal/v1/children/";
constexpr std::string_view kTimeline = "/timeline";
constexpr std::string_view kRecord = "/record";
constexpr std::string_view kCaseload = "/internal/v1/caseload";
constexpr size_t kDefaultCaseloadPage = 25;
constexpr size_t kMaxCaseloadPage = 100;

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
  r.body = std::move(body);
  return r;
}

HttpResponse ViewJson(const google::protobuf::Message& view) {
  std::string body;
  google::protobuf::util::JsonPrintOptions print;
  // Enum names, not numbers: the web app and partners read them.
  if (!google::protobuf::util::MessageToJsonString(view, &body, print).ok()) {
    return ProblemResponse(MakeProblem(500, "Internal error", "engine.internal",
                                       "the view could not be written as JSON"));
  }
  return Json(200, std::move(body));
}

// "agency=RXX01&events=20" -> the value of `name`, percent-decoded ("" if absent or
// malformed: a malformed value never matches an agency).
std::string QueryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name || eq == std::string_view::npos) continue;
    std::string out;
    std::string_view v = pair.substr(eq + 1);
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '+') {
        out.push_back(' ');
      } else if (v[i] == '%') {
        unsigned value = 0;
        if (i + 2 >= v.size()) return {};
        auto [end, ec] = std::from_chars(v.data() + i + 1, v.data() + i + 3, value, 16);
        if (ec != std::errc() || end != v.data() + i + 3) return {};
        out.push_back(static_cast<char>(value));
        i += 2;
      } else {
        out.push_back(v[i]);
      }
    }
    return out;
  }
  return {};
}

HttpResponse BadQuery(const std::string& field, const std::string& detail) {
  auto p = MakeProblem(400, "Invalid query", "query." + field, detail);
  p.field = field;
  return ProblemResponse(p);
}

}  // namespace

HttpResponse NotOwner(int32_t partition) {
  auto p = MakeProblem(421, "Not this instance", "engine.not_owner",
                       "this instance does not serve partition " + std::to_string(partition));
  return ProblemResponse(p);
}

HttpResponse NotFound() {
  return ProblemResponse(
      MakeProblem(404, "Not found", "child.not_found", "no child is known by this id"));
}

void ReadGate::Serve(int32_t partition, state::CaseStore* store) {
  std::unique_lock lock(mu_);
  stores_[partition] = store;
  version_.fetch_add(1);
}

void ReadGate::Stop(int32_t partition) {
  std::unique_lock lock(mu_);  // waits for reads holding the shared lock
  if (stores_.erase(partition) > 0) version_.fetch_add(1);
}

void ReadGate::StopAll() {
  std::unique_lock lock(mu_);
  if (!stores_.empty()) version_.fetch_add(1);
  stores_.clear();
}

std::vector<int32_t> ReadGate::Serving() const {
  std::shared_lock lock(mu_);
  std::vector<int32_t> out;
  for (const auto& [partition, store] : stores_) out.push_back(partition);
  return out;
}

bool ReadGate::Read(int32_t partition, const std::function<void(state::CaseStore&)>& read) const {
  std::shared_lock lock(mu_);
  auto it = stores_.find(partition);
  if (it == stores_.end()) return false;
  read(*it->second);
  return true;
}

QueryService::QueryService(QueryServiceOptions options, const SubjectKeyer& keyer,
                           const ReadGate& gate, const TimeSource& time,
                           std::function<bool()> ready)
    : options_(std::move(options)),
      keyer_(keyer),
      gate_(gate),
      time_(time),
      ready_(std::move(ready)) {}

HttpResponse QueryService::Handle(const HttpRequest& request) const {
  const std::string_view auth = request.Header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (options_.token.empty() || auth.substr(0, kBearer.size()) != kBearer ||
      !ConstantTimeEquals(auth.substr(kBearer.size()), options_.token)) {
    auto r = ProblemResponse(MakeProblem(401, "Unauthorised", "auth.service_token",
                                         "a valid service token is required"));
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (!ready_() || gate_.partition_count() <= 0) {
    auto r = ProblemResponse(MakeProblem(503, "Unavailable", "engine.unavailable",
                                         "the engine is not ready to serve reads"));
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  const std::string_view path = request.path;
  if (path.starts_with(OperationsService::kPrefix)) {
    if (!options_.operations) {
      return ProblemResponse(MakeProblem(503, "Unavailable", "operations.unavailable",
                                         "this engine runs no operations for the gateway"));
    }
    return options_.operations->Handle(request);
  }
  if (path == kSubjects) {
    if (request.method != "POST") {
      return ProblemResponse(MakeProblem(405, "Method not allowed", "http.method", "use POST"));
    }
    return Subjects(request);
  }
  if (request.method != "GET") {
    return ProblemResponse(MakeProblem(405, "Method not allowed", "http.method", "use GET"));
  }
  if (path == kCaseload) return Caseload(request.query);
  if (path.substr(0, kAliases.size()) == kAliases) {
    return Alias(std::string(path.substr(kAliases.size())));
  }
  if (path.starts_with(kChildren) && path.size() > kChildren.size() + kTimeline.size() &&
      path.ends_with(kTimeline)) {
    std::string_view id = path.substr(kChildren.size());
    id.remove_suffix(kTimeline.size());
    return Timeline(std::string(id), request.query);
  }
  if (path.starts_with(kChildren) && path.size() > kChildren.size() + kRecord.size() &&
      path.ends_with(kRecord)) {
    std::string_view id = path.substr(kChildren.size());
    id.remove_suffix(kRecord.size());
    return Record(std::string(id), request.query);
  }
  return ProblemResponse(MakeProblem(404, "Not found", "http.not_found", "no such query"));
}

HttpResponse QueryService::Subjects(const HttpRequest& request) const {
  pathway::v1::ChildSearch search;
  google::protobuf::util::JsonParseOptions parse;
  if (!google::protobuf::util::JsonStringToMessage(request.body, &search, parse).ok()) {
    return ProblemResponse(MakeProblem(400, "Invalid body", "body.invalid_json",
                                       "expected a ChildSearch in protobuf JSON"));
  }
  if (search.nhs_number().empty() == search.upn().empty()) {
    auto p = MakeProblem(422, "Invalid search", "search.one_identifier",
                         "give exactly one of nhs_number and upn");
    p.field = "nhs_number";
    return ProblemResponse(p);
  }
  std::string key;
  std::string kind;
  if (!search.nhs_number().empty()) {
    const std::string& nhs = search.nhs_number();
    if (nhs.size() != 10 || nhs.find_first_not_of("0123456789") != std::string::npos ||
        !workflow::IsValidNhsNumber(nhs)) {
      const bool format =
          nhs.size() != 10 || nhs.find_first_not_of("0123456789") != std::string::npos;
      auto p = MakeProblem(422, "Invalid NHS number",
                           format ? "nhs_number.format" : "nhs_number.modulus11",
                           format ? "an NHS number is exactly 10 digits with no spaces"
                                  : "the NHS number fails its modulus 11 check digit");
      p.field = "nhs_number";
      return ProblemResponse(p);
    }
    key = keyer_.Key(nhs);
    kind = "child";
  } else {
    pathway::v1::SubjectRef ref;
    ref.set_upn(search.upn());
    workflow::Alias alias = workflow::AliasOf(ref);
    if (alias.rejection || alias.hash_input.empty()) {
      auto p =
          MakeProblem(422, "Invalid UPN", alias.rejection ? alias.rejection->rule : "upn.format",
                      alias.rejection ? alias.rejection->reason : "not a UPN");
      p.field = "upn";
      return ProblemResponse(p);
    }
    key = keyer_.Key(alias.hash_input);
    kind = "alias";
  }
  const int32_t count = gate_.partition_count();
  return Json(200, "{\"key\":\"" + key + "\",\"kind\":\"" + kind +
                       "\",\"partition\":" + std::to_string(bus::KeyPartition(key, count)) +
                       ",\"partition_count\":" + std::to_string(count) + "}");
}

HttpResponse QueryService::Alias(const std::string& key) const {
  if (!workflow::IsSubjectKey(key)) return NotFound();
  const int32_t partition = bus::KeyPartition(key, gate_.partition_count());
  std::optional<HttpResponse> answer;
  const bool served = gate_.Read(partition, [&](state::CaseStore& store) {
    auto state = store.LoadCase(key);
    if (!state) {
      answer = ProblemResponse(
          MakeProblem(500, "Internal error", "engine.store", "the case could not be read"));
    } else if (!*state || (*state)->linked_subject_key().empty() || (*state)->erased()) {
      answer = NotFound();
    } else {
      answer = Json(200, "{\"child_id\":\"" + (*state)->linked_subject_key() + "\"}");
    }
  });
  return served ? std::move(*answer) : NotOwner(partition);
}

HttpResponse QueryService::Timeline(const std::string& child_id, const std::string& query) const {
  if (!workflow::IsSubjectKey(child_id)) return NotFound();
  const std::string agency = QueryValue(query, "agency");
  size_t events = options_.default_events;
  if (std::string n = QueryValue(query, "events"); !n.empty()) {
    size_t value = 0;
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), value);
    if (ec != std::errc() || end != n.data() + n.size()) {
      auto p = MakeProblem(400, "Invalid query", "query.events", "events is a whole number");
      p.field = "events";
      return ProblemResponse(p);
    }
    events = value;
  }
  events = std::min(events, options_.max_events);
  return ReadChild(
      child_id, agency,
      [&](const pathway::store::v1::CaseState& state, const workflow::CaseHistory& history,
          const std::string& basis) {
        return ViewJson(workflow::BuildTimeline(child_id, state, history, events, basis));
      });
}

HttpResponse QueryService::Record(const std::string& child_id, const std::string& query) const {
  const std::string agency = QueryValue(query, "agency");
  const std::string purpose = QueryValue(query, "purpose");
  // A purpose names a pathway or use ("ehc_needs_assessment"): consent is given per
  // agency and purpose, so without one nothing but an agency's own facts could show.
  if (purpose.empty() || purpose.size() > 64 ||
      purpose.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
    auto p = MakeProblem(400, "Invalid query", "query.purpose",
                         "purpose is a lower-case name such as ehc_needs_assessment");
    p.field = "purpose";
    return ProblemResponse(p);
  }
  const workflow::CivilDate today = workflow::LondonDate(time_.Now());
  return ReadChild(child_id, agency,
                   [&](const pathway::store::v1::CaseState& state, const workflow::CaseHistory&,
                       const std::string&) {
                     return ViewJson(workflow::BuildRecord(child_id, state, agency, purpose, today,
                                                           options_.sharing));
                   });
}

HttpResponse QueryService::ReadChild(
    const std::string& child_id, const std::string& agency,
    const std::function<HttpResponse(const pathway::store::v1::CaseState&,
                                     const workflow::CaseHistory&, const std::string&)>& view)
    const {
  if (!workflow::IsSubjectKey(child_id)) return NotFound();
  const int32_t partition = bus::KeyPartition(child_id, gate_.partition_count());
  std::optional<HttpResponse> answer;
  const bool served = gate_.Read(partition, [&](state::CaseStore& store) {
    auto state = store.LoadCase(child_id);
    if (!state) {
      answer = ProblemResponse(
          MakeProblem(500, "Internal error", "engine.store", "the case could not be read"));
      return;
    }
    // An alias's "case" is not a child; an erased child is no longer known.
    if (!*state || (*state)->erased() || (*state)->alias_kind() != 0) {
      answer = NotFound();
      return;
    }
    auto history = store.HistoryFrom(child_id, (*state)->history_kept_from());
    if (!history) {
      answer = ProblemResponse(
          MakeProblem(500, "Internal error", "engine.store", "the history could not be read"));
      return;
    }
    const workflow::CaseHistory kept(*history);
    auto basis = workflow::TimelineAccess(**state, kept, agency);
    if (!basis) {
      answer = ProblemResponse(MakeProblem(
          403, "Not involved", "timeline.not_involved",
          "the agency is not involved in this child's care and has no consent to see it"));
      return;
    }
    answer = view(**state, kept, *basis);
  });
  return served ? std::move(*answer) : NotOwner(partition);
}

HttpResponse QueryService::Caseload(const std::string& query) const {
  namespace v1 = pathway::v1;
  workflow::CaseloadScope scope;
  scope.agency = QueryValue(query, "agency");
  scope.team = QueryValue(query, "team");
  const std::string list = QueryValue(query, "list");
  if (list == "caseload" || list.empty()) {
    scope.list = v1::CASELOAD_LIST_CASELOAD;
  } else if (list == "waiting") {
    scope.list = v1::CASELOAD_LIST_WAITING;
  } else {
    return BadQuery("list", "list is caseload or waiting");
  }
  const std::string sort = QueryValue(query, "sort");
  if (sort == "next_deadline" || sort.empty()) {
    scope.sort = v1::CASELOAD_SORT_NEXT_DEADLINE;
  } else if (sort == "waited") {
    scope.sort = v1::CASELOAD_SORT_WAITED;
  } else {
    return BadQuery("sort", "sort is next_deadline or waited");
  }
  // One pathway, or every kind (each kind is a list of its own in the index).
  std::vector<v1::PathwayKind> kinds;
  if (std::string name = QueryValue(query, "pathway"); !name.empty()) {
    const workflow::Definition* def = workflow::FindDefinitionByName(name);
    if (!def) return BadQuery("pathway", "pathway names a pathway, e.g. neurodevelopmental");
    kinds.push_back(def->kind);
  } else {
    for (const workflow::Definition* def : workflow::AllDefinitions()) {
      if (std::find(kinds.begin(), kinds.end(), def->kind) == kinds.end()) {
        kinds.push_back(def->kind);
      }
    }
  }
  std::string after;
  if (std::string cursor = QueryValue(query, "after"); !cursor.empty()) {
    if (cursor.size() > 1024 || !HexDecode(cursor, &after)) {
      return BadQuery("after", "after is a cursor from an earlier page");
    }
  }
  size_t limit = kDefaultCaseloadPage;
  if (std::string n = QueryValue(query, "limit"); !n.empty()) {
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), limit);
    if (ec != std::errc() || end != n.data() + n.size() || limit == 0 || limit > kMaxCaseloadPage) {
      return BadQuery("limit", "limit is a whole number from 1 to 100");
    }
  }
  std::vector<std::string> prefixes;
  for (v1::PathwayKind kind : kinds) {
    scope.pathway = kind;
    auto prefix = workflow::CaseloadPrefix(scope);
    if (!prefix) return BadQuery("agency", "agency and team are codes of up to 64 characters");
    prefixes.push_back(std::move(*prefix));
  }

  // Up to limit + 1 from each list of each partition: together they hold the page and
  // tell whether another follows. Entries are (place, value); the place orders them
  // across lists and partitions (workflow/caseload.h).
  std::vector<std::pair<std::string, std::string>> found;
  std::vector<int32_t> answered;
  bool failed = false;
  for (int32_t partition : gate_.Serving()) {
    const bool served = gate_.Read(partition, [&](state::CaseStore& store) {
      for (const std::string& prefix : prefixes) {
        size_t taken = 0;
        auto s = store.ScanIndex(prefix, after, [&](std::string_view key, std::string_view value) {
          found.emplace_back(std::string(key.substr(prefix.size())), std::string(value));
          return ++taken <= limit;
        });
        failed = failed || !s;
      }
    });
    if (served) answered.push_back(partition);
  }
  if (failed) {
    return ProblemResponse(
        MakeProblem(500, "Internal error", "engine.store", "the caseload could not be read"));
  }
  std::sort(found.begin(), found.end());
  v1::CaseloadPage page;
  page.set_agency(scope.agency);
  page.set_team(scope.team);
  page.set_list(scope.list);
  page.set_sort(scope.sort);
  const workflow::CivilDate today = workflow::LondonDate(time_.Now());
  *page.mutable_on() = workflow::ToProto(today);
  for (size_t i = 0; i < found.size() && i < limit; ++i) {
    v1::CaseloadEntry* entry = page.add_entries();
    if (!entry->ParseFromString(found[i].second)) {
      return ProblemResponse(
          MakeProblem(500, "Internal error", "engine.store", "a caseload entry does not parse"));
    }
    workflow::CompleteEntry(*entry, today);
  }
  if (found.size() > limit) page.set_next_cursor(HexEncode(found[limit - 1].first));
  HttpResponse r = ViewJson(page);
  // The gateway merges the pages of every instance and needs to know that together
  // they covered every partition.
  std::string served;
  for (int32_t p : answered) served += (served.empty() ? "" : ",") + std::to_string(p);
  r.headers.emplace_back("Pathway-Partitions", served);
  return r;
}

}  // namespace pathway::engine
