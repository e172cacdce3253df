// Turning the realistic histories (tests/workflow/histories/*.jsonl) into other
// children's commands on other days. Shared by the load generator (bench/loadgen) and
// the tests' stream generators (tests/common/random_mix.h,
// tests/integration/engine_process.cc), so that a load run and the tests build their
// commands the same way. Header-only: the tests include it without linking anything new.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "pathway/v1/envelope.pb.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"

namespace pathway::loadgen {

// Every realistic history, one child each: together they move every pathway, record
// consent and provide shared-record facts (tell it once). The order is part of the
// tests' random mixes (tests/common/random_mix.h draws from the pool by index).
inline constexpr std::array<std::string_view, 8> kHistoryFiles = {
    "ehc_assessment.jsonl",
    "annual_review.jsonl",
    "neurodevelopmental.jsonl",
    "preparing_for_adulthood.jsonl",
    "disagreement.jsonl",
    "multi_pathway_child.jsonl",
    "exceptional_needs_grant.jsonl",
    "tell_it_once_three_pathways.jsonl"};

// Applies `fn` to every set message field of `m`, depth first (a field, then what it
// holds).
inline void VisitMessages(google::protobuf::Message& m,
                          const std::function<void(google::protobuf::Message&,
                                                   const google::protobuf::FieldDescriptor&)>& fn) {
  using google::protobuf::FieldDescriptor;
  const auto* refl = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  refl->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const int n = f->is_repeated() ? refl->FieldSize(m, f) : 1;
    for (int i = 0; i < n; ++i) {
      google::protobuf::Message* child =
          f->is_repeated() ? refl->MutableRepeatedMessage(&m, f, i) : refl->MutableMessage(&m, f);
      fn(*child, *f);
      VisitMessages(*child, fn);
    }
  }
}

// Rewrites every string field named nhs_number, at any depth (the subject, a referral's
// child), to `map(old value)`.
inline void RewriteNhs(google::protobuf::Message& m,
                       const std::function<std::string(const std::string&)>& map) {
  using google::protobuf::FieldDescriptor;
  auto one = [&](google::protobuf::Message& msg) {
    const auto* refl = msg.GetReflection();
    const FieldDescriptor* f = msg.GetDescriptor()->FindFieldByName("nhs_number");
    if (f && f->type() == FieldDescriptor::TYPE_STRING && !f->is_repeated() &&
        refl->HasField(msg, f)) {
      refl->SetString(&msg, f, map(refl->GetString(msg, f)));
    }
  };
  one(m);
  VisitMessages(m, [&](google::protobuf::Message& child, const FieldDescriptor&) { one(child); });
}

// The valid NHS number (modulus 11) of the first 9-digit number from `*next` on that has
// a check digit, and moves `*next` past it. `*next` must have 9 digits. Synthetic
// numbers only: nothing here is anyone's.
inline std::string NextNhsNumber(uint64_t* next) {
  // One 9-digit number in eleven has no check digit (the digit would be 10), and two
  // neighbours never both lack one, so two tries suffice; the bound is generous.
  for (int attempt = 0; attempt < 11; ++attempt) {
    const std::string nine = std::to_string((*next)++);
    int sum = 0;
    for (int i = 0; i < 9; ++i) sum += (nine[i] - '0') * (10 - i);
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    if (check == 10) continue;  // never issued
    return nine + static_cast<char>('0' + check);
  }
  return {};  // unreachable for 9-digit numbers; callers check IsValidNhsNumber
}

// Whether ShiftDates moves dates of birth too.
enum class BirthDates {
  kKeep,   // a child's birthday does not move with the day a message is sent
  kShift,  // the whole history moves, the child born as much earlier or later
};

// Moves every pathway.v1.Date in `message` by `days` (dates of birth as `birth` says).
inline void ShiftDates(google::protobuf::Message& message, int days,
                       BirthDates birth = BirthDates::kKeep) {
  using google::protobuf::FieldDescriptor;
  const auto* r = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (birth == BirthDates::kKeep && f->name() == "date_of_birth") continue;
    const bool date = f->message_type() == pathway::v1::Date::descriptor();
    const int n = f->is_repeated() ? r->FieldSize(message, f) : 1;
    for (int i = 0; i < n; ++i) {
      google::protobuf::Message* m = f->is_repeated() ? r->MutableRepeatedMessage(&message, f, i)
                                                      : r->MutableMessage(&message, f);
      if (!date) {
        ShiftDates(*m, days, birth);
        continue;
      }
      auto& d = static_cast<pathway::v1::Date&>(*m);
      if (auto civil = workflow::ToCivil(d)) d = workflow::ToProto(workflow::AddDays(*civil, days));
    }
  }
}

}  // namespace pathway::loadgen
