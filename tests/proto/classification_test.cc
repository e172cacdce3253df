// Rule: every string and bytes field of every pathway message, and every date of birth,
// says what it may hold (pathway.v1.data_class, proto/pathway/v1/common.proto), because
// sealing on topics is driven by it (workflow/personal_fields.h, docs/decisions.md 62):
// an unclassified field would leave the engine in clear without anyone deciding so.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "pathway/config/v1/config.pb.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/common.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "pathway/v1/outcome.pb.h"
#include "pathway/v1/views.pb.h"

namespace {
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
namespace v1 = pathway::v1;

v1::DataClass ClassOf(const FieldDescriptor* f) {
  return f->options().GetExtension(v1::data_class);
}

bool Sealable(v1::DataClass c) {
  return c == v1::DATA_CLASS_PERSONAL || c == v1::DATA_CLASS_FREE_TEXT;
}

// Every pathway message reachable from `root` through its fields (google.protobuf's own
// types, such as Timestamp, hold no strings and are not ours to annotate).
void Reach(const Descriptor* d, std::set<const Descriptor*>& seen) {
  if (!d->file()->package().starts_with("pathway.") || !seen.insert(d).second) return;
  for (int i = 0; i < d->field_count(); ++i) {
    if (const Descriptor* m = d->field(i)->message_type()) Reach(m, seen);
  }
}

std::set<const Descriptor*> EveryMessage() {
  std::set<const Descriptor*> seen;
  Reach(v1::Envelope::descriptor(), seen);
  for (const Descriptor* d :
       {pathway::store::v1::CaseState::descriptor(), pathway::store::v1::Timer::descriptor(),
        pathway::store::v1::OutboxEntry::descriptor(),
        pathway::store::v1::ChangelogValue::descriptor(),
        pathway::config::v1::StatutorySharing::descriptor(),
        pathway::config::v1::PartnerRegistry::descriptor(), v1::ChildTimeline::descriptor(),
        v1::MessageOutcome::descriptor()}) {
    Reach(d, seen);
  }
  // And any message of the same files that nothing above reaches (a new record type).
  std::set<const google::protobuf::FileDescriptor*> files;
  for (const Descriptor* d : seen) files.insert(d->file());
  for (const auto* file : files) {
    for (int i = 0; i < file->message_type_count(); ++i) Reach(file->message_type(i), seen);
  }
  return seen;
}

TEST(Classification, TheWalkReachesEveryPathwayFileAndTheStoreRecords) {
  std::set<std::string> files, names;
  for (const Descriptor* d : EveryMessage()) {
    files.insert(d->file()->name());
    names.insert(d->full_name());
  }
  EXPECT_EQ(files,
            (std::set<std::string>{
                "pathway/v1/common.proto", "pathway/v1/envelope.proto", "pathway/v1/outcome.proto",
                "pathway/v1/pathways.proto", "pathway/v1/record.proto", "pathway/v1/views.proto",
                "pathway/config/v1/config.proto", "pathway/store/v1/store.proto"}));
  for (const char* name : {"pathway.v1.NdDischarged", "pathway.config.v1.SharingRule",
                           "pathway.store.v1.OutboxEntry", "pathway.store.v1.PathwayInstance"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
}

// The full names of the string and bytes fields, and dates of birth, of `messages` that
// carry no classification; `checked` counts the fields looked at.
std::vector<std::string> Unclassified(const std::set<const Descriptor*>& messages, int& checked) {
  std::vector<std::string> missing;
  for (const Descriptor* d : messages) {
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      bool text =
          f->type() == FieldDescriptor::TYPE_STRING || f->type() == FieldDescriptor::TYPE_BYTES;
      bool birth =
          f->message_type() != nullptr && f->name().find("date_of_birth") != std::string::npos;
      if (!text && !birth) continue;
      ++checked;
      if (ClassOf(f) == v1::DATA_CLASS_UNSPECIFIED) missing.push_back(f->full_name());
      if (birth && ClassOf(f) != v1::DATA_CLASS_PERSONAL) {
        missing.push_back(f->full_name() + " (a date of birth is PERSONAL)");
      }
    }
  }
  return missing;
}

TEST(Classification, EveryStringAndBytesFieldAndEveryDateOfBirthIsClassified) {
  int checked = 0;
  for (const auto& name : Unclassified(EveryMessage(), checked)) {
    ADD_FAILURE() << name << ": classify it with (pathway.v1.data_class)";
  }
  EXPECT_GT(checked, 150);
}

// The check itself: a message nobody classified (protobuf's own) is caught, by name.
TEST(Classification, TheCheckNamesAnUnclassifiedField) {
  int checked = 0;
  auto missing = Unclassified({google::protobuf::FileDescriptorProto::descriptor()}, checked);
  EXPECT_NE(std::find(missing.begin(), missing.end(), "google.protobuf.FileDescriptorProto.name"),
            missing.end());
}

// A `sealed_in` names a bytes field of the same message, classified SEALED, for a
// sealable field; and every SEALED field is some field's sealed_in. (A sealable message
// field without one, such as a command's date of birth, is cleared from a published
// copy: workflow/personal_fields.h.)
TEST(Classification, EverySealedFormHasItsPlace) {
  for (const Descriptor* d : EveryMessage()) {
    std::set<std::string> targets;
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      const std::string& in = f->options().GetExtension(v1::sealed_in);
      if (in.empty()) continue;
      EXPECT_TRUE(Sealable(ClassOf(f))) << f->full_name() << " names a sealed_in but is clear";
      EXPECT_FALSE(f->is_repeated()) << f->full_name();
      const FieldDescriptor* target = d->FindFieldByName(in);
      ASSERT_NE(target, nullptr) << f->full_name() << ": no field " << in;
      EXPECT_EQ(target->type(), FieldDescriptor::TYPE_BYTES) << target->full_name();
      EXPECT_EQ(ClassOf(target), v1::DATA_CLASS_SEALED) << target->full_name();
      targets.insert(in);
    }
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (ClassOf(f) == v1::DATA_CLASS_SEALED) {
        EXPECT_TRUE(targets.count(f->name())) << f->full_name() << " is nobody's sealed_in";
      }
    }
  }
}

// Whether `d` (or anything inside it) can hold personal data or free text.
bool HoldsSealable(const Descriptor* d, std::set<const Descriptor*>& seen,
                   std::vector<std::string>& found) {
  if (!seen.insert(d).second) return false;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (Sealable(ClassOf(f))) found.push_back(f->full_name());
    if (f->message_type() && f->message_type()->file()->package().starts_with("pathway.")) {
      HoldsSealable(f->message_type(), seen, found);
    }
  }
  return !found.empty();
}

// pathway.audit.v1 and pathway.rejections.v1 are published without sealing: their
// payloads hold nothing that would need it (docs/decisions.md 62).
TEST(Classification, AuditRecordsAndRejectionsHoldNothingPersonal) {
  for (const Descriptor* d : {v1::AuditRecorded::descriptor(), v1::CommandRejected::descriptor()}) {
    std::set<const Descriptor*> seen;
    std::vector<std::string> found;
    EXPECT_FALSE(HoldsSealable(d, seen, found)) << d->full_name() << ": " << found.front();
  }
}

}  // namespace
