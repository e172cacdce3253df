// GET /v1/caseload: a page of the caller's service's (or team's) caseload or waiting
// list, merged from every engine instance (docs/gateway.md, "Caseloads").
//
// Each instance answers with up to `limit` entries after the cursor from the
// partitions it serves, and names those partitions. The first `limit` entries after
// the cursor over all partitions are among what the instances sent, so merging their
// pages by place (workflow::CaseloadPlace) and cutting at `limit` gives the page; the
// place of its last entry is the next cursor, valid on every instance. Answers that
// together miss a partition (an instance gone, a partition moving) are not merged: a
// list with children left out would look complete, so the caller is told to retry.
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <charconv>
#include <memory>
#include <mutex>
#include <set>

#include "common/crypto.h"
#include "services/gateway/api/reads.h"
#include "services/gateway/api/reads_internal.h"
#include "services/gateway/http/problem.h"
#include "workflow/caseload.h"

namespace pathway::gateway {
namespace {

namespace v1 = pathway::v1;
using namespace reads_internal;
using Respond = std::function<void(HttpResponse)>;

constexpr size_t kDefaultLimit = 25;
constexpr size_t kMaxLimit = 100;

bool OnlyOf(std::string_view value, std::string_view allowed) {
  return value.find_first_not_of(allowed) == std::string_view::npos;
}

// What every instance answered, gathered until the last one has.
struct Gather {
  std::mutex mu;
  size_t waiting = 0;
  std::vector<Result<HttpResponse>> answers;
};

std::vector<int32_t> PartitionsNamed(const HttpResponse& r) {
  std::vector<int32_t> out;
  for (const auto& [name, value] : r.headers) {
    if (!boost::beast::iequals(name, "Pathway-Partitions")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      int32_t p = 0;
      auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), p);
      if (ec == std::errc() && end == item.data() + item.size()) out.push_back(p);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  return out;
}

}  // namespace

void ReadApi::Caseload(const HttpRequest& request, const Principal& principal, Respond respond) {
  const std::string& query = request.query;
  // A parameter given empty is a mistake, not the default (the document says so).
  for (const char* name : {"list", "sort", "pathway", "scope", "cursor", "limit"}) {
    if (auto value = QueryParam(query, name); value && value->empty()) {
      return respond(BadQuery(name, std::string(name) + " is given empty: leave it out for "
                                                        "its default"));
    }
  }
  // Every parameter is checked here to a plain alphabet, so it reaches the engine
  // exactly as given; the engine checks what the values mean.
  const std::string list = RawQueryValue(query, "list");
  if (!list.empty() && list != "caseload" && list != "waiting") {
    return respond(BadQuery("list", "list is caseload or waiting"));
  }
  const std::string sort = RawQueryValue(query, "sort");
  if (!sort.empty() && sort != "next_deadline" && sort != "waited") {
    return respond(BadQuery("sort", "sort is next_deadline or waited"));
  }
  const std::string pathway = RawQueryValue(query, "pathway");
  if (pathway.size() > 64 || !OnlyOf(pathway, "abcdefghijklmnopqrstuvwxyz_")) {
    return respond(BadQuery("pathway", "pathway names a pathway, e.g. neurodevelopmental"));
  }
  const std::string scope = RawQueryValue(query, "scope");
  if (!scope.empty() && scope != "service" && scope != "team") {
    return respond(BadQuery("scope", "scope is service or team"));
  }
  if (scope == "team" && principal.team.empty()) {
    return respond(BadQuery("scope", "your sign-in names no team: ask for your service's list"));
  }
  const std::string cursor = RawQueryValue(query, "cursor");
  if (cursor.size() > 1024 || cursor.size() % 2 != 0 || !OnlyOf(cursor, "0123456789abcdef")) {
    return respond(BadQuery("cursor", "cursor is the nextCursor of an earlier page"));
  }
  size_t limit = kDefaultLimit;
  if (std::string n = RawQueryValue(query, "limit"); !n.empty()) {
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), limit);
    if (ec != std::errc() || end != n.data() + n.size() || limit == 0 || limit > kMaxLimit) {
      return respond(BadQuery("limit", "limit is a whole number from 1 to 100"));
    }
  }

  const auto owners = directory_.Owners();
  const int32_t count = directory_.partition_count();
  if (count <= 0 || owners.empty()) {
    return respond(Unavailable("engine.unavailable", "no engine instance is known"));
  }
  std::string target = "/internal/v1/caseload?agency=" + PercentEncode(principal.agency) +
                       "&limit=" + std::to_string(limit);
  if (scope == "team") target += "&team=" + PercentEncode(principal.team);
  if (!list.empty()) target += "&list=" + list;
  if (!sort.empty()) target += "&sort=" + sort;
  if (!pathway.empty()) target += "&pathway=" + pathway;
  if (!cursor.empty()) target += "&after=" + cursor;

  auto gather = std::make_shared<Gather>();
  gather->waiting = owners.size();
  auto finish = [this, gather, principal, count, limit, list, respond]() {
    v1::CaseloadPage merged;
    std::set<int32_t> covered;
    bool more = false;
    std::vector<std::pair<std::string, v1::CaseloadEntry>> entries;
    for (auto& answer : gather->answers) {
      if (!answer) {
        return respond(Unavailable("engine.unavailable", "an engine instance did not answer"));
      }
      if (answer->status == 400) return respond(Passed(*answer));
      if (answer->status == 421 || answer->status == 503) continue;  // its partitions uncovered
      if (answer->status != 200) {
        return respond(Unavailable("engine.unavailable", "an engine could not read the list"));
      }
      v1::CaseloadPage page;
      google::protobuf::util::JsonParseOptions lenient;
      lenient.ignore_unknown_fields = true;
      if (!google::protobuf::util::JsonStringToMessage(answer->body, &page, lenient).ok()) {
        return respond(Unavailable("engine.unavailable", "an engine's answer was not understood"));
      }
      for (int32_t p : PartitionsNamed(*answer)) covered.insert(p);
      more = more || !page.next_cursor().empty();
      if (!merged.has_on()) {
        merged.set_agency(page.agency());
        merged.set_team(page.team());
        merged.set_list(page.list());
        merged.set_sort(page.sort());
        *merged.mutable_on() = page.on();
      }
      for (auto& e : *page.mutable_entries()) {
        std::string place = workflow::CaseloadPlace(e, page.sort());
        entries.emplace_back(std::move(place), std::move(e));
      }
    }
    for (int32_t p = 0; p < count; ++p) {
      if (!covered.count(p)) {
        return respond(Unavailable("engine.rebalancing",
                                   "partitions are moving between engine instances; the list "
                                   "would be incomplete, so try again shortly"));
      }
    }
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    more = more || entries.size() > limit;
    if (entries.size() > limit) entries.resize(limit);
    std::vector<std::string> children;
    for (auto& [place, e] : entries) {
      if (std::find(children.begin(), children.end(), e.child_id()) == children.end()) {
        children.push_back(e.child_id());
      }
      *merged.add_entries() = std::move(e);
    }
    if (more && !entries.empty()) merged.set_next_cursor(HexEncode(entries.back().first));
    HttpResponse r;
    r.headers.emplace_back("Content-Type", "application/json");
    (void)google::protobuf::util::MessageToJsonString(merged, &r.body);
    // Each child on the page is a read of that child's case: audited as such.
    AuditEachThen(principal, std::move(children), v1::AUDIT_ACTION_CASELOAD_VIEW,
                  list == "waiting" ? "waiting_list" : "caseload", std::move(r), respond);
  };
  for (const auto& [url, partitions] : owners) {
    engines_.Call(url, EngineRequest{"GET", target, {}},
                  [gather, finish](Result<HttpResponse> answer) {
                    bool last = false;
                    {
                      std::lock_guard lock(gather->mu);
                      gather->answers.push_back(std::move(answer));
                      last = --gather->waiting == 0;
                    }
                    if (last) finish();
                  });
  }
}

void ReadApi::AuditEachThen(const Principal& principal, std::vector<std::string> child_ids,
                            v1::AuditAction action, const std::string& purpose,
                            HttpResponse response, Respond respond) {
  if (child_ids.empty()) return respond(std::move(response));
  struct Pending {
    std::mutex mu;
    size_t left = 0;
    bool failed = false;
    HttpResponse response;
    Respond respond;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = child_ids.size();
  pending->response = std::move(response);
  pending->respond = std::move(respond);
  for (const auto& child : child_ids) {
    PublishAudit(principal, child, action, purpose, nullptr, [pending](bool ok) {
      bool last = false;
      {
        std::lock_guard lock(pending->mu);
        pending->failed = pending->failed || !ok;
        last = --pending->left == 0;
      }
      if (!last) return;
      if (pending->failed) return pending->respond(NotAudited());
      pending->respond(std::move(pending->response));
    });
  }
}

}  // namespace pathway::gateway
