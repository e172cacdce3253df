#include "services/engine/engine.h"

#include <algorithm>
#include <map>

#include "common/log.h"
#include "services/engine/command_stage.h"
#include "services/engine/committer.h"
#include "services/engine/delivery_confirmed_committer.h"
#include "services/engine/intake_stage.h"
#include "services/engine/landing_purger.h"
#include "services/engine/outbox_sender.h"
#include "services/engine/partition_restorer.h"
#include "services/engine/query_service.h"
#include "services/engine/retention_sweeper.h"
#include "services/engine/stage_context.h"
#include "services/engine/transactional_committer.h"
#include "services/topics.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"

namespace pathway::engine {
namespace {
using std::chrono::milliseconds;

// The one place the commit protocol is chosen; the stages only see the interface.
std::unique_ptr<Committer> MakeCommitter(StageContext& context, bus::Producer& producer,
                                         bus::Consumer& intake, bus::Consumer& processor) {
  if (context.options.transactions) {
    return std::make_unique<TransactionalCommitter>(context, producer, intake, processor);
  }
  return std::make_unique<DeliveryConfirmedCommitter>(context, producer, intake, processor);
}
}  // namespace

bus::KafkaConfig RestoreConsumerConfig(bus::KafkaConfig config) {
  config.settings.try_emplace("fetch.wait.max.ms", "10");
  return config;
}

// Declared in dependency order: each member refers only to those above it.
struct Engine::Stages {
  Stages(const EngineOptions& options, state::StoreSet& stores, EngineStats& stats,
         const std::set<int32_t>& owned, const SubjectKeyer& keyer, const TimeSource& time,
         bus::Producer& producer, bus::Consumer& intake_consumer, bus::Consumer& processor,
         bus::Consumer& restore)
      : context{options, stores, stats, owned, {}},
        committer(MakeCommitter(context, producer, intake_consumer, processor)),
        outbox(context, producer, *committer),
        purger(context, intake_consumer, processor),
        intake(context, keyer, time, producer, intake_consumer, *committer),
        commands(context, time, processor, *committer, outbox, purger),
        restorer(context, producer, restore, *committer),
        retention(context, time) {}

  StageContext context;
  std::unique_ptr<Committer> committer;
  OutboxSender outbox;
  LandingPurger purger;
  IntakeStage intake;
  CommandStage commands;
  PartitionRestorer restorer;
  RetentionSweeper retention;
};

Engine::Engine(EngineOptions options, state::StoreSet& stores, const SubjectKeyer& keyer,
               const TimeSource& time, bus::Producer& producer, DeliveryRouter& deliveries,
               bus::Consumer& intake, bus::Consumer& processor, bus::Consumer& restore)
    : options_(std::move(options)),
      stores_(stores),
      time_(time),
      producer_(producer),
      deliveries_(deliveries),
      intake_(intake),
      processor_(processor),
      stages_(std::make_unique<Stages>(options_, stores, stats_, owned_, keyer, time, producer,
                                       intake, processor, restore)) {}

// Out of line: Stages is complete only here. The registrations go first (members are
// destroyed in reverse order), so no report reaches a stage being destroyed.
Engine::~Engine() {
  // The stores outlive the engine, but nothing says they stay open: reads end here.
  if (options_.reads) options_.reads->StopAll();
}

Status Engine::Start() {
  stages_->outbox.Reset();
  registrations_.clear();
  using Channel = DeliveryRouter::Channel;
  Stages& st = *stages_;
  auto listen = [this](Channel channel, DeliveryRouter::Handler handler) -> Status {
    auto registration = deliveries_.Register(channel, std::move(handler));
    if (!registration) return registration.error();
    registrations_.push_back(std::move(*registration));
    return {};
  };
  Status listening = listen(Channel::kOutbox, [&st](uint64_t local, const bus::Delivery& d) {
    st.outbox.OnDelivery(local, d);
  });
  if (listening) {
    listening = listen(Channel::kIntake, [&st](uint64_t local, const bus::Delivery& d) {
      st.intake.OnDelivery(local, d);
    });
  }
  if (listening) {
    listening = listen(Channel::kFence, [&st](uint64_t local, const bus::Delivery& d) {
      st.restorer.OnFenceDelivery(local, d);
    });
  }
  if (!listening) return listening;
  if (auto s = st.committer->Start(); !s) return s;
  if (auto s = intake_.Subscribe({std::string(topics::kInbound)}, nullptr); !s) return s;
  return processor_.Subscribe({std::string(topics::kCommands)}, this);
}

void Engine::OnAssign(std::vector<bus::TopicPartition>& partitions) {
  Stages& st = *stages_;
  restoring_.store(true);
  // Each fence is committed on its own; whatever the Step holds goes first.
  if (auto s = st.committer->Commit(); !s) {
    restoring_.store(false);
    return;  // sticky: Step fails and the process restarts
  }
  for (auto& tp : partitions) {
    // The restore may wipe and reopen the store: no read may hold it meanwhile.
    if (options_.reads) options_.reads->Stop(tp.partition);
    auto takeover = st.restorer.TakeOver(tp.partition);
    if (!takeover) {
      // Starting anywhere else could skip or repeat commands; Step reports the error
      // and the process restarts.
      log::Error("partition_takeover_failed", {{"partition", std::to_string(tp.partition)},
                                               {"error", takeover.error().ToString()}});
      st.context.fatal = takeover.error();
      continue;
    }
    if (takeover->purge_pending) st.purger.Mark(tp.partition);
    tp.offset = takeover->next_offset;
    owned_.insert(tp.partition);
    if (options_.reads) options_.reads->Serve(tp.partition, stores_.Find(tp.partition));
    st.outbox.Assigned(tp.partition);
    st.committer->Assigned(tp.partition, tp.offset);
    log::Info("partition_assigned", {{"topic", tp.topic},
                                     {"partition", std::to_string(tp.partition)},
                                     {"offset", std::to_string(tp.offset)}});
  }
  restoring_.store(false);
  assigned_once_.store(true);
}

void Engine::OnRevoke(const std::vector<bus::TopicPartition>& partitions) {
  Stages& st = *stages_;
  // State is committed at the end of each Step's batch; what is left is the outbox.
  // Sending it now hands the next owner a complete changelog (it would otherwise redo
  // that work itself).
  for (const auto& tp : partitions) {
    if (auto s = DrainOutbox({tp.partition}, options_.revoke_drain_timeout); !s) {
      log::Warn("revoke_drain_incomplete",
                {{"partition", std::to_string(tp.partition)}, {"error", s.error().ToString()}});
    }
    if (auto s = st.outbox.DeleteDelivered(); !s) st.context.fatal = s;
    owned_.erase(tp.partition);
    if (options_.reads) options_.reads->Stop(tp.partition);
    st.outbox.Revoked(tp.partition);
    st.committer->Revoked(tp.partition);
    st.retention.Revoked(tp.partition);
    stores_.Close(tp.partition);
    log::Info("partition_revoked",
              {{"topic", tp.topic}, {"partition", std::to_string(tp.partition)}});
  }
}

Status Engine::DrainOutbox(const std::vector<int32_t>& partitions, milliseconds timeout) {
  Stages& st = *stages_;
  // An operational bound, not business time: the injected clock may stand still.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Bounded by the deadline; each pass waits at most 100 ms for deliveries (or, with
  // transactions, for one commit).
  while (true) {
    for (int32_t partition : partitions) {
      state::CaseStore* store = stores_.Find(partition);
      if (!store) continue;
      if (auto s = st.outbox.Send(partition, *store); !s) return s;
    }
    if (auto s = st.committer->Commit(); !s) return s;
    (void)st.committer->AwaitDelivery(milliseconds(100));
    if (auto s = st.outbox.DeleteDelivered(); !s) return s;
    if (!st.context.fatal) return st.context.fatal;
    bool empty = true;
    for (int32_t partition : partitions) {
      state::CaseStore* store = stores_.Find(partition);
      if (!store) continue;
      auto left = store->ReadOutbox(0, 1);
      if (!left) return left.error();
      empty = empty && left->empty();
    }
    if (empty && producer_.InFlight() == 0) return {};
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error{make_error_code(bus::errc::kTimeout), "outbox not drained"};
    }
  }
}

