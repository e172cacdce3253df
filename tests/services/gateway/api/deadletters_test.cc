// Dead letters for operations (deadletters.h) through the gateway's front door with real
// tokens and API keys: who may read them, paging and cursors, hostile query values, the
// answer's shape, and that nothing of the original (bytes, sealed excerpt, hash) or an
// NHS number reaches an answer. The store behind it is the real one, or a fake source.
#include "services/gateway/api/deadletters.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "common/crypto.h"
#include "pathway/v1/envelope.pb.h"
#include "services/gateway/api/gateway.h"
#include "tests/common/http_answers.h"
#include "tests/common/temp_dir.h"
#include "tests/services/gateway/api/api_fakes.h"

namespace pathway::gateway {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using testing::Answers;
using testing::FakeOutcomes;
using testing::FakeSink;
using testing::HeaderOf;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'767'225'600));
constexpr int64_t kMs = 1'767'225'600'000;

using pathway::testing::RuleOf;

Struct ParseJson(const std::string& body) {
  Struct s;
  auto st = google::protobuf::util::JsonStringToMessage(body, &s);
  EXPECT_TRUE(st.ok()) << st.ToString() << ": " << body;
  return s;
}

DeadLetterEntry Entry(int64_t ms, int32_t partition, int64_t offset) {
  DeadLetterEntry e;
  e.partition = partition;
  e.offset = offset;
  e.timestamp_ms = ms;
  e.reason = "value does not decode as a pathway.v1.Envelope";
  e.original_topic = "pathway.inbound.v1";
  e.original_partition = 1;
  e.original_offset = 40 + offset;
  e.original_size = 38;
  return e;
}

// A dead letter as the engine writes it (services/engine/outputs.cc), with personal data
// in its excerpt (in clear and sealed) for the answer to leave out.
std::string EngineDeadLetter(std::string reason) {
  pathway::v1::Envelope e;
  e.set_event_id("dl-1");
  e.mutable_source()->set_agency("pathway");
  e.mutable_source()->set_system("pathway-engine");
  auto* d = e.mutable_dead_lettered();
  d->set_reason(std::move(reason));
  d->set_topic("pathway.inbound.v1");
  d->set_partition(3);
  d->set_offset(17);
  d->set_original("nhs 9434765919 Ada Example");
  d->set_sealed_excerpt("SEALEDSEALEDSEALED");
  d->set_original_sha256(Sha256("nhs 9434765919 Ada Example"));
  d->set_original_size(26);
  return e.SerializeAsString();
}

// Records what the API asked and answers what it is told to.
class FakeDeadLetters final : public DeadLetterSource {
 public:
  std::vector<DeadLetterEntry> entries;
  bool more = false;
  mutable std::vector<std::pair<std::optional<DeadLetterCursor>, std::size_t>> asked;

