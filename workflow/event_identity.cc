#include "workflow/event_identity.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <optional>

#include "common/crypto.h"
#include "workflow/workflow.h"

namespace pathway::workflow {
namespace v1 = pathway::v1;
namespace {
void AppendField(std::string& out, const std::string& value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += '|';
}
}  // namespace

std::string CommandIdentity(const v1::Envelope& command) {
  std::string out = "pathway.v1.command|";
  AppendField(out, command.source().agency());
  AppendField(out, command.source().system());
  AppendField(out, command.event_id());
  AppendField(out, command.subject_key());
  return out;
}

std::string ContentDigest(const v1::Envelope& command) {
  // Partners rarely set recorded_at (the engine does): copy only to clear it. The
  // inbound place is where a copy was read, not what it says: a repeat sent again later
  // is read elsewhere and is still the same message.
  std::optional<v1::Envelope> cleared;
  if (command.has_recorded_at() || command.has_inbound_place()) {
    cleared = command;
    cleared->clear_recorded_at();
    cleared->clear_inbound_place();
  }
  const v1::Envelope& message = cleared ? *cleared : command;
  // Sized first and written in one go (a growing string costs more than the hash).
  std::string bytes(message.ByteSizeLong(), '\0');
  {
    // Deterministic: the same message always serialises to the same bytes.
    google::protobuf::io::ArrayOutputStream stream(bytes.data(), static_cast<int>(bytes.size()));
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeWithCachedSizes(&coded);
  }
  return Sha256(bytes).substr(0, 16);
}

Rejection ReusedIdRejection() {
  return {"event_id", "event_id.reused_with_different_content",
          "this source already sent a different message about this child under the same "
          "event_id; send the change under a new event_id"};
}

v1::Envelope MakeReusedIdRejection(const v1::Envelope& command, const std::string& digest,
                                   TimePoint now) {
  v1::Envelope out = MakeRejection(command, ReusedIdRejection(), now);
  out.set_event_id(DerivedEventId(CommandIdentity(command) + "reused|" + HexEncode(digest), 0));
  return out;
}

}  // namespace pathway::workflow