Result<uint64_t> Engine::OutboxDepth() {
  uint64_t depth = 0;
  for (int32_t partition : stores_.OpenPartitions()) {
    // RocksDB's estimate: reading a large outbox once a second would cost more than
    // the metric is worth.
    depth += stores_.Find(partition)->ApproximateOutboxEntries();
  }
  return depth;
}

Status Engine::Step(milliseconds poll_timeout) {
  Status s = StepOnce(poll_timeout);
  if (!s) failed_.store(true);
  return s;
}

Status Engine::StepOnce(milliseconds poll_timeout) {
  Stages& st = *stages_;
  if (auto s = st.intake.Run(poll_timeout); !s) return s;
  // Timers due today fire before today's commands, as in workflow::Simulator: a
  // deadline due yesterday is breached before a command that arrives today.
  if (auto s = st.commands.FireTimers(); !s) return s;
  if (auto s = st.commands.Run(poll_timeout); !s) return s;
  if (auto s = st.outbox.SendOwned(); !s) return s;
  if (auto s = st.committer->EndStep(); !s) return s;
  producer_.Poll(milliseconds(0));
  if (auto s = st.outbox.DeleteDelivered(); !s) return s;
  if (!st.context.fatal) return st.context.fatal;
  st.purger.Run();
  // After the Step's own writes: the sweep never shares a write with a command.
  return st.retention.Run();
}

std::string Engine::PurgeStatus() const { return stages_->purger.Describe(); }

Result<EngineSnapshot> Engine::Snapshot(size_t max_due_count) {
  EngineSnapshot out;
  out.owned_partitions = owned_.size();
  auto depth = OutboxDepth();
  if (!depth) return depth.error();
  out.outbox_depth = *depth;
  workflow::CivilDate today = workflow::LondonDate(time_.Now());
  pathway::v1::Date today_proto = workflow::ToProto(today);
  for (int32_t partition : owned_) {
    state::CaseStore* store = stores_.Find(partition);
    if (!store) continue;
    auto due = store->DueTimers(partition, today_proto, max_due_count);
    if (!due) return due.error();
    out.timers_due += due->size();
    for (const auto& [name, value] : store->Stats()) out.rocksdb[name] += value;
    if (!due->empty()) {
      // Timers come back in firing order: the first is the most overdue.
      auto fires_on = workflow::ToCivil(due->front().fires_on());
      if (fires_on) {
        out.oldest_due_overdue_days =
            std::max<int64_t>(out.oldest_due_overdue_days, workflow::DaysBetween(*fires_on, today));
      }
    }
  }
  out.purges_pending = stages_->purger.pending();
  out.inbound_lag = intake_.Lag();
  out.commands_lag = processor_.Lag();
  return out;
}

Status Engine::Drain(milliseconds timeout) {
  return DrainOutbox(std::vector<int32_t>(owned_.begin(), owned_.end()), timeout);
}

}  // namespace pathway::engine
