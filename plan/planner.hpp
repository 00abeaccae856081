// The planner: from the two catalogs and the selection, the plan of a copy.
//
// It resolves where each source table lands on the target (the same table, or the target's
// partitioned table when the target partitions differently), matches columns by name,
// decides binary or text format, orders loading by the target's foreign keys, and cuts
// tables into chunks. Every mismatch is collected and reported at once, before any row moves.
#pragma once

#include "core/defaults.hpp"
#include "plan/plan.hpp"
#include "mapping/mapping.hpp"
#include "plan/selection.hpp"
#include "pg/connection.hpp"

namespace pgblit::plan {

struct PlanOptions {
  Selection selection;
  bool disable_triggers = false;  // foreign keys are not checked, so no load order is needed
  int64_t chunk_bytes = kDefaultChunkBytes;  // target size of a chunk, heap + TOAST bytes
  // Split tables whose target references itself too: right when that foreign key is dropped
  // for the load (deferred), since no row is then checked against rows of other chunks.
  bool split_self_referencing = false;
  const mapping::Mapping* mapping = nullptr;  // --mapping: renames, expressions, filters, skips
  // The caller drops the foreign keys of empty tables for the load (deferral): a cycle of
  // foreign keys is no problem yet; require_load_order() judges what stays once it is known.
  bool foreign_keys_deferred = false;
};

Plan build_plan(pg::Connection& source, pg::Connection& target, const PlanOptions& options);

// Throws a usage error when the foreign keys left in place (after deferral) form a cycle: no
// load order then lets every row in.
void require_load_order(const Plan& plan);

}  // namespace pgblit::plan