  std::vector<DeadLetterEntry> Page(const std::optional<DeadLetterCursor>& before,
                                    std::size_t limit, bool* more_out) const override {
    asked.emplace_back(before, limit);
    *more_out = more;
    return entries;
  }
};

class DeadLetterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto issuer = DevIssuer::Generate("dev-1");
    ASSERT_TRUE(issuer.ok()) << issuer.error().ToString();
    issuer_.emplace(std::move(*issuer));
    const std::string jwks = dir_.path() + "/jwks.json";
    ASSERT_TRUE(issuer_->SaveJwks(jwks).ok());
    const std::string keys = dir_.path() + "/api-keys.txt";
    std::ofstream(keys) << "mosaic-1 " << HexEncode(Sha256("partner-secret")) << " 209 mosaic\n";
    auto auth = Authenticator::Open(
        {jwks, keys, "https://idp.test", "pathway", std::chrono::seconds(60)}, time_);
    ASSERT_TRUE(auth.ok()) << auth.error().ToString();
    auth_ = std::move(*auth);
    UseSource(store_);
  }

  void UseSource(const DeadLetterSource& source) {
    gateway_.reset();
    api_dl_ = std::make_unique<DeadLetterApi>(source);
    gateway_ =
        std::make_unique<Gateway>(*auth_, api_, time_, GatewayOptions{}, nullptr, api_dl_.get());
  }

  std::string Token(Role role) {
    // Member by member: GCC 12 at -O3 misreads the nested aggregate initialisation as
    // leaving a string uninitialised (-Wmaybe-uninitialized).
    DevIssuer::Claims c;
    c.principal.id = "staff-ops-1";
    c.principal.role = role;
    c.principal.agency = "209";
    c.principal.team = "ops";
    c.issuer = "https://idp.test";
    c.audience = "pathway";
    c.issued_at = kNow;
    c.lifetime = std::chrono::seconds(3600);
    auto t = issuer_->Sign(c);
    EXPECT_TRUE(t.ok());
    return t.ok() ? *t : "";
  }

  HttpResponse Get(std::string query, Role role = Role::kOperations, std::string method = "GET") {
    HttpRequest r;
    r.method = std::move(method);
    r.path = "/v1/deadletters";
    r.query = std::move(query);
    r.headers = {{"authorization", "Bearer " + Token(role)}};
    return Call(std::move(r));
  }

  HttpResponse Call(HttpRequest req) {
    Answers a;
    gateway_->Route(req, a.Callback());
    EXPECT_EQ(a.responses.size(), 1u);
    return a.responses.empty() ? HttpResponse{} : a.responses[0];
  }

  ::pathway::testing::TempDir dir_;
  SimulatedTimeSource time_{kNow};
  std::optional<DevIssuer> issuer_;
  std::unique_ptr<Authenticator> auth_;
  FakeSink sink_;
  FakeOutcomes outcomes_;
  Api api_{ApiOptions{}, sink_, outcomes_, time_};
  DeadLetterStore store_{10'000};
  std::unique_ptr<DeadLetterApi> api_dl_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(DeadLetterTest, OnlyTheOperationsRoleReadsDeadLetters) {
  store_.Add(Entry(kMs, 0, 1));
  for (Role role : {Role::kClinician, Role::kCaseworker, Role::kTeamManager, Role::kAuditor}) {
    HttpResponse r = Get("", role);
    EXPECT_EQ(r.status, 403) << RoleName(role);
    EXPECT_EQ(RuleOf(r), "authorisation.role") << RoleName(role);
    EXPECT_EQ(r.body.find("pathway.inbound.v1"), std::string::npos) << RoleName(role);
  }
  HttpRequest partner;
  partner.method = "GET";
  partner.path = "/v1/deadletters";
  partner.headers = {{"x-api-key", "mosaic-1.partner-secret"}};
  HttpResponse p = Call(partner);
  EXPECT_EQ(p.status, 403);
  EXPECT_EQ(RuleOf(p), "authorisation.role");

  HttpRequest unsigned_request;
  unsigned_request.method = "GET";
  unsigned_request.path = "/v1/deadletters";
  HttpResponse u = Call(unsigned_request);
  EXPECT_EQ(u.status, 401);
  EXPECT_EQ(RuleOf(u), "authentication.missing");

  HttpResponse ok = Get("");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(HeaderOf(ok, "Content-Type"), "application/json");
  EXPECT_EQ(HeaderOf(ok, "Cache-Control"), "no-store");
  // Only GET.
  HttpResponse post = Get("", Role::kOperations, "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(HeaderOf(post, "Allow"), "GET");
}

TEST_F(DeadLetterTest, WithoutADeadLetterApiTheRouteIsUnknown) {
  Gateway bare(*auth_, api_, time_);
  HttpRequest r;
  r.method = "GET";
  r.path = "/v1/deadletters";
  r.headers = {{"authorization", "Bearer " + Token(Role::kOperations)}};
  Answers a;
  bare.Route(r, a.Callback());
  ASSERT_EQ(a.responses.size(), 1u);
  EXPECT_EQ(a.responses[0].status, 404);
  EXPECT_FALSE(DeadLetterApi::Serves("/v1/deadletters/1"));
  EXPECT_FALSE(DeadLetterApi::Serves("/v1/deadletter"));
}

TEST_F(DeadLetterTest, TheAnswerHasEachDeadLettersPlaceReasonAndOriginalButNoContent) {
  auto parsed =
      ParseDeadLetter(2, 9, kMs + 123, EngineDeadLetter("value does not decode as an Envelope"));
  ASSERT_TRUE(parsed.has_value());
  store_.Add(*parsed);
  HttpResponse r = Get("");
  ASSERT_EQ(r.status, 200) << r.body;
  Struct page = ParseJson(r.body);
  EXPECT_EQ(page.fields().size(), 1u) << r.body;  // no `next`: nothing older
  const auto& items = page.fields().at("items").list_value();
  ASSERT_EQ(items.values_size(), 1);
  const Struct& item = items.values(0).struct_value();
  std::set<std::string> keys;
  for (const auto& [k, v] : item.fields()) keys.insert(k);
  EXPECT_EQ(keys,
            (std::set<std::string>{"partition", "offset", "deadLetteredAt", "reason", "original"}));
  EXPECT_EQ(item.fields().at("partition").number_value(), 2);
  EXPECT_EQ(item.fields().at("offset").number_value(), 9);
  EXPECT_EQ(item.fields().at("deadLetteredAt").string_value(), "2026-01-01T00:00:00.123Z");
  EXPECT_EQ(item.fields().at("reason").string_value(), "value does not decode as an Envelope");
  const Struct& original = item.fields().at("original").struct_value();
  EXPECT_EQ(original.fields().size(), 4u);
  EXPECT_EQ(original.fields().at("topic").string_value(), "pathway.inbound.v1");
  EXPECT_EQ(original.fields().at("partition").number_value(), 3);
  EXPECT_EQ(original.fields().at("offset").number_value(), 17);
  EXPECT_EQ(original.fields().at("sizeBytes").number_value(), 26);
  // Nothing of the original: its bytes, sealed excerpt (raw or base64) or hash.
  for (const std::string& secret :
       {std::string("9434765919"), std::string("Ada"), std::string("SEALED"),
        std::string("U0VBTEVE"), HexEncode(Sha256("nhs 9434765919 Ada Example")).substr(0, 16)}) {
    EXPECT_EQ(r.body.find(secret), std::string::npos) << secret;
  }
}

TEST_F(DeadLetterTest, AReasonNeverShowsAnythingThatCouldBeAnNhsNumber) {
  for (const std::string& reason :
       {std::string("refused: 9434765919"), std::string("refused: 943 476 5919!"),
        std::string("refused: 943-476-5919 and 12345678901234")}) {
    auto e = ParseDeadLetter(0, 1, kMs, EngineDeadLetter(reason));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->reason.find("5919"), std::string::npos) << e->reason;
    EXPECT_NE(e->reason.find("[number]"), std::string::npos) << e->reason;
  }
  // Ordinary numbers stay: sizes, limits, field numbers.
  auto e = ParseDeadLetter(0, 1, kMs,
                           EngineDeadLetter("message of 2000000 bytes exceeds the 1048576-byte "
                                            "limit"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->reason, "message of 2000000 bytes exceeds the 1048576-byte limit");
  // Bounded, and not cut inside a UTF-8 sequence.
  auto longer = ParseDeadLetter(0, 1, kMs, EngineDeadLetter(std::string(600, 'x') + "é"));
  ASSERT_TRUE(longer.has_value());
  EXPECT_LE(longer->reason.size(), 520u);
}

TEST_F(DeadLetterTest, OnlyDeadLetteredEnvelopesAreEntries) {
  EXPECT_FALSE(ParseDeadLetter(0, 0, kMs, "not a protobuf \xff\xff").has_value());
  pathway::v1::Envelope other;
  other.mutable_pathway_step_recorded()->set_step("received");
  EXPECT_FALSE(ParseDeadLetter(0, 0, kMs, other.SerializeAsString()).has_value());
  // A topic name that is not one is not shown as given.
  pathway::v1::Envelope odd;
  odd.mutable_dead_lettered()->set_topic("<script>");
  auto e = ParseDeadLetter(0, 0, -1, odd.SerializeAsString());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->original_topic, "(not a topic name)");
  EXPECT_EQ(e->timestamp_ms, 0);
  // Without a timestamp, no deadLetteredAt.
  store_.Add(*e);
  HttpResponse r = Get("");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("deadLetteredAt"), std::string::npos) << r.body;
}

