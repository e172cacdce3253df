#include "services/gateway/api/bus_io.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/log.h"
#include "services/pathwayctl/inbound_key.h"

namespace pathway::gateway {

using pathway::v1::Envelope;
using namespace std::chrono_literals;

// ---------------------------------------------------------------- BusCommandSink

struct BusCommandSink::Impl {
  Keying keying = Keying::kInbound;  // set by Start, before the thread runs
  struct Pending {
    std::string key;
    std::string value;
    std::function<void(Status)> done;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending> queue;
  bool stopping = false;
  // Touched by the sink's thread only (Send and the delivery callback run there).
  std::unordered_map<uint64_t, std::function<void(Status)>> in_flight;
  uint64_t next_opaque = 1;
  std::unique_ptr<bus::Producer> producer;
  std::string topic;
  std::thread thread;

  void OnDelivery(const bus::Delivery& d) {
    auto it = in_flight.find(d.opaque);
    if (it == in_flight.end()) return;
    auto done = std::move(it->second);
    in_flight.erase(it);
    if (d.error) {
      done(Status(d.error, "the broker refused or lost the record"));
    } else {
      done(Status::Ok());
    }
  }

  void Run() {
    for (;;) {
      std::deque<Pending> batch;
      {
        std::unique_lock lock(mu);
        cv.wait_for(lock, in_flight.empty() ? 200ms : 5ms,
                    [&] { return stopping || !queue.empty(); });
        batch.swap(queue);
        if (stopping && batch.empty() && in_flight.empty()) break;
      }
      for (auto& p : batch) {
        const uint64_t opaque = next_opaque++;
        Status st;
        // A full local queue drains as deliveries are served: retried a bounded number
        // of times, then the caller hears why.
        for (int attempt = 0; attempt < 100; ++attempt) {
          st = producer->Send(bus::Outgoing{topic, p.key, p.value}, opaque);
          if (st.ok() || st.error().code != bus::errc::kQueueFull) break;
          producer->Poll(10ms);
        }
        if (st.ok()) {
          in_flight.emplace(opaque, std::move(p.done));
        } else {
          p.done(st);
        }
      }
      producer->Poll(in_flight.empty() ? 0ms : 5ms);
      bool stop;
      {
        std::lock_guard lock(mu);
        stop = stopping;
      }
      if (stop) {
        (void)producer->Flush(5s);
        for (auto& [opaque, done] : in_flight) {
          done(Status(make_error_code(bus::errc::kTimeout), "the gateway stopped"));
        }
        in_flight.clear();
      }
    }
  }
};

BusCommandSink::BusCommandSink() : impl_(std::make_shared<Impl>()) {}

BusCommandSink::~BusCommandSink() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  for (auto& p : impl_->queue) {
    p.done(Status(make_error_code(bus::errc::kTimeout), "the gateway stopped"));
  }
}

bus::DeliveryCallback BusCommandSink::DeliveryHandler() {
  std::weak_ptr<Impl> weak = impl_;
  return [weak](const bus::Delivery& d) {
    if (auto impl = weak.lock()) impl->OnDelivery(d);
  };
}

void BusCommandSink::Start(std::unique_ptr<bus::Producer> producer, std::string topic,
                           Keying keying) {
  impl_->producer = std::move(producer);
  impl_->topic = std::move(topic);
  impl_->keying = keying;
  impl_->thread = std::thread([impl = impl_.get()] { impl->Run(); });
}

void BusCommandSink::Publish(const Envelope& command, std::function<void(Status)> done) {
  Impl::Pending p{
      impl_->keying == Keying::kSubject ? command.subject_key() : ctl::InboundKey(command),
      command.SerializeAsString(), std::move(done)};
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->stopping) {
      impl_->queue.push_back(std::move(p));
      p.done = nullptr;
    }
  }
  if (p.done) {
    p.done(Status(make_error_code(bus::errc::kState), "the gateway is stopping"));
    return;
  }
  impl_->cv.notify_one();
}

// ------------------------------------------------------------- BusOutcomeTracker

struct BusOutcomeTracker::Impl {
  OutcomeTrackerOptions options;
  const TimeSource& time;
  std::unique_ptr<bus::Consumer> consumer;

  mutable std::mutex mu;
  // Most recent first; the map points into the list.
  std::list<std::pair<std::string, CommandOutcome>> outcomes;
  std::unordered_map<std::string, std::list<std::pair<std::string, CommandOutcome>>::iterator>
      index;
  struct Waiter {
    std::string event_id;
    TimePoint deadline;
    std::function<void(CommandOutcome)> done;
  };
  std::list<Waiter> waiters;
  bool stopping = false;
  std::thread thread;

