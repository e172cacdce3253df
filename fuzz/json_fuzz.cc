// libFuzzer target: the JSON mapping of `pathwayctl publish` and `pathwayctl tail`
// (services/pathwayctl/cli.h: ParseEnvelopeJson, TailJson).
//
//   1. The input as publish reads a file: lines ('\n', a trailing '\r' dropped, blank
//      lines skipped), each parsed as an Envelope. A parsed Envelope is serialized as
//      publish sends it and must decode to the same message; tail must print it, and
//      what tail prints must parse back to the same message.
//   2. The input as a message value tail reads: printed; unless tail reports it
//      undecodable, the line must parse back to the decoded message (without the
//      unknown fields JSON cannot carry).
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "pathway/v1/envelope.pb.h"
#include "services/pathwayctl/cli.h"

namespace {

namespace v1 = pathway::v1;
using google::protobuf::util::MessageDifferencer;
using pathway::fuzz::Fail;

constexpr char kTarget[] = "json_fuzz";
constexpr std::string_view kUndecodable = "{\"undecodable\":true";

void PublishLine(std::string_view line) {
  v1::Envelope envelope;
  if (pathway::ctl::ParseEnvelopeJson(line, envelope)) return;  // publish: bad input
  const std::string bytes = envelope.SerializeAsString();
  v1::Envelope decoded;
  if (!decoded.ParseFromString(bytes)) Fail(kTarget, "a published Envelope does not decode");
  if (!MessageDifferencer::Equals(envelope, decoded)) {
    Fail(kTarget, "a published Envelope decodes to another message");
  }
  const std::string printed = pathway::ctl::TailJson(bytes, 0, 0);
  if (printed.starts_with(kUndecodable)) Fail(kTarget, "tail cannot print what publish sent");
  v1::Envelope reparsed;
  if (auto error = pathway::ctl::ParseEnvelopeJson(printed, reparsed)) {
    Fail(kTarget, "what tail prints does not parse: " + *error);
  }
  if (!MessageDifferencer::Equals(envelope, reparsed)) {
    Fail(kTarget, "what tail prints parses to another message");
  }
}

void TailValue(std::string_view value) {
  const std::string printed = pathway::ctl::TailJson(value, 3, 42);
  if (printed.starts_with(kUndecodable)) return;
  v1::Envelope decoded;
  if (!decoded.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    Fail(kTarget, "tail printed a value that does not decode");
  }
  decoded.DiscardUnknownFields();
  v1::Envelope reparsed;
  if (auto error = pathway::ctl::ParseEnvelopeJson(printed, reparsed)) {
    Fail(kTarget, "what tail prints does not parse: " + *error);
  }
  if (!MessageDifferencer::Equals(decoded, reparsed)) {
    Fail(kTarget, "what tail prints parses to another message");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  pathway::fuzz::Initialize();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (size_t pos = 0; pos < input.size();) {
    size_t end = input.find('\n', pos);
    if (end == std::string_view::npos) end = input.size();
    std::string_view line = input.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (pathway::ctl::Trim(line).empty()) continue;
    PublishLine(line);
  }
  TailValue(input);
  return 0;
}