TEST_F(DeadLetterTest, PagesGoNewestFirstAndTheirCursorsReachEveryEntryOnce) {
  // Timestamps out of partition order, two at the same millisecond.
  const std::vector<DeadLetterEntry> all = {
      Entry(kMs + 5, 0, 0), Entry(kMs + 1, 1, 0), Entry(kMs + 3, 0, 1), Entry(kMs + 3, 1, 1),
      Entry(kMs + 9, 1, 2), Entry(kMs + 2, 0, 2), Entry(kMs + 7, 0, 3)};
  for (const auto& e : all) store_.Add(e);
  std::vector<std::pair<int64_t, std::string>> seen;
  std::string query = "limit=3";
  int pages = 0;
  for (; pages < 10; ++pages) {
    HttpResponse r = Get(query);
    ASSERT_EQ(r.status, 200) << r.body;
    Struct page = ParseJson(r.body);
    const auto& items = page.fields().at("items").list_value();
    EXPECT_LE(items.values_size(), 3);
    for (const Value& v : items.values()) {
      const auto& f = v.struct_value().fields();
      seen.emplace_back(static_cast<int64_t>(f.at("partition").number_value()),
                        f.at("deadLetteredAt").string_value());
    }
    auto next = page.fields().find("next");
    if (next == page.fields().end()) break;
    query = "limit=3&before=" + next->second.string_value();
  }
  EXPECT_EQ(pages, 2);  // 3 + 3 + 1
  ASSERT_EQ(seen.size(), all.size());
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i - 1].second, seen[i].second) << i;
  EXPECT_EQ(seen.front().second, "2026-01-01T00:00:00.009Z");
  EXPECT_EQ(seen.back().second, "2026-01-01T00:00:00.001Z");
  // The two at +3 ms: partition 1 first (descending), both present.
  EXPECT_EQ(seen[3].first, 1);
  EXPECT_EQ(seen[4].first, 0);

  // The default is 50, the most 200; a cursor for an entry no longer kept still works.
  FakeDeadLetters fake;
  UseSource(fake);
  ASSERT_EQ(Get("").status, 200);
  ASSERT_EQ(Get("limit=200&before=" + DeadLetterCursor{kMs, 3, 4}.Text()).status, 200);
  ASSERT_EQ(Get("limit=001&unknown=x").status, 200);
  ASSERT_EQ(fake.asked.size(), 3u);
  EXPECT_EQ(fake.asked[0].second, 50u);
  EXPECT_FALSE(fake.asked[0].first.has_value());
  EXPECT_EQ(fake.asked[1].second, 200u);
  EXPECT_EQ(fake.asked[1].first, (DeadLetterCursor{kMs, 3, 4}));
  EXPECT_EQ(fake.asked[2].second, 1u);
}

