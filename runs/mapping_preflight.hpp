// Before a mapped copy drops, empties or writes anything, it checks what the dry run checks of
// the mapping cheaply, so that `copy` refuses what `plan` calls no-go and a mapping that can
// only fail is found before the target's indexes and constraints are dropped:
//   - filters that select no row of any table (a scope value mistyped);
//   - a value map with `else: error` that lacks a value of the copied rows (without
//     --max-rejects, the copy could only fail on them);
//   - an expression that fails on a row for a reason of the source, not of the row (a
//     function the read-only transaction stops, a missing privilege).
// Every statement is one statement (the extended protocol) in the snapshot's read-only
// transaction; what the planner already ran (each mapped SELECT, without rows) is not repeated.
#pragma once

#include <cstdint>

#include "mapping/mapping.hpp"
#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::runs {

// Throws a usage error (nothing written) naming the table, the column or the mapping file.
void check_mapping_before_writing(pg::Connection& source, const plan::Plan& plan,
                                  const mapping::Mapping& mapping, int64_t max_rejects);

}  // namespace pgblit::runs
