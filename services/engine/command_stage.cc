#include "services/engine/command_stage.h"

#include <algorithm>
#include <string>
#include <vector>

#include "common/log.h"
#include "services/engine/engine_day.h"
#include "services/engine/outputs.h"
#include "services/topics.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/event_identity.h"
#include "workflow/outcome.h"
#include "workflow/personal_fields.h"
#include "workflow/workflow.h"

namespace pathway::engine {
namespace {
namespace v1 = pathway::v1;
using std::chrono::milliseconds;

// The start of a partner's message's outcome, if `command` is one: the intake routed
// it and named where it read it. The engine's own commands (follow-ons, operations)
// answer nobody.
std::optional<v1::MessageOutcome> OutcomeFor(const v1::Envelope& command, TimePoint now) {
  if (!command.has_inbound_place()) return std::nullopt;
  return workflow::OutcomeOf(command.inbound_place(), {command.event_id(), command.source()},
                             command.subject_key(), now);
}
}  // namespace

Status CarryOut(state::Batch& batch, state::CaseStore& store, const std::string& subject,
                workflow::CaseStep step) {
  batch.subject_key = subject;
  batch.erase_subject = step.erase_subject;
  for (auto& t : step.timers.add) batch.timers_add.push_back(std::move(t));
  for (auto& t : step.timers.remove) batch.timers_remove.push_back(std::move(t));
  for (auto& out : step.outputs) {
    if (out.seal_fields) {
      const std::string id = out.envelope.event_id();
      if (auto s =
              workflow::SealPersonalFields(out.envelope,
                                           [&](std::string_view plaintext, std::string_view field) {
                                             return store.SealField(subject, plaintext, field, id);
                                           });
          !s) {
        return s;
      }
    }
    const std::string& key =
        out.sink == workflow::Sink::kCommands ? out.envelope.subject_key() : subject;
    AddToOutbox(batch, TopicOf(out.sink), key, out.envelope.SerializeAsString());
    if (out.sealed_at_rest) batch.outbox.back().set_sealed_subject_key(subject);
  }
  if (step.new_state) {
    batch.history_start = step.new_state->history_length() - step.history.size();
    batch.history = std::move(step.history);
    batch.new_state = std::move(*step.new_state);
  }
  return {};
}

Status CommandStage::Run(milliseconds poll_timeout) {
  const EngineOptions& options = context_.options;
  std::vector<bus::Message> commands;
  for (size_t i = 0; i < options.max_batch; ++i) {
    auto polled = processor_.Poll(i == 0 ? poll_timeout : milliseconds(0));
    if (!polled) return polled.error();
    if (!polled->has_value()) break;
    commands.push_back(std::move(**polled));
  }
  if (committer_.confirms_each_delivery()) {
    // New children's data keys first, all together: their changelog records then go
    // out (and are confirmed) before anything sealed under them, once per batch
    // rather than once per child (see OutboxEntry.confirm_before_later). A commit that
    // makes the Step's records visible together needs no such order.
    for (const auto& m : commands) {
      state::CaseStore* store = context_.stores.Find(m.partition);
      if (!store || !m.key || m.key->size() != 64) continue;  // HandleCommand says why
      if (auto s = store->PrepareDataKey(*m.key);
          !s && s.error().code != make_error_code(state::errc::kInvalidArgument)) {
        return s;
      }
    }
  }
  std::map<int32_t, int64_t> next_offsets;
  for (const auto& m : commands) {
    ++context_.stats.commands;
    auto started = std::chrono::steady_clock::now();
    if (auto s = HandleCommand(m); !s) {
      groups_.clear();  // staged only: the commands are processed again after a restart
      return s;
    }
    if (options.on_command) {
      auto took = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - started);
      milliseconds age{0};
      if (m.timestamp_ms > 0) {
        auto now_ms = std::chrono::duration_cast<milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
        age = milliseconds(std::max<int64_t>(0, now_ms - m.timestamp_ms));
      }
      options.on_command(took, age);
    }
    if (context_.owned.count(m.partition)) next_offsets[m.partition] = m.offset + 1;
  }
  // One write per partition for the whole batch (group commit).
  if (auto s = FlushGroups(); !s) return s;
  return committer_.CommitCommands(next_offsets);
}

