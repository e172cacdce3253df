#include "workflow/input_limits.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "workflow/calendar.h"

namespace pathway::workflow {
namespace {
namespace pb = google::protobuf;

constexpr StringLimit kIdentifier{StringKind::kIdentifier, 128, false};
constexpr StringLimit kLabel{StringKind::kLabel, 200, false};
constexpr StringLimit kName{StringKind::kName, 200, false};
constexpr StringLimit kPostcode{StringKind::kPostcode, 16, false};
constexpr StringLimit kFreeText{StringKind::kFreeText, 4000, true};

// THE table of string limits. Explicit full names first (a name that means different
// things in different messages), then field names, then suffixes in StringLimitFor.
struct Entry {
  std::string_view name;
  StringLimit limit;
};
constexpr Entry kByFullName[] = {
    {"pathway.v1.IdentifierLinked.value", kIdentifier},  // a UPN or "<system>:<id>"
    {"pathway.v1.Fact.value", kLabel},                   // a step datum, e.g. "health"
    // Operations records (pathwayctl writes them; never a command).
    {"pathway.v1.OperationRecorded.operation", kLabel},
    {"pathway.v1.OperationRecorded.operator_id", kIdentifier},
    {"pathway.v1.OperationRecorded.operator_role", kLabel},
    {"pathway.v1.OperationRecorded.scope", kLabel},
    {"pathway.v1.OperationRecorded.detail", kFreeText},
    {"pathway.v1.CaseRedriveRequested.operation_id", kIdentifier},
    {"pathway.v1.CaseRedriveRequested.withdraw_event_ids", kIdentifier},
    {"pathway.v1.CommandsWithdrawn.event_ids", kIdentifier},
    {"pathway.v1.CommandsWithdrawn.operation_id", kIdentifier},
    {"pathway.v1.CommandsWithdrawn.source_system", kIdentifier},
    {"pathway.v1.CaseRedriveRequested.withdraw_source_system", kIdentifier},
    {"pathway.v1.CaseMigrateRequested.operation_id", kIdentifier},
    {"pathway.v1.CaseMigrateRequested.instance_ids", kIdentifier},
    {"pathway.v1.StateMapping.from_state", kIdentifier},
    {"pathway.v1.StateMapping.to_state", kIdentifier},
    {"pathway.v1.PathwaysMigrated.operation_id", kIdentifier},
    {"pathway.v1.PathwaysMigrated.instance_ids", kIdentifier},
    // Retention (history only; never a command).
    {"pathway.v1.HistoryTrimmed.through_order", kIdentifier},
};
constexpr Entry kByFieldName[] = {
    // Identifiers and codes.
    {"id", kIdentifier},
    {"nhs_number", kIdentifier},
    {"upn", kIdentifier},
    {"local_id", kIdentifier},
    {"agency", kIdentifier},
    {"team", kIdentifier},
    {"source_agency", kIdentifier},
    {"system", kIdentifier},
    {"provider", kIdentifier},
    {"named_setting", kIdentifier},
    {"school_preference", kIdentifier},
    {"reference", kIdentifier},
    // Short labels.
    {"role", kLabel},
    {"actor_role", kLabel},
    {"purpose", kLabel},
    {"cluster", kLabel},
    {"service", kLabel},
    {"support", kLabel},
    {"step", kLabel},
    {"from_state", kLabel},
    {"to_state", kLabel},
    {"name", kLabel},
    {"rule", kLabel},
    {"field", kLabel},
    {"fact", kLabel},
    {"key", kLabel},
    {"topic", kLabel},
    {"legal_basis", kLabel},
    {"legal_bases", kLabel},
    {"missing", kLabel},        // the payload name a data-quality warning names
    {"superseded_by", kLabel},  // a deadline name
    {"state", kLabel},          // a pathway state a correction names
    {"rejected_field", kLabel},
    {"rejected_rule", kLabel},
    {"order", kLabel},           // a place in business-date order (46 bytes)
    {"caused_by", kIdentifier},  // an event id
    // People.
    {"given_name", kName},
    {"family_name", kName},
    {"postcode", kPostcode},
    // Free text.
    {"concerns", kFreeText},
    {"content", kFreeText},
    {"reason", kFreeText},
    {"warnings", kFreeText},  // data-quality notes the engine writes
    {"text", kFreeText},
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The length of the UTF-8 sequence at s[i] and its code point, or 0 if it is not one
// (overlong forms, surrogates and code points above U+10FFFF are not).
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t& cp) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  size_t n = 0;
  uint32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  } else if ((b0 & 0xE0) == 0xC0) {
    n = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

constexpr int64_t EpochSeconds(std::chrono::year_month_day d) {
  return std::chrono::sys_seconds{std::chrono::sys_days{d}}.time_since_epoch().count();
}
constexpr int64_t kMinSeconds =
    EpochSeconds(std::chrono::year{kMinYear} / std::chrono::January / 1);
constexpr int64_t kEndSeconds =  // exclusive: the first second after kMaxYear
    EpochSeconds(std::chrono::year{kMaxYear + 1} / std::chrono::January / 1);
static_assert(kMinSeconds == -2208988800);

std::string Path(std::string_view prefix, const pb::FieldDescriptor& field, int index) {
  std::string path(prefix);
  if (!path.empty()) path += '.';
  path += field.name();
  if (index >= 0) {  // appended: "[" + std::to_string(i) trips GCC bug 105651 at -O3
    path += '[';
    path += std::to_string(index);
    path += ']';
  }
  return path;
}

// Deep enough for any message in the catalogue; a schema that recursed deeper would be
// refused rather than walked without bound.
constexpr int kMaxDepth = 16;

// Appends the violations in `message` to `out`; stops after the first when `first_only`,
// and once `out` holds `max`.
void CheckMessage(const pb::Message& message, const std::string& prefix, int depth,
                  std::vector<Rejection>& out, bool first_only, size_t max);

std::optional<Rejection> CheckValue(const pb::Message& message, const pb::FieldDescriptor& field,
                                    int index, const std::string& path, int depth,
                                    std::vector<Rejection>& out, bool first_only, size_t max) {
  const pb::Reflection& r = *message.GetReflection();
  const bool repeated = index >= 0;
  switch (field.cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      int value = repeated ? r.GetRepeatedEnumValue(message, &field, index)
                           : r.GetEnumValue(message, &field);
      if (field.enum_type()->FindValueByNumber(value) == nullptr) {
        return Rejection{path, "enum.unknown_value",
                         "this number is not a value of " + field.enum_type()->name()};
      }
      return std::nullopt;
    }
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      if (field.type() == pb::FieldDescriptor::TYPE_BYTES) return std::nullopt;  // engine-made
      std::string scratch;
      const std::string& value =
          repeated ? r.GetRepeatedStringReference(message, &field, index, &scratch)
                   : r.GetStringReference(message, &field, &scratch);
      return CheckString(value, StringLimitFor(field).value_or(kIdentifier), path);
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
      const pb::Message& sub =
          repeated ? r.GetRepeatedMessage(message, &field, index) : r.GetMessage(message, &field);
      const pb::Descriptor* type = field.message_type();
      if (type == pathway::v1::Date::descriptor()) {
        return CheckDate(static_cast<const pathway::v1::Date&>(sub), path);
      }
      if (type == pb::Timestamp::descriptor()) {
        if (!TimestampInRange(static_cast<const pb::Timestamp&>(sub))) {
          return Rejection{path, "timestamp.out_of_range",
                           "a timestamp must fall in the years " + std::to_string(kMinYear) +
                               " to " + std::to_string(kMaxYear) +
                               " UTC, with nanos from 0 to 999999999"};
        }
        return std::nullopt;
      }
      if (depth >= kMaxDepth) {
        return Rejection{path, "message.too_deep", "messages nest at most 16 levels deep"};
      }
      CheckMessage(sub, path, depth + 1, out, first_only, max);
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

void CheckMessage(const pb::Message& message, const std::string& prefix, int depth,
                  std::vector<Rejection>& out, bool first_only, size_t max) {
  std::vector<const pb::FieldDescriptor*> fields;
  message.GetReflection()->ListFields(message, &fields);  // set fields, by number
  for (const pb::FieldDescriptor* field : fields) {
    const int size = field->is_repeated() ? message.GetReflection()->FieldSize(message, field) : 1;
    for (int i = 0; i < size; ++i) {
      const int index = field->is_repeated() ? i : -1;
      if ((first_only && !out.empty()) || out.size() >= max) return;
      if (auto r = CheckValue(message, *field, index, Path(prefix, *field, index), depth, out,
                              first_only, max)) {
        out.push_back(std::move(*r));
      }
    }
  }
}
}  // namespace

std::optional<StringLimit> StringLimitFor(const pb::FieldDescriptor& field) {
  for (const auto& e : kByFullName) {
    if (e.name == field.full_name()) return e.limit;
  }
  for (const auto& e : kByFieldName) {
    if (e.name == field.name()) return e.limit;
  }
  if (EndsWith(field.name(), "_id") || EndsWith(field.name(), "_key")) return kIdentifier;
  return std::nullopt;
}

bool TimestampInRange(const pb::Timestamp& t) {
  return t.seconds() >= kMinSeconds && t.seconds() < kEndSeconds && t.nanos() >= 0 &&
         t.nanos() <= 999'999'999;
}

std::optional<Rejection> CheckDate(const pathway::v1::Date& d, std::string_view path) {
  // Compared as int32 before anything narrows it (std::chrono::year holds a short).
  if (d.year() < kMinYear || d.year() > kMaxYear) {
    return Rejection{std::string(path), "date.out_of_range",
                     "a date's year must be from " + std::to_string(kMinYear) + " to " +
                         std::to_string(kMaxYear)};
  }
  if (!ToCivil(d)) {
    return Rejection{std::string(path), "date.calendar", "this is not a real calendar date"};
  }
  return std::nullopt;
}

std::optional<Rejection> CheckString(std::string_view value, const StringLimit& limit,
                                     std::string_view path) {
  if (value.size() > limit.max_bytes) {
    return Rejection{std::string(path), "string.too_long",
                     "this field holds at most " + std::to_string(limit.max_bytes) + " bytes"};
  }
  for (size_t i = 0; i < value.size();) {
    uint32_t cp = 0;
    size_t n = DecodeUtf8(value, i, cp);
    if (n == 0) {
      return Rejection{std::string(path), "string.invalid_utf8", "this field is not valid UTF-8"};
    }
    const bool allowed_whitespace = limit.multiline && (cp == '\n' || cp == '\t');
    if ((cp < 0x20 && !allowed_whitespace) || (cp >= 0x7F && cp <= 0x9F)) {
      return Rejection{std::string(path), "string.control_character",
                       limit.multiline ? "free text may hold no control character but line "
                                         "feed and tab"
                                       : "this field may hold no control character"};
    }
    i += n;
  }
  return std::nullopt;
}

bool IsAcceptableIdentifier(std::string_view id) { return !CheckString(id, kIdentifier, ""); }

std::optional<Rejection> CheckInputLimits(const pb::Message& message) {
  std::vector<Rejection> out;
  CheckMessage(message, "", 0, out, true, SIZE_MAX);
  if (out.empty()) return std::nullopt;
  return std::move(out.front());
}

std::vector<Rejection> InputLimitViolations(const pb::Message& message, size_t max) {
  std::vector<Rejection> out;
  CheckMessage(message, "", 0, out, false, max);
  if (out.size() > max) out.resize(max);
  return out;
}

}  // namespace pathway::workflow
