// A small JSON writer and the text forms of stored values, shared by the reports of
// operations (pathwayctl's subcommands that print JSON, the case inspection the engine
// serves to the gateway's operations role).
#pragma once

#include <google/protobuf/util/time_util.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/pathway.h"
#include "workflow/shared_record.h"

namespace pathway::operations::report {

inline std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// "2025-03-10", or "" for an unset or invalid date.
inline std::string DateText(const pathway::v1::Date& d) {
  auto c = workflow::ToCivil(d);
  return c ? workflow::FormatDate(*c) : "";
}

// The message type of an event's payload ("FactRecorded"), from the oneof's descriptor.
inline std::string PayloadType(const pathway::v1::Envelope& e) {
  const auto* oneof = pathway::v1::Envelope::descriptor()->FindOneofByName("payload");
  const auto* field = oneof ? e.GetReflection()->GetOneofFieldDescriptor(e, oneof) : nullptr;
  if (field == nullptr) return "";
  return field->message_type() ? field->message_type()->name() : field->name();
}

// "2025-03-10T09:00:00Z", or "" when unset.
inline std::string TimestampText(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "";
  return google::protobuf::util::TimeUtil::ToString(t);
}

inline std::string StatusText(pathway::v1::DeadlineStatus s) {
  switch (s) {
    case pathway::v1::DEADLINE_STATUS_PENDING:
      return "pending";
    case pathway::v1::DEADLINE_STATUS_MET:
      return "met";
    case pathway::v1::DEADLINE_STATUS_BREACHED:
      return "breached";
    case pathway::v1::DEADLINE_STATUS_EXCEPTED:
      return "excepted";
    case pathway::v1::DEADLINE_STATUS_CANCELLED:
      return "cancelled";
    case pathway::v1::DEADLINE_STATUS_SUPERSEDED:
      return "superseded";
    default:
      return "unknown";
  }
}

inline std::string PathwayName(const pathway::store::v1::PathwayInstance& p) {
  const workflow::Definition* d = workflow::FindDefinition(p.pathway(), p.version());
  return d ? std::string(d->name) : pathway::v1::PathwayKind_Name(p.pathway());
}

inline std::string KindText(pathway::v1::IdentifierKind kind) {
  return kind == pathway::v1::IDENTIFIER_KIND_UPN ? "upn" : "local_id";
}

// A small JSON writer: objects and arrays built as strings, keys in a fixed order so
// that the output is stable and diffable.
class Json {
 public:
  Json& Field(std::string_view key, const std::string& raw_value) {
    Sep();
    out_ += Quote(key) + ":" + raw_value;
    return *this;
  }
  Json& Str(std::string_view key, std::string_view value) { return Field(key, Quote(value)); }
  Json& Num(std::string_view key, int64_t value) { return Field(key, std::to_string(value)); }
  Json& Bool(std::string_view key, bool value) { return Field(key, value ? "true" : "false"); }
  std::string Done() { return "{" + out_ + "}"; }

 private:
  void Sep() {
    if (!out_.empty()) out_ += ",";
  }
  std::string out_;
};

inline std::string Array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + "]";
}

// One pathway instance: its definition's name, state and deadlines.
// A step recorded as implied: which, the message that never came, when, and why.
inline std::string DataQualityJson(const pathway::v1::DataQualityWarning& w) {
  return Json()
      .Str("step", w.step())
      .Str("missing", w.missing())
      .Str("on", DateText(w.on()))
      .Str("text", w.text())
      .Done();
}

inline std::string PathwayJson(const pathway::store::v1::PathwayInstance& p) {
  std::vector<std::string> deadlines;
  for (const auto& d : p.deadlines()) {
    Json j;
    j.Str("name", d.name()).Str("due", DateText(d.due())).Str("status", StatusText(d.status()));
    if (d.has_met_on()) j.Str("met_on", DateText(d.met_on()));
    j.Str("rule", d.rule());
    // A superseded deadline names the one that replaced it (which may share its name).
    if (d.status() == pathway::v1::DEADLINE_STATUS_SUPERSEDED) {
      j.Str("superseded_by", d.superseded_by())
          .Str("superseded_by_due", DateText(d.superseded_by_due()));
    }
    deadlines.push_back(j.Done());
  }
  std::vector<std::string> implied;
  for (const auto& step : p.implied_steps()) implied.push_back(Quote(step));
  std::vector<std::string> quality;
  for (const auto& w : p.data_quality()) quality.push_back(DataQualityJson(w));
  return Json()
      .Str("pathway", PathwayName(p))
      .Num("version", p.version())
      .Str("reference", p.reference())
      .Str("instance_id", p.instance_id())
      .Str("state", p.state())
      .Str("started_on", DateText(p.started_on()))
      .Field("deadlines", Array(deadlines))
      .Field("implied_steps", Array(implied))
      .Field("data_quality_warnings", Array(quality))
      .Done();
}

// Something the family, the young person or the current setting was asked for.
inline std::string RequestJson(const pathway::store::v1::InformationRequest& r) {
  return Json()
      .Str("fact", r.fact())
      .Str("asked", workflow::RespondentName(r.asked()))
      .Str("requested_on", DateText(r.requested_on()))
      .Str("instance_id", r.instance_id())
      .Done();
}

// An audit record (workflow::AuditFor): who saw or reused which part of the record.
inline std::string AuditJson(const pathway::v1::AuditRecorded& a) {
  std::vector<std::string> facts;
  for (int t : a.facts()) {
    facts.push_back(Quote(workflow::FactTypeName(static_cast<pathway::v1::FactType>(t))));
  }
  std::vector<std::string> bases;
  for (const auto& b : a.legal_bases()) bases.push_back(Quote(b));
  return Json()
      .Str("action", a.action() == pathway::v1::AUDIT_ACTION_VIEW ? "view" : "reuse")
      .Str("actor_id", a.actor_id())
      .Str("actor_role", a.actor_role())
      .Str("agency", a.agency())
      .Str("purpose", a.purpose())
      .Field("facts", Array(facts))
      .Str("on", DateText(a.on()))
      .Field("legal_bases", Array(bases))
      .Done();
}

}  // namespace pathway::operations::report
