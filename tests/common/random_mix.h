// Random but realistic command streams over every pathway, for properties that must
// hold whatever partners send (rebuild determinism, engine/simulator parity).
//
// A mix draws commands from a pool (the realistic histories), re-addresses each to one
// of a few children and re-dates it: occurred_at and every date the command carries
// move together (a date of birth stays), so a command keeps the shape it had in its
// history, only on another day. The days mostly move forward, sometimes a command is
// late (dated before commands already sent), and some commands name the child by UPN
// or a local id only, with links from it to a child now and then. Most commands are still
// rejected (a step for an instance the child does not have); what is accepted moves
// every pathway. Deterministic: the same pool and seed give the same mix.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bench/loadgen/history_edit.h"
#include "pathway/v1/envelope.pb.h"
#include "tests/common/histories.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/workflow.h"

namespace pathway::testing {

// Every command of every realistic history (tests/workflow/histories), in the order of
// loadgen::kHistoryFiles.
inline std::vector<pathway::v1::Envelope> HistoryPool() {
  std::vector<pathway::v1::Envelope> pool;
  for (std::string_view name : loadgen::kHistoryFiles) {
    for (auto& e : ReadHistory(std::string(name))) pool.push_back(std::move(e));
  }
  return pool;
}

// Moves every pathway.v1.Date in `message` by `days`, except dates of birth (a child's
// birthday does not move with the day a message is sent).
using loadgen::ShiftDates;

// Who a mix is about: children by NHS number, and one identifier (a UPN or a local id)
// some commands name instead.
struct MixCast {
  std::vector<std::string> children = {"9434765919", "6541003238", "4000000020"};
  pathway::v1::IdentifierKind alias_kind = pathway::v1::IDENTIFIER_KIND_UPN;
  std::string alias = "B801200005001";
};

// `count` commands drawn from `pool` with `seed`, starting around 2024-01-01.
inline std::vector<pathway::v1::Envelope> RandomMix(const std::vector<pathway::v1::Envelope>& pool,
                                                    uint32_t seed, int count = 80,
                                                    const MixCast& cast = {}) {
  std::mt19937 rng(seed);
  auto child = [&] { return cast.children[rng() % cast.children.size()]; };
  std::vector<pathway::v1::Envelope> out;
  workflow::CivilDate cursor = *workflow::ParseDate("2024-01-01");
  for (int i = 0; i < count && !pool.empty(); ++i) {
    pathway::v1::Envelope e = pool[rng() % pool.size()];
    e.set_event_id("mix" + std::to_string(seed) + "-" + std::to_string(i));
    std::string nhs = child();
    cursor = workflow::AddDays(cursor, static_cast<int>(rng() % 20));
    // One in eight is late: its business day is before the latest one sent.
    workflow::CivilDate day =
        rng() % 8 == 0 ? workflow::AddDays(cursor, -1 - static_cast<int>(rng() % 30)) : cursor;
    auto original = workflow::CommandDay(e);
    const int shift = original ? workflow::DaysBetween(*original, day) : 0;
    e.mutable_occurred_at()->set_seconds(e.occurred_at().seconds() + int64_t{shift} * 86400);
    ShiftDates(e, shift);
    if (e.has_referral_submitted()) {
      e.mutable_referral_submitted()->mutable_child()->set_nhs_number(nhs);
      e.mutable_subject()->set_nhs_number(nhs);
    } else if (e.has_subject() && rng() % 10 == 0) {
      // Known to this partner by its own identifier only: held until it is linked.
      e.mutable_subject()->Clear();
      if (cast.alias_kind == pathway::v1::IDENTIFIER_KIND_UPN) {
        e.mutable_subject()->set_upn(cast.alias);
      } else {
        e.mutable_subject()->set_local_id(cast.alias);
      }
    } else {
      e.mutable_subject()->set_nhs_number(nhs);
    }
    out.push_back(std::move(e));
    if (rng() % 16 == 0) {
      // A council links the identifier to a child (not always the same one: a conflict).
      pathway::v1::Envelope link;
      link.set_event_id("mix" + std::to_string(seed) + "-" + std::to_string(i) + "-link");
      link.mutable_source()->set_agency("209");
      link.mutable_source()->set_system("council-ehm");
      link.mutable_actor()->set_id("staff-3");
      link.mutable_subject()->set_nhs_number(child());
      auto* l = link.mutable_identifier_linked();
      l->set_kind(cast.alias_kind);
      l->set_value(cast.alias);
      *l->mutable_linked_on() = workflow::ToProto(day);
      link.mutable_occurred_at()->set_seconds(
          std::chrono::duration_cast<std::chrono::seconds>(
              (std::chrono::sys_days{day} + std::chrono::hours(15)).time_since_epoch())
              .count());
      out.push_back(std::move(link));
    }
  }
  return out;
}

}  // namespace pathway::testing
