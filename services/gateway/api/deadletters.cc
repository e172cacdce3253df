#include "services/gateway/api/deadletters.h"

#include <charconv>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <utility>

#include "pathway/v1/envelope.pb.h"
#include "services/gateway/http/problem.h"
#include "workflow/identifiers.h"

namespace pathway::gateway {
namespace {

constexpr std::string_view kPath = "/v1/deadletters";
constexpr std::size_t kMaxReasonBytes = 512;
constexpr std::size_t kMaxCursorBytes = 64;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// At most `max` bytes, not cutting a UTF-8 sequence in two.
std::string Bounded(std::string text, std::size_t max) {
  if (text.size() <= max) return text;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text + "…";
}

std::optional<int64_t> Whole(std::string_view text, int64_t max) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  for (char c : text) {
    if (!IsDigit(c)) return std::nullopt;
  }
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v > max) return std::nullopt;
  return v;
}

std::string Rfc3339(int64_t timestamp_ms) {
  const std::time_t seconds = static_cast<std::time_t>(timestamp_ms / 1000);
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) return {};
  char buf[40];
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                              tm.tm_sec, static_cast<int>(timestamp_ms % 1000));
  return n > 0 && static_cast<size_t>(n) < sizeof buf ? std::string(buf, static_cast<size_t>(n))
                                                      : std::string();
}

HttpResponse BadQuery(std::string name, std::string detail) {
  Problem p = MakeProblem(400, "Invalid query", "query." + name, std::move(detail));
  p.field = std::move(name);
  return ProblemResponse(p);
}

std::string ItemJson(const DeadLetterEntry& e) {
  std::string out =
      "{\"partition\":" + std::to_string(e.partition) + ",\"offset\":" + std::to_string(e.offset);
  if (e.timestamp_ms > 0) out += ",\"deadLetteredAt\":" + JsonString(Rfc3339(e.timestamp_ms));
  out += ",\"reason\":" + JsonString(e.reason);
  out += ",\"original\":{\"topic\":" + JsonString(e.original_topic) +
         ",\"partition\":" + std::to_string(e.original_partition) +
         ",\"offset\":" + std::to_string(e.original_offset) +
         ",\"sizeBytes\":" + std::to_string(e.original_size) + "}}";
  return out;
}

}  // namespace

// ---------------------------------------------------------------- cursors and records

std::string DeadLetterCursor::Text() const {
  return std::to_string(timestamp_ms) + "-" + std::to_string(partition) + "-" +
         std::to_string(offset);
}