Status CommandStage::HandleCommand(const bus::Message& m) {
  state::CaseStore* store_ptr = context_.stores.Find(m.partition);
  if (!store_ptr) {
    // Fetched before a revocation took effect: the partition's new owner processes
    // it from the offset in its restored store.
    log::Warn("not_owned_skipped", {{"source", Coordinates(m)}});
    return {};
  }
  EngineStats& stats = context_.stats;
  state::CaseStore& store = *store_ptr;
  GroupCommit& group = GroupFor(m.partition, store);
  state::Batch batch;
  batch.consumed = state::ConsumedOffset{m.topic, m.partition, m.offset + 1};
  batch.partition = m.partition;

  v1::Envelope command;
  if (!command.ParseFromString(m.value) || command.event_id().empty() ||
      command.subject_key().size() != 64) {
    // Only the intake stage writes this topic; anything else here is a bug or a
    // stray producer. Keep it, with its reason, and move on.
    ++stats.dead_letters;
    log::Warn("dead_letter", {{"source", Coordinates(m)}, {"reason", "malformed command"}});
    auto d = DeadLetter(Coordinates(m), m.topic, m.partition, m.offset, m.value,
                        "not a routed command (no event_id or subject_key)",
                        context_.options.dead_letter_key);
    if (!d) return d.error();
    AddToOutbox(batch, topics::kDeadLetter, Coordinates(m), d->SerializeAsString());
    return group.Add(std::move(batch));
  }

  // Once per source, event id and subject: partners' ids are not one namespace.
  std::string identity = workflow::CommandIdentity(command);
  std::string digest = workflow::ContentDigest(command);
  auto seen = group.SeenEvent(identity);
  if (!seen) return seen.error();
  if (*seen) {
    // An entry without a digest predates digests: a repeat, as it was then decided.
    if ((*seen)->empty() || **seen == digest) {
      ++stats.duplicates;
      log::Info("duplicate_ignored",
                {{"source", Coordinates(m)}, {"event_id", command.event_id()}});
      if (command.has_inbound_place()) {
        auto loaded = group.LoadCase(command.subject_key());
        if (!loaded) return loaded.error();
        const auto state = loaded->value_or(pathway::store::v1::CaseState());
        auto read = group.History(command.subject_key(), state.history_kept_from());
        if (!read) return read.error();
        workflow::KeepHeld(*read, state);
        AnswerDuplicate(batch, command,
                        workflow::FirstMessageOf(*read, identity, command.event_id()));
      }
      return group.Add(std::move(batch));  // advance the offset, nothing else
    }
    ++stats.rejections;
    workflow::Rejection reused = workflow::ReusedIdRejection();
    log::Warn("command_rejected", {{"subject", command.subject_key()},
                                   {"event_id", command.event_id()},
                                   {"field", reused.field},
                                   {"rule", reused.rule}});
    v1::Envelope rejection = workflow::MakeReusedIdRejection(command, digest, time_.Now());
    AddToOutbox(batch, topics::kRejections, command.subject_key(), rejection.SerializeAsString());
    AnswerRejected(batch, command, rejection);
    return group.Add(std::move(batch));  // the first message's entry stays as it is
  }
  batch.dedupe_event_id = std::move(identity);
  batch.dedupe_digest = std::move(digest);
  // The engine's own date, not the command's: retention is about re-delivery.
  batch.dedupe_day = EngineDay(time_.Now());

  auto loaded = group.LoadCase(command.subject_key());
  if (!loaded) return loaded.error();
  pathway::store::v1::CaseState state = loaded->value_or(pathway::store::v1::CaseState());

  // The case's history as it holds it (workflow::KeepHeld), read once, only for a
  // command that sorts before what the case has decided.
  std::optional<std::vector<v1::Envelope>> history;
  auto read_history = [&]() -> Status {
    if (history) return {};
    auto read = group.History(command.subject_key(), state.history_kept_from());
    if (!read) return read.error();
    history = std::move(*read);
    workflow::KeepHeld(*history, state);
    return {};
  };
  // A kept command sorts at or before what its case has decided, so a repeat whose
  // dedupe entry is gone (past its retention, or not restored: the changelog keeps only
  // each case's latest) sorts there too, and its own kept copy recognises it before it
  // is decided again (decision 126).
  if (!state.decided_through().empty() && workflow::IsRedecidable(command) &&
      workflow::CommandOrder(command) <= state.decided_through()) {
    if (auto s = read_history(); !s) return s;
    if (auto kept_digest = workflow::KeptCommandDigest(*history, batch.dedupe_event_id)) {
      if (*kept_digest == batch.dedupe_digest) {
        ++stats.duplicates;
        log::Info("duplicate_ignored", {{"source", Coordinates(m)},
                                        {"event_id", command.event_id()},
                                        {"found_in", "history"}});
        AnswerDuplicate(
            batch, command,
            workflow::FirstMessageOf(*history, batch.dedupe_event_id, command.event_id()));
      } else {
        ++stats.rejections;
        workflow::Rejection reused = workflow::ReusedIdRejection();
        log::Warn("command_rejected", {{"subject", command.subject_key()},
                                       {"event_id", command.event_id()},
                                       {"field", reused.field},
                                       {"rule", reused.rule}});
        v1::Envelope rejection =
            workflow::MakeReusedIdRejection(command, batch.dedupe_digest, time_.Now());
        AddToOutbox(batch, topics::kRejections, command.subject_key(),
                    rejection.SerializeAsString());
        AnswerRejected(batch, command, rejection);
      }
      // Remembered again, with the first message's content, so that the next repeat is a
      // cheap lookup.
      batch.dedupe_digest = std::move(*kept_digest);
      return group.Add(std::move(batch));
    }
  }

  TimePoint now = time_.Now();
  const workflow::StepSettings settings = StepSettings();
  workflow::CaseStep step = workflow::DecideCommand(state, command, now, settings);
  if (step.needs_log) {
    // Dated before what the case has decided: re-decided from its kept commands.
    if (auto s = read_history(); !s) return s;
    const std::vector<v1::Envelope> kept = workflow::CommandsOf(*history);
    step = workflow::DecideCommand(state, command, now, settings, &kept);
    ++stats.redecisions;
    log::Info("case_redecided", {{"subject", command.subject_key()},
                                 {"event_id", command.event_id()},
                                 {"commands", std::to_string(kept.size() + 1)}});
  }
  if (step.rejection) {
    if (step.rejection->rule == "history_limit") {
      ++stats.history_limit_rejections;
      log::Warn("history_limit_reached",
                {{"subject", command.subject_key()}, {"event_id", command.event_id()}});
    }
    // A refused command the case keeps (it may become valid) commits like any step.
    if (!step.new_state) return CommitRejection(group, std::move(batch), command, *step.rejection);
    ++stats.rejections;
    log::Info("command_rejected", {{"subject", command.subject_key()},
                                   {"event_id", command.event_id()},
                                   {"field", step.rejection->field},
                                   {"rule", step.rejection->rule}});
  }

  state::Batch rejected = batch;  // what to commit instead if the outputs are too large
  std::vector<std::string> ids;
  for (const auto& event : step.history) ids.push_back(event.event_id());
  // The sender's answer: the rejection the case keeps, or the events it caused.
  std::optional<v1::MessageOutcome> outcome = OutcomeFor(command, now);
  if (outcome) {
    // Refused if the step refuses it, directly or in re-deciding the case in date order
    // (then the refusal is among the outputs); else the events it published.
    v1::OutcomeAccepted accepted;
    for (const auto& out : step.outputs) {
      if (out.sink == workflow::Sink::kRejections && out.envelope.has_command_rejected() &&
          out.envelope.causation_id() == command.event_id()) {
        *outcome->mutable_rejected() = out.envelope.command_rejected();
        break;
      }
      if (out.sink == workflow::Sink::kEvents) workflow::AddCausedEvent(accepted, out.envelope);
    }
    if (!outcome->has_rejected()) *outcome->mutable_accepted() = std::move(accepted);
  }
  if (auto s = CarryOut(batch, store, command.subject_key(), std::move(step)); !s) return s;
  if (outcome) Answer(batch, *outcome);
  // Every value this commit writes or sends must fit, checked before anything is
  // committed: one that could never be sent would stop the partition for good.
  if (auto r = CheckSizes(batch)) {
    ++stats.size_rejections;
    return CommitRejection(group, std::move(rejected), command, *r);
  }
  const bool erased = batch.erase_subject;
  if (auto s = group.Add(std::move(batch)); !s) return s;
  stats.events += ids.size();
  for (const auto& id : ids) {
    log::Info(
        "event_recorded",
        {{"subject", command.subject_key()}, {"event_id", id}, {"cause", command.event_id()}});
  }
  if (erased) {
    log::Info("subject_erased", {{"subject", command.subject_key()}});
    purger_.Mark(m.partition);
  }
  return {};
}

