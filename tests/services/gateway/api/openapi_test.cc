// The OpenAPI document against the routes the gateway really serves.
#include "services/gateway/api/openapi.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <set>

#include "pathway/v1/envelope.pb.h"
#include "services/gateway/api/api.h"
#include "services/gateway/api/command_routes.h"
#include "services/gateway/api/deadletters.h"
#include "services/gateway/api/operations.h"
#include "services/gateway/api/reads.h"

namespace pathway::gateway {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

Struct Parse() {
  Struct doc;
  auto st = google::protobuf::util::JsonStringToMessage(OpenApiDocument(), &doc);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return doc;
}

const Value& At(const Struct& s, const std::string& key) {
  static const Value kNone;
  auto it = s.fields().find(key);
  return it == s.fields().end() ? kNone : it->second;
}

void CollectRefs(const Value& v, std::set<std::string>& refs) {
  if (v.has_struct_value()) {
    for (const auto& [k, m] : v.struct_value().fields()) {
      if (k == "$ref") refs.insert(m.string_value());
      CollectRefs(m, refs);
    }
  } else if (v.has_list_value()) {
    for (const auto& m : v.list_value().values()) CollectRefs(m, refs);
  }
}

TEST(OpenApi, IsAnOpenApi31DocumentWithBothSecuritySchemes) {
  Struct doc = Parse();
  EXPECT_EQ(At(doc, "openapi").string_value(), "3.1.0");
  const auto& schemes = At(At(doc, "components").struct_value(), "securitySchemes").struct_value();
  EXPECT_EQ(At(At(schemes, "bearer").struct_value(), "scheme").string_value(), "bearer");
  EXPECT_EQ(At(At(schemes, "apiKey").struct_value(), "name").string_value(), "X-API-Key");
}

TEST(OpenApi, EveryCommandRouteIsDocumentedAndEveryDocumentedPathIsServed) {
  Struct doc = Parse();
  const auto& paths = At(doc, "paths").struct_value();
  for (const CommandRoute& route : CommandRoutes()) {
    const std::string path = "/v1/commands/" + std::string(route.name);
    const Value& item = At(paths, path);
    ASSERT_TRUE(item.has_struct_value()) << path;
    EXPECT_TRUE(At(item.struct_value(), "post").has_struct_value()) << path;
  }
  size_t commands = 0;
  for (const auto& [path, item] : paths.fields()) {
    if (path.starts_with("/v1/commands/")) {
      ++commands;
      EXPECT_NE(FindCommandRoute(path.substr(13)), nullptr) << path;
    } else if (path == "/v1/session") {
      // the front door's own (gateway.h)
    } else if (path == "/v1/deadletters") {
      EXPECT_TRUE(DeadLetterApi::Serves(path)) << path;
    } else if (path.starts_with("/v1/operations/")) {
      EXPECT_TRUE(OperationsApi::Serves(path)) << path;
    } else if (path.starts_with("/v1/children/") || path == "/v1/caseload") {
      EXPECT_TRUE(ReadApi::Serves(path)) << path;
    } else if (path.starts_with("/v1/")) {
      EXPECT_TRUE(Api::Serves(path)) << path;
    } else {
      EXPECT_TRUE(path == "/health/live" || path == "/health/ready" || path == "/openapi.json")
          << path;
    }
  }
  EXPECT_EQ(commands, CommandRoutes().size());
}

TEST(OpenApi, EveryReferenceResolvesAndEveryPayloadSchemaHasTheMessagesFields) {
  Struct doc = Parse();
  const auto& schemas = At(At(doc, "components").struct_value(), "schemas").struct_value();
  std::set<std::string> refs;
  CollectRefs(At(doc, "paths"), refs);
  CollectRefs(At(At(doc, "components").struct_value(), "schemas"), refs);
  ASSERT_FALSE(refs.empty());
  for (const std::string& ref : refs) {
    ASSERT_TRUE(ref.starts_with("#/components/schemas/")) << ref;
    EXPECT_TRUE(At(schemas, ref.substr(21)).has_struct_value()) << ref;
  }
  for (const CommandRoute& route : CommandRoutes()) {
    const auto* message = route.payload->message_type();
    const auto& props =
        At(At(schemas, message->name()).struct_value(), "properties").struct_value();
    EXPECT_EQ(props.fields_size(), message->field_count()) << message->name();
    for (int i = 0; i < message->field_count(); ++i) {
      EXPECT_TRUE(props.fields().contains(message->field(i)->json_name()))
          << message->name() << "." << message->field(i)->json_name();
    }
    const auto& body = At(schemas, "Command_" + std::string(route.name)).struct_value();
    EXPECT_FALSE(At(body, "additionalProperties").bool_value());
  }
}

}  // namespace
}  // namespace pathway::gateway
