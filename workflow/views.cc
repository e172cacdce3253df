#include "workflow/views.h"

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <map>
#include <vector>

#include "workflow/shared_record.h"

namespace pathway::workflow {
namespace {

namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

}  // namespace

CaseHistory::CaseHistory(std::span<const v1::Envelope> entries) : entries_(entries) {
  for (const auto& entry : entries_) {
    if (!entry.has_command_recorded()) continue;
    v1::Envelope command;
    if (!command.ParseFromString(entry.command_recorded().command())) continue;
    senders_.emplace(command.event_id(), command.source().agency());
  }
}

std::optional<std::string> TimelineAccess(const store::CaseState& state, const CaseHistory& history,
                                          std::string_view agency) {
  if (agency.empty()) return std::nullopt;
  for (const auto& r : state.referrals()) {
    if (r.referrer_agency() == agency) return "involved";
  }
  for (const auto& f : state.record_facts()) {
    if (f.source_agency() == agency) return "involved";
  }
  for (const auto& [id, sender] : history.senders()) {
    if (sender == agency) return "involved";
  }
  // The latest decision per agency and purpose is what the case keeps.
  for (const auto& c : state.consents()) {
    if (c.agency() == agency && c.decision() == v1::CONSENT_DECISION_GRANTED) {
      return "consent: " + c.purpose();
    }
  }
  return std::nullopt;
}

v1::ChildRecord BuildRecord(std::string_view child_id, const store::CaseState& state,
                            const std::string& agency, const std::string& purpose, CivilDate on,
                            const pathway::config::v1::StatutorySharing* sharing) {
  v1::ChildRecord view;
  view.set_child_id(std::string(child_id));
  view.set_agency(agency);
  view.set_purpose(purpose);
  *view.mutable_on() = ToProto(on);
  for (const RecordItem& item : ViewRecord(state, agency, purpose, on, sharing)) {
    v1::RecordFactView* f = view.add_facts();
    f->set_type(item.fact->type());
    f->set_disclosed(item.disclosed);
    if (!item.disclosed) {
      f->set_basis(item.basis);
      continue;  // neither content nor who holds it
    }
    if (item.statutory) {
      f->set_basis("statutory: " + item.statutory->legal_basis());
      const auto& bases = view.legal_bases();
      if (std::find(bases.begin(), bases.end(), item.statutory->legal_basis()) == bases.end()) {
        view.add_legal_bases(item.statutory->legal_basis());
      }
    } else {
      f->set_basis(item.basis);
    }
    f->set_content(item.fact->content());
    f->set_source_agency(item.fact->source_agency());
    if (item.fact->has_recorded_on()) *f->mutable_recorded_on() = item.fact->recorded_on();
    if (item.fact->has_valid_until()) *f->mutable_valid_until() = item.fact->valid_until();
  }
  for (const auto& c : state.consents()) {
    if (c.agency() == agency) *view.add_consents() = c;
  }
  return view;
}

std::string PayloadKind(const v1::Envelope& envelope) {
  const auto* oneof = v1::Envelope::descriptor()->FindOneofByName("payload");
  if (oneof == nullptr) return {};
  const auto* field = envelope.GetReflection()->GetOneofFieldDescriptor(envelope, oneof);
  return field ? std::string(field->name()) : std::string();
}

v1::ChildTimeline BuildTimeline(std::string_view child_id, const store::CaseState& state,
                                const CaseHistory& kept, size_t max_events,
                                std::string_view access_basis) {
  const std::span<const v1::Envelope> history = kept.entries();
  v1::ChildTimeline view;
  view.set_child_id(std::string(child_id));
  view.set_history_length(history.size());
  view.set_access_basis(std::string(access_basis));
  for (const auto& p : state.pathways()) {
    v1::PathwayView* out = view.add_pathways();
    out->set_instance_id(p.instance_id());
    out->set_pathway(p.pathway());
    out->set_version(p.version());
    out->set_state(p.state());
    out->set_reference(p.reference());
    if (p.has_started_on()) *out->mutable_started_on() = p.started_on();
    for (const auto& d : p.deadlines()) {
      v1::DeadlineView* dv = out->add_deadlines();
      dv->set_name(d.name());
      if (d.has_due()) *dv->mutable_due() = d.due();
      dv->set_status(d.status());
      if (d.has_met_on()) *dv->mutable_met_on() = d.met_on();
      dv->set_rule(d.rule());
      if (d.has_set_on()) *dv->mutable_set_on() = d.set_on();
      dv->set_superseded_by(d.superseded_by());
      if (d.has_superseded_by_due()) *dv->mutable_superseded_by_due() = d.superseded_by_due();
    }
    for (const auto& s : p.steps()) {
      v1::StepView* sv = out->add_steps();
      sv->set_step(s.step());
      if (s.has_on()) *sv->mutable_on() = s.on();
      sv->set_implied(s.implied());
    }
    *out->mutable_data_quality() = p.data_quality();
  }
  const auto& senders = kept.senders();
  // A trimmed history starts at its HistoryTrimmed entry's place, not at 0.
  const uint64_t first = !history.empty() && history.front().has_history_trimmed()
                             ? history.front().history_trimmed().sequence()
                             : 0;
  // Newest first; kept commands are shown through the events they caused.
  for (size_t i = history.size();
       i-- > 0 && static_cast<size_t>(view.events_size()) < max_events;) {
    const v1::Envelope& entry = history[i];
    if (entry.has_command_recorded()) continue;
    v1::TimelineEvent* e = view.add_events();
    e->set_event_id(entry.event_id());
    e->set_kind(PayloadKind(entry));
    if (entry.has_recorded_at()) *e->mutable_recorded_at() = entry.recorded_at();
    auto sender = senders.find(entry.causation_id());
    e->set_source_agency(sender != senders.end() ? sender->second : entry.source().agency());
    e->set_sequence(first + i);
  }
  return view;
}

}  // namespace pathway::workflow
