#include "workflow/sharing.h"

#include <google/protobuf/util/json_util.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;

Error Invalid(std::string detail) {
  return Error{std::make_error_code(std::errc::invalid_argument), std::move(detail)};
}

// `rules[2] ("la-ehc-advice").agency`: the index always, the id when there is one.
std::string Where(int index, const pathway::config::v1::SharingRule& rule, std::string_view field) {
  std::string where = "rules[" + std::to_string(index) + "]";
  if (!rule.id().empty()) where += " (\"" + rule.id() + "\")";
  return where + "." + std::string(field);
}

// An agency or purpose is matched exactly, so it must be written exactly.
std::optional<std::string> CheckExact(std::string_view value, std::string_view what) {
  if (value.empty()) return "required: " + std::string(what);
  if (value.find('*') != std::string_view::npos) {
    return "no wildcards: name each " + std::string(what) + " the law covers";
  }
  if (value.front() == ' ' || value.back() == ' ' || value.front() == '\t' ||
      value.back() == '\t') {
    return "no leading or trailing spaces: it is matched exactly";
  }
  return std::nullopt;
}
}  // namespace

Result<pathway::config::v1::StatutorySharing> ParseStatutorySharing(std::string_view json) {
  pathway::config::v1::StatutorySharing sharing;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a misspelt field must not be silently dropped
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &sharing, options);
  if (!status.ok()) {
    const auto message = status.message();
    return Invalid("not a StatutorySharing in JSON: " +
                   std::string(message.data(), message.size()));
  }

  std::set<std::string> ids;
  // (agency, purpose, fact type) -> the index of the rule that covers it.
  std::map<std::tuple<std::string, std::string, int>, int> covered;
  for (int i = 0; i < sharing.rules_size(); ++i) {
    const pathway::config::v1::SharingRule& rule = sharing.rules(i);
    if (rule.id().empty()) return Invalid(Where(i, rule, "id") + ": required");
    if (!ids.insert(rule.id()).second) {
      return Invalid(Where(i, rule, "id") + ": duplicate: ids are unique");
    }
    if (auto e = CheckExact(rule.agency(), "agency"))
      return Invalid(Where(i, rule, "agency") + ": " + *e);
    if (auto e = CheckExact(rule.purpose(), "purpose")) {
      return Invalid(Where(i, rule, "purpose") + ": " + *e);
    }
    if (rule.fact_types().empty()) {
      return Invalid(Where(i, rule, "fact_types") + ": required: at least one fact type");
    }
    std::set<int> types;
    for (int j = 0; j < rule.fact_types_size(); ++j) {
      const int type = rule.fact_types(j);
      const std::string field = "fact_types[" + std::to_string(j) + "]";
      if (type == v1::FACT_TYPE_UNSPECIFIED) {
        return Invalid(Where(i, rule, field) + ": FACT_TYPE_UNSPECIFIED is not a fact type");
      }
      if (!v1::FactType_IsValid(type)) {
        return Invalid(Where(i, rule, field) + ": unknown fact type " + std::to_string(type));
      }
      if (!types.insert(type).second) {
        return Invalid(Where(i, rule, field) + ": " +
                       v1::FactType_Name(static_cast<v1::FactType>(type)) + " listed twice");
      }
      auto [it, added] = covered.try_emplace({rule.agency(), rule.purpose(), type}, i);
      if (!added) {
        return Invalid(Where(i, rule, field) + ": " +
                       v1::FactType_Name(static_cast<v1::FactType>(type)) + " for " +
                       rule.agency() + "/" + rule.purpose() + " is already covered by rules[" +
                       std::to_string(it->second) + "] (\"" + sharing.rules(it->second).id() +
                       "\"): one legal basis per use");
      }
    }
    if (rule.legal_basis().find_first_not_of(" \t\r\n") == std::string::npos) {
      return Invalid(Where(i, rule, "legal_basis") +
                     ": required: the law that allows sharing without consent");
    }
  }
  return sharing;
}

const pathway::config::v1::SharingRule* StatutoryBasis(
    const pathway::config::v1::StatutorySharing& sharing, std::string_view agency,
    std::string_view purpose, v1::FactType type) {
  for (const auto& rule : sharing.rules()) {
    if (rule.agency() != agency || rule.purpose() != purpose) continue;
    for (int t : rule.fact_types()) {
      if (t == type) return &rule;
    }
  }
  return nullptr;
}

}  // namespace pathway::workflow