workflow::StepSettings CommandStage::StepSettings() const {
  return StepSettingsOf(context_.options);
}

Status CommandStage::CommitRejection(GroupCommit& group, state::Batch batch,
                                     const v1::Envelope& command, const workflow::Rejection& r) {
  ++context_.stats.rejections;
  log::Info("command_rejected", {{"subject", command.subject_key()},
                                 {"event_id", command.event_id()},
                                 {"field", r.field},
                                 {"rule", r.rule}});
  // Bounded whatever the command held: MakeRejection names a hostile id by its digest.
  v1::Envelope rejection = workflow::MakeRejection(command, r, time_.Now());
  AddToOutbox(batch, topics::kRejections, command.subject_key(), rejection.SerializeAsString());
  AnswerRejected(batch, command, rejection);
  return group.Add(std::move(batch));
}

void CommandStage::Answer(state::Batch& batch, const v1::MessageOutcome& outcome) const {
  AddToOutbox(batch, context_.options.partners.TopicFor(outcome.source().agency()),
              outcome.outcome_id(), outcome.SerializeAsString());
}

void CommandStage::AnswerRejected(state::Batch& batch, const v1::Envelope& command,
                                  const v1::Envelope& rejection) const {
  std::optional<v1::MessageOutcome> outcome = OutcomeFor(command, time_.Now());
  if (!outcome) return;
  *outcome->mutable_rejected() = rejection.command_rejected();
  Answer(batch, *outcome);
}

