// Merges (new_keys): the old -> new key of every copied row of a table whose keys were remapped,
// kept in the run catalog's key_map for the audit (and for naming a row by the key the source
// knows it by). Written when the run finishes, from the source rows the run copied, in one
// target transaction per table that first removes what an earlier attempt wrote: a resumed
// run writes it again, never twice.
#pragma once

#include "mover/run_catalog.hpp"
#include "plan/plan.hpp"
#include "pg/cancellation.hpp"
#include "pg/connection.hpp"

namespace pgblit::runs {

// `source` is in the run's snapshot.
void record_key_map(mover::RunCatalog& catalog, int64_t run, const plan::Plan& plan, pg::Connection& source,
                    pg::Connection& target, pg::Cancellation& cancellation);

}  // namespace pgblit::runs
