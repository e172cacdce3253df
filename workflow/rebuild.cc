#include "workflow/rebuild.h"

#include <google/protobuf/util/message_differencer.h>

#include <string>

#include "workflow/workflow.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using google::protobuf::util::MessageDifferencer;

// Records where two messages differ, never what the values are.
class PathReporter final : public MessageDifferencer::Reporter {
 public:
  PathReporter(std::vector<std::string>& out, size_t max) : out_(out), max_(max) {}

  void ReportAdded(const google::protobuf::Message&, const google::protobuf::Message&,
                   const std::vector<MessageDifferencer::SpecificField>& path) override {
    Add(path);
  }
  void ReportDeleted(const google::protobuf::Message&, const google::protobuf::Message&,
                     const std::vector<MessageDifferencer::SpecificField>& path) override {
    Add(path);
  }
  void ReportModified(const google::protobuf::Message&, const google::protobuf::Message&,
                      const std::vector<MessageDifferencer::SpecificField>& path) override {
    // A message is reported modified after the fields within it that are: those say
    // where.
    if (!path.empty() && path.back().field &&
        path.back().field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      return;
    }
    Add(path);
  }

 private:
  void Add(const std::vector<MessageDifferencer::SpecificField>& path) {
    if (out_.size() >= max_) return;
    std::string text;
    for (const auto& f : path) {
      if (!text.empty()) text += '.';
      if (f.field) {
        text += f.field->name();
      } else {
        text += std::to_string(f.unknown_field_number);
      }
      // The index in the second message, else in the first (an element deleted).
      const int index = f.new_index >= 0 ? f.new_index : f.index;
      if (f.field && f.field->is_repeated() && index >= 0) {
        text += '[' + std::to_string(index) + ']';
      }
    }
    out_.push_back(std::move(text));
  }

  std::vector<std::string>& out_;
  size_t max_;
};

}  // namespace

std::vector<std::string> FieldDifferences(const google::protobuf::Message& a,
                                          const google::protobuf::Message& b, size_t max) {
  std::vector<std::string> out;
  MessageDifferencer differencer;
  PathReporter reporter(out, max);
  differencer.ReportDifferencesTo(&reporter);
  (void)differencer.Compare(a, b);
  return out;
}

CaseCheck CheckCase(const std::string& subject_key, const store::CaseState& stored,
                    const std::vector<v1::Envelope>& history, TimePoint now,
                    const StepSettings& settings) {
  CaseCheck check;
  if (stored.erased()) {
    check.erased = true;
    return check;
  }
  for (const auto& e : history) Apply(check.rebuilt, e);
  if (check.rebuilt.SerializeAsString() != stored.SerializeAsString()) {
    check.history_differs = true;
    check.history_differences = FieldDifferences(stored, check.rebuilt);
    // Serialized bytes can differ where the fields compare equal (unknown fields kept
    // in another order): say so rather than report nothing.
    if (check.history_differences.empty()) check.history_differences.push_back("(encoding)");
  }
  // The stored case as the engine would hold it at `now`, against the same re-decided.
  const store::CaseState today = FiredThrough(subject_key, stored, now, settings);
  const store::CaseState redecided =
      RedecideFromLog(subject_key, stored, CommandsOf(history), now, settings);
  if (CanonicalCase(today) != CanonicalCase(redecided)) {
    check.redecided_differs = true;
    DiffCases(today, redecided, check.redecided);
    check.redecided_fields = FieldDifferences(today, redecided);
  }
  return check;
}

}  // namespace pathway::workflow
