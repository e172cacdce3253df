// Fakes for the gateway's API tests: a command sink and an outcome source that the test
// drives by hand, and a helper that calls Api::Handle and keeps the answer.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "services/gateway/api/api.h"
#include "tests/common/http_answers.h"

namespace pathway::gateway::testing {

class FakeSink final : public CommandSink {
 public:
  // auto_confirm: every Publish is confirmed at once (else by Confirm/Fail).
  bool auto_confirm = true;
  std::vector<pathway::v1::Envelope> published;
  std::vector<std::function<void(Status)>> pending;

  void Publish(const pathway::v1::Envelope& command, std::function<void(Status)> done) override {
    published.push_back(command);
    if (auto_confirm) {
      done(Status::Ok());
    } else {
      pending.push_back(std::move(done));
    }
  }
  void ConfirmAll() {
    auto p = std::move(pending);
    pending.clear();
    for (auto& d : p) d(Status::Ok());
  }
  void FailAll() {
    auto p = std::move(pending);
    pending.clear();
    for (auto& d : p) d(Status(std::make_error_code(std::errc::timed_out), "broker gone"));
  }
};

class FakeOutcomes final : public OutcomeSource {
 public:
  std::map<std::string, CommandOutcome> known;
  struct Waiter {
    std::string id;
    TimePoint deadline;
    std::function<void(CommandOutcome)> done;
  };
  std::vector<Waiter> waiters;

  CommandOutcome Find(const std::string& id) const override {
    auto it = known.find(id);
    return it == known.end() ? CommandOutcome{} : it->second;
  }
  void Await(const std::string& id, TimePoint deadline,
             std::function<void(CommandOutcome)> done) override {
    waiters.push_back({id, deadline, std::move(done)});
  }
  // Records an outcome and answers its waiters.
  void Resolve(const std::string& id, CommandOutcome outcome) {
    known[id] = outcome;
    std::vector<Waiter> keep;
    for (auto& w : waiters) {
      if (w.id == id) {
        w.done(outcome);
      } else {
        keep.push_back(std::move(w));
      }
    }
    waiters = std::move(keep);
  }
  // Answers every waiter whose deadline is at or before `now` with what is known.
  void Expire(TimePoint now) {
    std::vector<Waiter> keep;
    for (auto& w : waiters) {
      if (w.deadline <= now) {
        w.done(Find(w.id));
      } else {
        keep.push_back(std::move(w));
      }
    }
    waiters = std::move(keep);
  }
};

// The answers a handler gave (usually one).
struct Answers {
  std::vector<HttpResponse> responses;
  std::function<void(HttpResponse)> Callback() {
    return [this](HttpResponse r) { responses.push_back(std::move(r)); };
  }
};

using pathway::testing::HeaderOf;

}  // namespace pathway::gateway::testing