void CommandStage::AnswerDuplicate(state::Batch& batch, const v1::Envelope& command,
                                   const workflow::FirstMessage& first) const {
  std::optional<v1::MessageOutcome> outcome = OutcomeFor(command, time_.Now());
  if (!outcome) return;
  // Read again from the same place: the engine's own re-delivery (a restart before the
  // intake's offsets were committed), not the partner's repeat. Its outcome went out
  // with the first commit.
  const v1::MessagePlace& here = command.inbound_place();
  if (first.place && first.place->topic() == here.topic() &&
      first.place->partition() == here.partition() && first.place->offset() == here.offset()) {
    return;
  }
  v1::OutcomeDuplicate* duplicate = outcome->mutable_duplicate();
  if (first.place) duplicate->set_first_outcome_id(workflow::OutcomeId(*first.place));
  *duplicate->mutable_first() = first.caused;
  Answer(batch, *outcome);
}

GroupCommit& CommandStage::GroupFor(int32_t partition, state::CaseStore& store) {
  auto it = groups_.find(partition);
  if (it != groups_.end() && &it->second.store() != &store) it = groups_.erase(it);
  if (it == groups_.end() || it->first != partition) {
    it = groups_.emplace(partition, GroupCommit(store)).first;
  }
  return it->second;
}

Status CommandStage::FlushGroups() {
  Status result;
  for (auto& [partition, group] : groups_) {
    if (auto s = group.Flush(); !s && result) result = s;
  }
  groups_.clear();
  return result;
}

