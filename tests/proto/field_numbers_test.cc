// Rule: protobuf field numbers and enum values are permanent (design.md, "explicit
// numbers"). proto/field_numbers.golden records every number ever assigned; a number
// may be retired only with `reserved`, never changed or given to another field.
//
// To add fields: run `PATHWAY_PRINT_GOLDEN=1 ./field_numbers_test` and append the new
// lines it prints to the golden file.
//
// Both the public catalogue (proto/, what partners exchange) and the engine's internal
// records (internal/proto: RocksDB state, changelog, configuration) are covered: stored
// bytes outlive a binary as surely as a partner's code outlives a release. Custom
// options (extensions of google.protobuf.*Options) are recorded as
// "<extendee> <number> <full name>". A type that moved to another package keeps its
// lines: a "renamed <old full name> <new full name>" line checks the old numbers
// against the new name (docs/decisions.md 135).
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "pathway/config/v1/config.pb.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "pathway/v1/outcome.pb.h"
#include "pathway/v1/views.pb.h"

namespace {
using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;

// "pathway.v1.Envelope" -> {number -> name}
using Numbers = std::map<std::string, std::map<int, std::string>>;

void CollectEnum(const EnumDescriptor* e, Numbers& out) {
  for (int i = 0; i < e->value_count(); ++i) {
    out[e->full_name()][e->value(i)->number()] = e->value(i)->name();
  }
}

void CollectMessage(const Descriptor* d, Numbers& out) {
  auto& fields = out[d->full_name()];
  for (int i = 0; i < d->field_count(); ++i) fields[d->field(i)->number()] = d->field(i)->name();
  for (int i = 0; i < d->nested_type_count(); ++i) CollectMessage(d->nested_type(i), out);
  for (int i = 0; i < d->enum_type_count(); ++i) CollectEnum(d->enum_type(i), out);
  for (int i = 0; i < d->extension_count(); ++i) {
    const FieldDescriptor* x = d->extension(i);
    out[x->containing_type()->full_name()][x->number()] = x->full_name();
  }
}

// Every pathway .proto file reachable from the envelope, the store records and the
// configuration files.
void CollectFile(const FileDescriptor* f, std::set<const FileDescriptor*>& seen, Numbers& out) {
  if (!f->name().starts_with("pathway/") || !seen.insert(f).second) return;
  for (int i = 0; i < f->dependency_count(); ++i) CollectFile(f->dependency(i), seen, out);
  for (int i = 0; i < f->message_type_count(); ++i) CollectMessage(f->message_type(i), out);
  for (int i = 0; i < f->enum_type_count(); ++i) CollectEnum(f->enum_type(i), out);
  for (int i = 0; i < f->extension_count(); ++i) {
    const FieldDescriptor* x = f->extension(i);
    out[x->containing_type()->full_name()][x->number()] = x->full_name();
  }
}

void CollectAll(std::set<const FileDescriptor*>& seen, Numbers& out) {
  CollectFile(pathway::v1::Envelope::descriptor()->file(), seen, out);
  CollectFile(pathway::v1::ChildTimeline::descriptor()->file(), seen, out);
  CollectFile(pathway::v1::MessageOutcome::descriptor()->file(), seen, out);
  CollectFile(pathway::store::v1::CaseState::descriptor()->file(), seen, out);
  CollectFile(pathway::config::v1::StatutorySharing::descriptor()->file(), seen, out);
}

Numbers Current() {
  Numbers out;
  std::set<const FileDescriptor*> seen;
  CollectAll(seen, out);
  return out;
}

// The roots above are listed by hand: a new .proto file must be added to them.
TEST(FieldNumbers, CoversEveryPathwayFile) {
  std::set<const FileDescriptor*> seen;
  Numbers ignored;
  CollectAll(seen, ignored);
  std::set<std::string> covered;
  for (const auto* f : seen) covered.insert(f->name());
  const std::filesystem::path root =
      std::filesystem::path(PATHWAY_GOLDEN).parent_path().parent_path();
  int files = 0;
  for (const char* dir : {"proto", "internal/proto"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root / dir)) {
      if (entry.path().extension() != ".proto") continue;
      ++files;
      const std::string name = entry.path().lexically_relative(root / dir).generic_string();
      EXPECT_TRUE(covered.count(name)) << name << ": add a message of it to CollectAll";
    }
  }
  EXPECT_GE(files, 8);
}

