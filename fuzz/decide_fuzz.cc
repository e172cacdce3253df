// libFuzzer target: the engine's stateful stage (services/engine/engine.cc,
// HandleCommand and RecordEvents) over a stored case and a routed command.
//
// Input: a 4-byte little-endian length L, then L bytes of a stored
// pathway.store.v1.CaseState, then a pathway.v1.Envelope command (fuzz/README.md).
// The command gets a subject key and event id if it has none (the intake stage sets
// them). Then, at a fixed now: Decide (twice: it must be deterministic), each event's
// emissions, Apply, the published copy with its personal fields sealed, the timers the
// events add and remove, and the timers of every deadline fired on the result.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "fuzz/fuzz_support.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/calendar.h"
#include "workflow/identity.h"
#include "workflow/personal_fields.h"
#include "workflow/timers.h"
#include "workflow/workflow.h"

namespace {

namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
namespace wf = pathway::workflow;
using pathway::TimePoint;
using pathway::fuzz::Fail;

constexpr char kTarget[] = "decide_fuzz";
// Bounds the work of one input: a stored case can name many deadlines.
constexpr size_t kMaxTimersFired = 64;
constexpr std::string_view kDataKey = "pathway-fuzz-data-key-32-bytes!!";
static_assert(kDataKey.size() == pathway::kAeadKeyBytes);

std::string Serialized(const std::vector<v1::Envelope>& events) {
  std::string out;
  for (const auto& e : events) out += e.SerializeAsString();
  return out;
}

// RecordEvents without the store: emissions, Apply, the sealed published copy.
void Record(const std::string& subject, store::CaseState& state,
            const std::vector<v1::Envelope>& events, TimePoint now) {
  for (const v1::Envelope& event : events) {
    wf::Emissions emitted = wf::EmissionsFor(state, event, now);
    for (const auto& c : emitted.commands) (void)c.SerializeAsString();
    for (const auto& r : emitted.rejections) (void)r.SerializeAsString();
    wf::Apply(state, event);
    v1::Envelope published = wf::PublishedCopy(event);
    auto sealed =
        wf::SealPersonalFields(published, [&](std::string_view plaintext, std::string_view field) {
          return pathway::AeadSealSynthetic(kDataKey, plaintext, std::string(field) + subject,
                                            published.event_id());
        });
    if (!sealed) Fail(kTarget, "sealing with a valid key failed");
    (void)published.SerializeAsString();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  pathway::fuzz::Initialize();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  uint32_t state_size = 0;
  std::memcpy(&state_size, data, 4);  // little-endian on every platform we build for
  data += 4;
  size -= 4;
  if (state_size > size) state_size = static_cast<uint32_t>(size);

  store::CaseState state;
  if (!state.ParseFromArray(data, static_cast<int>(state_size))) return 0;
  v1::Envelope command;
  if (!command.ParseFromArray(data + state_size, static_cast<int>(size - state_size))) return 0;
  // As the stateful stage receives it: the engine dead-letters a command without these.
  if (command.subject_key().size() != 64) {
    command.set_subject_key(pathway::fuzz::SubjectKey("9434765919"));
  }
  if (command.event_id().empty()) command.set_event_id("fuzz-command");
  const std::string subject = command.subject_key();
  const TimePoint now = pathway::fuzz::FixedNow();

  wf::Decision decision = wf::Decide(state, command, now);
  wf::Decision again = wf::Decide(state, command, now);
  if (decision.rejection.has_value() == !decision.events.empty()) {
    Fail(kTarget, "Decide must give events or a rejection, not both or neither");
  }
  if (Serialized(decision.events) != Serialized(again.events) ||
      decision.rejection.has_value() != again.rejection.has_value() ||
      (decision.rejection && decision.rejection->rule != again.rejection->rule)) {
    Fail(kTarget, "Decide is not deterministic");
  }
  if (decision.rejection) {
    (void)wf::MakeRejection(command, *decision.rejection, now).SerializeAsString();
    return 0;
  }

  const store::CaseState before = state;
  wf::TimerChanges timers =
      wf::TimersFor(subject, before, decision.events, wf::kDefaultWarningLeadDays);
  Record(subject, state, decision.events, now);
  (void)state.SerializeAsString();

  // Fire what the events added, then a warning and a breach timer of every deadline
  // (with a real due date) of the new state, each on its own copy of the state (as the engine fires
  // each timer against the stored case).
  std::vector<store::Timer> to_fire = timers.add;
  for (const auto& p : state.pathways()) {
    for (const auto& d : p.deadlines()) {
      // Stored timers come from TimersFor, which makes them for real dates only.
      if (!wf::ToCivil(d.due())) continue;
      for (auto kind : {store::TIMER_KIND_WARNING, store::TIMER_KIND_BREACH}) {
        store::Timer& t = to_fire.emplace_back();
        t.set_subject_key(subject);
        t.set_instance_id(p.instance_id());
        t.set_deadline(d.name());
        t.set_kind(kind);
        *t.mutable_fires_on() = d.due();
        *t.mutable_due() = d.due();
      }
    }
  }
  if (to_fire.size() > kMaxTimersFired) to_fire.resize(kMaxTimersFired);
  for (const store::Timer& timer : to_fire) {
    std::vector<v1::Envelope> fired = wf::FireTimer(state, timer, now);
    if (fired.empty()) continue;
    store::CaseState after = state;
    wf::TimerChanges changes = wf::TimersFor(subject, after, fired, wf::kDefaultWarningLeadDays);
    (void)changes;
    Record(subject, after, fired, now);
  }
  return 0;
}