TEST_F(DeadLetterTest, AnEntryForgottenByTheStoreLeavesItsCursorUsable) {
  DeadLetterStore small(3);
  for (int i = 0; i < 5; ++i) small.Add(Entry(kMs + i, 0, i));
  EXPECT_EQ(small.size(), 3u);
  // Older than all three kept, and full: not kept.
  small.Add(Entry(kMs - 1, 1, 0));
  EXPECT_EQ(small.size(), 3u);
  EXPECT_EQ(small.added(), 6u);
  bool more = true;
  auto newest = small.Page(std::nullopt, 10, &more);
  ASSERT_EQ(newest.size(), 3u);
  EXPECT_FALSE(more);
  EXPECT_EQ(newest[0].offset, 4);
  EXPECT_EQ(newest[2].offset, 2);
  // Before offset 1 (dropped): nothing older is kept.
  auto older = small.Page(DeadLetterCursor{kMs + 1, 0, 1}, 10, &more);
  EXPECT_TRUE(older.empty());
  EXPECT_FALSE(more);
  auto middle = small.Page(DeadLetterCursor{kMs + 4, 0, 4}, 1, &more);
  ASSERT_EQ(middle.size(), 1u);
  EXPECT_EQ(middle[0].offset, 3);
  EXPECT_TRUE(more);
  // The same place again replaces, and does not grow the store.
  small.Add(Entry(kMs + 4, 0, 4));
  EXPECT_EQ(small.size(), 3u);
}