TEST(FieldNumbers, PublicFilesImportNoInternalFile) {
  std::set<const FileDescriptor*> seen;
  Numbers ignored;
  CollectFile(pathway::v1::Envelope::descriptor()->file(), seen, ignored);
  CollectFile(pathway::v1::ChildTimeline::descriptor()->file(), seen, ignored);
  CollectFile(pathway::v1::MessageOutcome::descriptor()->file(), seen, ignored);
  for (const auto* f : seen) {
    EXPECT_TRUE(f->package() == "pathway.v1") << f->name() << " is in " << f->package();
  }
}

// Lines: "<type> <number> <name>", or "renamed <old type> <new type>": the old type's
// lines are then checked against the new type (wherever the line is in the file).
Numbers Golden() {
  Numbers out;
  std::map<std::string, std::string> renamed;
  std::vector<std::tuple<std::string, int, std::string>> lines;
  std::ifstream in(PATHWAY_GOLDEN);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string type, name;
    if (line.starts_with("renamed ")) {
      std::string word;
      fields >> word >> type >> name;
      renamed[type] = name;
      continue;
    }
    int number = 0;
    fields >> type >> number >> name;
    lines.emplace_back(type, number, name);
  }
  for (auto& [type, number, name] : lines) {
    auto it = renamed.find(type);
    out[it == renamed.end() ? type : it->second][number] = name;
  }
  return out;
}

bool IsReserved(const std::string& type, int number) {
  auto* pool = google::protobuf::DescriptorPool::generated_pool();
  if (const Descriptor* d = pool->FindMessageTypeByName(type)) return d->IsReservedNumber(number);
  if (const EnumDescriptor* e = pool->FindEnumTypeByName(type)) return e->IsReservedNumber(number);
  return false;
}

TEST(FieldNumbers, GoldenFileIsReadable) {
  Numbers golden = Golden();
  ASSERT_FALSE(golden.empty()) << "cannot read " << PATHWAY_GOLDEN;
  EXPECT_TRUE(golden.count("pathway.v1.Envelope"));
}

TEST(FieldNumbers, NoRecordedNumberIsChangedOrReused) {
  Numbers current = Current();
  for (const auto& [type, numbers] : Golden()) {
    for (const auto& [number, name] : numbers) {
      auto type_it = current.find(type);
      bool type_gone = type_it == current.end();
      auto it = type_gone ? decltype(type_it->second.end())() : type_it->second.find(number);
      if (type_gone || it == type_it->second.end()) {
        // Removed: only allowed if the number is reserved (or the whole type retired).
        EXPECT_TRUE(type_gone || IsReserved(type, number))
            << type << " " << number << " (" << name << ") was removed without `reserved " << number
            << "`";
        continue;
      }
      EXPECT_EQ(it->second, name) << type << " number " << number << " was '" << name
                                  << "' and is now '" << it->second << "': never reuse a number";
    }
  }
}

TEST(FieldNumbers, EveryNumberIsRecorded) {
  Numbers golden = Golden();
  std::ostringstream missing;
  for (const auto& [type, numbers] : Current()) {
    for (const auto& [number, name] : numbers) {
      if (!golden[type].count(number)) missing << type << " " << number << " " << name << "\n";
    }
  }
  if (std::getenv("PATHWAY_PRINT_GOLDEN")) std::cout << missing.str();
  EXPECT_EQ(missing.str(), "") << "append these lines to proto/field_numbers.golden";
}

}  // namespace
