#include "workflow/command_check.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <string>
#include <utility>

#include "pathway/v1/common.pb.h"
#include "workflow/erasure.h"
#include "workflow/identifiers.h"
#include "workflow/identity.h"
#include "workflow/input_limits.h"
#include "workflow/pathway.h"
#include "workflow/shared_record.h"
#include "workflow/workflow.h"

namespace pathway::workflow {
namespace {
namespace pb = google::protobuf;
namespace v1 = pathway::v1;

Rejection Missing(std::string path) {
  return {std::move(path), "required", "this field is required"};
}

std::string Join(std::string_view prefix, std::string_view name) {
  std::string path(prefix);
  if (!path.empty()) path += '.';
  path.append(name);
  return path;
}

void WalkRequired(const pb::Message& message, const std::string& prefix, int depth,
                  std::vector<Rejection>& out) {
  // Input limits refuse anything deeper (message.too_deep); never walk without bound.
  if (depth > 16 || out.size() >= kMaxViolations) return;
  const pb::Descriptor& type = *message.GetDescriptor();
  const pb::Reflection& r = *message.GetReflection();
  for (int i = 0; i < type.field_count() && out.size() < kMaxViolations; ++i) {
    // Declaration order; sorted by the caller.
    const pb::FieldDescriptor& field = *type.field(i);
    const bool required = field.options().GetExtension(v1::required);
    if (field.is_repeated()) {
      const int size = r.FieldSize(message, &field);
      if (required && size == 0) out.push_back(Missing(Join(prefix, field.name())));
      if (field.cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
      for (int k = 0; k < size && out.size() < kMaxViolations; ++k) {
        std::string path = Join(prefix, field.name());
        path += '[';  // appended: "[" + std::to_string(k) trips GCC bug 105651 at -O3
        path += std::to_string(k);
        path += ']';
        WalkRequired(r.GetRepeatedMessage(message, &field, k), path, depth + 1, out);
      }
      continue;
    }
    if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (r.HasField(message, &field)) {
        WalkRequired(r.GetMessage(message, &field), Join(prefix, field.name()), depth + 1, out);
      } else if (required) {
        out.push_back(Missing(Join(prefix, field.name())));
      }
      continue;
    }
    if (!required) continue;
    bool present = true;
    switch (field.cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        present = !r.GetStringReference(message, &field, &scratch).empty();
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        present = r.GetEnumValue(message, &field) != 0;
        break;
      default:  // numbers and bools: proto3 cannot tell zero from unset
        present = r.HasField(message, &field);
        break;
    }
    if (!present) out.push_back(Missing(Join(prefix, field.name())));
  }
}

// The place of `path` in schema order below Envelope: per segment, its field number
// and element index. A segment the schema does not know sorts last.
std::vector<int> SchemaKey(std::string_view path) {
  std::vector<int> key;
  const pb::Descriptor* type = v1::Envelope::descriptor();
  while (!path.empty()) {
    const size_t dot = path.find('.');
    std::string_view segment = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    int index = -1;
    if (const size_t open = segment.find('['); open != std::string_view::npos) {
      index = 0;
      for (char c : segment.substr(open + 1)) {
        if (c >= '0' && c <= '9') index = index * 10 + (c - '0');
      }
      segment = segment.substr(0, open);
    }
    const pb::FieldDescriptor* field = type ? type->FindFieldByName(std::string(segment)) : nullptr;
    key.push_back(field ? field->number() : INT_MAX);
    key.push_back(index);
    type = field ? field->message_type() : nullptr;
  }
  return key;
}

// Schema order, one violation per field (the first found: input limits, then presence,
// then formats).
std::vector<Rejection> InSchemaOrder(std::vector<Rejection> all) {
  std::vector<std::pair<std::vector<int>, size_t>> keys;
  keys.reserve(all.size());
  for (size_t i = 0; i < all.size(); ++i) keys.emplace_back(SchemaKey(all[i].field), i);
  std::stable_sort(keys.begin(), keys.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Rejection> out;
  out.reserve(all.size());
  for (const auto& [key, i] : keys) {
    if (!out.empty() && out.back().field == all[i].field) continue;
    out.push_back(std::move(all[i]));
    if (out.size() == kMaxViolations) break;
  }
  return out;
}

// The referral's format rules on the fields it has (presence is MissingRequired's).
// `today` unset: the command has no day of its own (reported as occurred_at), so the
// "not after today" rule waits until it has.
void ReferralFormats(const v1::ReferralSubmitted& referral, std::optional<CivilDate> today,
                     std::vector<Rejection>& out) {
  const v1::ChildIdentity& child = referral.child();
  if (!child.nhs_number().empty()) {
    if (auto r = CheckNhsNumber(child.nhs_number(), "referral_submitted.child.nhs_number")) {
      out.push_back(std::move(*r));
    }
  }
  std::optional<CivilDate> dob, received;
  if (child.has_date_of_birth()) {
    dob = ToCivil(child.date_of_birth());
    if (!dob) {
      out.push_back({"referral_submitted.child.date_of_birth", "date.calendar",
                     "the date of birth is not a real calendar date"});
    }
  }
  if (referral.has_received_on()) {
    received = ToCivil(referral.received_on());
    if (!received) {
      out.push_back({"referral_submitted.received_on", "date.calendar",
                     "the date the referral was received is not a real calendar date"});
    } else if (today && std::chrono::sys_days{*received} > std::chrono::sys_days{*today}) {
      out.push_back({"referral_submitted.received_on", "date.not_in_future",
                     "the referral is dated after the message itself (occurred_at)"});
    }
  }
  if (dob && received && std::chrono::sys_days{*dob} > std::chrono::sys_days{*received}) {
    out.push_back({"referral_submitted.child.date_of_birth", "date_of_birth.not_in_future",
                   "the date of birth is after the date the referral was received"});
  }
}

// Who the command is about (Envelope.subject), as RouteCommand will route it: required
// on every command a partner sends except a referral, which names the child in full.
// Subject is a field of the envelope, required or not by the payload it carries, so the
// schema's option cannot say it; its comment does, and this is the one place it is
// decided (docs/decisions.md 142). An NHS number in its format, or else an alias (a
// UPN, a local id) in its; an IdentifierLinked needs the NHS number it links to.
void SubjectViolations(const v1::Envelope& command, std::vector<Rejection>& out) {
  const bool partner_command =
      FindCommandRoute(command) || IsRecordCommand(command) || command.has_identifier_linked() ||
      (IsErasureCommand(command) && command.erasure_requested().erased_subject_key().empty());
  if (!partner_command || command.has_referral_submitted()) return;
  const v1::SubjectRef& subject = command.subject();
  if (!subject.nhs_number().empty()) {
    if (auto r = CheckNhsNumber(subject.nhs_number(), "subject.nhs_number")) {
      out.push_back(std::move(*r));
    }
    return;
  }
  if (!command.has_identifier_linked()) {
    Alias alias = AliasOf(subject);
    if (alias.rejection) {
      out.push_back(std::move(*alias.rejection));
      return;
    }
    if (!alias.hash_input.empty()) return;
  }
  out.push_back(Missing("subject.nhs_number"));
}

// An IdentifierLinked's value in the format of its kind (presence is MissingRequired's).
void IdentifierFormats(const v1::Envelope& command, std::vector<Rejection>& out) {
  if (!command.has_identifier_linked()) return;
  const v1::IdentifierLinked& link = command.identifier_linked();
  if (link.value().empty() ||
      (link.kind() != v1::IDENTIFIER_KIND_UPN && link.kind() != v1::IDENTIFIER_KIND_LOCAL_ID)) {
    return;
  }
  if (auto r = CheckIdentifier(link.kind(), link.value(), "identifier_linked.value")) {
    out.push_back(std::move(*r));
  }
}
}  // namespace

std::optional<Rejection> CheckNhsNumber(std::string_view nhs, std::string_view field) {
  if (nhs.size() != 10 || nhs.find_first_not_of("0123456789") != std::string_view::npos) {
    return Rejection{std::string(field), "nhs_number.format",
                     "an NHS number is exactly 10 digits with no spaces"};
  }
  if (!IsValidNhsNumber(nhs)) {
    return Rejection{std::string(field), "nhs_number.modulus11",
                     "the NHS number fails its modulus 11 check digit"};
  }
  return std::nullopt;
}

std::vector<Rejection> MissingRequired(const pb::Message& message, std::string_view prefix) {
  std::vector<Rejection> out;
  WalkRequired(message, std::string(prefix), 0, out);
  return out;
}

std::vector<Rejection> ReferralViolations(const v1::ReferralSubmitted& referral, CivilDate today) {
  std::vector<Rejection> all = MissingRequired(referral, "referral_submitted");
  ReferralFormats(referral, today, all);
  return InSchemaOrder(std::move(all));
}

std::vector<Rejection> CommandViolations(const v1::Envelope& command) {
  std::vector<Rejection> all = InputLimitViolations(command, kMaxViolations);
  std::vector<Rejection> missing = MissingRequired(command);
  all.insert(all.end(), std::make_move_iterator(missing.begin()),
             std::make_move_iterator(missing.end()));
  if (command.has_referral_submitted()) {
    ReferralFormats(command.referral_submitted(), CommandDay(command), all);
  }
  SubjectViolations(command, all);
  IdentifierFormats(command, all);
  return InSchemaOrder(std::move(all));
}

}  // namespace pathway::workflow