std::optional<workflow::Rejection> CommandStage::CheckSizes(const state::Batch& batch) const {
  const EngineOptions& options = context_.options;
  auto too_large = [](std::string field, std::string rule, std::string what, size_t size,
                      size_t limit) {
    return workflow::Rejection{std::move(field), std::move(rule),
                               what + " would be " + std::to_string(size) +
                                   " bytes, over the limit of " + std::to_string(limit) +
                                   " bytes: send less in one command"};
  };
  if (batch.new_state) {
    const size_t size = batch.new_state->ByteSizeLong();
    if (size > options.max_case_bytes) {
      return too_large("subject_key", "case.too_large", "the child's case record", size,
                       options.max_case_bytes);
    }
    // Its changelog record also holds the command's identity; sealing adds a little.
    if (size + batch.subject_key.size() + batch.dedupe_event_id.size() + 2 * kRecordOverheadBytes >
        options.max_record_bytes) {
      return too_large("subject_key", "output.too_large", "the changelog record of the case", size,
                       options.max_record_bytes);
    }
  }
  for (const auto& event : batch.history) {
    const size_t size = event.ByteSizeLong();
    if (size + batch.subject_key.size() + 2 * kRecordOverheadBytes > options.max_record_bytes) {
      return too_large("event_id", "output.too_large", "an event it causes", size,
                       options.max_record_bytes);
    }
  }
  for (const auto& entry : batch.outbox) {
    if (!Fits(entry.key(), entry.value(), options.max_record_bytes)) {
      return too_large("event_id", "output.too_large", "its output to " + entry.topic(),
                       entry.key().size() + entry.value().size(), options.max_record_bytes);
    }
  }
  return std::nullopt;
}

Status CommandStage::FireTimers() {
  // Bounded per Step so a burst of due deadlines cannot stall the commands behind it:
  // at most max_batch timers per partition, and none while the partition's unsent
  // outbox is half an outbox_batch or more. A fired timer queues about four entries
  // (its event and the changelog records of its history, timer and case); without the
  // second bound a storm would queue more than a Step sends and new commands' events
  // would wait behind it.
  const EngineOptions& options = context_.options;
  TimePoint now = time_.Now();
  pathway::v1::Date today = workflow::ToProto(workflow::LondonDate(now));
  for (int32_t partition : context_.owned) {
    state::CaseStore* store = context_.stores.Find(partition);
    if (!store) continue;
    // The fired timers of a partition are committed together, like its commands.
    GroupCommit group(*store);
    auto backlog = [&] {
      return store->NextOutboxSequence() + group.StagedOutboxEntries() -
             outbox_.NextUnsent(partition);
    };
    if (backlog() >= options.outbox_batch / 2) continue;
    auto due = store->DueTimers(partition, today, options.max_batch);
    if (!due) return due.error();
    for (const auto& timer : *due) {
      if (backlog() >= options.outbox_batch / 2) break;  // the rest on the next Steps
      auto loaded = group.LoadCase(timer.subject_key());
      if (!loaded) return loaded.error();
      pathway::store::v1::CaseState state = loaded->value_or(pathway::store::v1::CaseState());
      state::Batch batch;
      batch.partition = partition;
      batch.timers_remove.push_back(timer);
      workflow::CaseStep step =
          workflow::FireTimerStep(timer.subject_key(), state, timer, now, StepSettings());
      if (step.new_state) {
        if (auto s = CarryOut(batch, *store, timer.subject_key(), std::move(step)); !s) return s;
        ++context_.stats.timers_fired;
      }
      if (auto s = group.Add(std::move(batch)); !s) return s;
    }
    if (auto s = group.Flush(); !s) return s;
  }
  return {};
}

workflow::StepSettings StepSettingsOf(const EngineOptions& options) {
  return {.decide = {.identity_hold_days = options.identity_hold_days,
                     .sharing = options.statutory_sharing ? &*options.statutory_sharing : nullptr,
                     .start_versions =
                         options.start_versions.empty() ? nullptr : &options.start_versions},
          .warning_lead_days = options.warning_lead_days,
          .max_history_per_case = options.max_history_per_case};
}

}  // namespace pathway::engine
