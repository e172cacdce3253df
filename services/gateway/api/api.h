// The gateway's command API: what a caller, already authenticated, may send and how
// it learns what became of it (docs/gateway.md).
//
//   POST /v1/commands/<name>   publish one command (command_routes.h) to
//                              pathway.inbound.v1; 202 with its event id and a Location
//                              once the broker has confirmed it; with `Prefer: wait=N`
//                              (N seconds, at most ApiOptions::max_wait) the outcome if it
//                              arrives in time: 200 accepted with the events it caused,
//                              422 rejected naming the field and rule, else still 202.
//   GET  /v1/outcomes/<id>     the outcome so far (also with `Prefer: wait=N`).
//
// The gateway sets the envelope's event id, source (the caller's agency; the partner
// system's name or "pathway-gateway"), actor (the caller's id and role) and, when the
// body leaves them out, occurred_at (now) and correlation_id (the event id). A body
// that sets any of event_id, subject_key, recorded_at, source, actor or causation_id is
// refused: nobody can speak for another agency or person. The intake checks of the
// engine (workflow::Intake: input limits, identifiers) and the referral's field checks
// run before anything is published, so most mistakes are answered at once; the engine
// checks everything again.
//
// Idempotency: with `Idempotency-Key: K` the event id is derived from (agency, caller,
// K), so a repeat is the same command even through another gateway instance or after a
// restart (the engine processes an event id once); the first answer is kept (bounded,
// ApiOptions) and returned again with `Idempotent-Replayed: true`, and the same K with
// another body is refused (422, rule idempotency_key.reused_with_different_body).
//
// Thread safety: Handle may be called from any thread, concurrently; `respond` is called
// exactly once, on any thread (the caller's, the sink's or the outcome source's).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "pathway/v1/envelope.pb.h"
#include "services/gateway/auth/auth.h"
#include "services/gateway/http/http_server.h"

namespace pathway::gateway {

// Where commands go: pathway.inbound.v1 (kafka_gateway.h), or a fake in tests.
class CommandSink {
 public:
  virtual ~CommandSink() = default;
  // `done` runs once, on any thread: ok when the broker has the command, else why not.
  virtual void Publish(const pathway::v1::Envelope& command, std::function<void(Status)> done) = 0;
};

struct CommandOutcome {
  enum class State { kPending, kAccepted, kRejected };
  State state = State::kPending;
  std::vector<pathway::v1::Envelope> events;       // accepted: what it caused, as published
  std::optional<pathway::v1::Envelope> rejection;  // rejected: the CommandRejected
};

// What became of commands: read from pathway.events.v1 and pathway.rejections.v1
// (outcome_tracker.h), or a fake in tests.
class OutcomeSource {
 public:
  virtual ~OutcomeSource() = default;
  virtual CommandOutcome Find(const std::string& event_id) const = 0;
  // `done` runs once, on any thread: as soon as the command has an outcome, or at
  // `deadline` with kPending.
  virtual void Await(const std::string& event_id, TimePoint deadline,
                     std::function<void(CommandOutcome)> done) = 0;
};

struct ApiOptions {
  std::string system_name = "pathway-gateway";
  std::chrono::seconds max_wait{30};
  std::size_t idempotency_entries = 100'000;
  std::chrono::hours idempotency_ttl{24};
};

class Api {
 public:
  // Sink, outcomes and time must outlive the Api.
  Api(ApiOptions options, CommandSink& sink, OutcomeSource& outcomes, const TimeSource& time);
  ~Api();

  // Whether this Api serves `path` (so the router can answer 404 for the rest).
  static bool Serves(std::string_view path);
  void Handle(const HttpRequest& request, const Principal& principal,
              std::function<void(HttpResponse)> respond);

  // The event id for an Idempotency-Key (exposed for tests).
  static std::string IdempotentEventId(const Principal& principal, std::string_view key);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathway::gateway
