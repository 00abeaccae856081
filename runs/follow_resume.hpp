// `copy --resume` of a `copy --follow` run killed before its subscription existed.
//
// The copy read the exported snapshot of the subscription's slot, and that snapshot died with
// the killed process. Chunks still missing must come from a snapshot some slot starts at, so
// the slot is created again (same name, recorded in <catalog>.follows all along): its new
// exported snapshot S2 is what the missing chunks are read in. The chunks already copied hold
// rows as of the old snapshot; every row changed since is named by its key in the key slot
// (changed_keys.hpp, created before the first slot), so those keys are read up to S2's
// consistent point and stored with the cutover's (<catalog>.follow_changes), and their rows are
// deleted on the target and read again from the source in S2, chunk by chunk, through the
// copy's own SQL (its column list and `where` filter). A table that saw a TRUNCATE, or whose
// changes carry no usable key, is emptied and copied again whole. Then the whole target is the
// source at S2, and the subscription on the new slot applies exactly what committed after it.
//
// pgblit applies no decoded change: it re-reads rows from a snapshot. Each table's re-read is
// one target transaction that also moves the chunks' recorded digests by what it took out
// and put in, so the run's verification still compares every row; killed anywhere, the next
// resume does it all again from a newer slot (deleting and re-reading a key twice is harmless).
// docs/follow.md, "A copy killed midway".
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "mover/run_catalog.hpp"
#include "pg/cancellation.hpp"
#include "pg/connection.hpp"
#include "plan/plan.hpp"

namespace pgblit::runs {

// Whether a resumed follow run needs a new slot: its follow state is not "copying" (killed
// while starting or while resuming) or some chunk is missing. A run whose chunks are all in,
// in state "copying", keeps its slot: every row is as of that slot's snapshot.
bool follow_needs_new_slot(pg::Connection& target, const std::string& catalog, int64_t run,
                           const std::vector<mover::ChunkRecord>& records);

// The slot dropped and created again, the coordinator moved into its exported snapshot (and
// exporting it again for the lanes), the key slot read up to its consistent point into
// <catalog>.follow_changes. The follow state is "resuming" until reread_changed_rows is done.
// Returns the snapshot id the lanes import.
std::string restart_follow(pg::Connection& coordinator, pg::Connection& target, const std::string& source_conninfo,
                           const std::string& catalog, int64_t run, const plan::Plan& plan);

struct Reread {
  size_t tables = 0;        // tables whose changed rows were read again
  size_t whole_tables = 0;  // tables emptied and left to the lanes to copy again
  int64_t keys = 0;         // changed keys
  int64_t rows = 0;         // rows read again from the source
  double seconds = 0;
};

// The rows of the chunks done (`records`) whose keys changed, read again in `snapshot`; then
// the follow state back to "copying". Tables in `prefilled` are refused a whole re-copy.
Reread reread_changed_rows(const std::string& source_conninfo, const std::string& snapshot, pg::Connection& target,
                           const std::string& catalog, int64_t run, const plan::Plan& plan,
                           const std::vector<mover::ChunkRecord>& records, const std::set<std::string>& prefilled,
                           pg::Cancellation& cancellation);

}  // namespace pgblit::runs