TEST_F(DeadLetterTest, HostileQueryValuesAre400WithTheirRuleAndFieldAndNeverEchoed) {
  FakeDeadLetters fake;
  UseSource(fake);
  for (const std::string& bad :
       {std::string("limit=0"), std::string("limit=201"), std::string("limit=-1"),
        std::string("limit="), std::string("limit"), std::string("limit=abc"),
        std::string("limit=1e2"), std::string("limit=%35%30"), std::string("limit=5%00"),
        std::string("limit=+5"), std::string("limit=99999999999999999999999"),
        std::string("limit=5&limit=6"), std::string("limit=5.0")}) {
    HttpResponse r = Get(bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(RuleOf(r), "query.limit") << bad;
    EXPECT_NE(r.body.find("\"field\":\"limit\""), std::string::npos) << bad;
    EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/problem+json") << bad;
  }
  for (const std::string& bad :
       {std::string("before="), std::string("before"), std::string("before=abc"),
        std::string("before=1-2"), std::string("before=1-2-3-4"), std::string("before=-1-0-0"),
        std::string("before=1--2"), std::string("before=1-99999999999-0"),
        std::string("before=1-2147483648-0"), std::string("before=99999999999999999999-0-0"),
        std::string("before=1-2-3%00"), std::string("before=1-2-3&before=1-2-3"),
        std::string("before=<script>alert(1)</script>"),
        std::string("before=") + std::string(5000, '1'), std::string("before=9434765919-0-0x")}) {
    HttpResponse r = Get(bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(RuleOf(r), "query.before") << bad;
    EXPECT_NE(r.body.find("\"field\":\"before\""), std::string::npos) << bad;
    EXPECT_EQ(r.body.find("script"), std::string::npos) << bad;
    EXPECT_EQ(r.body.find("9434765919"), std::string::npos) << bad;
  }
  EXPECT_TRUE(fake.asked.empty());
  // The largest values a cursor can hold are still cursors.
  EXPECT_EQ(Get("before=9223372036854775807-2147483647-9223372036854775807").status, 200);
  EXPECT_EQ(Get("before=0-0-0").status, 200);
}

TEST_F(DeadLetterTest, CursorsRoundTrip) {
  for (const DeadLetterCursor& c : {DeadLetterCursor{0, 0, 0}, DeadLetterCursor{kMs, 7, 123456},
                                    DeadLetterCursor{INT64_MAX, INT32_MAX, INT64_MAX}}) {
    auto back = DeadLetterCursor::Parse(c.Text());
    ASSERT_TRUE(back.has_value()) << c.Text();
    EXPECT_EQ(*back, c);
  }
}

}  // namespace
}  // namespace pathway::gateway
