#include "services/operations/case_reports.h"

#include <google/protobuf/util/json_util.h>

#include "common/crypto.h"
#include "services/operations/report_json.h"

namespace pathway::operations {
namespace {

using namespace report;  // NOLINT(google-build-using-namespace)

std::string ProtoJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(m, &out, options).ok()) return "null";
  return out;
}

std::string Quoted(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  out.reserve(items.size());
  for (const auto& item : items) out.push_back(Quote(item));
  return Array(out);
}

}  // namespace

std::string CaseCheckJson(const std::string& subject, int32_t partition,
                          const workflow::CaseCheck& check) {
  return Json()
      .Str("subject_key", subject)
      .Num("partition", partition)
      .Bool("history_differs", check.history_differs)
      .Field("history_differences", Quoted(check.history_differences))
      .Bool("redecided_differs", check.redecided_differs)
      .Field("redecided_fields", Quoted(check.redecided_fields))
      .Field("redecided", check.redecided_differs ? ProtoJson(check.redecided) : "null")
      .Done();
}

std::string RedrivePlanJson(const std::string& subject, int32_t partition,
                            const workflow::RedrivePlan& plan) {
  return Json()
      .Str("subject_key", subject)
      .Num("partition", partition)
      .Field("excluded_commands", Quoted(plan.excluded))
      .Field("fields", Quoted(plan.fields))
      .Field("changes", ProtoJson(plan.diff))
      .Done();
}

pathway::v1::Envelope StampCommand(std::string_view kind, const std::string& subject,
                                   const Sender& by, TimePoint now, pathway::v1::Envelope e) {
  std::string identity(kind);
  identity += "|";
  identity += by.operation_id;
  identity += "|";
  identity += subject;
  e.set_event_id(HexEncode(Sha256(identity)).substr(0, 32));
  e.set_subject_key(subject);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  e.mutable_occurred_at()->set_seconds(micros / 1'000'000);
  e.mutable_occurred_at()->set_nanos(static_cast<int32_t>(micros % 1'000'000) * 1000);
  e.mutable_source()->set_agency("pathway");
  e.mutable_source()->set_system(by.system);
  e.mutable_actor()->set_id(by.operator_id);
  e.mutable_actor()->set_role("operations");
  e.set_correlation_id(by.operation_id);
  return e;
}

pathway::v1::Envelope RedriveCommand(const std::string& subject,
                                     const std::vector<std::string>& withdraw,
                                     const std::string& source_system, const Sender& by,
                                     TimePoint now) {
  pathway::v1::Envelope e;
  auto* r = e.mutable_case_redrive_requested();
  r->set_operation_id(by.operation_id);
  for (const auto& id : withdraw) r->add_withdraw_event_ids(id);
  if (!withdraw.empty()) r->set_withdraw_source_system(source_system);
  return StampCommand("redrive", subject, by, now, std::move(e));
}

}  // namespace pathway::operations
