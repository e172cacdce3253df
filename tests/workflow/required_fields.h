// Example values for the fields the schema marks (pathway.v1.required): read from the
// descriptors, so a field marked later is filled too.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <gtest/gtest.h>

#include "pathway/v1/common.pb.h"

namespace pathway::testing {

// Sets every field the schema marks required in `message` (recursively) to a valid
// value: a string "x", an enum's first value after UNSPECIFIED, a date 1 March 2025, a
// message walked. Read from the descriptors, so a field marked later is filled too.
inline void FillRequired(google::protobuf::Message& message, int depth = 0) {
  namespace pb = google::protobuf;
  ASSERT_LT(depth, 8);
  const pb::Descriptor& type = *message.GetDescriptor();
  const pb::Reflection& r = *message.GetReflection();
  for (int i = 0; i < type.field_count(); ++i) {
    const pb::FieldDescriptor* f = type.field(i);
    if (!f->options().GetExtension(pathway::v1::required)) continue;
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING:
        if (f->is_repeated()) {
          r.AddString(&message, f, "x");
        } else {
          r.SetString(&message, f, "x");
        }
        break;
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        ASSERT_GT(f->enum_type()->value_count(), 1) << f->full_name();
        if (f->is_repeated()) {
          r.AddEnumValue(&message, f, f->enum_type()->value(1)->number());
        } else {
          r.SetEnumValue(&message, f, f->enum_type()->value(1)->number());
        }
        break;
      case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
        pb::Message* m =
            f->is_repeated() ? r.AddMessage(&message, f) : r.MutableMessage(&message, f);
        if (auto* date = dynamic_cast<pathway::v1::Date*>(m)) {
          date->set_year(2025);
          date->set_month(3);
          date->set_day(1);
        } else {
          FillRequired(*m, depth + 1);
        }
        break;
      }
      default:
        FAIL() << "no example value for " << f->full_name();
    }
  }
}

}  // namespace pathway::testing