std::optional<DeadLetterCursor> DeadLetterCursor::Parse(std::string_view text) {
  if (text.empty() || text.size() > kMaxCursorBytes) return std::nullopt;
  const size_t a = text.find('-');
  if (a == std::string_view::npos) return std::nullopt;
  const size_t b = text.find('-', a + 1);
  if (b == std::string_view::npos || text.find('-', b + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  auto t = Whole(text.substr(0, a), INT64_MAX);
  auto p = Whole(text.substr(a + 1, b - a - 1), INT32_MAX);
  auto o = Whole(text.substr(b + 1), INT64_MAX);
  if (!t || !p || !o) return std::nullopt;
  return DeadLetterCursor{*t, static_cast<int32_t>(*p), *o};
}

std::optional<DeadLetterEntry> ParseDeadLetter(int32_t partition, int64_t offset,
                                               int64_t timestamp_ms, std::string_view value) {
  pathway::v1::Envelope e;
  if (value.size() > static_cast<size_t>(INT32_MAX)) return std::nullopt;
  if (!e.ParseFromArray(value.data(), static_cast<int>(value.size())) || !e.has_dead_lettered()) {
    return std::nullopt;
  }
  const pathway::v1::DeadLettered& d = e.dead_lettered();
  DeadLetterEntry out;
  out.partition = partition;
  out.offset = offset;
  out.timestamp_ms = timestamp_ms > 0 ? timestamp_ms : 0;
  // The engine writes the reason (system text), but it may quote a broker's error or a
  // future check's words: a long number in it could be an NHS number.
  out.reason = Bounded(workflow::MaskLongNumbers(d.reason()), kMaxReasonBytes);
  // A topic name is at most 249 characters of [a-zA-Z0-9._-]; anything else is not shown.
  out.original_topic = d.topic().size() <= 249 &&
                               d.topic().find_first_not_of(
                                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                   "._-") == std::string::npos
                           ? d.topic()
                           : std::string("(not a topic name)");
  out.original_partition = d.partition();
  out.original_offset = d.offset();
  out.original_size = d.original_size();
  return out;
}

// ---------------------------------------------------------------- DeadLetterStore

DeadLetterStore::DeadLetterStore(std::size_t capacity) : capacity_(capacity > 0 ? capacity : 1) {}

void DeadLetterStore::Add(DeadLetterEntry entry) {
  {
    std::lock_guard lock(mu_);
    ++added_;
    const DeadLetterCursor at = DeadLetterCursor::Of(entry);
    // Full, and older than everything kept: the newest are what operations need.
    if (entries_.size() >= capacity_ && !entries_.contains(at) && at < entries_.begin()->first) {
      // dropped
    } else {
      entries_.insert_or_assign(at, std::move(entry));
      while (entries_.size() > capacity_) entries_.erase(entries_.begin());
    }
  }
  added_cv_.notify_all();
}

std::vector<DeadLetterEntry> DeadLetterStore::Page(const std::optional<DeadLetterCursor>& before,
                                                   std::size_t limit, bool* more) const {
  std::vector<DeadLetterEntry> out;
  std::lock_guard lock(mu_);
  auto it = before ? entries_.lower_bound(*before) : entries_.end();
  while (it != entries_.begin() && out.size() < limit) {
    --it;
    out.push_back(it->second);
  }
  if (more) *more = it != entries_.begin();
  return out;
}

std::size_t DeadLetterStore::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

uint64_t DeadLetterStore::added() const {
  std::lock_guard lock(mu_);
  return added_;
}

bool DeadLetterStore::AwaitAdded(uint64_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return added_cv_.wait_for(lock, timeout, [&] { return added_ >= count; });
}

// ---------------------------------------------------------------- DeadLetterApi

bool DeadLetterApi::Serves(std::string_view path) { return path == kPath; }

HttpResponse DeadLetterApi::Handle(const HttpRequest& request, const Principal& principal) const {
  if (principal.role != Role::kOperations) {
    return ProblemResponse(MakeProblem(403, "Forbidden", "authorisation.role",
                                       "only the operations role reads dead letters"));
  }
  if (request.method != "GET") {
    HttpResponse r = ProblemResponse(
        MakeProblem(405, "Method not allowed", "http.method_not_allowed", "use GET"));
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  // Only `limit` and `before` are read; each at most once. Values are never echoed.
  std::optional<std::string_view> limit_text, before_text;
  for (std::string_view rest = request.query; !rest.empty();) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (name == "limit") {
      if (limit_text) return BadQuery("limit", "give limit once");
      limit_text = value;
    } else if (name == "before") {
      if (before_text) return BadQuery("before", "give before once");
      before_text = value;
    }
  }
  std::size_t limit = kDefaultLimit;
  if (limit_text) {
    auto n = limit_text->size() <= 3 ? Whole(*limit_text, static_cast<int64_t>(kMaxLimit))
                                     : std::nullopt;
    if (!n || *n < 1) return BadQuery("limit", "limit is a whole number from 1 to 200");
    limit = static_cast<std::size_t>(*n);
  }
  std::optional<DeadLetterCursor> before;
  if (before_text) {
    before = DeadLetterCursor::Parse(*before_text);
    if (!before) return BadQuery("before", "before is the `next` of a previous page, unchanged");
  }
  bool more = false;
  const std::vector<DeadLetterEntry> page = source_.Page(before, limit, &more);
  std::string body = "{\"items\":[";
  for (size_t i = 0; i < page.size(); ++i) {
    if (i) body += ',';
    body += ItemJson(page[i]);
  }
  body += ']';
  if (more && !page.empty()) {
    body += ",\"next\":" + JsonString(DeadLetterCursor::Of(page.back()).Text());
  }
  body += '}';
  HttpResponse r;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

}  // namespace pathway::gateway
