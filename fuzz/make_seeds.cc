// Seed corpora for the fuzz targets from JSON-lines histories of Envelopes
// (tests/workflow/histories/*.jsonl, scripts/demo/*.jsonl), written into OUT_DIR:
//   OUT_DIR/json_fuzz/    each line as publish reads it, and its binary Envelope (tail)
//   OUT_DIR/intake_fuzz/  each line's binary Envelope, as a partner would publish it
//   OUT_DIR/decide_fuzz/  each routed command with the stored case it meets when the
//                         file is replayed in order (decide_fuzz.cc's input format)
//   OUT_DIR/json.dict     a libFuzzer dictionary for json_fuzz: the JSON name of every
//                         field and every enum value name reachable from Envelope
// File names are content hashes, so a seed written twice is one file.
//   usage: fuzz_make_seeds OUT_DIR FILE.jsonl...
#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "fuzz/fuzz_support.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/identity.h"
#include "workflow/workflow.h"

namespace {

namespace fs = std::filesystem;
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
namespace wf = pathway::workflow;

size_t written = 0;

void Write(const fs::path& dir, std::string_view bytes) {
  const fs::path path = dir / pathway::HexEncode(pathway::Sha256(bytes)).substr(0, 24);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "fuzz_make_seeds: cannot write %s\n", path.c_str());
    std::exit(1);
  }
  ++written;
}

std::string DecideSeed(const store::CaseState& state, const v1::Envelope& command) {
  const std::string s = state.SerializeAsString();
  const auto n = static_cast<uint32_t>(s.size());
  std::string out;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + s + command.SerializeAsString();
}

pathway::TimePoint EventTime(const v1::Envelope& e) {
  if (!e.has_occurred_at()) return pathway::fuzz::FixedNow();
  return pathway::TimePoint(std::chrono::microseconds(e.occurred_at().seconds() * 1'000'000 +
                                                      e.occurred_at().nanos() / 1000));
}

// Replays one history in order (as the simulator does, without timers) and writes a
// seed for every line and every command decided.
void SeedFrom(const fs::path& file, const fs::path& out) {
  std::ifstream in(file);
  if (!in) {
    std::fprintf(stderr, "fuzz_make_seeds: cannot read %s\n", file.c_str());
    std::exit(1);
  }
  std::map<std::string, store::CaseState> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Write(out / "json_fuzz", line);
    v1::Envelope inbound;
    if (!google::protobuf::util::JsonStringToMessage(line, &inbound).ok()) continue;
    const std::string bytes = inbound.SerializeAsString();
    Write(out / "json_fuzz", bytes);
    Write(out / "intake_fuzz", bytes);

    const pathway::TimePoint now = EventTime(inbound);
    wf::IntakeOutput routed = wf::Intake(inbound, pathway::fuzz::SubjectKey);
    std::deque<v1::Envelope> queue(routed.commands.begin(), routed.commands.end());
    for (size_t n = 0; !queue.empty() && n < 100; ++n) {
      v1::Envelope command = std::move(queue.front());
      queue.pop_front();
      store::CaseState& state = cases[command.subject_key()];
      Write(out / "decide_fuzz", DecideSeed(state, command));
      wf::Decision decision = wf::Decide(state, command, now);
      for (const auto& event : decision.events) {
        for (auto& c : wf::EmissionsFor(state, event, now).commands) queue.push_back(c);
        wf::Apply(state, event);
      }
    }
  }
}

// Field and enum value names by walking Envelope's descriptors: protobuf's JSON parser
// looks names up in tables, so the fuzzer cannot learn them from comparisons.
void CollectNames(const google::protobuf::Descriptor* message,
                  std::set<const google::protobuf::Descriptor*>& seen,
                  std::set<std::string>& names) {
  if (!seen.insert(message).second) return;
  for (int i = 0; i < message->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = message->field(i);
    names.insert("\"" + field->json_name() + "\":");
    if (const auto* e = field->enum_type()) {
      for (int j = 0; j < e->value_count(); ++j) names.insert("\"" + e->value(j)->name() + "\"");
    }
    if (const auto* m = field->message_type()) CollectNames(m, seen, names);
  }
}

void WriteDictionary(const fs::path& path) {
  std::set<const google::protobuf::Descriptor*> seen;
  std::set<std::string> names;
  CollectNames(v1::Envelope::descriptor(), seen, names);
  std::ofstream out(path, std::ios::trunc);
  for (const std::string& name : names) {
    out << "\"";
    for (char c : name) {
      if (c == '"' || c == '\\') out << '\\';
      out << c;
    }
    out << "\"\n";
  }
  if (!out) {
    std::fprintf(stderr, "fuzz_make_seeds: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fuzz_make_seeds OUT_DIR FILE.jsonl...\n");
    return 2;
  }
  const fs::path out = argv[1];
  for (const char* target : {"json_fuzz", "intake_fuzz", "decide_fuzz"}) {
    fs::create_directories(out / target);
  }
  for (int i = 2; i < argc; ++i) SeedFrom(argv[i], out);
  WriteDictionary(out / "json.dict");
  std::printf("fuzz_make_seeds: %zu seeds from %d files in %s\n", written, argc - 2, out.c_str());
  return 0;
}
