// The gateway's OpenAPI 3.1 document (served at /openapi.json), generated from the
// same tables the router uses (command_routes.h, read routes) and from the protobuf
// descriptors of the messages the bodies carry, so the document cannot drift from the
// code: tests/services/gateway/api/openapi_test.cc checks every route against it.
//
// Schemas follow the protobuf JSON mapping (lowerCamelCase names; enums as their names;
// 64-bit integers as strings; bytes as base64; Timestamp as RFC 3339) with
// `additionalProperties: false`, as the gateway's parser refuses unknown fields. Pure;
// thread-safe.
#pragma once

#include <string>

namespace pathway::gateway {

// One route of the document (for tests and the router's own table).
struct DocumentedRoute {
  std::string method;  // "get", "post"
  std::string path;    // OpenAPI template, e.g. "/v1/commands/{eventId}"
};

std::string OpenApiDocument();

}  // namespace pathway::gateway
