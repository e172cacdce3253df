// Caseloads and waiting lists (docs/gateway.md, "Caseloads"): which services' lists a
// child's running pathways are on, as index entries the engine's store keeps beside
// the case state (state::CaseIndexer), so that a page of a list costs its length, not
// the size of the partition. Pure; thread-safe.
//
// An entry's key is its list's prefix (CaseloadPrefix) followed by its place on the
// list: the sort key (4 bytes, big-endian), the child id and the pathway instance id.
// That place orders entries the same way on every list, partition and engine, so one
// cursor (the place of the last entry shown) continues a read across all of them.
// Its value is the CaseloadEntry without weeks_waited, which depends on the day of the
// read (CompleteEntry).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/views.pb.h"
#include "workflow/calendar.h"

namespace pathway::workflow {

// Bump when what CaseloadIndex derives changes: every store rebuilds its index.
inline constexpr uint32_t kCaseloadIndexVersion = 2;  // 2: overdue deadlines are next

// Agencies and teams longer than this, or holding a NUL, are on no list (codes are
// short; the limit keeps keys small).
inline constexpr size_t kMaxServiceCode = 64;

// One list as a reader asks for it.
struct CaseloadScope {
  pathway::v1::CaseloadList list = pathway::v1::CASELOAD_LIST_CASELOAD;
  std::string agency;
  std::string team;  // empty: the whole service
  pathway::v1::PathwayKind pathway = pathway::v1::PATHWAY_KIND_UNSPECIFIED;  // one kind
  pathway::v1::CaseloadSort sort = pathway::v1::CASELOAD_SORT_NEXT_DEADLINE;
};

// The key prefix of every entry of `scope`'s list, or nullopt if no entry can have it
// (an agency or team code too long or holding a NUL, an unknown list or sort).
std::optional<std::string> CaseloadPrefix(const CaseloadScope& scope);

// The entries of the child's case: for every pathway not in an end state, for every
// service that recorded its steps (the agency, and the agency's team when the step
// named one), on the caseload and, in a waiting state, on the waiting list, once per
// sort. None for an erased case or an alias.
std::vector<std::pair<std::string, std::string>> CaseloadIndex(
    std::string_view child_id, const pathway::store::v1::CaseState& state);

// The entry's place on a list sorted by `sort`: the rest of its key after the list's
// prefix. A reader that holds entries from several lists (partitions, engines) orders
// them by it, and the place of the last entry shown is the cursor of the next page.
std::string CaseloadPlace(const pathway::v1::CaseloadEntry& entry, pathway::v1::CaseloadSort sort);

// Fills `entry.weeks_waited`: whole weeks from started_on to `today` (0 before it).
void CompleteEntry(pathway::v1::CaseloadEntry& entry, CivilDate today);

}  // namespace pathway::workflow
