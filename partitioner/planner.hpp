// The planner: from the two catalogs and the selection, the plan of a copy.
//
// It resolves where each source table lands on the target (the same table, or the target's
// partitioned table when the target partitions differently), matches columns by name,
// decides binary or text format, orders loading by the target's foreign keys, and cuts
// tables into chunks. Every mismatch is collected and reported at once, before any row moves.
#pragma once

#include "core/defaults.hpp"
#include "partitioner/plan.hpp"
#include "mapping/mapping.hpp"
#include "partitioner/selection.hpp"
#include "pg/connection.hpp"

namespace pgblit::partitioner {

struct PlanOptions {
  Selection selection;
  bool disable_triggers = false;  // foreign keys are not checked, so no load order is needed
  int64_t chunk_bytes = kDefaultChunkBytes;  // target size of a chunk, heap + TOAST bytes
  // Split tables whose target references itself too: right when that foreign key is dropped
  // for the load (deferred), since no row is then checked against rows of other chunks.
  bool split_self_referencing = false;
  const mapping::Mapping* mapping = nullptr;  // --mapping: renames, expressions, filters, skips
};

Plan build_plan(pg::Connection& source, pg::Connection& target, const PlanOptions& options);

}  // namespace pgblit::partitioner