  Impl(OutcomeTrackerOptions o, const TimeSource& t, std::unique_ptr<bus::Consumer> c)
      : options(std::move(o)), time(t), consumer(std::move(c)) {}

  CommandOutcome& OutcomeLocked(const std::string& id) {
    auto it = index.find(id);
    if (it != index.end()) return it->second->second;
    outcomes.emplace_front(id, CommandOutcome{});
    index.emplace(id, outcomes.begin());
    while (outcomes.size() > options.max_outcomes) {
      index.erase(outcomes.back().first);
      outcomes.pop_back();
    }
    return outcomes.front().second;
  }

  void Record(const bus::Message& m) {
    if (m.tombstone) return;
    Envelope e;
    if (!e.ParseFromString(m.value)) return;  // not ours to judge: the engine wrote it
    std::lock_guard lock(mu);
    if (m.topic == options.rejections_topic && e.has_command_rejected()) {
      const std::string& id = e.command_rejected().rejected_event_id();
      if (id.empty()) return;
      CommandOutcome& o = OutcomeLocked(id);
      o.state = CommandOutcome::State::kRejected;
      o.rejection = std::move(e);
    } else if (m.topic == options.events_topic && !e.causation_id().empty()) {
      CommandOutcome& o = OutcomeLocked(e.causation_id());
      if (o.state == CommandOutcome::State::kRejected) return;
      o.state = CommandOutcome::State::kAccepted;
      if (o.events.size() < options.max_events_per_outcome) o.events.push_back(std::move(e));
    }
  }

  // Answers the waiters whose command has an outcome (`caught_up`: nothing more is
  // waiting at the broker) or whose deadline has passed.
  void Answer(bool caught_up, bool all) {
    std::vector<std::pair<std::function<void(CommandOutcome)>, CommandOutcome>> ready;
    {
      std::lock_guard lock(mu);
      const TimePoint now = time.Now();
      for (auto it = waiters.begin(); it != waiters.end();) {
        auto found = index.find(it->event_id);
        const bool known =
            found != index.end() && found->second->second.state != CommandOutcome::State::kPending;
        if ((known && caught_up) || now >= it->deadline || all) {
          ready.emplace_back(std::move(it->done),
                             found != index.end() ? found->second->second : CommandOutcome{});
          it = waiters.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& [done, outcome] : ready) done(std::move(outcome));
  }

  void Run() {
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (stopping) break;
      }
      bool caught_up = false;
      // Up to a batch of messages, then waiters get their answers.
      for (int i = 0; i < 500; ++i) {
        auto polled = consumer->Poll(i == 0 ? options.poll : 0ms);
        if (!polled.ok()) {
          log::Warn("gateway.outcomes_poll_failed", {{"error", polled.error().ToString()}});
          caught_up = true;
          break;
        }
        if (!polled->has_value()) {
          caught_up = true;
          break;
        }
        Record(**polled);
      }
      Answer(caught_up, false);
    }
    Answer(true, true);
  }
};

BusOutcomeTracker::BusOutcomeTracker(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<BusOutcomeTracker>> BusOutcomeTracker::Start(
    std::unique_ptr<bus::Consumer> consumer, OutcomeTrackerOptions options, const TimeSource& time,
    std::chrono::milliseconds timeout) {
  // Explicit end offsets asked of the broker before anything is served: every outcome
  // of a command published after Start returns is at or after them.
  std::vector<bus::TopicPartition> assign;
  for (const std::string& topic : {options.events_topic, options.rejections_topic}) {
    auto parts = consumer->Partitions(topic, timeout);
    if (!parts.ok()) return parts.error();
    for (int32_t p : *parts) {
      auto end = consumer->EndOffset(topic, p, timeout);
      if (!end.ok()) return end.error();
      assign.push_back({topic, p, *end});
    }
  }
  if (Status st = consumer->Assign(assign); !st.ok()) return st.error();
  auto impl = std::make_shared<Impl>(std::move(options), time, std::move(consumer));
  impl->thread = std::thread([raw = impl.get()] { raw->Run(); });
  return std::unique_ptr<BusOutcomeTracker>(new BusOutcomeTracker(std::move(impl)));
}

BusOutcomeTracker::~BusOutcomeTracker() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->consumer->Close();
}

CommandOutcome BusOutcomeTracker::Find(const std::string& event_id) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->index.find(event_id);
  return it == impl_->index.end() ? CommandOutcome{} : it->second->second;
}

void BusOutcomeTracker::Await(const std::string& event_id, TimePoint deadline,
                              std::function<void(CommandOutcome)> done) {
  std::unique_lock lock(impl_->mu);
  if (!impl_->stopping) {
    impl_->waiters.push_back({event_id, deadline, std::move(done)});
    return;
  }
  // The thread is gone or going: answered now with what is known.
  auto it = impl_->index.find(event_id);
  CommandOutcome o = it == impl_->index.end() ? CommandOutcome{} : it->second->second;
  lock.unlock();
  done(std::move(o));
}

// ------------------------------------- BusMemberReader and BusDeadLetterReader

// What both readers are: every partition of one topic from its beginning, outside any
// consumer group, on a thread of their own that hands each message to `handle`.
struct TopicFromBeginning {
  std::unique_ptr<bus::Consumer> consumer;
  std::function<void(const bus::Message&)> handle;
  const char* poll_failed_event;
  std::atomic<bool> stopping{false};
  std::thread thread;

  TopicFromBeginning(std::unique_ptr<bus::Consumer> c, std::function<void(const bus::Message&)> h,
                     const char* event)
      : consumer(std::move(c)), handle(std::move(h)), poll_failed_event(event) {}
  ~TopicFromBeginning() {
    stopping.store(true);
    if (thread.joinable()) thread.join();
    consumer->Close();
  }

  static Result<std::unique_ptr<TopicFromBeginning>> Start(
      std::unique_ptr<bus::Consumer> consumer, const std::string& topic,
      std::function<void(const bus::Message&)> handle, const char* poll_failed_event,
      std::chrono::milliseconds timeout) {
    auto parts = consumer->Partitions(topic, timeout);
    if (!parts.ok()) return parts.error();
    std::vector<bus::TopicPartition> assign;
    for (int32_t p : *parts) assign.push_back({topic, p, bus::kOffsetBeginning});
    if (Status st = consumer->Assign(assign); !st.ok()) return st.error();
    auto reader = std::make_unique<TopicFromBeginning>(std::move(consumer), std::move(handle),
                                                       poll_failed_event);
    reader->thread = std::thread([raw = reader.get()] { raw->Run(); });
    return reader;
  }

  void Run() {
    while (!stopping.load()) {
      auto polled = consumer->Poll(100ms);
      if (!polled.ok()) {
        log::Warn(poll_failed_event, {{"error", polled.error().ToString()}});
        continue;
      }
      if (polled->has_value()) handle(**polled);
    }
  }
};

struct BusMemberReader::Impl {
  std::unique_ptr<TopicFromBeginning> reader;
};

BusMemberReader::BusMemberReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<BusMemberReader>> BusMemberReader::Start(
    std::unique_ptr<bus::Consumer> consumer, std::string topic, MembersDirectory& directory,
    std::chrono::milliseconds timeout) {
  auto reader = TopicFromBeginning::Start(
      std::move(consumer), topic,
      [&directory](const bus::Message& m) {
        if (!m.key || m.key->empty()) return;
        if (m.tombstone) return directory.Apply(*m.key, std::nullopt);
        pathway::store::v1::EngineMember member;
        // Written by the engines: a record that does not parse is skipped, not trusted.
        if (!member.ParseFromString(m.value) || member.instance() != *m.key) return;
        directory.Apply(*m.key, member);
      },
      "gateway.members_poll_failed", timeout);
  if (!reader.ok()) return reader.error();
  auto impl = std::make_unique<Impl>();
  impl->reader = std::move(*reader);
  return std::unique_ptr<BusMemberReader>(new BusMemberReader(std::move(impl)));
}

BusMemberReader::~BusMemberReader() = default;

struct BusDeadLetterReader::Impl {
  std::unique_ptr<TopicFromBeginning> reader;
};

BusDeadLetterReader::BusDeadLetterReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<BusDeadLetterReader>> BusDeadLetterReader::Start(
    std::unique_ptr<bus::Consumer> consumer, std::string topic, DeadLetterStore& store,
    std::chrono::milliseconds timeout) {
  auto reader = TopicFromBeginning::Start(
      std::move(consumer), topic,
      [&store](const bus::Message& m) {
        if (m.tombstone) return;
        // Written by the engines: what does not parse as a dead letter is not shown.
        if (auto entry = ParseDeadLetter(m.partition, m.offset, m.timestamp_ms, m.value)) {
          store.Add(std::move(*entry));
        }
      },
      "gateway.deadletters_poll_failed", timeout);
  if (!reader.ok()) return reader.error();
  auto impl = std::make_unique<Impl>();
  impl->reader = std::move(*reader);
  return std::unique_ptr<BusDeadLetterReader>(new BusDeadLetterReader(std::move(impl)));
}

BusDeadLetterReader::~BusDeadLetterReader() = default;

}  // namespace pathway::gateway
